//! The [`Linker`] and the pipeline that turns inputs into a [`Unit`]:
//! parse → resolve → layout → plan → place → map → relocate → protect →
//! register → initialise.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::arch;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::layout::{self, align_up, PAGE};
use crate::memory::{Protection, Reservation};
use crate::parse;
use crate::placement::{self, Placement};
use crate::plan;
use crate::relocate::{self, Tail};
use crate::resolve::{self, Synthetic};
use crate::runtime;
use crate::unit::{LoadStats, Unit, UnitInner};

/// One input of a unit: an object file on disk, or bytes in memory.
#[derive(Debug, Clone)]
pub enum Input {
    /// A relocatable object (`.o`) at this path.
    Path(PathBuf),
    /// A relocatable object held in memory, with a name for messages.
    Bytes {
        /// The name used in messages.
        name: String,
        /// The object's contents.
        bytes: Vec<u8>,
    },
}

impl Input {
    /// An input read from `path`.
    pub fn path(path: impl Into<PathBuf>) -> Input {
        Input::Path(path.into())
    }

    /// An input from memory.
    pub fn bytes(name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Input {
        Input::Bytes {
            name: name.into(),
            bytes: bytes.into(),
        }
    }
}

impl<P: AsRef<Path>> From<P> for Input {
    fn from(p: P) -> Input {
        Input::Path(p.as_ref().to_path_buf())
    }
}

/// How to open a unit.
///
/// ```no_run
/// use objdl::{Linker, OpenOptions, Placement};
/// let linker = Linker::new();
/// let unit = unsafe { OpenOptions::new().placement(Placement::Far).open(&linker, ["a.o", "b.o"])? };
/// # Ok::<(), objdl::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    placement: Placement,
    no_exec: bool,
}

impl OpenOptions {
    /// The defaults: [`Placement::Auto`], initialisers run.
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// Where to place the unit.
    pub fn placement(&mut self, p: Placement) -> &mut OpenOptions {
        self.placement = p;
        self
    }

    /// Link and map without running any initialiser (nor, at close, any
    /// finaliser) and without registering unwind tables.
    pub fn no_exec(&mut self, yes: bool) -> &mut OpenOptions {
        self.no_exec = yes;
        self
    }

    /// Opens `inputs` as one unit.
    ///
    /// # Safety
    /// Opening runs the unit's initialisers, arbitrary code from the inputs.
    /// The inputs must be trusted to behave as the program they are.
    pub unsafe fn open<I>(&self, linker: &Linker, inputs: I) -> Result<Unit>
    where
        I: IntoIterator,
        I::Item: Into<Input>,
    {
        let inputs: Vec<Input> = inputs.into_iter().map(Into::into).collect();
        // SAFETY: forwarded from the caller.
        unsafe { linker.load(inputs, self) }
    }
}

/// A namespace that loads units and resolves their symbols.
///
/// It is cheap to clone; clones share the same host definitions and caches.
///
/// ```no_run
/// use objdl::{Linker, Symbol};
/// let linker = Linker::new();
/// let unit = unsafe { linker.open("x.o")? };
/// let f: Symbol<extern "C" fn(i32) -> i32> = unsafe { unit.get("f")? };
/// assert_eq!(f(2), 4);
/// # Ok::<(), objdl::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Linker {
    pub(crate) host: Arc<Host>,
}

impl std::fmt::Debug for Linker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Linker").finish_non_exhaustive()
    }
}

impl Linker {
    /// A linker that resolves against the process's default scope.
    pub fn new() -> Linker {
        Linker::default()
    }

    /// Defines `name` at `addr` for units opened from now on. Host
    /// definitions come after a unit's own and before `dlsym`.
    pub fn define(&self, name: &str, addr: *const ()) {
        self.host.define(name, addr as u64);
    }

    /// Loads a shared library into the process's default scope, like `-lNAME`:
    /// `name` is a path, or a name looked up as `libNAME.so` on `search` and
    /// the system directories (linker scripts such as `libm.so` are followed).
    pub fn load_library(&self, name: &str, search: &[PathBuf]) -> Result<()> {
        self.host.load_library(name, search)
    }

    /// Opens one object file as a unit, with default options.
    ///
    /// # Safety
    /// See [`OpenOptions::open`]: the unit's initialisers run.
    pub unsafe fn open(&self, path: impl AsRef<Path>) -> Result<Unit> {
        // SAFETY: forwarded.
        unsafe { self.load(vec![Input::path(path.as_ref())], &OpenOptions::new()) }
    }

    /// Opens several inputs (paths or bytes) as one unit, with default options.
    ///
    /// # Safety
    /// See [`OpenOptions::open`].
    pub unsafe fn open_inputs<I>(&self, inputs: I) -> Result<Unit>
    where
        I: IntoIterator,
        I::Item: Into<Input>,
    {
        // SAFETY: forwarded.
        unsafe { OpenOptions::new().open(self, inputs) }
    }

    /// Opens an object held in memory.
    ///
    /// # Safety
    /// See [`OpenOptions::open`].
    pub unsafe fn open_bytes(&self, name: &str, bytes: &[u8]) -> Result<Unit> {
        // SAFETY: forwarded.
        unsafe { self.load(vec![Input::bytes(name, bytes)], &OpenOptions::new()) }
    }

    unsafe fn load(&self, inputs: Vec<Input>, opts: &OpenOptions) -> Result<Unit> {
        let started = Instant::now();
        // Read.
        let mut files: Vec<(String, Vec<u8>)> = Vec::with_capacity(inputs.len());
        for input in inputs {
            files.push(match input {
                Input::Path(p) => {
                    let bytes = std::fs::read(&p).map_err(|source| Error::Io {
                        path: p.clone(),
                        source,
                    })?;
                    (p.display().to_string(), bytes)
                }
                Input::Bytes { name, bytes } => (name, bytes),
            });
        }

        // 1. Parse.
        let mut objects = Vec::with_capacity(files.len());
        for (name, bytes) in &files {
            objects.push(parse::parse(name, bytes)?);
        }
        // 2. Resolve.
        let res = resolve::resolve(&mut objects, &self.host)?;
        // 3. Lay out and plan.
        let layout = layout::layout(&objects, &res)?;
        let demands = plan::demands(&objects, &res, &layout)?;
        let needs_got = demands.max_slots;
        let max_got = align_up(needs_got * arch::GOT_SLOT_SIZE as u64, PAGE);
        let max_tramp = align_up(demands.max_trampolines * arch::TRAMPOLINE_SIZE as u64, PAGE);
        let upper = layout.got_offset + max_got + max_tramp;
        let max_align = objects
            .iter()
            .flat_map(|o| {
                o.sections
                    .iter()
                    .filter(|s| s.kind != parse::SectionKind::Skip)
                    .map(|s| s.align)
            })
            .chain(res.commons.iter().map(|c| c.align))
            .fold(PAGE, u64::max);
        let mut preferred = demands.preferred.clone();
        preferred.sort_unstable();
        let req = placement::Request {
            size: upper,
            align: max_align,
            lo: demands.lo,
            hi: demands.hi,
            preferred: &preferred,
        };
        // 4. Place and map.
        let mut mem = placement::reserve(opts.placement, &req)?;
        let base = mem.base();
        let bad = plan::violations(&objects, &res, &layout, &demands, base);
        if !bad.is_empty() {
            let fix = plan::fix_for(&bad);
            return Err(Error::Unreachable { sites: bad, fix });
        }
        let plan = plan::finish(&objects, &res, &layout, &demands, base);
        let got_size = plan.slots.len() as u64 * arch::GOT_SLOT_SIZE as u64;
        let tail = Tail {
            got: layout.got_offset,
            trampolines: align_up(layout.got_offset + got_size, PAGE),
        };
        let tramp_size = plan.trampolines.len() as u64 * arch::TRAMPOLINE_SIZE as u64;
        let size = align_up(tail.trampolines + tramp_size, PAGE);
        debug_assert!(size <= upper);

        // 5. Relocate (the reservation is still read-write).
        let entry = runtime::Entry::lookup(&self.host);
        // SAFETY: nothing has been protected yet.
        let bytes = unsafe { mem.bytes_mut() };
        let counts = relocate::relocate(bytes, base, &objects, &res, &layout, &plan, tail)?;
        let syn = layout.synthetic;
        write_synthetics(bytes, base, &res, &layout, &entry);
        let lifecycle = runtime::lifecycle(bytes, base, &layout.tables, &layout.eh_frames);

        // 6. Protect: text RX, read-only R, data RW, GOT R, trampolines RX.
        let text_end = align_up(layout.text.offset + layout.text.size, PAGE);
        mem.protect(0, text_end, Protection::RX)?;
        let ro_end = align_up(layout.rodata.offset + layout.rodata.size, PAGE);
        mem.protect(
            layout.rodata.offset,
            ro_end - layout.rodata.offset,
            Protection::R,
        )?;
        mem.protect(tail.got, tail.trampolines - tail.got, Protection::R)?;
        mem.protect(tail.trampolines, size - tail.trampolines, Protection::RX)?;
        // Release the part of the reservation the plan did not need.
        let mem = shrink(mem, size);

        let exports = res
            .exports
            .iter()
            .map(|&(name, t)| {
                let addr = match layout.internal_offset(t, &res, tail.got) {
                    Some(off) => base + off,
                    None => match t {
                        resolve::Target::Absolute { addr, .. } => addr,
                        _ => 0,
                    },
                };
                (name.to_string(), addr)
            })
            .collect();
        let stats = LoadStats {
            objects: objects.len(),
            sections: layout.section_count,
            relocations: counts.relocations,
            trampolines: plan.trampolines.len(),
            got_slots: plan.slots.len(),
            relaxations: plan.relaxations,
            lea_rewrites: plan.lea_rewrites,
            base,
            size,
            window: (demands.lo.max(0) as u64, demands.hi.max(0) as u64),
            load_time: std::time::Duration::ZERO,
        };
        let dso_handle = base + syn.dso_handle;
        let inner = UnitInner::new(
            mem,
            exports,
            stats,
            entry,
            dso_handle,
            lifecycle,
            opts.no_exec,
        );
        // 7, 8. Register and initialise.
        // SAFETY: the unit is mapped with final protections; it stays mapped
        // until `UnitInner` drops, which first runs `stop` and deregisters.
        let unit = unsafe { Unit::start(inner, started) };
        Ok(unit)
    }
}

/// Fills in what objdl supplies: the handle, the `atexit`-family stubs and their slots.
fn write_synthetics(
    bytes: &mut [u8],
    base: u64,
    res: &resolve::Resolution<'_>,
    layout: &layout::Layout,
    entry: &runtime::Entry,
) {
    let syn = layout.synthetic;
    let dso = base + syn.dso_handle;
    bytes[syn.dso_handle as usize..][..8].copy_from_slice(&dso.to_le_bytes());
    let kinds = [
        (Synthetic::Atexit, entry.cxa_atexit),
        (Synthetic::AtQuickExit, entry.cxa_at_quick_exit),
        (Synthetic::PthreadAtfork, entry.register_atfork),
    ];
    for (i, (kind, target)) in kinds.into_iter().enumerate() {
        if !res.synthetics_used.contains(&(kind as u8)) {
            continue;
        }
        let slot = syn.stub_slots[i];
        bytes[slot as usize..][..8].copy_from_slice(&target.to_le_bytes());
        let stub = syn.stubs[i];
        let reg = match kind {
            Synthetic::Atexit => arch::HandleArg::Third { zero_second: true },
            Synthetic::AtQuickExit => arch::HandleArg::Second,
            _ => arch::HandleArg::Fourth,
        };
        arch::write_handle_stub(
            &mut bytes[stub as usize..][..arch::ATEXIT_STUB_SIZE],
            base + stub,
            dso,
            base + slot,
            reg,
        );
    }
}

/// Unmaps the tail of `mem` beyond `size`.
fn shrink(mem: Reservation, size: u64) -> Reservation {
    mem.truncate(size)
}

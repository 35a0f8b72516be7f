//! The [`Linker`] and the pipeline that turns inputs into a [`Unit`]:
//! parse → resolve → layout → plan → place → map → relocate → protect →
//! register → initialise.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use crate::arch;
use crate::error::{Error, Result};
use crate::input::archive;
use crate::input::parse::{self, RelocFields as _};
use crate::link::layout::{self, align_up, PAGE};
use crate::link::lifecycle;
use crate::link::placement::{self, Placement};
use crate::link::plan;
use crate::link::relocate::{self, Tail};
use crate::link::resolve::{self, Synthetic};
use crate::load::debug;
use crate::load::memory::{Protection, Reservation};
use crate::load::opened::{Claim, Opened};
use crate::load::runtime;
use crate::load::shim;
use crate::load::tls::{ThreadLocals, TlsModule};
use crate::load::unit::{Exports, LoadStats, RelocationSummary, Unit, UnitInner, UnitParts};
use crate::scope::host::Host;
use crate::scope::implicit;
use crate::scope::namespace::{Held, Namespace};

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
    /// The name used in messages: the path, or the given name.
    pub fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Bytes { name, .. } => name.clone(),
        }
    }

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
    scope: Scope,
    debugger: Option<bool>,
    perf_map: Option<bool>,
    size_limit: Option<u64>,
    entry: Option<String>,
    no_implicit_libraries: bool,
    exec_stack: bool,
}

/// Whether a unit's exports resolve the references of units opened later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Reachable only through its [`Unit`] handle (like `RTLD_LOCAL`). The default.
    #[default]
    Local,
    /// Its exports resolve later units' references (like `RTLD_GLOBAL`).
    /// A unit that binds to them keeps this one loaded.
    Global,
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

    /// Whether to register the unit with debuggers (the GDB JIT interface).
    /// By default objdl does when a debugger is attached to the process or
    /// `OBJDL_GDB=1` is set.
    pub fn debugger(&mut self, yes: bool) -> &mut OpenOptions {
        self.debugger = Some(yes);
        self
    }

    /// Whether to write the unit's functions and trampolines to
    /// `/tmp/perf-PID.map` for `perf report`. By default objdl does when
    /// `OBJDL_PERF_MAP=1` is set. The map is created mode 0600, and only a
    /// regular file that this user owns (with one link) is written: never
    /// one reached through a symbolic link, nor one another user made.
    pub fn perf_map(&mut self, yes: bool) -> &mut OpenOptions {
        self.perf_map = Some(yes);
        self
    }

    /// The most memory the unit may reserve, in bytes: code, data, bss,
    /// GOT and trampolines together. The default, and the most it can be, is
    /// 1 GiB, which keeps every internal reference of a unit within a signed
    /// 32-bit displacement.
    ///
    /// ```
    /// let mut opts = objdl::OpenOptions::new();
    /// opts.size_limit(64 << 20); // 64 MiB
    /// ```
    pub fn size_limit(&mut self, bytes: u64) -> &mut OpenOptions {
        self.size_limit = Some(bytes.min(crate::limits::MAX_UNIT_SIZE));
        self
    }

    /// The unit's entry point: the symbol [`Unit::entry_point`] gives the
    /// address of, found as `ld -e SYMBOL` finds it, whatever its
    /// visibility (`main` in objects built with `-fvisibility=hidden` is
    /// hidden, so not exported, and [`Unit::get`] does not find it).
    ///
    /// ```no_run
    /// # use objdl::{Linker, OpenOptions};
    /// let linker = Linker::new();
    /// let unit = unsafe { OpenOptions::new().entry("main").open(&linker, ["prog.o"])? };
    /// let main = unit.entry_point().expect("prog.o defines main");
    /// # Ok::<(), objdl::Error>(())
    /// ```
    ///
    /// [`Unit::entry_point`]: crate::Unit::entry_point
    /// [`Unit::get`]: crate::Unit::get
    pub fn entry(&mut self, symbol: &str) -> &mut OpenOptions {
        self.entry = Some(symbol.to_string());
        self
    }

    /// Whether to look for what stays unresolved in the libraries the gcc
    /// driver links after the user's inputs: `libgcc.a` and `libgcov.a`,
    /// then `libgcc_s.so.1`, then `libc_nonshared.a`. On by default.
    ///
    /// ```
    /// let mut opts = objdl::OpenOptions::new();
    /// opts.implicit_libraries(false); // only what the inputs and the process define
    /// ```
    pub fn implicit_libraries(&mut self, yes: bool) -> &mut OpenOptions {
        self.no_implicit_libraries = !yes;
        self
    }

    /// Whether to load objects that need an executable stack: one whose
    /// `.note.GNU-stack` section is executable (gcc marks so an object
    /// whose nested function's address escapes, for the trampoline it
    /// writes on the stack) or that has no such section. They are refused
    /// by default. Allowing one makes the stacks of every thread, present
    /// and future, writable *and executable*, as `ld.so` does when it loads
    /// such a library: this breaks W^X for the whole process, for good.
    ///
    /// ```
    /// let mut opts = objdl::OpenOptions::new();
    /// opts.exec_stack(true); // nested functions' trampolines, at W^X's cost
    /// ```
    pub fn exec_stack(&mut self, yes: bool) -> &mut OpenOptions {
        self.exec_stack = yes;
        self
    }

    /// Whether the unit's exports join the global scope.
    pub fn scope(&mut self, scope: Scope) -> &mut OpenOptions {
        self.scope = scope;
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
    pub(crate) namespace: Arc<Namespace>,
    opened: Arc<Opened>,
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
    /// definitions come after a unit's own definitions and the Global
    /// units' exports, and before `dlsym`.
    pub fn define(&self, name: &str, addr: *const ()) {
        self.host.define(name, addr as u64);
    }

    /// Looks `name` up in the global scope, as a unit being opened would
    /// resolve an undefined reference (without its own definitions): the
    /// Global units, then [`Linker::define`]d symbols, then `dlsym` (and
    /// the executable's `.symtab` if [`Linker::use_executable_symbols`]).
    ///
    /// ```
    /// let linker = objdl::Linker::new();
    /// assert!(linker.lookup("strlen").is_some());
    /// assert!(linker.lookup("no_such_symbol_anywhere").is_none());
    /// ```
    pub fn lookup(&self, name: &str) -> Option<u64> {
        if let Some((addr, _)) = self.namespace.lookup(name) {
            return Some(addr);
        }
        self.host
            .defined(name)
            .or_else(|| self.host.dlsym(name))
            .or_else(|| self.host.exe_symbol(name))
    }

    /// Also resolves names that `dlsym` does not find against the
    /// executable's own `.symtab`: functions and data the host did not
    /// export (flexdll issue #132). Off by default; the table is read once.
    pub fn use_executable_symbols(&self, yes: bool) {
        self.host.use_executable_symbols(yes);
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
        // Opening the same paths again returns the same unit.
        let ticket =
            match path_key(&inputs) {
                None => None,
                Some(key) => match self.opened.claim(key) {
                    Some(Claim::Existing(inner)) => {
                        let unit = Unit::new(inner, self.namespace.clone());
                        if opts.scope == Scope::Global {
                            unit.make_global();
                        }
                        return Ok(unit);
                    }
                    Some(Claim::Load(ticket)) => Some(ticket),
                    None => return Err(Error::Unsupported {
                        file: inputs
                            .iter()
                            .map(Input::name)
                            .collect::<Vec<_>>()
                            .join(", "),
                        what: "opened again by its own initialiser, before its first open finished"
                            .into(),
                    }),
                },
            };
        let started = Instant::now();
        let linked = self.link(inputs, opts, false)?;
        let Linked {
            image,
            tail,
            size,
            layout_text_end,
            rodata,
            exports,
            stats,
            dso_handle,
            lifecycle,
            deps,
            stand_ins,
            summary,
            groups,
            ifuncs,
            tls,
            entry,
            entry_point,
            gdb,
            perf,
            ..
        } = linked;
        let Image::Mapped(mem) = image else {
            unreachable!("a load always maps")
        };

        // 6. Protect: text RX, read-only R, data RW, GOT R, trampolines RX.
        mem.protect(0, layout_text_end, Protection::RX)?;
        mem.protect(rodata.0, rodata.1 - rodata.0, Protection::R)?;
        mem.protect(tail.got, tail.trampolines - tail.got, Protection::R)?;
        mem.protect(tail.trampolines, size - tail.trampolines, Protection::RX)?;
        // Release the part of the reservation the plan did not need.
        let mut mem = mem.truncate(size);
        // IFUNC resolvers run now that the code is executable, and their
        // answers go into read-only slots (made writable, never executable,
        // for the moment it takes). Not in no-exec mode: they are code.
        if !ifuncs.is_empty() && !opts.no_exec {
            let answers: Vec<u64> = ifuncs
                .iter()
                .map(|&(resolver, _)| {
                    // SAFETY: an STT_GNU_IFUNC symbol's value is its resolver,
                    // `void *(void)` on x86-64, relocated and executable now.
                    let f: unsafe extern "C" fn() -> u64 =
                        unsafe { std::mem::transmute::<usize, _>(resolver as usize) };
                    // SAFETY: running the unit's resolver is part of loading it.
                    unsafe { f() }
                })
                .collect();
            mem.protect(rodata.0, rodata.1 - rodata.0, Protection::RW)?;
            // SAFETY: the read-only segment is writable again just now, and
            // only objdl's slots in it are written.
            let bytes = unsafe { mem.bytes_mut() };
            for (&(_, slot), answer) in ifuncs.iter().zip(answers) {
                bytes[slot as usize..][..8].copy_from_slice(&answer.to_le_bytes());
            }
            mem.protect(rodata.0, rodata.1 - rodata.0, Protection::R)?;
        }

        let parts = UnitParts {
            exports,
            stats,
            entry,
            dso_handle,
            lifecycle,
            no_exec: opts.no_exec,
            deps,
            summary,
            groups,
            tls,
            gdb,
            perf,
            entry_point,
            data: (mem.base() + rodata.1, mem.base() + tail.got),
        };
        let inner = UnitInner::new(mem, parts);
        // 7, 8. Register and initialise.
        // SAFETY: the unit is mapped with final protections; it stays mapped
        // until `UnitInner` drops, which first runs `stop` and deregisters.
        let inner = unsafe { Unit::start(inner, started) };
        let held: Held = inner.clone();
        self.namespace.add_stand_ins(&held, &stand_ins);
        let unit = Unit::new(inner, self.namespace.clone());
        if opts.scope == Scope::Global {
            unit.make_global();
        }
        if let Some(ticket) = ticket {
            ticket.finish(unit.inner());
        }
        Ok(unit)
    }

    /// Links `inputs` without running anything and reports what loading
    /// them would do: the placement, sections, trampolines and GOT slots.
    ///
    /// With [`Placement::At`] the unit is planned and relocated as if it sat
    /// at that address (like llvm-jitlink's `-slab-address`), into a buffer:
    /// nothing is mapped there. Otherwise a real placement is chosen and
    /// released again.
    ///
    /// ```no_run
    /// use objdl::{Linker, OpenOptions, Placement};
    /// let mut opts = OpenOptions::new();
    /// opts.placement(Placement::At(0x1000_0000));
    /// let report = Linker::new().check(["x.o"], &opts)?;
    /// for t in &report.trampolines {
    ///     println!("trampoline {:#x} -> {} ({:#x})", t.address, t.symbol, t.target);
    /// }
    /// # Ok::<(), objdl::Error>(())
    /// ```
    pub fn check<I>(&self, inputs: I, opts: &OpenOptions) -> Result<Report>
    where
        I: IntoIterator,
        I::Item: Into<Input>,
    {
        let linked = self.link(inputs.into_iter().map(Into::into).collect(), opts, true)?;
        let Linked {
            image,
            stats,
            report,
            ..
        } = linked;
        let mut report = report.expect("check builds a report");
        report.stats = stats;
        let bytes = match &image {
            Image::Virtual { bytes, .. } => bytes.clone(),
            // SAFETY: nothing was protected and the reservation is dropped below.
            Image::Mapped(m) => m.bytes().to_vec(),
        };
        report.image = bytes;
        report.image.truncate(report.stats.size as usize);
        Ok(report)
    }

    /// Stages 1 to 5: read, parse, resolve, lay out, plan, place, relocate.
    /// What stays unresolved is looked for in the libraries the gcc driver
    /// adds (see [`crate::scope::implicit`]), one stage at a time, relinking after
    /// each.
    fn link(&self, inputs: Vec<Input>, opts: &OpenOptions, check: bool) -> Result<Linked> {
        let started = Instant::now();
        let mut files: Vec<(String, FileBytes)> = Vec::with_capacity(inputs.len());
        for input in inputs {
            files.push(match input {
                Input::Path(p) => {
                    let bytes = FileBytes::map(&p).map_err(|source| Error::Io {
                        path: p.clone(),
                        source,
                    })?;
                    (p.display().to_string(), bytes)
                }
                Input::Bytes { name, bytes } => (name, FileBytes::Owned(bytes)),
            });
        }
        let user_inputs = files.len();
        let mut tried = 0;
        loop {
            let linked = self.link_files(&files, user_inputs, started, opts, check);
            // The implicit libraries are looked for only when needed.
            let Err(Error::Unresolved(_)) = &linked else {
                return linked;
            };
            let stage = match implicit::stages().get(tried) {
                Some(stage) if !opts.no_implicit_libraries => stage,
                _ => return linked,
            };
            tried += 1;
            match stage {
                implicit::Stage::Archives(paths) => {
                    for p in paths {
                        if let Ok(bytes) = FileBytes::map(p) {
                            files.push((p.display().to_string(), bytes));
                        }
                    }
                }
                // A library that cannot be loaded leaves the names unresolved.
                implicit::Stage::Shared(p) => {
                    let _ = self.host.load_library(&p.to_string_lossy(), &[]);
                }
            }
        }
    }

    /// [`Linker::link`] of `files`, of which those from `user_inputs` on are
    /// archives of the libraries the gcc driver adds.
    fn link_files(
        &self,
        files: &[(String, FileBytes)],
        user_inputs: usize,
        started: Instant,
        opts: &OpenOptions,
        check: bool,
    ) -> Result<Linked> {
        // 1. Parse, then pull what the objects need from archives.
        let mut objects = Vec::with_capacity(files.len());
        let mut archives = Vec::new();
        for (name, bytes) in &files[..user_inputs] {
            let bytes: &[u8] = bytes;
            if archive::is_archive(bytes) {
                archives.push((name.as_str(), bytes));
            } else {
                objects.push(parse::parse(name, bytes)?);
            }
        }
        let implicit: Vec<(&str, &[u8])> = files[user_inputs..]
            .iter()
            .map(|(name, bytes)| (name.as_str(), &bytes[..]))
            .collect();
        // An input's malformed relocation is reported before what it may
        // have caused further on (relocations are checked only later).
        let malformed_first = |objects: &[parse::ObjectFile<'_>], err: Error| -> Error {
            objects
                .iter()
                .find_map(|o| o.check_relocations().err())
                .unwrap_or(err)
        };
        let outside = |name: &str| resolve::defined_outside(name, &self.host, &self.namespace);
        if let Err(err) = archive::select(&mut objects, &archives, &implicit, &outside) {
            return Err(malformed_first(&objects, err));
        }
        executable_stack(&objects, opts, check).map_err(|err| malformed_first(&objects, err))?;
        // Which mapped file each object lies in (archive members too):
        // the files' ranges in address order, searched.
        let mut ranges: Vec<(u64, u64, u32)> = files
            .iter()
            .enumerate()
            .filter(|(_, (_, f))| matches!(f, FileBytes::Mapped(_)))
            .map(|(i, (_, f))| {
                (
                    f.as_ptr() as u64,
                    f.as_ptr() as u64 + f.len() as u64,
                    i as u32,
                )
            })
            .collect();
        ranges.sort_unstable();
        for obj in &mut objects {
            let at = obj.data.as_ptr() as u64;
            let i = ranges.partition_point(|&(start, _, _)| start <= at);
            obj.backing = i
                .checked_sub(1)
                .map(|i| ranges[i])
                .filter(|&(_, end, _)| at < end)
                .map(|(start, _, file)| parse::Backing {
                    file,
                    offset: at - start,
                });
        }
        // 2. Resolve.
        let entry = opts.entry.as_deref();
        let mut res = match resolve::resolve(&mut objects, &self.host, &self.namespace, entry) {
            Ok(res) => res,
            Err(err) => return Err(malformed_first(&objects, err)),
        };
        // 3. Lay out and plan.
        let layout =
            layout::layout(&objects, &res).map_err(|err| malformed_first(&objects, err))?;
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
        let unit = Parts {
            objects: &objects,
            res: &res,
            layout: &layout,
            files,
            max_align,
        };
        let placed = match self.speculate(&unit, opts, check)? {
            Some(placed) => placed,
            None => {
                // The planner reads every relocation: check them all first.
                let kinds = objects
                    .iter()
                    .map(parse::ObjectFile::check_relocations)
                    .collect::<Result<Vec<u64>>>()?;
                resolve::external_facts(&objects, &mut res, &kinds);
                // Other modules' thread-locals that initial-exec code
                // reaches go to static TLS before anything looks them up.
                let initial_exec = initial_exec_offsets(&objects, &res, check)?;
                resolve::dynamic_thread_locals(&objects, &mut res, &self.host)?;
                let unit = Parts {
                    objects: &objects,
                    res: &res,
                    layout: &layout,
                    files,
                    max_align,
                };
                self.place(&unit, opts, check, initial_exec)?
            }
        };
        let Placed {
            mut image,
            plan,
            tail,
            size,
            counts,
            copies,
            stand_in_deps,
            tls,
            window,
        } = placed;
        let base = image.base();
        let bytes = image.bytes_mut();
        let entry = runtime::Entry::lookup(&self.host);
        let dso_offset = layout.synthetic.dso_handle;
        write_synthetics(bytes, base, &res, &layout, &entry);
        let lifecycle = lifecycle::lifecycle(bytes, base, &layout.tables, &layout.eh_frames);
        let code = [
            (layout.text.offset, layout.text.offset + layout.text.size),
            (tail.trampolines, size),
        ];
        lifecycle::refuse_what_is_not_code(
            &objects,
            &res,
            &layout,
            &bytes[..size as usize],
            base,
            &code,
        )?;

        let name_bytes = res.exports.iter().map(|(name, _)| name.len()).sum();
        let mut exports = Exports::with_capacity(res.exports.len(), name_bytes);
        for &(name, t) in &res.exports {
            // A symbol defined in a section that is not loaded (a note, a
            // debug section...) has no address: it is not exported.
            if matches!(t, resolve::Target::Absolute { .. })
                || layout.internal_offset(t, &res, tail.got).is_some()
            {
                exports.insert_unique(name, address_of(t, &layout, &res, tail, base));
            }
        }
        for (name, t) in &res.versioned_exports {
            exports.insert_unique(name, address_of(*t, &layout, &res, tail, base));
        }
        let stats = LoadStats {
            objects: objects.len(),
            sections: layout.section_count,
            relocations: counts.relocations,
            trampolines: plan.trampolines.len(),
            got_slots: plan.slots.len(),
            relaxations: plan.relaxations,
            lea_rewrites: plan.lea_rewrites,
            copies,
            base,
            size,
            window: (window.0.max(0) as u64, window.1.max(0) as u64),
            load_time: started.elapsed(),
        };
        let report = check.then(|| report(&objects, &res, &layout, &plan, tail, base));
        // 7b. Debuggers and profilers (only for a real load).
        let (gdb, perf) = if check {
            (Vec::new(), None)
        } else {
            tools(&objects, &layout, &plan, tail, base, opts)
        };
        let ifuncs = res
            .ifuncs
            .iter()
            .zip(&layout.synthetic.ifunc_slots)
            .map(|(&t, &slot)| (address_of(t, &layout, &res, tail, base), slot))
            .collect();
        // An entry in a section that is not loaded has no address.
        let entry_point = res
            .entry
            .filter(|&t| {
                matches!(t, resolve::Target::Absolute { .. })
                    || layout.internal_offset(t, &res, tail.got).is_some()
            })
            .map(|t| address_of(t, &layout, &res, tail, base));
        Ok(Linked {
            image,
            tail,
            size,
            layout_text_end: align_up(layout.text.offset + layout.text.size, PAGE),
            rodata: (
                layout.rodata.offset,
                align_up(layout.rodata.offset + layout.rodata.size, PAGE),
            ),
            exports,
            stats,
            dso_handle: base + dso_offset,
            lifecycle,
            deps: res.deps.into_iter().chain(stand_in_deps).collect(),
            summary: summary(&counts, &plan, tail, base),
            ifuncs,
            tls,
            entry,
            entry_point,
            gdb,
            perf,
            groups: res.groups,
            stand_ins: plan
                .own_stand_ins
                .iter()
                .map(|dest| (*dest, base + tail.trampoline(plan.trampolines[dest])))
                .collect(),
            report,
        })
    }

    /// Stages 3b to 5 the full way: plan every relocation, choose a base
    /// the demands allow, map, relocate.
    fn place(
        &self,
        unit: &Parts<'_, '_>,
        opts: &OpenOptions,
        check: bool,
        initial_exec: InitialExec,
    ) -> Result<Placed> {
        let Parts {
            objects,
            res,
            layout,
            files,
            max_align,
        } = *unit;
        let demands = plan::demands(objects, res, layout)?;
        let max_got = align_up(
            // A TLS site needs a pair and, for TLSDESC, a descriptor.
            demands.max_slots * arch::GOT_SLOT_SIZE as u64 + demands.tls_sites.len() as u64 * 32,
            PAGE,
        );
        let max_tramp = align_up(demands.max_trampolines * arch::TRAMPOLINE_SIZE as u64, PAGE);
        let upper = layout.got_offset + max_got + max_tramp;
        let limit = opts.size_limit.unwrap_or(crate::limits::MAX_UNIT_SIZE);
        if upper > limit {
            let names: Vec<&str> = objects.iter().map(|o| o.name.as_str()).collect();
            return Err(Error::NoPlacement {
                size: upper,
                why: format!(
                    "the unit ({}) needs more than its {limit:#x}-byte limit",
                    names.join(", ")
                ),
            });
        }
        // Reads of copyable host variables (resolve::COPYABLE) that no
        // placement reaches may use copies; never under Far, the test mode
        // for references that must really reach.
        let copies_allowed = opts.placement != Placement::Far && !res.copyable.is_empty();
        let feasible =
            |lo: i128, hi: i128| lo <= hi && (opts.placement != Placement::Low || lo < 1 << 31);
        let (lo, hi) = if !feasible(demands.lo, demands.hi) && copies_allowed {
            (demands.lo_without_copies, demands.hi_without_copies)
        } else {
            (demands.lo, demands.hi)
        };
        // Trampolines standing in for host functions in 32-bit absolutes
        // must lie below the limit, and they come last in the unit.
        let hi = match demands.abs_limit {
            Some(limit) => hi.min(limit + 1 - upper as i128),
            None => hi,
        };
        let req = placement::Request {
            size: upper,
            align: max_align,
            lo,
            hi,
            preferred: &demands.preferred,
        };

        // 4. Place and map (or, for a check at a given address, only pretend to).
        if let Placement::At(base) = opts.placement {
            let names: Vec<&str> = objects.iter().map(|o| o.name.as_str()).collect();
            placement::check_base(base, upper, &names.join(", "))?;
        }
        let mut image = match (check, opts.placement) {
            (true, Placement::At(base)) => {
                if base % max_align != 0 {
                    return Err(Error::NoPlacement {
                        size: upper,
                        why: format!(
                            "{base:#x} is not aligned to {max_align:#x}, as the unit ({}) needs",
                            objects
                                .iter()
                                .map(|o| o.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
                Image::Virtual {
                    base,
                    bytes: vec![0; upper as usize],
                }
            }
            _ => Image::Mapped(placement::reserve(opts.placement, &req)?),
        };
        let base = image.base();
        let (mut bad, mut copies) =
            plan::violations(objects, res, layout, &demands, base, copies_allowed);
        // Copies are made only of what really is a small variable.
        let copy_sizes: Option<Vec<u64>> = copies
            .iter()
            .map(|&i| res.copyable[i as usize].size())
            .collect();
        let copy_sizes = match copy_sizes {
            Some(sizes) => sizes,
            None => {
                (bad, copies) = plan::violations(objects, res, layout, &demands, base, false);
                Vec::new()
            }
        };
        bad.extend(plan::stand_in_violations(
            objects, res, &demands, base, upper,
        ));
        if !bad.is_empty() {
            let fix = plan::fix_for(&bad);
            return Err(Error::Unreachable { sites: bad, fix });
        }
        // Stand-ins other units already made are canonical: use theirs
        // (and keep their units loaded).
        let mut shared = crate::hash::KeyedMap::default();
        let mut stand_in_deps = Vec::new();
        for target in plan::stand_in_targets(objects, res, &demands) {
            if let Some((addr, unit)) = self.namespace.stand_in(target) {
                if addr < 1 << 31 {
                    shared.insert(target, addr);
                    stand_in_deps.push(unit);
                }
            }
        }
        // The unit's thread-locals: a TLS module of objdl's, or, when
        // initial-exec or local-exec code reaches them, a block in static
        // TLS that ld.so allocates (as for other modules' thread-locals
        // such code reaches).
        let mut template_counts = relocate::Counts::default();
        let tls = thread_locals(
            unit,
            &demands,
            base,
            check,
            initial_exec,
            &mut template_counts,
        )?;
        let mut plan = plan::finish(objects, res, layout, &demands, base, shared, tls.tp.clone());
        for &i in &copies {
            plan.copies.insert(
                res.copyable[i as usize].addr,
                base + layout.synthetic.copies[i as usize],
            );
        }
        // tls_index pairs, for the unit's block and other modules' variables.
        plan::plan_tls_pairs(objects, res, layout, &demands, tls.module_id, &mut plan);
        let got_size = plan::got_size(&plan);
        let tail = Tail {
            got: layout.got_offset,
            trampolines: align_up(layout.got_offset + got_size, PAGE),
        };
        let tramp_size = plan.trampolines.len() as u64 * arch::TRAMPOLINE_SIZE as u64;
        let size = align_up(tail.trampolines + tramp_size, PAGE);
        debug_assert!(size <= upper);

        // 5. Relocate (the reservation is still read-write).
        let mapped = match &image {
            Image::Mapped(m) => map_sections(m, &layout.mapped, files),
            Image::Virtual { .. } => false,
        };
        let bytes = image.bytes_mut();
        let mut counts = relocate::relocate(
            bytes,
            base,
            objects,
            res,
            layout,
            &plan,
            tail,
            mapped,
            relocate::Slow::Apply,
        )?;
        counts.add(&template_counts);
        for (&i, &size) in copies.iter().zip(&copy_sizes) {
            let c = res.copyable[i as usize];
            let at = layout.synthetic.copies[i as usize] as usize;
            // SAFETY: `c.addr` is a variable of `size` (<= 8) bytes in a
            // loaded module, as its ELF symbol (dladdr1) says.
            let value = unsafe { std::slice::from_raw_parts(c.addr as *const u8, size as usize) };
            bytes[at..at + value.len()].copy_from_slice(value);
        }
        Ok(Placed {
            image,
            plan,
            tail,
            size,
            counts,
            copies: copies.len(),
            stand_in_deps,
            tls: tls.keep,
            window: (demands.lo, demands.hi),
        })
    }

    /// Stages 4 and 5 without planning, when the unit may go anywhere: no
    /// relocation type constrains the base (see
    /// [`arch::PLACEMENT_FREE_KINDS`]). The unit is mapped where the kernel
    /// likes and relocated there in one pass, which also checks each
    /// relocation it applies; the few sites that do not fit as they are get
    /// GOT slots. `None` (and nothing stays mapped) when a site needs more,
    /// a trampoline or a copy, or is of another type or malformed: then
    /// [`Linker::place`] checks and plans the unit from the start.
    fn speculate(
        &self,
        unit: &Parts<'_, '_>,
        opts: &OpenOptions,
        check: bool,
    ) -> Result<Option<Placed>> {
        let Parts {
            objects,
            res,
            layout,
            files,
            max_align,
        } = *unit;
        // A TLS section (even an empty `.tdata`) sends the unit to the planner.
        if check || opts.placement != Placement::Auto || !layout.tls.offsets.is_empty() {
            return Ok(None);
        }
        // A first look at a few relocations of each section: code that
        // constrains its base (-fno-pic's 32-bit absolutes) shows it at
        // once, and goes straight to the planner rather than after a pass.
        let free = |r: &parse::Reloc| arch::placement_free(parse::RelocFields::kind(r));
        if objects
            .iter()
            .flat_map(|o| &o.sections)
            .any(|s| !s.relocs.iter().take(16).all(free))
        {
            return Ok(None);
        }
        // Room for a GOT slot per relocation at most (address space only).
        let relocations: u64 = objects
            .iter()
            .flat_map(|o| o.sections.iter().map(|s| s.relocs.len() as u64))
            .sum();
        let upper = layout.got_offset + align_up(relocations * arch::GOT_SLOT_SIZE as u64, PAGE);
        if upper > opts.size_limit.unwrap_or(crate::limits::MAX_UNIT_SIZE) {
            return Ok(None);
        }
        let image = Reservation::map(None, upper)?;
        let base = image.base();
        if base % max_align != 0 {
            return Ok(None);
        }
        let mapped = map_sections(&image, &layout.mapped, files);
        let mut image = Image::Mapped(image);
        let mut deferred = Vec::new();
        let first_tail = Tail {
            got: layout.got_offset,
            trampolines: align_up(layout.got_offset, PAGE),
        };
        let counts = relocate::relocate(
            image.bytes_mut(),
            base,
            objects,
            res,
            layout,
            &plan::Plan::default(),
            first_tail,
            mapped,
            relocate::Slow::Defer(&mut deferred),
        )?;
        // What was set aside has not been checked; a relocation that is not
        // well formed, or of a type that constrains the base (the fast path
        // takes only types that do not), sends the unit to the planner,
        // which reports or plans it.
        if counts.stopped {
            return Ok(None);
        }
        for &(oi, si, ri) in &deferred {
            let obj = &objects[oi as usize];
            let sec = &obj.sections[si as usize];
            let r = &sec.relocs[ri as usize];
            if !free(r) || obj.check_relocation(sec, r).is_err() {
                return Ok(None);
            }
        }
        let Some(plan) = plan::plan_deferred(objects, res, layout, &deferred, base, counts.relaxed)
        else {
            return Ok(None);
        };
        let got_size = plan::got_size(&plan);
        let tail = Tail {
            got: layout.got_offset,
            trampolines: align_up(layout.got_offset + got_size, PAGE),
        };
        relocate::apply_deferred(
            image.bytes_mut(),
            base,
            objects,
            res,
            layout,
            &plan,
            tail,
            &deferred,
        )?;
        Ok(Some(Placed {
            image,
            plan,
            tail,
            size: tail.trampolines,
            counts,
            copies: 0,
            stand_in_deps: Vec::new(),
            tls: ThreadLocals::default(),
            window: (plan::USER_LO, plan::USER_HI),
        }))
    }
}

/// Maps the whole pages of large sections from their files into the
/// reservation. Returns `false` (and the sections are then copied) if any
/// mapping fails.
fn map_sections(
    image: &Reservation,
    sections: &[layout::MappedSection],
    files: &[(String, FileBytes)],
) -> bool {
    sections.iter().all(|m| match &files[m.file as usize].1 {
        FileBytes::Mapped(f) => image
            .map_file(m.offset, m.len, f.fd(), m.file_offset)
            .is_ok(),
        FileBytes::Owned(_) => false,
    })
}

/// Registers the unit with a debugger and the perf map, as `opts` and the
/// environment ask.
fn tools(
    objects: &[parse::ObjectFile<'_>],
    layout: &layout::Layout,
    plan: &plan::Plan,
    tail: Tail,
    base: u64,
    opts: &OpenOptions,
) -> (Vec<debug::GdbEntry>, Option<(u64, u64, String)>) {
    let mut gdb = Vec::new();
    if opts.debugger.unwrap_or_else(debug::debugger_wanted) {
        for (oi, obj) in objects.iter().enumerate() {
            let addresses: Vec<u64> = layout.sec_offsets[oi]
                .iter()
                .map(|&off| {
                    if off == layout::NOT_LOADED {
                        0
                    } else {
                        base + off
                    }
                })
                .collect();
            gdb.extend(debug::register(obj.data, &addresses));
        }
    }
    let mut perf = None;
    if opts.perf_map.unwrap_or_else(debug::perf_map_wanted) {
        let mut lines = Vec::new();
        for (oi, obj) in objects.iter().enumerate() {
            for (i, sym) in obj.symbols.iter().enumerate() {
                if let parse::SymbolDef::Section { index, value } = sym.def {
                    let off = layout.sec_offsets[oi][index as usize];
                    if sym.kind == object::elf::STT_FUNC && off != layout::NOT_LOADED {
                        let name = obj.symbol_name(i as u32);
                        if !name.is_empty() {
                            lines.push((base + off + value, sym.size.max(1), name));
                        }
                    }
                }
            }
        }
        for (&dest, &i) in &plan.trampolines {
            let at = base + tail.trampoline(i);
            lines.push((
                at,
                arch::TRAMPOLINE_SIZE as u64,
                format!("objdl trampoline to {dest:#x}"),
            ));
        }
        debug::perf_map_write(&lines);
        let names: Vec<&str> = objects.iter().map(|o| o.name.as_str()).collect();
        perf = Some((base, 0, names.join(",")));
    }
    (gdb, perf)
}

/// An input's bytes: the file mapped read-only (no copy, and its pages come
/// from the page cache), or bytes given in memory.
enum FileBytes {
    Mapped(crate::input::file::FileMap),
    Owned(Vec<u8>),
}

impl FileBytes {
    fn map(path: &Path) -> std::io::Result<FileBytes> {
        Ok(match crate::input::file::FileMap::open(path)? {
            Some(m) => FileBytes::Mapped(m),
            None => FileBytes::Owned(Vec::new()), // an empty file
        })
    }
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(m) => m.bytes(),
            FileBytes::Owned(v) => v,
        }
    }
}

/// The canonical paths of `inputs` when they are all paths, as the key
/// under which the unit is found again.
fn path_key(inputs: &[Input]) -> Option<Vec<PathBuf>> {
    inputs
        .iter()
        .map(|i| match i {
            Input::Path(p) => std::fs::canonicalize(p).ok(),
            Input::Bytes { .. } => None,
        })
        .collect()
}

/// What relocation did, kept with the unit for [`Unit::relocation_summary`].
fn summary(
    counts: &relocate::Counts,
    plan: &plan::Plan,
    tail: Tail,
    base: u64,
) -> RelocationSummary {
    let by_type = counts
        .by_type
        .iter()
        .enumerate()
        .filter(|&(_, &n)| n > 0)
        .map(|(t, &n)| {
            (
                arch::reloc_name(object::elf::RelocationType(t as u32)).into_owned(),
                n,
            )
        })
        .collect();
    let mut trampolines: Vec<(u64, u64)> = plan
        .trampolines
        .iter()
        .map(|(&dest, &i)| (base + tail.trampoline(i), dest))
        .collect();
    trampolines.sort_unstable();
    let mut got_slots: Vec<(u64, u64)> = plan
        .slots
        .iter()
        .map(|(&v, &i)| (base + tail.slot(i), v))
        .collect();
    got_slots.sort_unstable();
    RelocationSummary {
        by_type,
        trampolines,
        got_slots,
    }
}

/// A unit's memory while it is being linked.
enum Image {
    /// A real reservation.
    Mapped(Reservation),
    /// A buffer standing in for memory at `base` (a check at a given address).
    Virtual { base: u64, bytes: Vec<u8> },
}

impl Image {
    fn base(&self) -> u64 {
        match self {
            Image::Mapped(m) => m.base(),
            Image::Virtual { base, .. } => *base,
        }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            // SAFETY: the reservation is still read-write: nothing is
            // protected before linking ends.
            Image::Mapped(m) => unsafe { m.bytes_mut() },
            Image::Virtual { bytes, .. } => bytes,
        }
    }
}

/// The parsed, resolved and laid out unit, for [`Linker::place`] and
/// [`Linker::speculate`].
#[derive(Clone, Copy)]
struct Parts<'a, 'd> {
    objects: &'a [parse::ObjectFile<'d>],
    res: &'a resolve::Resolution<'d>,
    layout: &'a layout::Layout,
    files: &'a [(String, FileBytes)],
    /// The strictest alignment any section or COMMON symbol needs.
    max_align: u64,
}

/// A unit placed, mapped and relocated.
struct Placed {
    image: Image,
    plan: plan::Plan,
    tail: Tail,
    size: u64,
    counts: relocate::Counts,
    /// How many host variables the unit reads from its own copies.
    copies: usize,
    /// Units whose stand-ins this one uses.
    stand_in_deps: Vec<Held>,
    tls: ThreadLocals,
    /// The base addresses the demands allowed.
    window: (i128, i128),
}

/// What linking produced, for a load or a check.
struct Linked {
    image: Image,
    tail: Tail,
    size: u64,
    layout_text_end: u64,
    rodata: (u64, u64),
    exports: Exports,
    stats: LoadStats,
    dso_handle: u64,
    lifecycle: runtime::Lifecycle,
    deps: Vec<Held>,
    /// (host function, address) of the stand-ins this unit made.
    stand_ins: Vec<(u64, u64)>,
    summary: RelocationSummary,
    groups: Vec<String>,
    /// (resolver address, slot offset) of each IFUNC.
    ifuncs: Vec<(u64, u64)>,
    /// The unit's thread-local blocks, freed when the unit's memory goes.
    tls: ThreadLocals,
    /// The libc and libgcc entry points the unit's life cycle uses.
    entry: runtime::Entry,
    /// The address of the entry point asked for ([`OpenOptions::entry`]).
    entry_point: Option<u64>,
    /// The unit's entries in GDB's list.
    gdb: Vec<debug::GdbEntry>,
    /// The unit's range and name, when its functions went to the perf map.
    perf: Option<(u64, u64, String)>,
    report: Option<Report>,
}

/// The final address of a target.
fn address_of(
    t: resolve::Target,
    layout: &layout::Layout,
    res: &resolve::Resolution<'_>,
    tail: Tail,
    base: u64,
) -> u64 {
    match layout.internal_offset(t, res, tail.got) {
        Some(off) => base + off,
        None => match t {
            resolve::Target::Absolute { addr, .. } => addr,
            _ => 0,
        },
    }
}

/// Builds the report of a check: sections, trampolines and GOT slots, named.
fn report(
    objects: &[parse::ObjectFile<'_>],
    res: &resolve::Resolution<'_>,
    layout: &layout::Layout,
    plan: &plan::Plan,
    tail: Tail,
    base: u64,
) -> Report {
    let mut names: crate::hash::KeyedMap<u64, String> = Default::default();
    let mut sections = Vec::new();
    for (oi, obj) in objects.iter().enumerate() {
        for (si, sec) in obj.sections.iter().enumerate() {
            let off = layout.sec_offsets[oi][si];
            if off != layout::NOT_LOADED {
                sections.push(LoadedSection {
                    file: obj.name.clone(),
                    name: sec.name.to_string(),
                    address: base + off,
                    size: sec.size,
                });
            }
        }
        for i in 0..obj.symbols.len() {
            let name = obj.symbol_name(i as u32);
            if !name.is_empty() {
                let addr = address_of(
                    res.targets.get(&objects[oi], oi, i),
                    layout,
                    res,
                    tail,
                    base,
                );
                names.entry(addr).or_insert(name);
            }
        }
    }
    let name_of = |addr: u64| {
        names
            .get(&addr)
            .cloned()
            .unwrap_or_else(|| format!("{addr:#x}"))
    };
    let mut trampolines: Vec<Trampoline> = plan
        .trampolines
        .iter()
        .map(|(&target, &i)| Trampoline {
            address: base + tail.trampoline(i),
            target,
            symbol: name_of(target),
        })
        .collect();
    trampolines.sort_by_key(|t| t.address);
    let mut got_slots: Vec<GotSlot> = plan
        .slots
        .iter()
        .map(|(&value, &i)| GotSlot {
            address: base + tail.slot(i),
            value,
            symbol: name_of(value),
        })
        .collect();
    got_slots.sort_by_key(|g| g.address);
    Report {
        stats: LoadStats::default(),
        sections,
        trampolines,
        got_slots,
        image: Vec::new(),
    }
}

/// What [`Linker::check`] found: everything a load would do, without doing it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Report {
    /// The same figures a load reports (`load_time` covers linking only).
    pub stats: LoadStats,
    /// Every loaded section, with its address.
    pub sections: Vec<LoadedSection>,
    /// The trampolines the unit needs.
    pub trampolines: Vec<Trampoline>,
    /// The GOT slots the unit needs.
    pub got_slots: Vec<GotSlot>,
    /// The relocated unit, `stats.size` bytes from `stats.base`.
    pub image: Vec<u8>,
}

/// A section of an input, where the unit puts it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadedSection {
    /// The input's name.
    pub file: String,
    /// The section's name.
    pub name: String,
    /// Its address.
    pub address: u64,
    /// Its size.
    pub size: u64,
}

/// A trampoline, `jmp *0(%rip); .quad target`, for calls and jumps that
/// cannot reach `target` directly.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Trampoline {
    /// Where the trampoline is.
    pub address: u64,
    /// Where it jumps.
    pub target: u64,
    /// The symbol at `target`.
    pub symbol: String,
}

/// A GOT slot: an 8-byte word holding an address, within reach of the unit's code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GotSlot {
    /// Where the slot is.
    pub address: u64,
    /// The address it holds.
    pub value: u64,
    /// The symbol at `value`.
    pub symbol: String,
}

/// Fills in what objdl supplies: the handle, the `atexit`-family stubs and their slots.
fn write_synthetics(
    bytes: &mut [u8],
    base: u64,
    res: &resolve::Resolution<'_>,
    layout: &layout::Layout,
    entry: &runtime::Entry,
) {
    let syn = &layout.synthetic;
    for (&stub, &slot) in syn.ifunc_stubs.iter().zip(&syn.ifunc_slots) {
        arch::write_ifunc_stub(
            &mut bytes[stub as usize..][..arch::IFUNC_STUB_SIZE],
            base + stub,
            base + slot,
        );
    }
    let dso = base + syn.dso_handle;
    bytes[syn.dso_handle as usize..][..8].copy_from_slice(&dso.to_le_bytes());
    let kinds = [
        (Synthetic::Atexit, entry.cxa_atexit),
        (Synthetic::AtQuickExit, entry.cxa_at_quick_exit),
        (Synthetic::PthreadAtfork, entry.register_atfork),
        (Synthetic::OnExit, runtime::on_exit_entry()),
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
            Synthetic::OnExit => arch::HandleArg::Third { zero_second: false },
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

/// What [`thread_locals`] decided.
struct ThreadLocalPlan {
    /// The unit's TLS module id, as TLSGD/TLSLD pairs and DTPMOD64 hold it
    /// (0 without thread-locals).
    module_id: u64,
    /// Offsets from the thread pointer for initial-exec and local-exec code.
    tp: plan::ThreadPointerOffsets,
    keep: ThreadLocals,
}

/// Other modules' thread-locals that the unit reaches with initial-exec:
/// their offsets from the thread pointer (each of
/// `Resolution::initial_exec_names`), and the shim that put them there.
#[derive(Default)]
struct InitialExec {
    offsets: Vec<i64>,
    shim: Option<shim::Shim>,
}

/// Makes ld.so give the other modules' thread-locals that the unit
/// reaches with initial-exec a place in static TLS (see [`crate::load::shim`]),
/// and checks that each offset leads to the variable `dlsym` finds. A check
/// only pretends, with offsets like the ones a load would get.
fn initial_exec_offsets(
    objects: &[parse::ObjectFile<'_>],
    res: &resolve::Resolution<'_>,
    check: bool,
) -> Result<InitialExec> {
    let names = &res.initial_exec_names;
    if names.is_empty() {
        return Ok(InitialExec::default());
    }
    if check {
        return Ok(InitialExec {
            offsets: (1..=names.len() as i64).map(|i| -8 * i).collect(),
            shim: None,
        });
    }
    let spec = shim::ShimSpec {
        block: None,
        external: names,
        exec_stack: false,
    };
    let loaded = shim::load(&spec).map_err(|e| {
        let (shim::ShimError::StaticTls(why) | shim::ShimError::Other(why)) = e;
        initial_exec_error(objects, res, &format!("ld.so could not serve it: {why}"))
    })?;
    let tp = shim::thread_pointer();
    for (name, &offset) in names.iter().zip(&loaded.external_offsets) {
        let here = crate::scope::host::dlsym_uncached(name);
        if here != Some(tp.wrapping_add_signed(offset)) {
            return Err(initial_exec_error(
                objects,
                res,
                &format!("ld.so's offset in static TLS for `{name}` does not lead to the variable dlsym finds"),
            ));
        }
    }
    Ok(InitialExec {
        offsets: loaded.external_offsets.clone(),
        shim: Some(loaded),
    })
}

/// Gives the unit at `base` its thread-local storage: the template of its
/// block, relocated (its relocations go to `counts`), in a TLS module of
/// objdl's, or, when initial-exec or local-exec code reaches it, in static
/// TLS, where a shim makes ld.so put it. `initial_exec` has the other
/// modules' thread-locals such code reaches. A check only pretends: it
/// gets offsets that stand for the ones a load would get.
fn thread_locals(
    unit: &Parts<'_, '_>,
    demands: &plan::Demands,
    base: u64,
    check: bool,
    initial_exec: InitialExec,
    counts: &mut relocate::Counts,
) -> Result<ThreadLocalPlan> {
    let Parts {
        objects,
        res,
        layout,
        ..
    } = *unit;
    let block = layout.tls.size > 0;
    let static_block = block && demands.static_block;
    let InitialExec {
        offsets: external,
        shim: external_shim,
    } = initial_exec;
    if !static_block {
        let module = if block {
            let m = TlsModule::register(layout.tls.size, layout.tls.align)
                .ok_or_else(|| tls_block_error(objects, layout))?;
            Some(m)
        } else {
            None
        };
        let module_id = module.as_ref().map_or(0, TlsModule::id);
        let template = relocate::tls_template(objects, res, layout, base, module_id, counts)?;
        if let (Some(m), Some(template)) = (&module, template) {
            if !m.set_image(template.image) {
                return Err(tls_block_error(objects, layout));
            }
        }
        return Ok(ThreadLocalPlan {
            module_id,
            tp: plan::ThreadPointerOffsets {
                block: None,
                external,
            },
            keep: ThreadLocals::new(module, external_shim.into_iter().collect()),
        });
    }
    // Static TLS: the module is glibc's, known only once the shim is
    // loaded, after the template is made; a template that holds it
    // (DTPMOD64 of the unit's own block) cannot be made.
    let template = relocate::tls_template(objects, res, layout, base, 0, counts)?
        .expect("a unit with a block has a template");
    if template.holds_module {
        return Err(Error::Unsupported {
            file: unit_name(objects),
            what: "a thread-local initialised with its own TLS module id (DTPMOD64 in .tdata) in a unit whose thread-locals are in static TLS".into(),
        });
    }
    if check {
        // An offset like the ones ld.so gives, below the thread pointer.
        let size = align_up(layout.tls.size, layout.tls.align.max(16));
        return Ok(ThreadLocalPlan {
            module_id: 1,
            tp: plan::ThreadPointerOffsets {
                block: Some(-(size as i64) - 0x100),
                external,
            },
            keep: ThreadLocals::default(),
        });
    }
    let spec = shim::ShimSpec {
        block: Some(shim::TlsBlock {
            image: &template.image,
            size: layout.tls.size,
            align: layout.tls.align,
        }),
        external: &[],
        exec_stack: false,
    };
    let loaded = shim::load(&spec).map_err(|e| match e {
        shim::ShimError::StaticTls(why) => {
            let bytes = layout.tls.size;
            let align = layout.tls.align;
            Error::StaticTlsFull {
                file: unit_name(objects),
                bytes,
                align,
                suggested: align_up(bytes + align, 1024) + 1024,
                why,
            }
        }
        shim::ShimError::Other(why) => Error::Unsupported {
            file: unit_name(objects),
            what: format!("thread-locals in static TLS: {why}"),
        },
    })?;
    Ok(ThreadLocalPlan {
        module_id: loaded.module,
        tp: plan::ThreadPointerOffsets {
            block: Some(loaded.block_offset),
            external,
        },
        keep: ThreadLocals::new(None, external_shim.into_iter().chain([loaded]).collect()),
    })
}

/// The error for a TLS block objdl cannot register.
fn tls_block_error(objects: &[parse::ObjectFile<'_>], layout: &layout::Layout) -> Error {
    Error::Unsupported {
        file: unit_name(objects),
        what: format!(
            "a TLS block of {:#x} bytes aligned to {:#x}",
            layout.tls.size, layout.tls.align
        ),
    }
}

/// The error for initial-exec references to other modules' thread-locals
/// that ld.so could not serve, at the first such site.
fn initial_exec_error(
    objects: &[parse::ObjectFile<'_>],
    res: &resolve::Resolution<'_>,
    why: &str,
) -> Error {
    for (oi, obj) in objects.iter().enumerate() {
        for (si, sec) in obj.sections.iter().enumerate() {
            for r in sec.relocs.iter() {
                if res.initial_exec.contains_key(&(oi as u32, r.sym())) {
                    return Error::StaticTls {
                        site: Box::new(plan::site(obj, si, r.offset())),
                        r_type: arch::reloc_name(r.kind()).into_owned(),
                        symbol: plan::symbol_name(obj, r.sym()),
                        why: why.to_string(),
                    };
                }
            }
        }
    }
    Error::Unsupported {
        file: unit_name(objects),
        what: format!("initial-exec thread-locals: {why}"),
    }
}

/// The unit's inputs, for messages.
fn unit_name(objects: &[parse::ObjectFile<'_>]) -> String {
    objects
        .iter()
        .map(|o| o.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses objects that need an executable stack unless
/// [`OpenOptions::exec_stack`] allows them; then makes the stacks
/// executable (not for a check), once per process: glibc never makes them
/// non-executable again.
fn executable_stack(
    objects: &[parse::ObjectFile<'_>],
    opts: &OpenOptions,
    check: bool,
) -> Result<()> {
    let Some(obj) = objects
        .iter()
        .find(|o| o.stack != parse::StackNote::NotExecutable)
    else {
        return Ok(());
    };
    if !opts.exec_stack {
        let (why, fix) = match obj.stack {
            parse::StackNote::Executable => (
                "its .note.GNU-stack section is executable, as gcc marks an object whose nested function's address is taken",
                "compile with -ftrampoline-impl=heap (gcc 14 and later) or do not take a nested function's address",
            ),
            _ => (
                "it has no .note.GNU-stack section, which means an executable stack",
                "add `.section .note.GNU-stack,\"\",@progbits` to hand-written assembly",
            ),
        };
        return Err(Error::ExecutableStack {
            file: obj.name.clone(),
            why,
            fix,
        });
    }
    if check {
        return Ok(());
    }
    static EXECUTABLE: std::sync::OnceLock<std::result::Result<shim::Shim, String>> =
        std::sync::OnceLock::new();
    let made = EXECUTABLE.get_or_init(|| {
        let spec = shim::ShimSpec {
            exec_stack: true,
            ..shim::ShimSpec::default()
        };
        shim::load(&spec).map_err(|e| match e {
            shim::ShimError::StaticTls(why) | shim::ShimError::Other(why) => why,
        })
    });
    match made {
        Ok(_) => Ok(()),
        Err(why) => Err(Error::Unsupported {
            file: obj.name.clone(),
            what: format!("an executable stack: glibc would not make the stacks executable: {why}"),
        }),
    }
}

//! The [`Linker`]: the scope units are opened in, the units opened from
//! paths, and the entry points that run the pipeline (`pipeline/`) on
//! inputs: to a [`Unit`] (open) or to a [`Report`] (check).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result, Unsupported};
use crate::load::opened::{Claim, Opened};
use crate::load::unit::Unit;
use crate::options::{Input, OpenOptions, Scope};
use crate::pipeline::{self, Context};
use crate::report::Report;
use crate::scope::host::Host;
use crate::scope::namespace::Namespace;
#[cfg(doc)]
use crate::Placement;

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
        let ticket = match path_key(&inputs) {
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
                None => {
                    return Err(Error::Unsupported {
                        file: inputs
                            .iter()
                            .map(Input::name)
                            .collect::<Vec<_>>()
                            .join(", "),
                        what: Unsupported::ReentrantOpen,
                    })
                }
            },
        };
        // SAFETY: forwarded from the caller.
        let unit = unsafe { pipeline::load(&self.context(), inputs, opts)? };
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
        pipeline::check(
            &self.context(),
            inputs.into_iter().map(Into::into).collect(),
            opts,
        )
    }

    /// What lies outside the units this linker opens.
    fn context(&self) -> Context<'_> {
        Context {
            host: &self.host,
            namespace: &self.namespace,
        }
    }
}

impl OpenOptions {
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

//! What a unit is opened from ([`Input`]) and how ([`OpenOptions`],
//! [`Scope`]).

use std::path::{Path, PathBuf};

use crate::link::placement::Placement;
#[cfg(doc)]
use crate::{Error, Linker, Report, Unit};

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
    pub(crate) placement: Placement,
    pub(crate) no_exec: bool,
    pub(crate) scope: Scope,
    pub(crate) debugger: Option<bool>,
    pub(crate) perf_map: Option<bool>,
    pub(crate) size_limit: Option<u64>,
    pub(crate) entry: Option<String>,
    pub(crate) no_implicit_libraries: bool,
    pub(crate) exec_stack: bool,
    pub(crate) lazy: bool,
    pub(crate) reloadable: bool,
    pub(crate) cache: Option<PathBuf>,
    pub(crate) cache_in_background: bool,
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

    /// Lazy binding, as `RTLD_LAZY` gives shared objects: a function that
    /// nothing defines when the unit opens (not its inputs, nor a Global
    /// unit, nor the host, nor the implicit libraries) is bound at its
    /// first call instead of failing the open. The call goes through a
    /// stub whose slot the first call fills, after looking the name up in
    /// the global scope then the process as an open would; a name still
    /// found nowhere then ends the process with one line on stderr,
    /// `objdl: symbol lookup error: FILE: undefined symbol: NAME`, and
    /// `abort()`, as `ld.so` does. Off by default: binding is immediate.
    ///
    /// Only calls and jumps (`call f`, `jmp f`, `call *f@GOTPCREL(%rip)`)
    /// are lazy: a reference that takes the address of an undefined name,
    /// or reads or writes it, is still an [`Error::Unresolved`]. Names
    /// defined at open time bind at once, so a lazy open of a unit that
    /// needs nothing lazily is the same as an immediate one. A Global unit
    /// that a lazy call binds to stays loaded while the calling unit is (a
    /// dependency edge: two units that bind to each other stay loaded
    /// until the process exits). [`Linker::check`] lists the names that
    /// would be lazy in [`Report::lazy`].
    ///
    /// Two Global units that call each other can be opened one after the
    /// other:
    ///
    /// ```no_run
    /// use objdl::{Linker, OpenOptions, Scope, Symbol};
    /// let linker = Linker::new();
    /// let mut opts = OpenOptions::new();
    /// opts.scope(Scope::Global).lazy(true);
    /// // ping.o calls pong(), which pong.o defines; pong.o calls ping().
    /// let ping = unsafe { opts.open(&linker, ["ping.o"])? };
    /// let pong = unsafe { opts.open(&linker, ["pong.o"])? };
    /// let f: Symbol<extern "C" fn(i32) -> i32> = unsafe { ping.get("ping")? };
    /// println!("{}", f(10)); // pong is bound now
    /// # drop(pong);
    /// # Ok::<(), objdl::Error>(())
    /// ```
    pub fn lazy(&mut self, yes: bool) -> &mut OpenOptions {
        self.lazy = yes;
        self
    }

    /// Whether the unit can be reloaded ([`Unit::reload`]): each function
    /// is then reached through an entry of its own, a stub
    /// `jmp *slot(%rip)` whose slot a reload repoints, so that every
    /// caller (the unit, other units, the host, function pointers and data
    /// that hold one) reaches the new code at its next call. Calls cost one
    /// indirect jump more; the unit's inputs are read into memory, so that
    /// a reload re-reads only the input it names. Off by default.
    ///
    /// ```no_run
    /// use objdl::{Linker, OpenOptions, Symbol};
    /// let linker = Linker::new();
    /// let unit = unsafe { OpenOptions::new().reloadable(true).open(&linker, ["game.o"])? };
    /// let step: Symbol<extern "C" fn() -> i32> = unsafe { unit.get("step")? };
    /// // ... game.c edited and recompiled ...
    /// let report = unsafe { unit.reload("game.o")? };
    /// println!("{report}");
    /// step(); // the new code, with the old data
    /// # Ok::<(), objdl::Error>(())
    /// ```
    pub fn reloadable(&mut self, yes: bool) -> &mut OpenOptions {
        self.reloadable = yes;
        self
    }

    /// A persistent cache of linked units in `dir` (`None`: no cache, the
    /// default; [`crate::default_cache_dir`] is where `objdl run` keeps
    /// its own). The first load of some inputs links them and writes the
    /// result there; a later load of the same inputs with the same options,
    /// in any process, maps it again and moves only its absolute addresses
    /// by the distance the shared libraries moved, then protects,
    /// registers and initialises the unit as a link would. Anything that
    /// differs (an input changed, a library replaced, other options, the
    /// place not free, a damaged or foreign file) is a miss and a fresh
    /// link. Units with thread-locals, IFUNCs, copies of host variables,
    /// stand-ins, lazy bindings, Global-unit or executable dependencies
    /// are linked every time. The directory must be the user's own and
    /// writable by no one else ([`Error::Cache`] otherwise).
    ///
    /// ```no_run
    /// use objdl::{Linker, OpenOptions};
    /// let mut opts = OpenOptions::new();
    /// opts.cache(objdl::default_cache_dir());
    /// let unit = unsafe { opts.open(&Linker::new(), ["sqlite3.o"])? };
    /// println!("{}", unit.stats()); // `cached` on the second run
    /// # Ok::<(), objdl::Error>(())
    /// ```
    pub fn cache(&mut self, dir: Option<impl Into<PathBuf>>) -> &mut OpenOptions {
        self.cache = dir.map(Into::into);
        self
    }

    /// Whether a load that misses the cache writes its entry from a
    /// detached process of its own (forked twice, so that it is never this
    /// process's child), off the load's critical path, rather than before
    /// the load returns (the default). The write then costs this process
    /// one `fork`; the entry appears a few milliseconds later. objdl does
    /// this only while the process has a single thread (else it writes
    /// before returning), as `objdl run` has when it loads its program.
    ///
    /// ```no_run
    /// use objdl::{Linker, OpenOptions};
    /// let mut opts = OpenOptions::new();
    /// opts.cache(objdl::default_cache_dir()).cache_in_background(true);
    /// let unit = unsafe { opts.open(&Linker::new(), ["sqlite3.o"])? };
    /// # Ok::<(), objdl::Error>(())
    /// ```
    pub fn cache_in_background(&mut self, yes: bool) -> &mut OpenOptions {
        self.cache_in_background = yes;
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
}

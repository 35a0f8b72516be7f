//! A loaded [`Unit`], its [`Symbol`]s and its [`LoadStats`].

use std::ffi::c_void;
use std::fmt;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::load::memory::{Memory, Reservation};
use crate::load::runtime::{self, Entry, Finalizers, Lifecycle};
use crate::load::thread_exit;
use crate::load::tls::ThreadLocals;
use crate::scope::namespace::{Held, Members, Namespace};

/// Figures about one load, for `objdl run --stats` and benchmarks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct LoadStats {
    /// Input objects in the unit.
    pub objects: usize,
    /// Sections loaded.
    pub sections: usize,
    /// Relocations applied.
    pub relocations: u64,
    /// Trampolines made (calls or jumps to targets out of reach).
    pub trampolines: usize,
    /// GOT slots made.
    pub got_slots: usize,
    /// GOT loads relaxed to direct forms.
    pub relaxations: u64,
    /// Address computations out of reach rewritten to load the address
    /// from a GOT slot instead. The stats line names the figure
    /// [`LoadStats::ADDRESS_REWRITES_LABEL`].
    ///
    /// ```
    /// let stats = objdl::LoadStats::default();
    /// assert_eq!(stats.address_rewrites, 0);
    /// assert!(stats.to_string().contains(" lea-rewrites 0 "));
    /// ```
    pub address_rewrites: u64,
    /// Host variables read from a copy in the unit (see the README).
    pub copies: usize,
    /// Functions bound at their first call ([`crate::OpenOptions::lazy`]).
    /// Shown by `Display` only when there are some.
    pub lazy_stubs: usize,
    /// The unit's base address.
    pub base: u64,
    /// The unit's size in bytes.
    pub size: u64,
    /// The placement window: the bases at which every irreducible reference
    /// reaches. The whole user address range when the unit has no
    /// relocation that constrains its base (it was relocated where the
    /// kernel mapped it, without planning).
    pub window: (u64, u64),
    /// Time from reading the inputs to just before the initialisers run.
    pub load_time: Duration,
    /// The unit came from the cache ([`crate::OpenOptions::cache`]), not
    /// from a link.
    pub cached: bool,
}

impl LoadStats {
    /// The word that names [`LoadStats::address_rewrites`] in the stats
    /// line (`objdl run --stats`, `objdl check`).
    ///
    /// ```
    /// assert_eq!(objdl::LoadStats::ADDRESS_REWRITES_LABEL, "lea-rewrites");
    /// ```
    // Frozen: tools parse the stats line, which named this figure after
    // x86-64's instruction before the field was renamed. Keep the text
    // byte-identical; this is its one place.
    pub const ADDRESS_REWRITES_LABEL: &'static str = "lea-rewrites";
}

impl fmt::Display for LoadStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "objects {} sections {} relocations {} trampolines {} got-slots {} relaxations {} {} {} copies {}{} base {:#x} size {:#x} load {} us{}",
            self.objects,
            self.sections,
            self.relocations,
            self.trampolines,
            self.got_slots,
            self.relaxations,
            LoadStats::ADDRESS_REWRITES_LABEL,
            self.address_rewrites,
            self.copies,
            LazyStubs(self.lazy_stubs),
            self.base,
            self.size,
            self.load_time.as_micros(),
            if self.cached { " cached" } else { "" }
        )
    }
}

/// ` lazy-stubs N` in the stats line, only when N is not 0 (the line is
/// otherwise as it was before lazy binding).
struct LazyStubs(usize);

impl fmt::Display for LazyStubs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            0 => Ok(()),
            n => write!(f, " lazy-stubs {n}"),
        }
    }
}

/// A unit's memory and thread-local storage: held by the unit, and by each
/// of its thread-exit destructors still pending (see [`crate::load::thread_exit`]),
/// so that it goes when the last of them does.
struct Retained {
    /// Unmapped when dropped.
    _mem: Reservation,
    _tls: ThreadLocals,
    /// The stubs and slots of lazily bound functions, and the Global units
    /// they bound to: as long as the code that calls through them.
    _lazy: Option<crate::load::lazy::LazyArea>,
}

pub(crate) struct UnitInner {
    /// Removed from the debugger first, before the memory goes.
    _gdb: Vec<crate::load::debug::GdbEntry>,
    /// The unit's range and name in the perf map, for the note at close.
    perf: Option<(u64, u64, String)>,
    /// Its writable data as a LeakSanitizer root region, when there is one.
    _leak_root: Option<runtime::LeakRoot>,
    /// Its place among the units whose thread-exit work objdl tracks;
    /// dropped (its keys deleted) after `Drop::drop` ran its finalisers.
    _exit: thread_exit::Registration,
    /// The memory, unmapped when the unit drops unless a thread-exit
    /// destructor still needs it.
    _retained: Arc<Retained>,
    exports: Exports,
    stats: LoadStats,
    entry: Entry,
    dso_handle: u64,
    lifecycle: Lifecycle,
    fins: Box<Finalizers>,
    no_exec: bool,
    started: bool,
    /// Global units this one binds to: released only after this unit's
    /// finalisers ran and its memory is gone.
    _deps: Vec<Held>,
    /// Open [`Unit`] handles. Other units' bindings keep the memory, not the scope.
    handles: AtomicUsize,
    /// In the global scope.
    global: AtomicBool,
    /// What was applied, for [`Unit::relocation_summary`].
    summary: RelocationSummary,
    /// COMDAT group signatures this unit provides.
    groups: Vec<String>,
    /// The entry point's address ([`crate::OpenOptions::entry`]).
    entry_point: Option<u64>,
    /// What a reloadable unit needs to reload, and the code it replaced.
    reloadable: Option<Box<dyn Reloads>>,
}

/// What a reloadable unit ([`crate::OpenOptions::reloadable`]) keeps, held
/// opaquely: the pipeline, which reloads, knows what it is.
pub(crate) trait Reloads: Send + Sync {
    /// The address of `name` in the latest reload, for names it added.
    fn address(&self, name: &str) -> Option<u64>;
    /// Itself, for the pipeline to read.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// A unit's exported symbols: every name in one string, found through a
/// hash index (one allocation for all names, not one per name).
#[derive(Default)]
pub(crate) struct Exports {
    names: String,
    /// Per symbol: where its name lies in `names`, and its address; by the
    /// hash of the name, keyed (the names come from the inputs: see `hash.rs`).
    index: hashbrown::HashTable<(u32, u32, u64)>,
    hasher: foldhash::fast::RandomState,
}

impl Exports {
    /// Room for `count` symbols whose names take `bytes` bytes.
    pub(crate) fn with_capacity(count: usize, bytes: usize) -> Exports {
        Exports {
            names: String::with_capacity(bytes),
            index: hashbrown::HashTable::with_capacity(count),
            hasher: Default::default(),
        }
    }

    fn hash(&self, name: &str) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(name)
    }

    /// Adds `name` at `addr`. The caller gives each name once (resolution
    /// interns them), so it is not looked up first.
    pub(crate) fn insert_unique(&mut self, name: &str, addr: u64) {
        let hash = self.hash(name);
        let Exports {
            names,
            index,
            hasher,
        } = self;
        let name_of =
            |&(start, len, _): &(u32, u32, u64)| &names[start as usize..(start + len) as usize];
        debug_assert!(index.find(hash, |e| name_of(e) == name).is_none());
        let entry = (names.len() as u32, name.len() as u32, addr);
        index.insert_unique(hash, entry, |e| {
            std::hash::BuildHasher::hash_one(&*hasher, name_of(e))
        });
        names.push_str(name);
    }

    /// The address of `name`.
    pub(crate) fn get(&self, name: &str) -> Option<u64> {
        let names = self.names.as_bytes();
        let &(_, _, addr) = self.index.find(self.hash(name), |&(start, len, _)| {
            names.get(start as usize..(start + len) as usize) == Some(name.as_bytes())
        })?;
        Some(addr)
    }

    /// Every (name, address).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.index
            .iter()
            .map(|&(start, len, addr)| (&self.names[start as usize..(start + len) as usize], addr))
    }
}

/// What relocating a unit did: counts by type, trampolines and GOT slots.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RelocationSummary {
    /// Relocations applied, by type name, in type-number order.
    pub by_type: Vec<(String, u64)>,
    /// Trampolines: (address, target).
    pub trampolines: Vec<(u64, u64)>,
    /// GOT slots: (address, value).
    pub got_slots: Vec<(u64, u64)>,
}

/// What a linked unit is made of, besides its memory.
pub(crate) struct UnitParts {
    pub exports: Exports,
    pub stats: LoadStats,
    pub entry: Entry,
    pub dso_handle: u64,
    pub lifecycle: Lifecycle,
    pub no_exec: bool,
    pub deps: Vec<Held>,
    pub lazy: Option<crate::load::lazy::LazyArea>,
    pub summary: RelocationSummary,
    pub groups: Vec<String>,
    pub tls: ThreadLocals,
    pub gdb: Vec<crate::load::debug::GdbEntry>,
    pub perf: Option<(u64, u64, String)>,
    pub entry_point: Option<u64>,
    /// The unit's writable data: `[start, end)`.
    pub data: (u64, u64),
    pub reloadable: Option<Box<dyn Reloads>>,
}

impl UnitInner {
    pub(crate) fn new(mem: Reservation, parts: UnitParts) -> UnitInner {
        let UnitParts {
            exports,
            stats,
            entry,
            dso_handle,
            mut lifecycle,
            no_exec,
            deps,
            lazy,
            summary,
            groups,
            tls,
            gdb,
            perf,
            entry_point,
            data,
            reloadable,
        } = parts;
        let fins = Box::new(Finalizers {
            fini: std::mem::take(&mut lifecycle.fini),
        });
        let range = (mem.base(), mem.base() + mem.len());
        let retained = Arc::new(Retained {
            _mem: mem,
            _tls: tls,
            _lazy: lazy,
        });
        let keep: thread_exit::Keep = Arc::downgrade(&retained) as _;
        UnitInner {
            _gdb: gdb,
            perf,
            _leak_root: runtime::leak_root(data.0, data.1 - data.0),
            _exit: thread_exit::register(range, dso_handle, keep),
            _retained: retained,
            exports,
            stats,
            entry,
            dso_handle,
            lifecycle,
            fins,
            no_exec,
            started: false,
            _deps: deps,
            handles: AtomicUsize::new(0),
            global: AtomicBool::new(false),
            summary,
            groups,
            entry_point,
            reloadable,
        }
    }

    /// A reloadable unit's state.
    pub(crate) fn reloadable(&self) -> Option<&dyn Reloads> {
        self.reloadable.as_deref()
    }

    /// The unit's memory: (base, size).
    pub(crate) fn range(&self) -> (u64, u64) {
        (self.stats.base, self.stats.size)
    }

    /// The address of an export of this unit.
    pub(crate) fn export(&self, name: &str) -> Option<u64> {
        self.exports.get(name)
    }

    /// The COMDAT groups the unit provides.
    pub(crate) fn groups(&self) -> &[String] {
        &self.groups
    }

    /// The unit's part of the global scope, kept alive by `held` (this
    /// unit's own).
    fn members<'a>(&'a self, held: &'a Held) -> Members<'a, impl Iterator<Item = (&'a str, u64)>> {
        Members {
            unit: held,
            exports: self.exports.iter(),
            groups: self.groups(),
        }
    }
}

impl Drop for UnitInner {
    fn drop(&mut self) {
        if self.started {
            // SAFETY: the unit is still mapped: its atexit handlers and
            // finalisers run now, before `mem` is unmapped below.
            unsafe {
                runtime::stop(&self.entry, self.dso_handle);
                runtime::deregister_frames(&self.entry, &self.lifecycle.eh_frames);
            }
        }
        if let Some((base, size, names)) = &self.perf {
            crate::load::debug::perf_map_write(&[(
                *base,
                *size,
                format!("[objdl: unit {names} unloaded]"),
            )]);
        }
        // The debugger entries, then `mem`, drop after this: the pages are unmapped.
    }
}

/// A loaded unit: one or more objects linked together and mapped.
///
/// Dropping it (or calling [`Unit::close`]) runs its `atexit` handlers and
/// finalisers, deregisters its unwind tables and unmaps it. [`Symbol`]s
/// borrow the unit, so none can outlive it.
pub struct Unit {
    inner: Arc<UnitInner>,
    /// The linker's global scope, which a Global unit leaves when its last handle closes.
    namespace: Arc<Namespace>,
}

impl Drop for Unit {
    fn drop(&mut self) {
        let last = self.inner.handles.fetch_sub(1, Ordering::AcqRel) == 1;
        if last && self.inner.global.load(Ordering::Acquire) {
            let held: Held = self.inner.clone();
            self.namespace.remove(self.inner.members(&held));
        }
    }
}

impl fmt::Debug for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unit")
            .field("base", &format_args!("{:#x}", self.inner.stats.base))
            .field("size", &self.inner.stats.size)
            .finish()
    }
}

impl Unit {
    /// Registers and initialises the unit.
    ///
    /// # Safety
    /// `inner` must be fully relocated and protected.
    pub(crate) unsafe fn start(inner: UnitInner, started: Instant) -> Arc<UnitInner> {
        // SAFETY: forwarded.
        unsafe { Unit::start_with(inner, started, || {}) }
    }

    /// [`Unit::start`], calling `between` once the unwind tables are
    /// registered and before the initialisers run (a reload repoints its
    /// entries there, so that initialisers calling through them reach the
    /// new code).
    ///
    /// # Safety
    /// As for [`Unit::start`].
    pub(crate) unsafe fn start_with(
        mut inner: UnitInner,
        started: Instant,
        between: impl FnOnce(),
    ) -> Arc<UnitInner> {
        inner.stats.load_time = started.elapsed();
        if inner.no_exec {
            between();
        } else {
            inner.started = true;
            // SAFETY: the frames are terminated .eh_frame copies in the unit,
            // deregistered in Drop before the unmap; the init functions are
            // the unit's own, and `fins` lives in a Box owned by the unit.
            unsafe {
                runtime::register_frames(&inner.entry, &inner.lifecycle.eh_frames);
                between();
                runtime::start(
                    &inner.entry,
                    inner.dso_handle,
                    &inner.fins,
                    &inner.lifecycle.init,
                );
            }
        }
        Arc::new(inner)
    }

    /// A new handle on `inner`.
    pub(crate) fn new(inner: Arc<UnitInner>, namespace: Arc<Namespace>) -> Unit {
        inner.handles.fetch_add(1, Ordering::AcqRel);
        Unit { inner, namespace }
    }

    /// The linker's global scope.
    pub(crate) fn namespace(&self) -> Arc<Namespace> {
        self.namespace.clone()
    }

    pub(crate) fn inner(&self) -> &Arc<UnitInner> {
        &self.inner
    }

    /// Puts the unit's exports in the global scope, so that units opened
    /// from now on resolve against them (like `RTLD_GLOBAL`, or opening it
    /// again with [`crate::Scope::Global`]). Doing it twice does nothing.
    pub fn make_global(&self) {
        if !self.inner.global.swap(true, Ordering::AcqRel) {
            let held: Held = self.inner.clone();
            self.namespace.insert(self.inner.members(&held));
        }
    }

    /// Whether the unit's exports are in the global scope.
    pub fn is_global(&self) -> bool {
        self.inner.global.load(Ordering::Acquire)
    }

    /// How many handles are open on this unit (opening the same paths again
    /// returns another handle on the same unit).
    pub fn handle_count(&self) -> usize {
        self.inner.handles.load(Ordering::Acquire)
    }

    /// What relocating the unit did: counts by type, trampolines, GOT slots.
    pub fn relocation_summary(&self) -> &RelocationSummary {
        &self.inner.summary
    }

    /// Looks up an exported symbol and returns it as `T`, a function
    /// pointer or a raw pointer type.
    ///
    /// # Safety
    /// `T` must be the symbol's true type: calling a function through a
    /// wrong signature, or reading data through a wrong type, is undefined
    /// behaviour.
    ///
    /// # Panics
    /// If `T` is not pointer-sized.
    ///
    /// # Examples
    /// ```no_run
    /// # let unit = unsafe { objdl::Linker::new().open("x.o")? };
    /// // int add(int, int);  and  int counter;
    /// let add: objdl::Symbol<extern "C" fn(i32, i32) -> i32> = unsafe { unit.get("add")? };
    /// let counter: objdl::Symbol<*mut i32> = unsafe { unit.get("counter")? };
    /// unsafe { **counter += add(1, 2) };
    /// # Ok::<(), objdl::Error>(())
    /// ```
    pub unsafe fn get<T: Copy>(&self, name: &str) -> Result<Symbol<'_, T>> {
        assert_eq!(
            std::mem::size_of::<T>(),
            std::mem::size_of::<*mut c_void>(),
            "Symbol<T> needs a pointer-sized T"
        );
        let addr = self
            .address(name)
            .ok_or_else(|| Error::SymbolNotFound(name.to_string()))?;
        // SAFETY: T is pointer-sized (checked above); the caller vouches for the type.
        let value = unsafe { std::mem::transmute_copy::<usize, T>(&(addr as usize)) };
        Ok(Symbol {
            value,
            _unit: PhantomData,
        })
    }

    /// The address of an exported symbol, if the unit exports it.
    ///
    /// ```no_run
    /// # let unit = unsafe { objdl::Linker::new().open("x.o")? };
    /// if let Some(addr) = unit.address("main") {
    ///     println!("main is at {addr:#x}");
    /// }
    /// # Ok::<(), objdl::Error>(())
    /// ```
    pub fn address(&self, name: &str) -> Option<u64> {
        self.inner.exports.get(name).or_else(|| {
            // A function or variable a reload added.
            self.inner.reloadable()?.address(name)
        })
    }

    /// The address of the unit's entry point, the symbol named with
    /// [`crate::OpenOptions::entry`], whatever its visibility; `None` if
    /// none was asked for or the unit does not define it.
    ///
    /// ```no_run
    /// # use objdl::{Linker, OpenOptions};
    /// let unit = unsafe { OpenOptions::new().entry("main").open(&Linker::new(), ["prog.o"])? };
    /// if let Some(main) = unit.entry_point() {
    ///     println!("main is at {main:#x}");
    /// }
    /// # Ok::<(), objdl::Error>(())
    /// ```
    pub fn entry_point(&self) -> Option<u64> {
        self.inner.entry_point
    }

    /// The unit's exported symbols and their addresses, in no set order.
    pub fn exports(&self) -> impl Iterator<Item = (&str, u64)> {
        self.inner.exports.iter()
    }

    /// Figures about the load.
    ///
    /// ```no_run
    /// # let unit = unsafe { objdl::Linker::new().open("x.o")? };
    /// let s = unit.stats();
    /// println!("{} relocations, {} trampolines, at {:#x}", s.relocations, s.trampolines, s.base);
    /// # Ok::<(), objdl::Error>(())
    /// ```
    pub fn stats(&self) -> &LoadStats {
        &self.inner.stats
    }

    /// Closes the unit: its `atexit` handlers and finalisers run, then its
    /// memory is unmapped. The same as dropping it.
    pub fn close(self) {
        drop(self)
    }
}

/// A symbol of a [`Unit`], as a value of type `T` that cannot outlive the unit.
///
/// It dereferences to `T`, so a function pointer is called as `f(x)`.
pub struct Symbol<'u, T> {
    value: T,
    _unit: PhantomData<&'u Unit>,
}

impl<T> std::ops::Deref for Symbol<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> fmt::Debug for Symbol<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Symbol")
    }
}

//! A loaded [`Unit`], its [`Symbol`]s and its [`LoadStats`].

use std::ffi::c_void;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::memory::Reservation;
use crate::namespace::Namespace;
use crate::runtime::{self, Entry, Finalizers, Lifecycle};

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
    /// `lea` instructions rewritten to `mov` from a GOT slot.
    pub lea_rewrites: u64,
    /// Host variables read from a copy in the unit (see the README).
    pub copies: usize,
    /// The unit's base address.
    pub base: u64,
    /// The unit's size in bytes.
    pub size: u64,
    /// The placement window: the bases at which every irreducible reference reaches.
    pub window: (u64, u64),
    /// Time from reading the inputs to just before the initialisers run.
    pub load_time: Duration,
}

impl fmt::Display for LoadStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "objects {} sections {} relocations {} trampolines {} got-slots {} relaxations {} lea-rewrites {} copies {} base {:#x} size {:#x} load {} us",
            self.objects,
            self.sections,
            self.relocations,
            self.trampolines,
            self.got_slots,
            self.relaxations,
            self.lea_rewrites,
            self.copies,
            self.base,
            self.size,
            self.load_time.as_micros()
        )
    }
}

pub(crate) struct UnitInner {
    /// Unmapped when the unit drops, after `Drop::drop` has run its finalisers.
    _mem: Reservation,
    exports: FxHashMap<String, u64>,
    stats: LoadStats,
    entry: Entry,
    dso_handle: u64,
    lifecycle: Lifecycle,
    fins: Box<Finalizers>,
    no_exec: bool,
    started: bool,
    /// Global units this one binds to: released only after this unit's
    /// finalisers ran and its memory is gone.
    _deps: Vec<Arc<UnitInner>>,
}

/// What a linked unit is made of, besides its memory.
pub(crate) struct UnitParts {
    pub exports: FxHashMap<String, u64>,
    pub stats: LoadStats,
    pub entry: Entry,
    pub dso_handle: u64,
    pub lifecycle: Lifecycle,
    pub no_exec: bool,
    pub deps: Vec<Arc<UnitInner>>,
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
        } = parts;
        let fins = Box::new(Finalizers {
            fini: std::mem::take(&mut lifecycle.fini),
        });
        UnitInner {
            _mem: mem,
            exports,
            stats,
            entry,
            dso_handle,
            lifecycle,
            fins,
            no_exec,
            started: false,
            _deps: deps,
        }
    }

    /// The unit's exports.
    pub(crate) fn exports(&self) -> impl Iterator<Item = (&str, u64)> {
        self.exports.iter().map(|(k, v)| (k.as_str(), *v))
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
        // `mem` drops after this: the pages are unmapped.
    }
}

/// A loaded unit: one or more objects linked together and mapped.
///
/// Dropping it (or calling [`Unit::close`]) runs its `atexit` handlers and
/// finalisers, deregisters its unwind tables and unmaps it. [`Symbol`]s
/// borrow the unit, so none can outlive it.
pub struct Unit {
    inner: Arc<UnitInner>,
    /// Set for a Global unit: its exports leave the scope when the handle closes.
    namespace: Option<Arc<Namespace>>,
}

impl Drop for Unit {
    fn drop(&mut self) {
        if let Some(ns) = &self.namespace {
            ns.remove(&self.inner);
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
    pub(crate) unsafe fn start(mut inner: UnitInner, started: Instant) -> Arc<UnitInner> {
        inner.stats.load_time = started.elapsed();
        if !inner.no_exec {
            inner.started = true;
            // SAFETY: the frames are terminated .eh_frame copies in the unit,
            // deregistered in Drop before the unmap; the init functions are
            // the unit's own, and `fins` lives in a Box owned by the unit.
            unsafe {
                runtime::register_frames(&inner.entry, &inner.lifecycle.eh_frames);
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

    pub(crate) fn new(inner: Arc<UnitInner>, namespace: Option<Arc<Namespace>>) -> Unit {
        Unit { inner, namespace }
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
        self.inner.exports.get(name).copied()
    }

    /// The unit's exported symbols and their addresses, in no set order.
    pub fn exports(&self) -> impl Iterator<Item = (&str, u64)> {
        self.inner.exports.iter().map(|(k, v)| (k.as_str(), *v))
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

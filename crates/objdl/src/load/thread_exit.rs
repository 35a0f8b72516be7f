//! Thread-exit work of units: destructors of `thread_local` objects
//! (`__cxa_thread_atexit_impl`) and pthread key destructors whose code lies
//! in a unit.
//!
//! objdl supplies units' `__cxa_thread_atexit_impl` (and libstdc++'s
//! `__cxa_thread_atexit`), `pthread_key_create` and `pthread_key_delete`
//! (see [`entry`]). Every unit's range is registered here while it is open.
//!
//! - A `thread_local` destructor registered by a unit holds the unit's
//!   memory (and thread-local blocks) alive until it has run, as glibc keeps
//!   a shared object mapped while its thread-exit destructors are pending
//!   (`l_tls_dtor_count`): closing the unit runs its finalisers, and the
//!   memory goes when the last thread that registered such a destructor has
//!   exited. Nothing is skipped and nothing leaks.
//! - A pthread key whose destructor lies in a unit is deleted when the unit
//!   closes: a key destructor would otherwise run at every later thread
//!   exit, from unmapped memory.

use std::any::Any;
use std::collections::BTreeMap;
use std::ffi::c_void;
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// What a unit keeps alive for its pending thread-exit destructors: its
/// memory and thread-local blocks, whatever they are.
pub(crate) type Keep = Weak<dyn Any + Send + Sync>;

/// An open unit.
struct TrackedUnit {
    end: u64,
    /// The unit's `__dso_handle`.
    dso: u64,
    keep: Keep,
    /// Keys the unit created with a destructor in its code.
    keys: Vec<libc::pthread_key_t>,
}

/// Open units, by start address.
static UNITS: Mutex<BTreeMap<u64, TrackedUnit>> = Mutex::new(BTreeMap::new());

fn units<R>(f: impl FnOnce(&mut BTreeMap<u64, TrackedUnit>) -> R) -> R {
    let mut guard = UNITS.lock().unwrap_or_else(|e| e.into_inner());
    crate::load::annotate::acquired(&UNITS);
    let r = f(&mut guard);
    crate::load::annotate::releasing(&UNITS);
    r
}

/// The open unit whose memory holds `addr`.
fn unit_at(map: &mut BTreeMap<u64, TrackedUnit>, addr: u64) -> Option<&mut TrackedUnit> {
    map.range_mut(..=addr)
        .next_back()
        .map(|(_, u)| u)
        .filter(|u| addr < u.end)
}

/// A unit's place in the registry; dropped when the unit closes, which
/// deletes the keys whose destructors lie in it.
#[derive(Debug)]
pub(crate) struct Registration {
    start: u64,
}

/// Registers the unit at `[start, end)` with `__dso_handle` at `dso`;
/// `keep` is what its pending thread-exit destructors keep alive.
pub(crate) fn register((start, end): (u64, u64), dso: u64, keep: Keep) -> Registration {
    units(|m| {
        m.insert(
            start,
            TrackedUnit {
                end,
                dso,
                keep,
                keys: Vec::new(),
            },
        )
    });
    Registration { start }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let keys = units(|m| m.remove(&self.start)).map_or(Vec::new(), |u| u.keys);
        for k in keys {
            // SAFETY: a key of the closing unit's, which no code uses any more.
            unsafe { libc::pthread_key_delete(k) };
        }
    }
}

/// A C function looked up in the process, once per name.
fn libc_fn(name: &'static std::ffi::CStr, cache: &'static OnceLock<usize>) -> Option<usize> {
    let addr = *cache.get_or_init(|| {
        // SAFETY: a NUL-terminated name; RTLD_DEFAULT searches the global scope.
        unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) as usize }
    });
    (addr != 0).then_some(addr)
}

type ThreadAtexit = unsafe extern "C" fn(
    unsafe extern "C" fn(*mut c_void),
    *mut c_void,
    *mut c_void,
) -> libc::c_int;

/// glibc's `__cxa_thread_atexit_impl` (glibc 2.18 and later).
fn glibc_thread_atexit() -> Option<ThreadAtexit> {
    static ADDR: OnceLock<usize> = OnceLock::new();
    let addr = libc_fn(c"__cxa_thread_atexit_impl", &ADDR)?;
    // SAFETY: `int __cxa_thread_atexit_impl(void (*)(void *), void *, void *)`.
    Some(unsafe { std::mem::transmute::<usize, ThreadAtexit>(addr) })
}

/// A unit's thread-exit destructor, and the unit it keeps alive.
struct ThreadDtor {
    func: unsafe extern "C" fn(*mut c_void),
    obj: *mut c_void,
    _keep: Arc<dyn Any + Send + Sync>,
}

unsafe extern "C" fn run_thread_dtor(p: *mut c_void) {
    // SAFETY: boxed by `objdl_cxa_thread_atexit` for this one call.
    let d = unsafe { Box::from_raw(p.cast::<ThreadDtor>()) };
    // SAFETY: the destructor and argument the unit registered; `_keep`
    // keeps its code and thread-locals mapped until `d` drops, below.
    unsafe { (d.func)(d.obj) };
}

/// What units call as `__cxa_thread_atexit_impl` and `__cxa_thread_atexit`:
/// glibc's, through [`run_thread_dtor`] when `func` is a unit's.
unsafe extern "C" fn objdl_cxa_thread_atexit(
    func: unsafe extern "C" fn(*mut c_void),
    obj: *mut c_void,
    dso: *mut c_void,
) -> libc::c_int {
    let Some(glibc) = glibc_thread_atexit() else {
        return -1;
    };
    // The unit that registers (its `__dso_handle`), else the one holding the code.
    let keep = units(|m| {
        let by_dso = unit_at(m, dso as u64).is_some_and(|u| u.dso == dso as u64);
        let at = if by_dso {
            dso as u64
        } else {
            func as usize as u64
        };
        let u = unit_at(m, at)?;
        Some(u.keep.upgrade())
    });
    let keep = match keep {
        // Not a unit's destructor.
        // SAFETY: the caller's arguments, unchanged.
        None => return unsafe { glibc(func, obj, dso) },
        Some(keep) => keep,
    };
    // A unit that is closing right now: its destructor cannot be kept
    // mapped, so it is not registered.
    let Some(keep) = keep else {
        return 0;
    };
    let d = Box::into_raw(Box::new(ThreadDtor {
        func,
        obj,
        _keep: keep,
    }));
    // SAFETY: `run_thread_dtor` takes the box, once.
    let rc = unsafe { glibc(run_thread_dtor, d.cast(), dso) };
    if rc != 0 {
        // SAFETY: not registered, so still ours.
        drop(unsafe { Box::from_raw(d) });
    }
    rc
}

type KeyDtor = Option<unsafe extern "C" fn(*mut c_void)>;

/// What units call as `pthread_key_create`: records a key whose destructor
/// is a unit's code with that unit.
unsafe extern "C" fn objdl_pthread_key_create(
    key: *mut libc::pthread_key_t,
    dtor: KeyDtor,
) -> libc::c_int {
    // SAFETY: the caller's arguments, unchanged.
    let rc = unsafe { libc::pthread_key_create(key, dtor) };
    if let (0, Some(f)) = (rc, dtor) {
        // SAFETY: pthread_key_create succeeded, so `*key` is set.
        let k = unsafe { *key };
        units(|m| {
            if let Some(u) = unit_at(m, f as usize as u64) {
                u.keys.push(k);
            }
        });
    }
    rc
}

/// What units call as `pthread_key_delete`.
unsafe extern "C" fn objdl_pthread_key_delete(key: libc::pthread_key_t) -> libc::c_int {
    // Forgotten first: once deleted, the number may be handed out again.
    units(|m| {
        for u in m.values_mut() {
            u.keys.retain(|&k| k != key);
        }
    });
    // SAFETY: the caller's argument, unchanged.
    unsafe { libc::pthread_key_delete(key) }
}

/// The functions objdl supplies to units for their thread-exit work, by name.
pub(crate) fn entry(name: &str) -> Option<u64> {
    Some(match name {
        "__cxa_thread_atexit_impl" | "__cxa_thread_atexit" => {
            glibc_thread_atexit()?;
            let f: ThreadAtexit = objdl_cxa_thread_atexit;
            f as usize as u64
        }
        "pthread_key_create" => {
            let f: unsafe extern "C" fn(*mut libc::pthread_key_t, KeyDtor) -> libc::c_int =
                objdl_pthread_key_create;
            f as usize as u64
        }
        "pthread_key_delete" => {
            let f: unsafe extern "C" fn(libc::pthread_key_t) -> libc::c_int =
                objdl_pthread_key_delete;
            f as usize as u64
        }
        _ => return None,
    })
}

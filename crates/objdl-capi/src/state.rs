//! The process-wide state behind the C API: the one [`Linker`], the registry
//! of live handles, the symbols given to `objdl_define`, and each thread's
//! last error.
//!
//! Handles are boxed [`Handle`]s owned by the registry; the pointer C holds
//! is the box's address, and is only ever compared with the registry's, never
//! dereferenced, so a stale or made-up pointer is an error rather than a
//! use after free. (As with `dlopen`'s handles, a closed handle's address
//! may be reused by a later handle, which the stale pointer then designates.)
//! The registry's lock is never held while C code of a unit
//! runs (initialisers at open, finalisers at close), nor while calling into
//! the dynamic loader, so such code may call the API again.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{c_char, c_void, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::sync::{Mutex, MutexGuard, OnceLock};

use objdl::{Linker, Unit};

/// One open handle on a unit.
pub(crate) struct Handle {
    /// The unit (several handles may share one).
    pub unit: Unit,
    /// The path or the name given for bytes, for messages and dumps.
    pub name: String,
}

struct State {
    linker: Linker,
    /// Live handles, in the order they were opened. Boxed so that each
    /// keeps its address, the pointer C holds, while the vector moves.
    #[allow(clippy::vec_box)]
    handles: Mutex<Vec<Box<Handle>>>,
    /// Symbols given to `objdl_define`, for lookups on the global handle.
    defines: Mutex<HashMap<String, usize>>,
}

static STATE: OnceLock<State> = OnceLock::new();

fn state() -> &'static State {
    STATE.get_or_init(|| State {
        linker: Linker::new(),
        handles: Mutex::new(Vec::new()),
        defines: Mutex::new(HashMap::new()),
    })
}

/// Locks `m`, ignoring poisoning: every critical section leaves its data
/// consistent (a push, a remove, a read).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The process-wide linker.
pub(crate) fn linker() -> &'static Linker {
    &state().linker
}

/// What the global handle points to: a static of its own, so its address
/// is distinct from every boxed [`Handle`] and from NULL.
struct GlobalScope(#[allow(dead_code)] u8);
static GLOBAL: GlobalScope = GlobalScope(0);

/// The global handle.
pub(crate) fn global_handle() -> *mut c_void {
    ptr::addr_of!(GLOBAL).cast_mut().cast()
}

/// Which kind of handle a pointer claims to be.
pub(crate) enum Target {
    /// The global handle.
    Global,
    /// Possibly a unit handle (checked against the registry when used).
    Unit,
}

/// Sorts `handle` into the global handle or a (claimed) unit handle; NULL is
/// an error.
pub(crate) fn target(handle: *mut c_void) -> Result<Target, String> {
    if handle.is_null() {
        Err("invalid handle: NULL (objdl_dlopen(NULL, mode) gives the global handle)".into())
    } else if handle == global_handle() {
        Ok(Target::Global)
    } else {
        Ok(Target::Unit)
    }
}

/// An error unless `handle` claims to be a unit handle.
pub(crate) fn unit_only(handle: *mut c_void, what: &str) -> Result<(), String> {
    match target(handle)? {
        Target::Global => Err(format!(
            "{what}: the global handle is not a unit: pass a handle from objdl_dlopen on a path or objdl_dlopen_mem"
        )),
        Target::Unit => Ok(()),
    }
}

fn not_live(handle: *mut c_void) -> String {
    format!("invalid handle {handle:p}: not a live objdl handle (closed, or never returned by objdl_dlopen)")
}

/// Adds a handle on `unit` and returns the pointer that stands for it.
pub(crate) fn register(unit: Unit, name: String) -> *mut c_void {
    let boxed = Box::new(Handle { unit, name });
    let p = ptr::addr_of!(*boxed).cast_mut().cast();
    lock(&state().handles).push(boxed);
    p
}

/// Removes the handle `handle` from the registry and gives it back, for the
/// caller to drop with no lock held.
pub(crate) fn unregister(handle: *mut c_void) -> Result<Box<Handle>, String> {
    let mut handles = lock(&state().handles);
    let i = position(&handles, handle).ok_or_else(|| not_live(handle))?;
    Ok(handles.remove(i))
}

fn position(handles: &[Box<Handle>], handle: *mut c_void) -> Option<usize> {
    handles
        .iter()
        .position(|h| ptr::eq(ptr::addr_of!(**h), handle.cast_const().cast()))
}

/// Calls `f` with the live handle `handle` and every live handle (in open
/// order), under the registry's lock: `f` must not run unit code or call the
/// dynamic loader.
pub(crate) fn with_handle<R>(
    handle: *mut c_void,
    f: impl FnOnce(&Handle, &[Box<Handle>]) -> R,
) -> Result<R, String> {
    let handles = lock(&state().handles);
    let i = position(&handles, handle).ok_or_else(|| not_live(handle))?;
    Ok(f(&handles[i], &handles))
}

/// Records a symbol given to `objdl_define`.
pub(crate) fn record_define(name: &str, addr: usize) {
    lock(&state().defines).insert(name.to_string(), addr);
}

/// The names of the defined symbols at the addresses `wanted`.
pub(crate) fn defined_names(wanted: &mut HashMap<u64, Option<String>>) {
    let defines = lock(&state().defines);
    for (name, &addr) in defines.iter() {
        if let Some(slot @ None) = wanted.get_mut(&(addr as u64)) {
            *slot = Some(name.clone());
        }
    }
}

/// `name` in the global scope: the Global units in open order, then the
/// defined symbols, then the process.
pub(crate) fn lookup_global(name: &str) -> Option<u64> {
    let in_unit = lock(&state().handles)
        .iter()
        .filter(|h| h.unit.is_global())
        .find_map(|h| h.unit.address(name));
    if in_unit.is_some() {
        return in_unit;
    }
    if let Some(&addr) = lock(&state().defines).get(name) {
        return Some(addr as u64);
    }
    let cname = CString::new(name).ok()?;
    // SAFETY: RTLD_DEFAULT is a valid pseudo-handle and `cname` a
    // NUL-terminated string that outlives the call.
    let addr = unsafe { libc::dlsym(libc::RTLD_DEFAULT, cname.as_ptr()) };
    (!addr.is_null()).then_some(addr as u64)
}

thread_local! {
    /// The calling thread's error not yet read by `objdl_dlerror`.
    static PENDING: RefCell<Option<CString>> = const { RefCell::new(None) };
    /// The message `objdl_dlerror` last returned on this thread, kept alive
    /// until its next call there.
    static SHOWN: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Records `msg` as the calling thread's last error.
pub(crate) fn set_error(msg: String) {
    let msg = CString::new(msg).unwrap_or_else(|e| {
        let mut bytes = e.into_vec();
        bytes.retain(|&b| b != 0);
        CString::new(bytes).expect("NUL bytes removed")
    });
    // During thread teardown the slot may be gone; the message is then lost.
    let _ = PENDING.try_with(|p| *p.borrow_mut() = Some(msg));
}

/// Moves the pending error to the shown slot and returns it (NULL if none).
pub(crate) fn take_error() -> *const c_char {
    let pending = PENDING.try_with(|p| p.borrow_mut().take()).ok().flatten();
    SHOWN
        .try_with(|s| {
            let mut s = s.borrow_mut();
            *s = pending;
            // The CString's buffer stays put until the slot is next replaced.
            s.as_ref().map_or(ptr::null(), |c| c.as_ptr())
        })
        .unwrap_or(ptr::null())
}

/// Runs `body`, turning an `Err` or a panic into the thread's last error and
/// `fail`. No panic leaves this function.
pub(crate) fn guard<T>(fail: T, body: impl FnOnce() -> Result<T, String>) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => v,
        Ok(Err(msg)) => {
            set_error(msg);
            fail
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic with no message".into());
            // Formatting and storing a short message does not panic; even so,
            // a second panic must not escape.
            let _ = catch_unwind(AssertUnwindSafe(|| {
                set_error(format!("internal error: {what}"))
            }));
            // Dropping the payload could itself panic (a Drop impl that
            // panics); forget it rather than risk that.
            std::mem::forget(payload);
            fail
        }
    }
}

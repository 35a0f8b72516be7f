//! Stages 7 and 8, register and initialise; and their undoing at close.
//!
//! - `.eh_frame` of each object is registered with libgcc's
//!   `__register_frame`, so exceptions and backtraces walk loaded code.
//! - The unit gets its own `__dso_handle`, and its `atexit` registers with
//!   `__cxa_atexit` under that handle. A finaliser hook registered first runs
//!   the unit's `.fini_array`/`.dtors` after its `atexit` handlers, as they
//!   run in a linked program; at close, `__cxa_finalize(handle)` runs them
//!   all, before any page is unmapped.
//! - `.preinit_array`, then `.init_array`/`.ctors` by priority, run at open.

use std::ffi::c_void;

type InitFn =
    unsafe extern "C" fn(libc::c_int, *const *const libc::c_char, *const *const libc::c_char);
type FiniFn = unsafe extern "C" fn();
type RegisterFrame = unsafe extern "C" fn(*const u8);
type CxaAtexit = unsafe extern "C" fn(
    unsafe extern "C" fn(*mut c_void),
    *mut c_void,
    *mut c_void,
) -> libc::c_int;
type CxaFinalize = unsafe extern "C" fn(*mut c_void);

/// The libc/libgcc entry points the runtime needs, looked up once.
pub(crate) struct Entry {
    pub cxa_atexit: u64,
    pub cxa_at_quick_exit: u64,
    pub register_atfork: u64,
    cxa_finalize: u64,
    register_frame: u64,
    deregister_frame: u64,
}

impl Entry {
    pub fn lookup(host: &crate::scope::host::Host) -> Entry {
        let get = |n: &str| host.dlsym(n).unwrap_or(0);
        Entry {
            cxa_atexit: get("__cxa_atexit"),
            cxa_at_quick_exit: get("__cxa_at_quick_exit"),
            register_atfork: get("__register_atfork"),
            cxa_finalize: get("__cxa_finalize"),
            register_frame: get("__register_frame"),
            deregister_frame: get("__deregister_frame"),
        }
    }
}

/// The order in which a unit's constructors and destructors run.
#[derive(Debug, Default)]
pub(crate) struct Lifecycle {
    /// `.preinit_array`, `.init_array` and `.ctors` entries, in call order.
    pub init: Vec<u64>,
    /// `.fini_array` and `.dtors` entries, in call order.
    pub fini: Vec<u64>,
    /// Start of each registered `.eh_frame`.
    pub eh_frames: Vec<u64>,
}

/// Registers the unit's unwind tables.
///
/// # Safety
/// Each address must be the start of a zero-terminated `.eh_frame` that
/// stays mapped until [`deregister_frames`].
pub(crate) unsafe fn register_frames(entry: &Entry, frames: &[u64]) {
    if entry.register_frame == 0 || entry.deregister_frame == 0 {
        return;
    }
    // SAFETY: the address came from dlsym("__register_frame"), whose C type
    // is `void (void *)`.
    let f: RegisterFrame =
        unsafe { std::mem::transmute::<usize, RegisterFrame>(entry.register_frame as usize) };
    for &fr in frames {
        // SAFETY: the caller's promise: a terminated .eh_frame that outlives the registration.
        unsafe { f(fr as *const u8) };
    }
}

/// Undoes [`register_frames`].
///
/// # Safety
/// `frames` must be exactly what was registered.
pub(crate) unsafe fn deregister_frames(entry: &Entry, frames: &[u64]) {
    if entry.register_frame == 0 || entry.deregister_frame == 0 {
        return;
    }
    // SAFETY: from dlsym("__deregister_frame"), `void *(void *)`; the result is ignored.
    let f: RegisterFrame =
        unsafe { std::mem::transmute::<usize, RegisterFrame>(entry.deregister_frame as usize) };
    for &fr in frames.iter().rev() {
        // SAFETY: registered by `register_frames`.
        unsafe { f(fr as *const u8) };
    }
}

/// The finalisers of a unit, owned by the unit at a stable address.
pub(crate) struct Finalizers {
    pub fini: Vec<u64>,
}

unsafe extern "C" fn run_finalizers(arg: *mut c_void) {
    // SAFETY: `arg` is the `Finalizers` registered in `start`, which the unit
    // keeps alive until `__cxa_finalize` has run this hook.
    let fins = unsafe { &*(arg as *const Finalizers) };
    for &f in &fins.fini {
        // SAFETY: a relocated .fini_array/.dtors entry of the unit, still mapped.
        let f: FiniFn = unsafe { std::mem::transmute::<usize, FiniFn>(f as usize) };
        // SAFETY: calling loaded code is what the user asked for by opening it.
        unsafe { f() };
    }
}

/// Registers the finaliser hook under `dso_handle`, then runs the initialisers.
///
/// # Safety
/// The unit must be mapped with its final protections; `fins` must stay
/// alive until [`stop`] has run; `init` holds functions of the unit.
pub(crate) unsafe fn start(entry: &Entry, dso_handle: u64, fins: &Finalizers, init: &[u64]) {
    if entry.cxa_atexit != 0 && !fins.fini.is_empty() {
        // SAFETY: dlsym("__cxa_atexit"), `int (void (*)(void *), void *, void *)`.
        let reg: CxaAtexit =
            unsafe { std::mem::transmute::<usize, CxaAtexit>(entry.cxa_atexit as usize) };
        // SAFETY: the hook and its argument live as long as the registration.
        unsafe {
            reg(
                run_finalizers,
                fins as *const Finalizers as *mut c_void,
                dso_handle as *mut c_void,
            )
        };
    }
    let argv: [*const libc::c_char; 1] = [std::ptr::null()];
    // SAFETY: `environ` is the process's environment block.
    let envp = unsafe { environ_ptr() };
    for &f in init {
        // SAFETY: a relocated initialiser of the unit; glibc passes (argc, argv, envp).
        let f: InitFn = unsafe { std::mem::transmute::<usize, InitFn>(f as usize) };
        // SAFETY: running the unit's constructors is part of opening it.
        unsafe { f(0, argv.as_ptr(), envp) };
    }
}

/// Runs the unit's `atexit` handlers and finalisers (`__cxa_finalize`).
///
/// # Safety
/// The unit must still be mapped.
pub(crate) unsafe fn stop(entry: &Entry, dso_handle: u64) {
    if entry.cxa_finalize != 0 {
        // SAFETY: dlsym("__cxa_finalize"), `void (void *)`.
        let fin: CxaFinalize =
            unsafe { std::mem::transmute::<usize, CxaFinalize>(entry.cxa_finalize as usize) };
        // SAFETY: runs and removes only the handlers registered under this unit's handle.
        unsafe { fin(dso_handle as *mut c_void) };
    }
}

/// The process's `environ`.
///
/// # Safety
/// Reads a libc global.
pub(crate) unsafe fn environ_ptr() -> *const *const libc::c_char {
    extern "C" {
        static environ: *const *const libc::c_char;
    }
    // SAFETY: a plain read of libc's global.
    unsafe { environ }
}

/// A unit's `on_exit` handler and its argument.
struct OnExit {
    func: unsafe extern "C" fn(libc::c_int, *mut c_void),
    arg: *mut c_void,
}

/// Runs an `on_exit` handler from `__cxa_finalize` (status 0) or `exit`
/// (its status): glibc calls `__cxa_atexit` handlers as `f(arg, status)`.
unsafe extern "C" fn run_on_exit(p: *mut c_void, status: libc::c_int) {
    // SAFETY: boxed by `objdl_on_exit` for this one call.
    let h = unsafe { Box::from_raw(p.cast::<OnExit>()) };
    // SAFETY: the unit's handler, still mapped: it runs at the unit's close
    // (`__cxa_finalize` of its handle) or at exit, never after the unmap.
    unsafe { (h.func)(status, h.arg) };
}

/// What a unit's `on_exit(f, arg)` stub calls, with the unit's
/// `__dso_handle` as `dso`: glibc's `on_exit` registers without a handle,
/// so the handler would run at exit even after the unit was unmapped; under
/// the unit's handle, like its `atexit` handlers, it runs when the unit
/// closes.
unsafe extern "C" fn objdl_on_exit(
    func: unsafe extern "C" fn(libc::c_int, *mut c_void),
    arg: *mut c_void,
    dso: *mut c_void,
) -> libc::c_int {
    type Handler = unsafe extern "C" fn(*mut c_void, libc::c_int);
    type CxaAtexitStatus = unsafe extern "C" fn(Handler, *mut c_void, *mut c_void) -> libc::c_int;
    static CXA_ATEXIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let addr = *CXA_ATEXIT.get_or_init(|| {
        // SAFETY: a NUL-terminated name; RTLD_DEFAULT searches the global scope.
        unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"__cxa_atexit".as_ptr()) as usize }
    });
    if addr == 0 {
        return -1;
    }
    // SAFETY: glibc's `int __cxa_atexit(void (*)(void *), void *, void *)`,
    // whose handlers glibc calls with the exit status as a second argument.
    let register = unsafe { std::mem::transmute::<usize, CxaAtexitStatus>(addr) };
    let h = Box::into_raw(Box::new(OnExit { func, arg }));
    // SAFETY: `run_on_exit` takes the box, once.
    let rc = unsafe { register(run_on_exit, h.cast(), dso) };
    if rc != 0 {
        // SAFETY: not registered, so still ours.
        drop(unsafe { Box::from_raw(h) });
    }
    rc
}

/// The address of objdl's `on_exit`, for the units' stubs.
pub(crate) fn on_exit_entry() -> u64 {
    let f: unsafe extern "C" fn(
        unsafe extern "C" fn(libc::c_int, *mut c_void),
        *mut c_void,
        *mut c_void,
    ) -> libc::c_int = objdl_on_exit;
    f as usize as u64
}

/// A unit's writable data registered with LeakSanitizer (when the process
/// has one: ASan's or LSan's runtime) as a root region: its pointers keep
/// what they point to reachable, as a linked program's `.data` and `.bss`
/// do (LeakSanitizer finds those through `dl_iterate_phdr`, which knows
/// nothing of units). Unregistered on drop, before the unit is unmapped.
#[derive(Debug)]
pub(crate) struct LeakRoot {
    start: u64,
    len: u64,
    unregister: unsafe extern "C" fn(*const c_void, libc::size_t),
}

type RootRegion = unsafe extern "C" fn(*const c_void, libc::size_t);

/// Registers `[start, start + len)`, if the process has LeakSanitizer.
pub(crate) fn leak_root(start: u64, len: u64) -> Option<LeakRoot> {
    if len == 0 {
        return None;
    }
    static FOUND: std::sync::OnceLock<Option<(RootRegion, RootRegion)>> =
        std::sync::OnceLock::new();
    let (register, unregister) = (*FOUND.get_or_init(|| {
        let find = |name: &std::ffi::CStr| {
            // SAFETY: a NUL-terminated name; RTLD_DEFAULT searches the global scope.
            let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
            // SAFETY: LeakSanitizer's `void f(const void *p, size_t size)`.
            (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, RootRegion>(p) })
        };
        Some((
            find(c"__lsan_register_root_region")?,
            find(c"__lsan_unregister_root_region")?,
        ))
    }))?;
    // SAFETY: a range of the unit's memory, mapped until the root drops.
    unsafe { register(start as *const c_void, len as libc::size_t) };
    Some(LeakRoot {
        start,
        len,
        unregister,
    })
}

impl Drop for LeakRoot {
    fn drop(&mut self) {
        // SAFETY: the range registered by `leak_root`, once.
        unsafe { (self.unregister)(self.start as *const c_void, self.len as libc::size_t) };
    }
}

//! Telling ThreadSanitizer about objdl's own locks.
//!
//! objdl is not built with ThreadSanitizer, so when a unit built with
//! `-fsanitize=thread` runs under its runtime, the runtime sees objdl's
//! memory only through the functions it intercepts (`malloc`, `memcpy`)
//! and not the locks that order those accesses (Rust's `Mutex` waits on a
//! futex): it would report races in objdl's own registries between the
//! unit's threads. Around such a lock, [`acquired`] and [`releasing`] say
//! what it orders (`__tsan_acquire`/`__tsan_release`), when the process
//! has the runtime; otherwise they do nothing.

use std::ffi::c_void;
use std::sync::OnceLock;

type Annotation = unsafe extern "C" fn(*mut c_void);

/// `__tsan_acquire` and `__tsan_release`, when the process has them.
fn annotations() -> Option<(Annotation, Annotation)> {
    static FOUND: OnceLock<Option<(Annotation, Annotation)>> = OnceLock::new();
    *FOUND.get_or_init(|| {
        let find = |name: &std::ffi::CStr| {
            // SAFETY: a NUL-terminated name; RTLD_DEFAULT searches the global scope.
            let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
            // SAFETY: ThreadSanitizer's `void f(void *addr)`.
            (!p.is_null()).then(|| unsafe { std::mem::transmute::<*mut c_void, Annotation>(p) })
        };
        Some((find(c"__tsan_acquire")?, find(c"__tsan_release")?))
    })
}

/// The lock at `lock` was just taken.
pub(crate) fn acquired<T>(lock: &T) {
    if let Some((acquire, _)) = annotations() {
        // SAFETY: the runtime only records the address.
        unsafe { acquire((lock as *const T).cast_mut().cast()) };
    }
}

/// The lock at `lock` is about to be released.
pub(crate) fn releasing<T>(lock: &T) {
    if let Some((_, release)) = annotations() {
        // SAFETY: the runtime only records the address.
        unsafe { release((lock as *const T).cast_mut().cast()) };
    }
}

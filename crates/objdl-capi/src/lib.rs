//! # objdl-capi: a flexdll-style C API for objdl
//!
//! `objdl_dlopen`, `objdl_dlsym`, `objdl_dlclose` and `objdl_dlerror` work
//! like their `dlfcn.h` namesakes, on x86-64 ELF relocatable objects (`.o`
//! files from `gcc -c`) instead of shared libraries. Every unit is opened by
//! one process-wide [`objdl::Linker`].
//!
//! The C header is `include/objdl.h`, generated from this file by cbindgen
//! when the crate builds (with the version macros `OBJDL_VERSION_MAJOR`,
//! `OBJDL_VERSION_MINOR`, `OBJDL_VERSION_PATCH`, `OBJDL_VERSION` and
//! `OBJDL_VERSION_NUMBER`, from the crate's version).
//!
//! Installed (`scripts/install.sh PREFIX`, cargo-c's layout), the library is
//! `libobjdl`: `PREFIX/include/objdl/objdl.h`, `PREFIX/lib/libobjdl.so.0.1.0`
//! (SONAME `libobjdl.so.0.1`, with the links `libobjdl.so.0.1` and
//! `libobjdl.so`), `PREFIX/lib/libobjdl.a` and `PREFIX/lib/pkgconfig/objdl.pc`,
//! so that `cc prog.c $(pkg-config --cflags --libs objdl)` builds a host. In
//! the build tree cargo names the files after the crate's library,
//! `target/release/libobjdl_capi.so` and `libobjdl_capi.a` (`cargo build
//! --release -p objdl-capi`); the shared one already carries the SONAME.
//!
//! ```c
//! void *h = objdl_dlopen("plugin.o", OBJDL_RTLD_GLOBAL);
//! if (!h) { fprintf(stderr, "%s\n", objdl_dlerror()); return 1; }
//! int (*f)(int) = (int (*)(int))objdl_dlsym(h, "f");
//! printf("%d\n", f(21));
//! objdl_dlclose(h);
//! ```
//!
//! Conventions, as in `dlfcn.h`: a failing function returns `NULL` (or
//! `-1`) and leaves a message for [`objdl_dlerror`], which is per thread and
//! cleared when read. A handle is either a unit handle, from opening a path
//! or bytes, or the *global handle* from `objdl_dlopen(NULL, mode)`, which
//! stands for the global scope: the units opened with [`OBJDL_RTLD_GLOBAL`]
//! in the order they were opened, then the symbols given to
//! [`objdl_define`], then the process (`dlsym(RTLD_DEFAULT, ...)`). A handle
//! that is not live (closed, or never returned by objdl) is an error, not
//! undefined behaviour. No panic crosses into C: one becomes an error whose
//! message starts with `internal error:`.

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

use std::ffi::{c_char, c_int, c_void, CStr, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;

use objdl::{Input, OpenOptions, Scope};

mod dump;
mod state;

use state::{guard, linker, Target};

/// Mode flag: the unit's exports are reachable only through its handle
/// (like `RTLD_LOCAL`). The default; it is 0.
pub const OBJDL_RTLD_LOCAL: c_int = 0;

/// Mode flag: the unit's exports resolve the references of units opened
/// later, and `objdl_dlsym` on the global handle finds them (like
/// `RTLD_GLOBAL`). Opening an already open object again with this flag
/// makes it Global.
pub const OBJDL_RTLD_GLOBAL: c_int = 1;

/// Mode flag: link and map the unit without running any of its code: no
/// initialiser runs at open, no finaliser at close, and no unwind tables are
/// registered. Combines with `OBJDL_RTLD_GLOBAL` or `OBJDL_RTLD_LOCAL` by OR.
pub const OBJDL_RTLD_NOEXEC: c_int = 2;

/// Mode flag: bind functions that nothing defines at open time at their
/// first call, as `RTLD_LAZY` does (the default binds everything at open,
/// like `RTLD_NOW`). A call to a function still undefined then prints
/// `objdl: symbol lookup error: FILE: undefined symbol: NAME` and aborts;
/// data references and address-taking are still resolved at open.
/// Combines with the other flags by OR.
pub const OBJDL_RTLD_LAZY: c_int = 4;

/// Mode flag: the unit can be reloaded with `objdl_reload`; each of its
/// functions is then reached through an entry of its own, which a reload
/// repoints. Combines with the other flags by OR.
pub const OBJDL_RTLD_RELOADABLE: c_int = 8;

/// Mode flag: keep the linked unit in the cache (`$XDG_CACHE_HOME/objdl`,
/// else `~/.cache/objdl`) and take it from there when the same objects are
/// opened again with the same mode, in this process or another: the load
/// then maps it and moves only its absolute addresses. Combines with the
/// other flags by OR.
pub const OBJDL_RTLD_CACHE: c_int = 16;

/// Placement for `objdl_dlopen_unit`: inside the window that every
/// reference which cannot be redirected allows, next to the unit's most-used
/// targets (the default, as for `objdl_dlopen`).
pub const OBJDL_PLACE_AUTO: u64 = 0;

/// Placement for `objdl_dlopen_unit`: more than 4 GiB away from every
/// mapping of the process, so that every call out of the unit goes through
/// a trampoline (a test of far targets).
pub const OBJDL_PLACE_FAR: u64 = 1;

/// Placement for `objdl_dlopen_unit`: in the low 2 GiB of the address space,
/// where 32-bit absolute references (`-fno-pic -mcmodel=small` code) to the
/// unit's own addresses fit.
pub const OBJDL_PLACE_LOW: u64 = 2;

/// The mode flags objdl knows; any other bit is an error.
const KNOWN_MODES: c_int = OBJDL_RTLD_GLOBAL
    | OBJDL_RTLD_NOEXEC
    | OBJDL_RTLD_LAZY
    | OBJDL_RTLD_RELOADABLE
    | OBJDL_RTLD_CACHE;

/// The open options for `mode`, or an error naming the unknown bits.
fn options(mode: c_int) -> Result<OpenOptions, String> {
    if mode & !KNOWN_MODES != 0 {
        return Err(format!(
            "invalid mode {mode:#x}: unknown bits {:#x} (use OBJDL_RTLD_LOCAL or OBJDL_RTLD_GLOBAL, optionally | OBJDL_RTLD_NOEXEC | OBJDL_RTLD_LAZY | OBJDL_RTLD_RELOADABLE | OBJDL_RTLD_CACHE)",
            mode & !KNOWN_MODES
        ));
    }
    let mut opts = OpenOptions::new();
    opts.scope(if mode & OBJDL_RTLD_GLOBAL != 0 {
        Scope::Global
    } else {
        Scope::Local
    })
    .no_exec(mode & OBJDL_RTLD_NOEXEC != 0)
    .lazy(mode & OBJDL_RTLD_LAZY != 0)
    .reloadable(mode & OBJDL_RTLD_RELOADABLE != 0);
    if mode & OBJDL_RTLD_CACHE != 0 {
        opts.cache(objdl::default_cache_dir());
    }
    Ok(opts)
}

/// The message for a failed open of `name`: objdl's, which names the file
/// in most cases, prefixed with the name where it does not.
fn open_error(name: &str, e: &objdl::Error) -> String {
    let msg = e.to_string();
    if msg.contains(name) {
        msg
    } else {
        format!("{name}: {msg}")
    }
}

/// A symbol name argument as UTF-8 text.
///
/// # Safety
/// `s` is NULL or a NUL-terminated string that stays valid and unchanged
/// during the call.
unsafe fn symbol_name<'a>(s: *const c_char) -> Result<&'a str, String> {
    if s.is_null() {
        return Err("symbol name is NULL".into());
    }
    // SAFETY: not NULL (checked), and the caller guarantees a NUL-terminated
    // string valid for the call.
    let s = unsafe { CStr::from_ptr(s) };
    s.to_str()
        .map_err(|_| format!("invalid symbol name {:?}: not UTF-8", s.to_string_lossy()))
}

/// Opens the object file at `path` as a unit and returns its handle; with
/// `path == NULL`, returns the global handle.
///
/// `mode` is `OBJDL_RTLD_LOCAL` (0) or `OBJDL_RTLD_GLOBAL`, optionally ORed
/// with `OBJDL_RTLD_NOEXEC` and `OBJDL_RTLD_LAZY`; any other bit is an error. Opening a path that
/// is already open returns a new handle on the same unit (each handle is
/// closed on its own; the unit goes with the last one). On failure returns
/// NULL, and `objdl_dlerror` tells why, naming the file.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string. Opening runs the object's
/// initialisers (unless `OBJDL_RTLD_NOEXEC`): arbitrary code, which must be
/// trusted as the program it is.
#[no_mangle]
pub unsafe extern "C" fn objdl_dlopen(path: *const c_char, mode: c_int) -> *mut c_void {
    guard(ptr::null_mut(), || {
        let opts = options(mode)?;
        if path.is_null() {
            return Ok(state::global_handle());
        }
        // SAFETY: not NULL (checked); the caller passes a NUL-terminated string.
        let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
        let path = Path::new(OsStr::from_bytes(bytes));
        let name = path.display().to_string();
        // SAFETY: the caller trusts the object, whose initialisers run now
        // (see # Safety); no lock of ours is held, so they may call back in.
        let unit = unsafe { opts.open(linker(), [Input::path(path)]) }
            .map_err(|e| open_error(&name, &e))?;
        Ok(state::register(unit, name))
    })
}

/// Opens an object held in memory (`len` bytes at `bytes`) as a unit and
/// returns its handle. `name` (may be NULL) names the unit in messages and
/// dumps. `mode` is as for `objdl_dlopen`. The bytes are copied: the buffer
/// may be freed once this returns. On failure returns NULL, and
/// `objdl_dlerror` tells why.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; `bytes` points to `len`
/// readable bytes (or is anything when `len` is 0). Opening runs the
/// object's initialisers (unless `OBJDL_RTLD_NOEXEC`), which must be
/// trusted.
#[no_mangle]
pub unsafe extern "C" fn objdl_dlopen_mem(
    name: *const c_char,
    bytes: *const c_void,
    len: usize,
    mode: c_int,
) -> *mut c_void {
    guard(ptr::null_mut(), || {
        let opts = options(mode)?;
        let name = if name.is_null() {
            "<memory>".to_string()
        } else {
            // SAFETY: not NULL (checked); the caller passes a NUL-terminated string.
            unsafe { CStr::from_ptr(name) }
                .to_string_lossy()
                .into_owned()
        };
        let data: &[u8] = if len == 0 {
            &[]
        } else if bytes.is_null() {
            return Err(format!("{name}: bytes is NULL but len is {len}"));
        } else {
            // SAFETY: not NULL (checked); the caller guarantees `len` readable
            // bytes at `bytes`, unchanged during the call. They are copied below.
            unsafe { std::slice::from_raw_parts(bytes.cast::<u8>(), len) }
        };
        // SAFETY: as for `objdl_dlopen`: the caller trusts the object's
        // initialisers, which run now, without any lock of ours held.
        let unit = unsafe { opts.open(linker(), [Input::bytes(name.as_str(), data)]) }
            .map_err(|e| open_error(&name, &e))?;
        Ok(state::register(unit, name))
    })
}

/// Opens the `count` object files at `paths` together as one unit (as `ld`
/// would link them: they resolve each other's symbols, and the first COMDAT
/// group wins), placed as `placement` says, and returns its handle.
///
/// `mode` is as for `objdl_dlopen` (`OBJDL_RTLD_LOCAL` or
/// `OBJDL_RTLD_GLOBAL`, optionally ORed with `OBJDL_RTLD_NOEXEC`, which links
/// and maps without running any of the unit's code, and `OBJDL_RTLD_LAZY`). `placement` is
/// `OBJDL_PLACE_AUTO` (0, the default), `OBJDL_PLACE_FAR`,
/// `OBJDL_PLACE_LOW`, or an address: the page-aligned base the unit must
/// have. A placement that some reference of the unit cannot reach from is
/// refused, naming every such reference. Opening the same paths again, in
/// the same order, returns a new handle on the unit already open, wherever
/// it is. On failure returns NULL, and `objdl_dlerror` tells why.
///
/// ```c
/// const char *objs[] = { "sqlite3.o", "shell.o" };
/// void *h = objdl_dlopen_unit(objs, 2, OBJDL_RTLD_LOCAL, OBJDL_PLACE_AUTO);
/// ```
///
/// # Safety
/// `paths` points to `count` NUL-terminated strings (`paths` may be
/// anything when `count` is 0, which is an error). Opening runs the unit's
/// initialisers (unless `OBJDL_RTLD_NOEXEC`), which must be trusted.
#[no_mangle]
pub unsafe extern "C" fn objdl_dlopen_unit(
    paths: *const *const c_char,
    count: usize,
    mode: c_int,
    placement: u64,
) -> *mut c_void {
    guard(ptr::null_mut(), || {
        let mut opts = options(mode)?;
        opts.placement(placement_of(placement)?);
        if count == 0 {
            return Err("objdl_dlopen_unit: no paths (count is 0)".into());
        }
        if paths.is_null() {
            return Err(format!(
                "objdl_dlopen_unit: paths is NULL but count is {count}"
            ));
        }
        // SAFETY: not NULL (checked); the caller guarantees `count` pointers.
        let paths = unsafe { std::slice::from_raw_parts(paths, count) };
        let mut inputs = Vec::with_capacity(count);
        for (i, &p) in paths.iter().enumerate() {
            if p.is_null() {
                return Err(format!("objdl_dlopen_unit: paths[{i}] is NULL"));
            }
            // SAFETY: not NULL (checked); the caller passes NUL-terminated strings.
            let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
            inputs.push(Input::path(Path::new(OsStr::from_bytes(bytes))));
        }
        let name = inputs
            .iter()
            .map(Input::name)
            .collect::<Vec<_>>()
            .join(" + ");
        // SAFETY: as for `objdl_dlopen`: the caller trusts the unit's
        // initialisers, which run now, without any lock of ours held.
        let unit = unsafe { opts.open(linker(), inputs) }.map_err(|e| open_error(&name, &e))?;
        Ok(state::register(unit, name))
    })
}

/// The placement `objdl_dlopen_unit`'s argument stands for.
fn placement_of(p: u64) -> Result<objdl::Placement, String> {
    Ok(match p {
        OBJDL_PLACE_AUTO => objdl::Placement::Auto,
        OBJDL_PLACE_FAR => objdl::Placement::Far,
        OBJDL_PLACE_LOW => objdl::Placement::Low,
        addr if addr % 4096 == 0 => objdl::Placement::At(addr),
        other => {
            return Err(format!(
                "invalid placement {other:#x}: not OBJDL_PLACE_AUTO, OBJDL_PLACE_FAR, OBJDL_PLACE_LOW or a page-aligned address"
            ))
        }
    })
}

/// The version of the library, `"MAJOR.MINOR.PATCH"`: the `OBJDL_VERSION`
/// of the header it was built with. A host built against another header can
/// compare the two.
///
/// ```c
/// if (strcmp(objdl_version(), OBJDL_VERSION) != 0) { return 1; } // another libobjdl
/// ```
#[no_mangle]
pub extern "C" fn objdl_version() -> *const c_char {
    VERSION.as_ptr()
}

/// The crate's version as a C string.
const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(v) => v,
        Err(_) => panic!("the crate version has no NUL byte"),
    };

/// The address of the symbol `name`, or NULL (and an error for
/// `objdl_dlerror`) if there is none.
///
/// On a unit handle: the unit's export. On the global handle: the first of
/// the Global units (opened with `OBJDL_RTLD_GLOBAL`, in open order) that
/// exports it, else a symbol given to `objdl_define`, else the process's
/// `dlsym(RTLD_DEFAULT, name)` (so `strlen` is found).
///
/// # Safety
/// `handle` may be any value (an unknown one is an error); `name` is NULL or
/// a NUL-terminated string. Using the address with the wrong type is
/// undefined behaviour, as with `dlsym`.
#[no_mangle]
pub unsafe extern "C" fn objdl_dlsym(handle: *mut c_void, name: *const c_char) -> *mut c_void {
    guard(ptr::null_mut(), || {
        // SAFETY: the caller passes NULL or a NUL-terminated string.
        let name = unsafe { symbol_name(name) }?;
        let addr = match state::target(handle)? {
            Target::Global => state::lookup_global(name).ok_or_else(|| {
                format!("symbol `{name}` not found in the global scope (Global units, defined symbols, the process)")
            })?,
            Target::Unit => state::with_handle(handle, |h, _| {
                h.unit
                    .address(name)
                    .ok_or_else(|| format!("symbol `{name}` not found in {}", h.name))
            })??,
        };
        Ok(addr as usize as *mut c_void)
    })
}

/// Reloads `path`, one of the objects the unit behind `handle` was opened
/// from (with `OBJDL_RTLD_RELOADABLE`), from its current contents: 0 on
/// success, or -1 with `objdl_dlerror` set, the old code running on.
/// After a reload every caller reaches the new code at its next call
/// (function pointers taken before included); data both versions have
/// keeps its storage and values and is not initialised again.
///
/// # Safety
/// `handle` may be any value; `path` is NULL or a NUL-terminated string.
/// The new code runs with the old data: the caller vouches that they fit.
#[no_mangle]
pub unsafe extern "C" fn objdl_reload(handle: *mut c_void, path: *const c_char) -> c_int {
    guard(-1, || {
        if path.is_null() {
            return Err("objdl_reload: path is NULL".to_string());
        }
        // SAFETY: not NULL, and the caller passes a NUL-terminated string.
        let path = unsafe { CStr::from_ptr(path) }
            .to_str()
            .map_err(|_| "objdl_reload: path is not UTF-8".to_string())?;
        if let Target::Global = state::target(handle)? {
            return Err("objdl_reload: the global handle is not a unit".to_string());
        }
        state::with_handle(handle, |h, _| {
            // SAFETY: forwarded from the caller.
            unsafe { h.unit.reload(path) }
                .map(|_| 0)
                .map_err(|e| open_error(path, &e))
        })?
    })
}

/// Closes a handle: 0 on success, -1 (and an error for `objdl_dlerror`) if
/// `handle` is not a live handle (NULL, already closed, or never returned by
/// objdl).
///
/// Closing a unit's last handle runs its `atexit` handlers and finalisers
/// (unless it was opened with `OBJDL_RTLD_NOEXEC`) and unmaps it, unless a
/// unit that binds to it is still open, which keeps its memory (but not its
/// place in the global scope). Closing the global handle does nothing and
/// returns 0.
///
/// # Safety
/// `handle` may be any value. No pointer into the unit (from `objdl_dlsym`)
/// may be used after its memory is gone.
#[no_mangle]
pub unsafe extern "C" fn objdl_dlclose(handle: *mut c_void) -> c_int {
    guard(-1, || {
        if let Target::Global = state::target(handle)? {
            return Ok(0);
        }
        let h = state::unregister(handle)?;
        // The finalisers run here, with no lock of ours held.
        drop(h);
        Ok(0)
    })
}

/// The last error of the calling thread, as a message, or NULL if there has
/// been none since the last call. Reading it clears it, as `dlerror` does.
///
/// Each thread has its own: an error in one thread is never seen by another.
///
/// # Safety
/// The string stays valid until the next call of `objdl_dlerror` on the same
/// thread; it must not be freed or written.
#[no_mangle]
pub unsafe extern "C" fn objdl_dlerror() -> *const c_char {
    // Nothing here is left for objdl_dlerror to report: a panic gives NULL.
    std::panic::catch_unwind(state::take_error).unwrap_or(ptr::null())
}

/// Defines the symbol `name` at `addr` for units opened from now on (a host
/// symbol: it comes after a unit's own definitions and before the process's
/// `dlsym`). `objdl_dlsym` on the global handle finds it too. Defining a
/// name again replaces it. Returns 0, or -1 (and an error for
/// `objdl_dlerror`) if `name` is NULL or not UTF-8, or `addr` is NULL.
///
/// # Safety
/// `name` is NULL or a NUL-terminated string; `addr` must stay valid, with
/// the type the units expect, for as long as units use it.
#[no_mangle]
pub unsafe extern "C" fn objdl_define(name: *const c_char, addr: *mut c_void) -> c_int {
    guard(-1, || {
        // SAFETY: the caller passes NULL or a NUL-terminated string.
        let name = unsafe { symbol_name(name) }?;
        if addr.is_null() {
            return Err(format!("objdl_define: NULL address for `{name}`"));
        }
        linker().define(name, addr.cast_const().cast());
        state::record_define(name, addr as usize);
        Ok(0)
    })
}

/// Prints the unit's exports to stdout (through C's `stdout`, so the text
/// interleaves with the program's own `printf` output): a line
/// `exports of NAME: COUNT`, then one line `  SYMBOL 0xADDRESS` per export,
/// sorted by name. Returns the count, or -1 (and an error for
/// `objdl_dlerror`) if `handle` is not a live unit handle (the global handle
/// is not one).
///
/// # Safety
/// `handle` may be any value.
#[no_mangle]
pub unsafe extern "C" fn objdl_dump_exports(handle: *mut c_void) -> c_int {
    guard(-1, || {
        state::unit_only(handle, "objdl_dump_exports")?;
        let (text, count) = state::with_handle(handle, |h, _| dump::exports(h))?;
        dump::print(&text)?;
        Ok(c_int::try_from(count).unwrap_or(c_int::MAX))
    })
}

/// Prints what relocating the unit did to stdout (through C's `stdout`):
/// the relocations applied, counted by type; each trampoline (a jump for a
/// call whose target is out of reach) with its target; each GOT slot with
/// its value. Targets and values are named where an open unit, an
/// `objdl_define` or the process's dynamic symbols say what is there.
/// Returns 0, or -1 (and an error for `objdl_dlerror`) if `handle` is not a
/// live unit handle.
///
/// # Safety
/// `handle` may be any value.
#[no_mangle]
pub unsafe extern "C" fn objdl_dump_relocations(handle: *mut c_void) -> c_int {
    guard(-1, || {
        state::unit_only(handle, "objdl_dump_relocations")?;
        let collected = state::with_handle(handle, dump::collect_relocations)?;
        dump::print(&collected.render())?;
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take() -> Option<String> {
        // SAFETY: the pointer is read at once, before any other call.
        let p = unsafe { objdl_dlerror() };
        // SAFETY: non-NULL results are NUL-terminated strings valid until the next call.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }

    #[test]
    fn a_panic_becomes_an_internal_error() {
        let r: c_int = guard(-1, || -> Result<c_int, String> { panic!("boom") });
        assert_eq!(r, -1);
        let msg = take().expect("an error");
        assert!(msg.starts_with("internal error: "), "{msg}");
        assert!(msg.contains("boom"), "{msg}");
        assert_eq!(take(), None);
    }

    #[test]
    fn modes_are_checked() {
        assert!(options(OBJDL_RTLD_GLOBAL | OBJDL_RTLD_NOEXEC).is_ok());
        assert!(options(OBJDL_RTLD_LOCAL | OBJDL_RTLD_LAZY).is_ok());
        assert!(options(OBJDL_RTLD_LOCAL).is_ok());
        let e = options(0x100).unwrap_err();
        assert!(e.contains("0x100"), "{e}");
    }

    #[test]
    fn placements_are_checked() {
        assert_eq!(placement_of(0), Ok(objdl::Placement::Auto));
        assert_eq!(placement_of(1), Ok(objdl::Placement::Far));
        assert_eq!(placement_of(2), Ok(objdl::Placement::Low));
        assert_eq!(
            placement_of(0x7000_0000_0000),
            Ok(objdl::Placement::At(0x7000_0000_0000))
        );
        let e = placement_of(0x1234).unwrap_err();
        assert!(e.contains("0x1234"), "{e}");
    }

    #[test]
    fn the_version_is_the_crates() {
        // SAFETY: a static NUL-terminated string.
        let v = unsafe { CStr::from_ptr(objdl_version()) };
        assert_eq!(v.to_str(), Ok(env!("CARGO_PKG_VERSION")));
    }

    #[test]
    fn unknown_handles_are_errors() {
        let mut local = 0u8;
        let bogus = ptr::addr_of_mut!(local).cast::<c_void>();
        // SAFETY: the API accepts any handle value and the name is a C string literal.
        unsafe {
            assert!(objdl_dlsym(bogus, c"x".as_ptr()).is_null());
            assert!(take().unwrap().contains("not a live objdl handle"));
            assert_eq!(objdl_dlclose(bogus), -1);
            assert_eq!(objdl_dlclose(ptr::null_mut()), -1);
            assert!(take().unwrap().contains("NULL"));
            assert_eq!(objdl_dump_exports(bogus), -1);
            let global = objdl_dlopen(ptr::null(), 0);
            assert!(!global.is_null());
            assert_eq!(objdl_dlclose(global), 0);
            assert_eq!(objdl_dump_relocations(global), -1);
            assert!(take().unwrap().contains("global handle"));
            assert!(!objdl_dlsym(global, c"strlen".as_ptr()).is_null());
        }
    }
}

//! The host side of symbol resolution: symbols the host registered with
//! [`crate::Linker::define`], and the process's default scope (`dlsym`),
//! which includes the libraries loaded with `-l`. `dlsym` answers are cached.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};

/// The host's symbols: explicit definitions first, then `dlsym`.
#[derive(Default)]
pub(crate) struct Host {
    defines: RwLock<FxHashMap<String, u64>>,
    dlsym_cache: Mutex<FxHashMap<String, Option<u64>>>,
    libraries: Mutex<Vec<Library>>,
}

/// A shared library opened with `dlopen(RTLD_NOW | RTLD_GLOBAL)`; it stays
/// loaded for the life of the process, like one linked with `-l`.
struct Library {
    #[allow(dead_code)]
    path: PathBuf,
}

impl Host {
    pub fn define(&self, name: &str, addr: u64) {
        self.defines
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), addr);
    }

    pub fn defined(&self, name: &str) -> Option<u64> {
        self.defines
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .copied()
    }

    /// Looks `name` up in the process's default scope, through the cache.
    pub fn dlsym(&self, name: &str) -> Option<u64> {
        let mut cache = self.dlsym_cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&hit) = cache.get(name) {
            return hit;
        }
        let found = dlsym_default(name);
        cache.insert(name.to_string(), found);
        found
    }

    /// Looks a batch of names up, taking the cache lock once.
    pub fn dlsym_many<'n>(
        &self,
        names: impl Iterator<Item = &'n str>,
        mut out: impl FnMut(&'n str, Option<u64>),
    ) {
        let mut cache = self.dlsym_cache.lock().unwrap_or_else(|e| e.into_inner());
        for name in names {
            let v = match cache.get(name) {
                Some(&hit) => hit,
                None => {
                    let found = dlsym_default(name);
                    cache.insert(name.to_string(), found);
                    found
                }
            };
            out(name, v);
        }
    }

    /// Loads a shared library into the default scope. `name` is a path, or a
    /// bare name `NAME` resolved as `-lNAME` on `search` and the system paths.
    pub fn load_library(&self, name: &str, search: &[PathBuf]) -> Result<()> {
        let paths = if name.contains('/') {
            vec![PathBuf::from(name)]
        } else {
            find_library(name, search)?
        };
        for path in paths {
            dlopen_global(&path).map_err(|why| Error::Library {
                name: name.to_string(),
                why,
            })?;
            self.libraries
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Library { path });
        }
        // New libraries can answer names that were missing before.
        self.dlsym_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, v| v.is_some());
        Ok(())
    }
}

/// The executable mappings of the process, from `/proc/self/maps`.
pub(crate) fn executable_ranges() -> Vec<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (range, perms) = (parts.next()?, parts.next()?);
            if perms.as_bytes().get(2) != Some(&b'x') {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            Some((
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
            ))
        })
        .collect()
}

/// `dladdr1`'s flag for "return the ELF symbol" (glibc's <dlfcn.h>).
const RTLD_DL_SYMENT: libc::c_int = 1;

fn dlsym_default(name: &str) -> Option<u64> {
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string; RTLD_DEFAULT searches the
    // global scope and dlsym only reads the name.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c.as_ptr()) };
    (!p.is_null()).then_some(p as u64)
}

/// The size (`st_size`) of the host symbol at `addr`, and whether it is a
/// function (`STT_FUNC` or `STT_GNU_IFUNC`), from its ELF symbol.
pub(crate) fn host_symbol(addr: u64) -> Option<(u64, bool)> {
    let mut info: libc::Dl_info = libc::Dl_info {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    let mut sym: *const libc::Elf64_Sym = std::ptr::null();
    // SAFETY: dladdr1 writes `info` and, with RTLD_DL_SYMENT, a pointer to the
    // symbol table entry into `sym`; both are valid out-pointers.
    let ok = unsafe {
        libc::dladdr1(
            addr as *const libc::c_void,
            &mut info,
            (&mut sym as *mut *const libc::Elf64_Sym).cast(),
            RTLD_DL_SYMENT,
        )
    };
    if ok == 0 || sym.is_null() || info.dli_saddr as u64 != addr {
        return None;
    }
    // SAFETY: dladdr1 returned a pointer into the loaded module's symbol table.
    let (size, info) = unsafe { ((*sym).st_size, (*sym).st_info) };
    Some((size, matches!(info & 0xf, 2 | 10)))
}

fn dlopen_global(path: &Path) -> std::result::Result<(), String> {
    let c = CString::new(path.as_os_str().as_encoded_bytes())
        .map_err(|_| "path contains a NUL byte".to_string())?;
    // SAFETY: `c` is NUL-terminated; dlopen runs the library's initialisers,
    // which is what loading a library means.
    let h = unsafe { libc::dlopen(c.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
    if h.is_null() {
        // SAFETY: dlerror returns a thread-local string or NULL.
        let e = unsafe { libc::dlerror() };
        let msg = if e.is_null() {
            "dlopen failed".to_string()
        } else {
            // SAFETY: non-NULL dlerror strings are NUL-terminated.
            unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
        };
        return Err(msg);
    }
    Ok(())
}

/// The system library directories searched after `-L` paths.
const SYSTEM_DIRS: &[&str] = &[
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
    "/usr/local/lib",
];

/// Finds `libNAME.so` on the search path. A `libNAME.so` that is a GNU ld
/// script (libc.so, libm.so) is read for the shared objects it names.
pub(crate) fn find_library(name: &str, search: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let file = format!("lib{name}.so");
    let dirs = search
        .iter()
        .cloned()
        .chain(SYSTEM_DIRS.iter().map(PathBuf::from));
    let mut tried = Vec::new();
    for dir in dirs {
        let p = dir.join(&file);
        if p.is_file() {
            return shared_objects_of(&p, name);
        }
        tried.push(p.display().to_string());
    }
    // No development symlink: let the dynamic loader search for the runtime name.
    if let Ok(p) = std::fs::read_dir("/lib/x86_64-linux-gnu") {
        let prefix = format!("{file}.");
        let mut found: Vec<PathBuf> = p
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|f| f.to_str())
                    .is_some_and(|f| f.starts_with(&prefix))
            })
            .collect();
        found.sort();
        if let Some(first) = found.into_iter().next() {
            return Ok(vec![first]);
        }
    }
    Err(Error::Library {
        name: name.to_string(),
        why: format!("lib{name}.so not found (tried {})", tried.join(", ")),
    })
}

/// The ELF shared objects a `libNAME.so` stands for: itself, or the
/// `.so` paths inside `GROUP(...)`/`INPUT(...)` when it is a linker script.
fn shared_objects_of(path: &Path, name: &str) -> Result<Vec<PathBuf>> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.starts_with(b"\x7fELF") {
        return Ok(vec![path.to_path_buf()]);
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut out = Vec::new();
    for token in text.split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
        if token.starts_with('/') && token.contains(".so") && Path::new(token).is_file() {
            // A script's archives (libc_nonshared.a) are served by objdl itself.
            out.push(PathBuf::from(token));
        }
    }
    if out.is_empty() {
        return Err(Error::Library {
            name: name.to_string(),
            why: format!(
                "{} is neither ELF nor a linker script naming shared objects",
                path.display()
            ),
        });
    }
    Ok(out)
}

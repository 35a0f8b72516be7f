//! The host side of symbol resolution: symbols the host registered with
//! [`crate::Linker::define`], and the process's default scope (`dlsym`),
//! which includes the libraries loaded with `-l`. `dlsym` answers are cached.

use std::ffi::{CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock};

use rustc_hash::FxHashMap;

use crate::hash::KeyedMap;

use crate::arch;
use crate::error::{Error, LibraryRefusal, Result};

/// The host's symbols: explicit definitions first, then `dlsym`.
#[derive(Default)]
pub(crate) struct Host {
    defines: RwLock<KeyedMap<String, u64>>,
    /// By names from the inputs.
    dlsym_cache: Mutex<KeyedMap<String, Option<u64>>>,
    /// Whether to resolve against the executable's own `.symtab`.
    use_exe_symtab: std::sync::atomic::AtomicBool,
    exe_symtab: std::sync::OnceLock<FxHashMap<String, u64>>,
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

    /// Whether anything was defined ([`crate::Linker::define`]).
    pub fn has_defines(&self) -> bool {
        !self
            .defines
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    pub fn defined(&self, name: &str) -> Option<u64> {
        self.defines
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .copied()
    }

    /// Resolves, from now on, names that `dlsym` does not know against the
    /// executable's own symbol table (`.symtab` of `/proc/self/exe`).
    pub fn use_executable_symbols(&self, yes: bool) {
        self.use_exe_symtab
            .store(yes, std::sync::atomic::Ordering::Release);
    }

    /// `name` in the executable's `.symtab`, if that is enabled.
    pub fn exe_symbol(&self, name: &str) -> Option<u64> {
        if !self
            .use_exe_symtab
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return None;
        }
        self.exe_symtab
            .get_or_init(read_exe_symtab)
            .get(name)
            .copied()
    }

    /// Looks `name` up in the process's default scope, through the cache.
    pub fn dlsym(&self, name: &str) -> Option<u64> {
        let mut cache = self.dlsym_cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&hit) = cache.get(name) {
            return hit;
        }
        let found = lookup_default(name);
        cache.insert(name.to_string(), found);
        found
    }

    /// Looks a batch of names up, taking the cache lock once. The names
    /// have no version (see [`Host::dlsym`] for those).
    pub fn dlsym_many<'n>(
        &self,
        names: impl Iterator<Item = &'n str>,
        mut out: impl FnMut(&'n str, Option<u64>),
    ) {
        let mut cache = self.dlsym_cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.reserve(names.size_hint().0);
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
            match find_library(name, search)? {
                LibraryFile::Shared(paths) => paths,
                LibraryFile::Static(path) => {
                    return Err(Error::Library {
                        name: name.to_string(),
                        why: LibraryRefusal::StaticArchive { path },
                    })
                }
            }
        };
        for path in paths {
            // dlopen would wait on a FIFO, or read a device: only a regular file.
            crate::input::file::open_input(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
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

/// Splits a versioned symbol name: `name@VER` into `(name, VER, false)`,
/// the default version `name@@VER` into `(name, VER, true)`; `None` for a
/// name without a version (or with an empty name or version).
///
/// ```text
/// memcpy@GLIBC_2.2.5   a reference to (or a definition of) that version only
/// foo@@V2              the default version: also what plain `foo` finds
/// ```
pub(crate) fn split_version(name: &str) -> Option<(&str, &str, bool)> {
    // A plain loop: most names have no `@`, and are short.
    let at = name.bytes().position(|b| b == b'@')?;
    let (base, rest) = (&name[..at], &name[at + 1..]);
    let (version, default) = match rest.strip_prefix('@') {
        Some(v) => (v, true),
        None => (rest, false),
    };
    (!base.is_empty() && !version.is_empty() && !version.contains('@'))
        .then_some((base, version, default))
}

/// `name` in the process's default scope, not cached.
pub(crate) fn dlsym_uncached(name: &str) -> Option<u64> {
    lookup_default(name)
}

/// `name`, or `name@VER` at that version, in the process's default scope.
fn lookup_default(name: &str) -> Option<u64> {
    match split_version(name) {
        Some((base, version, _)) => dlvsym_default(base, version),
        None => dlsym_default(name),
    }
}

fn dlsym_default(name: &str) -> Option<u64> {
    if name.as_bytes().contains(&0) {
        return None; // no symbol has a NUL in its name
    }
    // Names are short: made C strings on the stack, not on the heap.
    let mut buf = [0u8; 256];
    let heap;
    let c: &std::ffi::CStr = if name.len() < buf.len() {
        buf[..name.len()].copy_from_slice(name.as_bytes());
        std::ffi::CStr::from_bytes_until_nul(&buf).ok()?
    } else {
        heap = CString::new(name).ok()?;
        &heap
    };
    // SAFETY: `c` is a valid NUL-terminated string; RTLD_DEFAULT searches the
    // global scope and dlsym only reads the name.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c.as_ptr()) };
    (!p.is_null()).then_some(p as u64)
}

/// `name` at version `version` in the process's default scope (`dlvsym`).
fn dlvsym_default(name: &str, version: &str) -> Option<u64> {
    let name = CString::new(name).ok()?;
    let version = CString::new(version).ok()?;
    // SAFETY: both are NUL-terminated strings; RTLD_DEFAULT searches the
    // global scope and dlvsym only reads them.
    let p = unsafe { libc::dlvsym(libc::RTLD_DEFAULT, name.as_ptr(), version.as_ptr()) };
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

fn dlopen_global(path: &Path) -> std::result::Result<(), LibraryRefusal> {
    let c =
        CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| LibraryRefusal::NulInPath)?;
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
        return Err(LibraryRefusal::Dlopen { dlerror: msg });
    }
    Ok(())
}

/// The system library directories searched after `-L` paths: the
/// multiarch ones first (`/lib/x86_64-linux-gnu`: [`arch::MULTIARCH`]).
fn system_dirs() -> &'static [PathBuf] {
    static DIRS: std::sync::OnceLock<Vec<PathBuf>> = std::sync::OnceLock::new();
    DIRS.get_or_init(|| {
        let multiarch = |root: &str| Path::new(root).join(arch::MULTIARCH);
        let mut dirs = vec![multiarch("/lib"), multiarch("/usr/lib")];
        dirs.extend(
            ["/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib"].map(PathBuf::from),
        );
        dirs
    })
}

/// What `-lNAME` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LibraryFile {
    /// Shared objects to load into the process (one, or those a linker
    /// script such as libm.so names).
    Shared(Vec<PathBuf>),
    /// A static archive, to link into the unit.
    Static(PathBuf),
}

/// Finds `-lNAME` as GNU ld does: in each of `search`, then the system
/// directories, `libNAME.so` or else `libNAME.a`. A `libNAME.so` that is a
/// GNU ld script (libc.so, libm.so) is read for the shared objects it names.
///
/// ```
/// match objdl::find_library("m", &[]) {
///     Ok(objdl::LibraryFile::Shared(paths)) => assert!(!paths.is_empty()),
///     other => panic!("{other:?}"),
/// }
/// ```
pub fn find_library(name: &str, search: &[PathBuf]) -> Result<LibraryFile> {
    let (shared, archive) = (format!("lib{name}.so"), format!("lib{name}.a"));
    let dirs = search.iter().cloned().chain(system_dirs().iter().cloned());
    let mut tried = Vec::new();
    for dir in dirs {
        let p = dir.join(&shared);
        if p.is_file() {
            return shared_objects_of(&p, name).map(LibraryFile::Shared);
        }
        let a = dir.join(&archive);
        if a.is_file() {
            return Ok(LibraryFile::Static(a));
        }
        tried.push(dir);
    }
    // No development symlink: the runtime name, as the dynamic loader has it.
    if let Ok(p) = std::fs::read_dir(&system_dirs()[0]) {
        let prefix = format!("{shared}.");
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
            return Ok(LibraryFile::Shared(vec![first]));
        }
    }
    Err(Error::Library {
        name: name.to_string(),
        why: LibraryRefusal::NotFound {
            name: name.to_string(),
            searched: tried,
        },
    })
}

/// The most of a `libNAME.so` read as a linker script (glibc's are a few
/// hundred bytes).
const MAX_SCRIPT: u64 = 64 << 10;

/// The ELF shared objects a `libNAME.so` stands for: itself, or the
/// `.so` paths inside `GROUP(...)`/`INPUT(...)` when it is a linker script.
fn shared_objects_of(path: &Path, name: &str) -> Result<Vec<PathBuf>> {
    use std::io::Read as _;
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let (file, len) = crate::input::file::open_input(path).map_err(io)?;
    // A linker script is a few hundred bytes: read no more than a script's worth.
    let mut bytes = Vec::new();
    file.take(MAX_SCRIPT).read_to_end(&mut bytes).map_err(io)?;
    if bytes.starts_with(b"\x7fELF") {
        return Ok(vec![path.to_path_buf()]);
    }
    if len > MAX_SCRIPT {
        return Err(Error::Library {
            name: name.to_string(),
            why: LibraryRefusal::NotSharedObject {
                path: path.to_path_buf(),
                len,
            },
        });
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
            why: LibraryRefusal::ScriptWithoutObjects {
                path: path.to_path_buf(),
            },
        });
    }
    Ok(out)
}

/// The executable's defined functions and objects from its `.symtab`, at
/// their run-time addresses. Global symbols win over local ones of the same
/// name. Empty when the executable is stripped or cannot be read.
fn read_exe_symtab() -> FxHashMap<String, u64> {
    use object::elf;
    use object::read::elf::{FileHeader, ProgramHeader, Sym};
    let mut out = FxHashMap::default();
    let Ok(bytes) = std::fs::read("/proc/self/exe") else {
        return out;
    };
    let e = object::LittleEndian;
    let Ok(header) = elf::FileHeader64::<object::LittleEndian>::parse(&*bytes) else {
        return out;
    };
    // Load bias: where the program headers are now, less where they were linked.
    let bias = if header.e_type(e) == elf::ET_DYN {
        let Ok(phdrs) = header.program_headers(e, &*bytes) else {
            return out;
        };
        let linked = phdrs
            .iter()
            .find(|p| p.p_type(e) == elf::PT_PHDR)
            .map(|p| p.p_vaddr(e))
            .or_else(|| {
                let first = phdrs
                    .iter()
                    .find(|p| p.p_type(e) == elf::PT_LOAD && p.p_offset(e) == 0)?;
                Some(first.p_vaddr(e) + header.e_phoff(e))
            });
        // SAFETY: getauxval only reads the auxiliary vector.
        let now = unsafe { libc::getauxval(libc::AT_PHDR) };
        match linked {
            Some(l) if now != 0 => now.wrapping_sub(l),
            _ => return out,
        }
    } else {
        0
    };
    let Ok(sections) = header.sections(e, &*bytes) else {
        return out;
    };
    let Ok(symtab) = sections.symbols(e, &*bytes, elf::SHT_SYMTAB) else {
        return out;
    };
    for sym in symtab.iter() {
        let kind = sym.st_type();
        if sym.st_shndx(e) == elf::SHN_UNDEF || !(kind == elf::STT_FUNC || kind == elf::STT_OBJECT)
        {
            continue;
        }
        let Ok(name) = symtab.symbol_name(e, sym) else {
            continue;
        };
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        let addr = sym.st_value(e).wrapping_add(bias);
        if sym.st_bind() == elf::STB_LOCAL {
            out.entry(name.to_string()).or_insert(addr);
        } else {
            out.insert(name.to_string(), addr);
        }
    }
    out
}

/// The glibc TLS module whose block, in the calling thread, holds `addr`,
/// and `addr`'s offset in it: what a `tls_index` for that variable holds.
pub(crate) fn tls_module_of(addr: u64) -> Option<(u64, u64)> {
    struct Search {
        addr: u64,
        found: Option<(u64, u64)>,
    }
    unsafe extern "C" fn visit(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes a valid info and our `Search`.
        let (info, search) = unsafe { (&*info, &mut *(data as *mut Search)) };
        if info.dlpi_tls_data.is_null() || info.dlpi_phdr.is_null() {
            return 0;
        }
        // SAFETY: dlpi_phdr points at dlpi_phnum program headers.
        let phdrs =
            unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
        let Some(tls) = phdrs.iter().find(|p| p.p_type == libc::PT_TLS) else {
            return 0;
        };
        let start = info.dlpi_tls_data as u64;
        if (start..start + tls.p_memsz).contains(&search.addr) {
            search.found = Some(((info.dlpi_tls_modid) as u64, search.addr - start));
            return 1;
        }
        0
    }
    let mut search = Search { addr, found: None };
    // SAFETY: `visit` only reads what dl_iterate_phdr gives it and writes `search`.
    unsafe { libc::dl_iterate_phdr(Some(visit), (&mut search as *mut Search).cast()) };
    search.found
}

//! Stage 7b, register with tools: debuggers (the GDB JIT interface) and
//! profilers (`/tmp/perf-PID.map`).
//!
//! GDB: each object of a unit is registered as an in-memory copy of the
//! object whose loaded sections have `sh_addr` set to where they were
//! loaded. GDB reads it like `add-symbol-file` reads a relocatable file:
//! symbols and DWARF (when the object has `-g`) at the loaded addresses,
//! applying the debug sections' relocations itself. The entry is removed
//! when the unit closes.
//!
//! perf: one `START SIZE NAME` line per function and trampoline, appended
//! to `/tmp/perf-PID.map`; a unit's close appends a line saying so.

use std::io::Write as _;
use std::sync::{Mutex, OnceLock};

use object::elf;
use object::read::elf::FileHeader;
use object::LittleEndian as LE;

/// `struct jit_code_entry` of GDB's JIT interface.
#[repr(C)]
struct JitCodeEntry {
    next: *mut JitCodeEntry,
    prev: *mut JitCodeEntry,
    symfile_addr: *const u8,
    symfile_size: u64,
}

/// `struct jit_descriptor` of GDB's JIT interface.
#[repr(C)]
pub struct JitDescriptor {
    version: u32,
    action_flag: u32,
    relevant_entry: *mut JitCodeEntry,
    first_entry: *mut JitCodeEntry,
}

const JIT_REGISTER: u32 = 1;
const JIT_UNREGISTER: u32 = 2;

/// The descriptor GDB reads. Only touched under [`JIT_LOCK`].
#[no_mangle]
#[used]
pub static mut __jit_debug_descriptor: JitDescriptor = JitDescriptor {
    version: 1,
    action_flag: 0,
    relevant_entry: std::ptr::null_mut(),
    first_entry: std::ptr::null_mut(),
};

/// GDB puts a breakpoint here and reads the descriptor when it is hit.
#[no_mangle]
#[inline(never)]
pub extern "C" fn __jit_debug_register_code() {
    // Something the optimiser must keep, so the function stays a call target.
    std::hint::black_box(());
}

static JIT_LOCK: Mutex<()> = Mutex::new(());

/// An entry in GDB's list. Unregistered on drop.
pub(crate) struct GdbEntry {
    entry: *mut JitCodeEntry,
    _image: Box<[u8]>,
}

// SAFETY: the entry is only touched under JIT_LOCK.
unsafe impl Send for GdbEntry {}
// SAFETY: as above; `&GdbEntry` exposes nothing.
unsafe impl Sync for GdbEntry {}

/// Should units be registered with a debugger? Yes when one is attached
/// (`TracerPid` in /proc/self/status) or `OBJDL_GDB=1`; decided once.
pub(crate) fn debugger_wanted() -> bool {
    static WANTED: OnceLock<bool> = OnceLock::new();
    *WANTED.get_or_init(|| {
        if std::env::var_os("OBJDL_GDB").is_some_and(|v| v != "0") {
            return true;
        }
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status.lines().any(|l| {
            l.strip_prefix("TracerPid:")
                .is_some_and(|p| p.trim() != "0")
        })
    })
}

/// Should perf map lines be written? `OBJDL_PERF_MAP=1`; decided once.
pub(crate) fn perf_map_wanted() -> bool {
    static WANTED: OnceLock<bool> = OnceLock::new();
    *WANTED.get_or_init(|| std::env::var_os("OBJDL_PERF_MAP").is_some_and(|v| v != "0"))
}

/// Registers `object` (the object file's bytes) with GDB, with section `i`
/// at `addresses[i]` (0 for sections that were not loaded).
pub(crate) fn register(object: &[u8], addresses: &[u64]) -> Option<GdbEntry> {
    let mut image = object.to_vec().into_boxed_slice();
    set_section_addresses(&mut image, addresses)?;
    let entry = Box::into_raw(Box::new(JitCodeEntry {
        next: std::ptr::null_mut(),
        prev: std::ptr::null_mut(),
        symfile_addr: image.as_ptr(),
        symfile_size: image.len() as u64,
    }));
    let _guard = JIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: the descriptor and the list are only changed under JIT_LOCK;
    // `entry` is a fresh allocation that stays alive until unregistered.
    unsafe {
        let d = &raw mut __jit_debug_descriptor;
        (*entry).next = (*d).first_entry;
        if !(*d).first_entry.is_null() {
            (*(*d).first_entry).prev = entry;
        }
        (*d).first_entry = entry;
        (*d).relevant_entry = entry;
        (*d).action_flag = JIT_REGISTER;
    }
    __jit_debug_register_code();
    Some(GdbEntry {
        entry,
        _image: image,
    })
}

impl Drop for GdbEntry {
    fn drop(&mut self) {
        let _guard = JIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: `entry` is in the list (registered by `register`), which
        // is only changed under JIT_LOCK; it is unlinked, then freed once.
        unsafe {
            let d = &raw mut __jit_debug_descriptor;
            let e = self.entry;
            if !(*e).prev.is_null() {
                (*(*e).prev).next = (*e).next;
            } else {
                (*d).first_entry = (*e).next;
            }
            if !(*e).next.is_null() {
                (*(*e).next).prev = (*e).prev;
            }
            (*d).relevant_entry = e;
            (*d).action_flag = JIT_UNREGISTER;
            __jit_debug_register_code();
            drop(Box::from_raw(e));
        }
    }
}

/// Writes each loaded section's address into its header's `sh_addr`.
fn set_section_addresses(image: &mut [u8], addresses: &[u64]) -> Option<()> {
    let e = LE;
    let header = elf::FileHeader64::<LE>::parse(&*image).ok()?;
    let shoff = header.e_shoff(e) as usize;
    let entsize = usize::from(header.e_shentsize(e));
    if entsize != std::mem::size_of::<elf::SectionHeader64<LE>>() {
        return None;
    }
    for (i, &addr) in addresses.iter().enumerate() {
        if addr == 0 {
            continue;
        }
        let at = shoff.checked_add(i.checked_mul(entsize)?)?;
        let bytes = image.get_mut(at..at.checked_add(entsize)?)?;
        let (sh, _) = object::pod::from_bytes_mut::<elf::SectionHeader64<LE>>(bytes).ok()?;
        sh.sh_addr.set(e, addr);
    }
    Some(())
}

/// Appends `START SIZE NAME` lines to `/tmp/perf-PID.map` (see [`open_perf_map`]).
pub(crate) fn perf_map_write(lines: &[(u64, u64, String)]) {
    static FILE: Mutex<()> = Mutex::new(());
    let _guard = FILE.lock().unwrap_or_else(|e| e.into_inner());
    let Some(mut f) = open_perf_map() else {
        return;
    };
    let mut text = String::new();
    for (start, size, name) in lines {
        text.push_str(&format!("{start:x} {size:x} {name}\n"));
    }
    let _ = f.write_all(text.as_bytes());
}

/// Opens `/tmp/perf-PID.map` to append to it, as only this user may: never
/// through a symbolic link (`O_NOFOLLOW`), nor a FIFO (`O_NONBLOCK`, then
/// `fstat`), created mode 0600, and kept only if it is a regular file that
/// this user owns, with one link. In `/tmp` anyone may have made that name
/// first: a link to a file of ours that objdl would append to, or a file of
/// theirs that would receive our addresses. Otherwise one warning on
/// stderr, once, and no map.
fn open_perf_map() -> Option<std::fs::File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let path = format!("/tmp/perf-{}.map", std::process::id());
    let opened = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(&path);
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let why = match opened.as_ref().map(std::fs::File::metadata) {
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => "it is a symbolic link".to_string(),
        Err(e) => e.to_string(),
        Ok(Err(e)) => e.to_string(),
        Ok(Ok(m)) if !m.file_type().is_file() => "it is not a regular file".to_string(),
        Ok(Ok(m)) if m.uid() != me => format!("it belongs to user {}, not to this one", m.uid()),
        Ok(Ok(m)) if m.nlink() != 1 => format!("it has {} links", m.nlink()),
        Ok(Ok(_)) => return opened.ok(),
    };
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!("objdl: warning: {path}: not written: {why}");
    }
    None
}

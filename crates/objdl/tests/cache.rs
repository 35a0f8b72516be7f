//! The persistent cache ([`OpenOptions::cache`]): a second load of the same
//! inputs comes from the cache and is the unit a link makes; anything that
//! differs is a miss and a fresh link, never a wrong unit.

use objdl_testkit as common;
use std::path::{Path, PathBuf};

use objdl::{Error, Linker, OpenOptions, Placement, Symbol, Unit};

/// One test at a time: a unit another test links meanwhile could take the
/// place a cached unit goes back to (a legitimate miss, not the one a test
/// expects).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn sqlite() -> Vec<PathBuf> {
    let d = common::sqlite_dir().join("pie");
    vec![d.join("sqlite3.o"), d.join("shell.o")]
}

fn open(linker: &Linker, inputs: &[PathBuf], dir: &Path, place: Placement) -> objdl::Result<Unit> {
    // SAFETY: SQLite has no constructors.
    unsafe {
        OpenOptions::new()
            .cache(Some(dir))
            .placement(place)
            .open(linker, inputs.iter())
    }
}

/// The unit's bytes, as they are.
fn image(unit: &Unit) -> Vec<u8> {
    let s = unit.stats();
    // SAFETY: every page of a loaded unit is readable.
    unsafe { std::slice::from_raw_parts(s.base as *const u8, s.size as usize) }.to_vec()
}

fn version(unit: &Unit) -> String {
    // SAFETY: `const char *sqlite3_libversion(void)`.
    let f: Symbol<extern "C" fn() -> *const std::ffi::c_char> =
        unsafe { unit.get("sqlite3_libversion") }.unwrap();
    // SAFETY: a static C string of SQLite's.
    unsafe { std::ffi::CStr::from_ptr(f()) }
        .to_string_lossy()
        .into_owned()
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "objdl"))
        .collect()
}

#[test]
fn a_hit_is_the_unit_a_link_makes() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let linker = Linker::new();
    let inputs = sqlite();
    let first = open(&linker, &inputs, dir.path(), Placement::Auto).unwrap();
    assert!(!first.stats().cached);
    let (linked, base) = (image(&first), first.stats().base);
    let v = version(&first);
    first.close();
    assert_eq!(entries(dir.path()).len(), 1, "one entry written");
    let second = open(&linker, &inputs, dir.path(), Placement::Auto).unwrap();
    assert!(second.stats().cached, "{}", second.stats());
    assert_eq!(version(&second), v);
    if second.stats().base == base {
        assert!(image(&second) == linked, "the same bytes at the same base");
    }
    assert_eq!(objdl::cache_stats(dir.path()).entries, 1);
}

#[test]
fn what_differs_is_a_miss() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let linker = Linker::new();
    let work = tempfile::tempdir().unwrap();
    // Copies of the inputs, to change.
    let inputs: Vec<PathBuf> = sqlite()
        .iter()
        .map(|p| {
            let to = work.path().join(p.file_name().unwrap());
            std::fs::copy(p, &to).unwrap();
            to
        })
        .collect();
    open(&linker, &inputs, dir.path(), Placement::Auto)
        .unwrap()
        .close();
    let hit = || open(&linker, &inputs, dir.path(), Placement::Auto).unwrap();
    let u = hit();
    assert!(u.stats().cached);
    let base = u.stats().base;
    u.close();

    // Other options: another key.
    // SAFETY: nothing of the unit runs.
    let u = unsafe {
        OpenOptions::new()
            .cache(Some(dir.path()))
            .no_exec(true)
            .open(&linker, inputs.iter())
    }
    .unwrap();
    assert!(!u.stats().cached);
    u.close();

    // The place taken: the unit elsewhere (where the kernel likes, near
    // the libraries), still from the cache: every address it holds, and
    // every PC-relative reference out of it, moved; and it runs.
    // SAFETY: an anonymous mapping of our own at a free address, or none.
    let taken = unsafe {
        libc::mmap(
            base as *mut libc::c_void,
            4096,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if taken as u64 == base {
        let u = hit();
        assert_ne!(u.stats().base, base, "its place is taken");
        assert!(u.stats().cached);
        assert!(!version(&u).is_empty());
        u.close();
        // SAFETY: our own mapping.
        unsafe { libc::munmap(taken, 4096) };
    }

    // A damaged, truncated, foreign or half-written file (of the one entry
    // there is now).
    objdl::cache_clear(dir.path()).unwrap();
    open(&linker, &inputs, dir.path(), Placement::Auto)
        .unwrap()
        .close();
    let entry = entries(dir.path()).pop().unwrap();
    let good = std::fs::read(&entry).unwrap();
    let damages: Vec<Vec<u8>> = vec![
        {
            let mut b = good.clone();
            let at = b.len() - 100;
            b[at] ^= 0x40;
            b
        },
        good[..good.len() / 2].to_vec(),
        {
            let mut b = good.clone();
            b[17] ^= 1; // in objdl's version
            b
        },
    ];
    for bad in damages {
        std::fs::write(&entry, &bad).unwrap();
        let u = hit();
        assert!(!u.stats().cached);
        u.close();
    }
    // Half-written: only a temporary file.
    for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
        std::fs::remove_file(e.path()).unwrap();
    }
    std::fs::write(dir.path().join(".tmp-1-2"), &good[..100]).unwrap();
    let u = hit();
    assert!(!u.stats().cached);
    u.close();

    // A changed input (here, only touched): a miss, then a hit again.
    std::fs::write(&inputs[1], std::fs::read(&inputs[1]).unwrap()).unwrap();
    let u = hit();
    assert!(!u.stats().cached, "an input changed");
    u.close();
    assert!(hit().stats().cached);
}

#[test]
fn a_cache_directory_others_may_write_is_refused() {
    let _serial = serial();
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = open(&Linker::new(), &sqlite(), dir.path(), Placement::Auto).unwrap_err();
    assert!(matches!(err, Error::Cache { .. }), "{err}");
    assert!(err.to_string().contains("writable by others"), "{err}");
}

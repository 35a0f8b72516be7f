//! In-process open + close of the SQLite objects (sqlite3.o + shell.o), per
//! flavour. The objects come from `scripts/fetch-sqlite.sh` (run on demand).
//! `pie-cached`: the PIE objects from the cache (`OpenOptions::cache`),
//! filled by a first open.
//!
//! The anchor, `dlopen-so`: `dlopen(RTLD_NOW | RTLD_LOCAL)` + `dlclose` of
//! the same code linked by gcc into a shared object (the -fPIC objects).
//!
//! `cargo bench -p objdl --bench open_close`

use objdl_testkit as common;

use criterion::{criterion_group, criterion_main, Criterion};
use objdl::{Linker, OpenOptions, Placement};

fn open_close(c: &mut Criterion) {
    let dir = common::sqlite_dir();
    let linker = Linker::new();
    let mut group = c.benchmark_group("sqlite_open_close");
    for (flavour, place) in [
        ("pie", Placement::Auto),
        ("pic", Placement::Auto),
        ("large", Placement::Auto),
        ("pic", Placement::Far),
    ] {
        let inputs = [
            dir.join(flavour).join("sqlite3.o"),
            dir.join(flavour).join("shell.o"),
        ];
        let name = format!("{flavour}-{place:?}").to_lowercase();
        group.bench_function(name, |b| {
            b.iter(|| {
                // SAFETY: the SQLite objects have no constructors; opening
                // and closing them runs no code of theirs.
                let unit = unsafe {
                    OpenOptions::new()
                        .placement(place)
                        .open(&linker, inputs.iter())
                }
                .expect("open");
                unit.close();
            })
        });
    }
    // Warm: from the cache, after a first open filled it.
    let cache = tempfile::tempdir().expect("a cache directory");
    let inputs = [dir.join("pie/sqlite3.o"), dir.join("pie/shell.o")];
    let open_cached = || {
        // SAFETY: as above.
        unsafe {
            OpenOptions::new()
                .cache(Some(cache.path()))
                .open(&linker, inputs.iter())
        }
        .expect("open")
    };
    open_cached().close();
    group.bench_function("pie-cached", |b| {
        b.iter(|| {
            let unit = open_cached();
            assert!(unit.stats().cached);
            unit.close();
        })
    });
    // The same code as a shared object, through the dynamic linker.
    let so = std::env::temp_dir().join(format!("objdl-bench-{}.so", std::process::id()));
    let status = std::process::Command::new("gcc")
        .arg("-shared")
        .arg("-o")
        .arg(&so)
        .arg(dir.join("pic/sqlite3.o"))
        .arg(dir.join("pic/shell.o"))
        .arg("-lm")
        .status()
        .expect("run gcc");
    assert!(status.success(), "gcc -shared failed");
    let path = std::ffi::CString::new(so.as_os_str().as_encoded_bytes()).expect("a C path");
    group.bench_function("dlopen-so", |b| {
        b.iter(|| {
            // SAFETY: dlopen of a shared object built just now from SQLite,
            // whose initialisers do nothing; closed right after.
            unsafe {
                let h = libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
                assert!(!h.is_null(), "dlopen failed");
                libc::dlclose(h);
            }
        })
    });
    let _ = std::fs::remove_file(&so);
    group.finish();
}

criterion_group!(benches, open_close);
criterion_main!(benches);

//! In-process open + close of the SQLite objects (sqlite3.o + shell.o), per
//! flavour. The objects come from `scripts/fetch-sqlite.sh` (run on demand).
//!
//! `cargo bench -p objdl --bench open_close`

use std::path::{Path, PathBuf};
use std::process::Command;

use criterion::{criterion_group, criterion_main, Criterion};
use objdl::{Linker, OpenOptions, Placement};

fn sqlite_dir() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new("bash")
        .arg(repo.join("scripts/fetch-sqlite.sh"))
        .output()
        .expect("run scripts/fetch-sqlite.sh");
    assert!(
        out.status.success(),
        "fetch-sqlite.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

fn open_close(c: &mut Criterion) {
    let dir = sqlite_dir();
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
    group.finish();
}

criterion_group!(benches, open_close);
criterion_main!(benches);

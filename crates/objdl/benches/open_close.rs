//! In-process open + close of the SQLite objects (sqlite3.o + shell.o), per
//! flavour. The objects come from `scripts/fetch-sqlite.sh` (run on demand).
//!
//! `cargo bench -p objdl --bench open_close`

#[path = "../tests/common/mod.rs"]
mod common;

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
    group.finish();
}

criterion_group!(benches, open_close);
criterion_main!(benches);

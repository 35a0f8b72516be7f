//! Symbol lookup in a unit exporting 10,000 functions: `Unit::get` and
//! `Unit::address`, hits and misses. The object is generated and compiled
//! at bench time.
//!
//! `cargo bench -p objdl --bench lookup`

use objdl_testkit as common;

use std::fmt::Write as _;

use criterion::{criterion_group, criterion_main, Criterion};
use objdl::{Linker, Symbol};

const SYMBOLS: usize = 10_000;

fn lookup(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for i in 0..SYMBOLS {
        writeln!(text, "int function_number_{i}(void) {{ return {i}; }}").unwrap();
    }
    let obj = common::compile_c("gcc", &["-O1"], dir.path(), "many", &text);

    let linker = Linker::new();
    // SAFETY: the generated object has no constructors.
    let unit = unsafe { linker.open(&obj) }.unwrap();
    assert_eq!(unit.exports().count(), SYMBOLS);
    let names: Vec<String> = (0..SYMBOLS)
        .step_by(97)
        .map(|i| format!("function_number_{i}"))
        .collect();

    let mut group = c.benchmark_group("lookup_10000");
    group.bench_function("get", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % names.len();
            // SAFETY: every generated function is `int (void)`.
            let f: Symbol<extern "C" fn() -> i32> = unsafe { unit.get(&names[i]) }.unwrap();
            std::hint::black_box(*f);
        })
    });
    group.bench_function("address_hit", |b| {
        let mut i = 0;
        b.iter(|| {
            i = (i + 1) % names.len();
            std::hint::black_box(unit.address(&names[i]))
        })
    });
    group.bench_function("address_miss", |b| {
        b.iter(|| std::hint::black_box(unit.address("no_such_function_here")))
    });
    group.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);

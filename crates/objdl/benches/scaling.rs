//! How opening a unit scales with the number of units already loaded in the
//! namespace: 1, 10, 100 and 1,000 small `Scope::Global` units are open,
//! and the bench times opening (and closing) one more small unit, a Local
//! one that calls into the first Global unit, reads its data and calls libc,
//! placed `auto` (where the kernel puts it, if that is in reach) and `far`
//! (which reads `/proc/self/maps` to keep 4 GiB from every mapping).
//!
//! The Global units are one object compiled once (`gcc -O2 -fPIC -c`), its
//! symbol names renamed per copy in the bytes (`scale_u00000_*` becomes
//! `scale_u00042_*`), so every unit exports names of its own.
//!
//! For load time against object size, see the `relocs` bench.
//!
//! `cargo bench -p objdl --bench scaling`

use objdl_testkit as common;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use objdl::{Input, Linker, OpenOptions, Placement, Scope, Symbol, Unit};

const LEVELS: [usize; 4] = [1, 10, 100, 1000];
const TEMPLATE_NAME: &[u8] = b"scale_u00000_";

const GLOBAL_UNIT: &str = r#"
#include <string.h>
int scale_u00000_data = 1;
const char *scale_u00000_name = "unit";
int scale_u00000_f(int x) { return x + scale_u00000_data; }
int scale_u00000_g(const char *s) { return (int)strlen(s) + scale_u00000_f(1); }
"#;

const PROBE: &str = r#"
#include <stdio.h>
#include <string.h>
extern int scale_u00000_data;
extern int scale_u00000_f(int);
extern int scale_u00000_g(const char *);
int probe(int x) {
    char buf[32];
    snprintf(buf, sizeof buf, "%d", x);
    return scale_u00000_f(x) + scale_u00000_g(buf) + scale_u00000_data + (int)strlen(buf);
}
"#;

/// The template object with `scale_u00000_` renamed to `scale_uNNNNN_`.
fn renamed(template: &[u8], k: usize) -> Vec<u8> {
    let new = format!("scale_u{k:05}_");
    let mut out = template.to_vec();
    let mut i = 0;
    while i + TEMPLATE_NAME.len() <= out.len() {
        if &out[i..i + TEMPLATE_NAME.len()] == TEMPLATE_NAME {
            out[i..i + TEMPLATE_NAME.len()].copy_from_slice(new.as_bytes());
            i += TEMPLATE_NAME.len();
        } else {
            i += 1;
        }
    }
    out
}

fn scaling(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let template = std::fs::read(common::compile(
        dir.path(),
        "global",
        GLOBAL_UNIT,
        &["-fPIC"],
    ))
    .unwrap();
    let probe = std::fs::read(common::compile(dir.path(), "probe", PROBE, &["-fPIC"])).unwrap();

    let linker = Linker::new();
    let mut global = OpenOptions::new();
    global.scope(Scope::Global);
    let mut loaded: Vec<Unit> = Vec::new();

    let mut group = c.benchmark_group("open_with_n_units_loaded");
    group.sample_size(50);
    for level in LEVELS {
        while loaded.len() < level {
            let k = loaded.len();
            let input = Input::bytes(format!("u{k:05}.o"), renamed(&template, k));
            // SAFETY: the generated object has no constructors.
            loaded.push(unsafe { global.open(&linker, [input]) }.expect("open a Global unit"));
        }
        // Check the probe binds to the first Global unit.
        // SAFETY: the probe has no constructors.
        let unit = unsafe { linker.open_bytes("probe.o", &probe) }.expect("open the probe");
        // SAFETY: `probe` is `int probe(int)`.
        let f: Symbol<extern "C" fn(i32) -> i32> = unsafe { unit.get("probe") }.unwrap();
        assert_eq!(f(41), 42 + (2 + 2) + 1 + 2);
        eprintln!("scaling: {level} units loaded: probe {}", unit.stats());
        unit.close();

        for (name, place) in [("auto", Placement::Auto), ("far", Placement::Far)] {
            let mut opts = OpenOptions::new();
            opts.placement(place);
            group.bench_with_input(BenchmarkId::new(name, level), &level, |b, _| {
                b.iter(|| {
                    let input = Input::bytes("probe.o", probe.clone());
                    // SAFETY: the probe has no constructors.
                    let unit = unsafe { opts.open(&linker, [input]) }.expect("open the probe");
                    unit.close();
                })
            });
        }
    }
    group.finish();
    for unit in loaded.into_iter().rev() {
        unit.close();
    }
}

criterion_group!(benches, scaling);
criterion_main!(benches);

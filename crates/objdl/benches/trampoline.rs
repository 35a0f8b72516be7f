//! Call overhead of a trampoline against a direct call.
//!
//! `callee.o` (`int add1(int)`) is opened once with `Scope::Global`. The
//! caller, `loop.o`, has `long loop(long n)`, a loop in C that calls `add1`
//! `n` times; it is opened twice: with `Placement::Auto`, next to
//! `callee.o` (`call rel32` straight to `add1`, no trampoline), and with
//! `Placement::Far` (> 4 GiB from everything: `call rel32` to a trampoline
//! `jmp *0(%rip)`, then `add1`). The same pair is measured with `add1` a
//! host (Rust) function given with `Linker::define`.
//!
//! Two callers: `loop`, whose calls are independent (`s += add1(i)`), and
//! `chain`, where each call takes the previous result (`x = add1(x)`).
//! Criterion measures `f(CALLS)` and reports calls per second; after the
//! criterion groups the bench prints ns/call for each variant and the
//! difference (median of repeated runs).
//!
//! `cargo bench -p objdl --bench trampoline`

use objdl_testkit as common;

use std::path::Path;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use objdl::{Linker, OpenOptions, Placement, Scope, Symbol, Unit};

/// Calls per `loop` invocation.
const CALLS: i64 = 100_000;

const CALLEE: &str = r#"
__attribute__((noinline)) int add1(int x) { return x + 1; }
"#;

// `add1` is defined in another unit (or by the host), so gcc cannot inline
// or fold it; the loop's sum depends on every call's result.
const LOOP: &str = r#"
extern int add1(int);
__attribute__((noinline)) long loop(long n) {
    long s = 0;
    for (long i = 0; i < n; i++)
        s += add1((int)i);
    return s;
}
/* Each call waits for the previous one's result. */
__attribute__((noinline)) long chain(long n) {
    int x = 0;
    for (long i = 0; i < n; i++)
        x = add1(x);
    return x;
}
"#;

extern "C" fn host_add1(x: i32) -> i32 {
    x.wrapping_add(1)
}

fn open(linker: &Linker, obj: &Path, place: Placement) -> Unit {
    // SAFETY: the generated objects have no constructors.
    unsafe { OpenOptions::new().placement(place).open(linker, [obj]) }.expect("open")
}

type LoopFn = extern "C" fn(i64) -> i64;

/// What `loop(CALLS)` and `chain(CALLS)` return.
fn expected(func: &str) -> i64 {
    match func {
        "loop" => (0..CALLS).map(|i| i + 1).sum(),
        _ => CALLS,
    }
}

/// Median ns/call over repeated runs of `f(CALLS)`.
fn ns_per_call(f: LoopFn, expected: i64) -> f64 {
    let mut samples: Vec<f64> = (0..101)
        .map(|_| {
            let t = Instant::now();
            let s = f(std::hint::black_box(CALLS));
            let ns = t.elapsed().as_nanos() as f64;
            assert_eq!(s, expected);
            ns / CALLS as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn trampoline(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let callee_o = common::compile(dir.path(), "callee", CALLEE, &["-fPIC"]);
    let loop_o = common::compile(dir.path(), "loop", LOOP, &["-fPIC"]);
    // Opening the same path again would give the same unit: the far copy
    // has a path of its own.
    let loop_far_o = dir.path().join("loop-far.o");
    std::fs::copy(&loop_o, &loop_far_o).unwrap();

    // add1 in another unit, opened Global.
    let units = Linker::new();
    // SAFETY: no constructors.
    let callee = unsafe {
        OpenOptions::new()
            .scope(Scope::Global)
            .open(&units, [&callee_o])
    }
    .expect("open callee");
    // add1 given by the host.
    let host = Linker::new();
    host.define("add1", host_add1 as *const ());

    let mut summary = Vec::new();
    for (label, linker) in [("unit", &units), ("host", &host)] {
        let near = open(linker, &loop_o, Placement::Auto);
        let far = open(linker, &loop_far_o, Placement::Far);
        let (tn, tf) = (near.stats().trampolines, far.stats().trampolines);
        eprintln!(
            "trampoline: add1 in the {label}: auto: base {:#x}, {tn} trampolines; far: base {:#x}, {tf} trampolines",
            near.stats().base,
            far.stats().base
        );
        assert_eq!(tf, 1, "far: the call to add1 goes through a trampoline");
        for func in ["loop", "chain"] {
            // SAFETY: `loop` and `chain` are `long f(long)`.
            let fnear: Symbol<LoopFn> = unsafe { near.get(func) }.unwrap();
            let ffar: Symbol<LoopFn> = unsafe { far.get(func) }.unwrap();
            let (fnear, ffar) = (*fnear, *ffar);
            let want = expected(func);
            assert_eq!(fnear(CALLS), want);
            assert_eq!(ffar(CALLS), want);

            let mut group = c.benchmark_group(format!("{func}_add1_in_{label}"));
            group.throughput(Throughput::Elements(CALLS as u64));
            let near_name = if tn == 0 {
                "direct (auto)"
            } else {
                "auto (has trampolines!)"
            };
            group.bench_function(near_name, |b| b.iter(|| fnear(std::hint::black_box(CALLS))));
            group.bench_function("trampoline (far)", |b| {
                b.iter(|| ffar(std::hint::black_box(CALLS)))
            });
            group.finish();

            let (a, b) = (ns_per_call(fnear, want), ns_per_call(ffar, want));
            summary.push(format!(
                "{func}, add1 in the {label}: direct {a:.3} ns/call ({tn} trampolines), \
                 trampoline {b:.3} ns/call, overhead {:+.3} ns/call",
                b - a
            ));
        }
        near.close();
        far.close();
    }
    callee.close();
    for line in summary {
        println!("trampoline summary: {line}");
    }
}

criterion_group!(benches, trampoline);
criterion_main!(benches);

//! Relocation throughput: open + close of a generated object holding about
//! 10,000, 100,000 and 1,000,000 relocations of mixed types, reported as
//! relocations per second. The three sizes also show how load time scales
//! with the object (the symbol set stays the same: 6,000 symbols).
//!
//! The object is generated as assembly and assembled with `gcc -c` at bench
//! time. Per round it holds
//!
//! - `call g` to a global function (`R_X86_64_PLT32`),
//! - `call l` to a local function in another section (`R_X86_64_PC32`),
//! - `leaq x(%rip)` to a global and to a local variable (`R_X86_64_PC32`),
//! - `movq x@GOTPCREL(%rip)` (`R_X86_64_REX_GOTPCRELX`, relaxed to `lea`),
//! - `call *g@GOTPCREL(%rip)` (`R_X86_64_GOTPCRELX`, relaxed to a direct call),
//! - `.quad g+N` and `.quad l+N` in data (`R_X86_64_64`),
//! - `.long x-.` and `.long y-.` in data (`R_X86_64_PC32`),
//!
//! and every 1,000 rounds a call to a libc function (resolved with `dlsym`).
//!
//! `cargo bench -p objdl --bench relocs`

use objdl_testkit as common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use objdl::{Linker, OpenOptions};

/// Global functions, local functions, global variables, local variables.
const SYMBOLS_PER_KIND: usize = 1_500;
/// Relocations one round emits.
const RELOCS_PER_ROUND: usize = 10;
/// Approximate relocation counts of the generated objects.
const SIZES: [usize; 3] = [10_000, 100_000, 1_000_000];
const LIBC: [&str; 8] = [
    "strlen", "memcpy", "memset", "strcmp", "malloc", "free", "abs", "qsort",
];

/// Assembly for an object with about `relocs` relocations.
fn generate(relocs: usize) -> String {
    let n = SYMBOLS_PER_KIND;
    let rounds = relocs.div_ceil(RELOCS_PER_ROUND);
    let mut s = String::with_capacity(rounds * 300 + n * 80);
    s.push_str("\t.text\n");
    for i in 0..n {
        writeln!(s, "\t.globl g_{i}\n\t.type g_{i},@function\ng_{i}:\tret").unwrap();
    }
    for i in 0..n {
        writeln!(s, "l_{i}:\tret").unwrap();
    }
    s.push_str("\t.data\n");
    for i in 0..n {
        writeln!(s, "\t.globl x_{i}\nx_{i}:\t.quad {i}").unwrap();
    }
    for i in 0..n {
        writeln!(s, "y_{i}:\t.quad {i}").unwrap();
    }
    // Spread the references over the symbols with a few co-prime strides.
    let pick = |i: usize, stride: usize| (i * stride + stride / 3) % n;
    s.push_str("\t.section .text.sites,\"ax\",@progbits\n\t.globl sites\nsites:\n");
    for i in 0..rounds {
        let (g, l, x, y, gx, gg) = (
            pick(i, 7919),
            pick(i, 104_729),
            pick(i, 1_299_709),
            pick(i, 15_485_863),
            pick(i, 32_452_843),
            pick(i, 49_979_687),
        );
        writeln!(
            s,
            "\tcall g_{g}\n\tcall l_{l}\n\tleaq x_{x}(%rip), %rax\n\tleaq y_{y}(%rip), %rax\n\
             \tmovq x_{gx}@GOTPCREL(%rip), %rax\n\tcall *g_{gg}@GOTPCREL(%rip)"
        )
        .unwrap();
        if i % 1000 == 0 {
            writeln!(s, "\tcall {}", LIBC[(i / 1000) % LIBC.len()]).unwrap();
        }
    }
    s.push_str("\tret\n\t.section .data.refs,\"aw\",@progbits\n");
    for i in 0..rounds {
        let (g, l, x, y) = (
            pick(i, 7919),
            pick(i, 104_729),
            pick(i, 1_299_709),
            pick(i, 15_485_863),
        );
        writeln!(
            s,
            "\t.quad g_{g}+{}\n\t.quad l_{l}+{}\n\t.long x_{x}-.\n\t.long y_{y}-.",
            i % 64,
            i % 2
        )
        .unwrap();
    }
    s
}

fn assemble(dir: &Path, relocs: usize) -> PathBuf {
    let src = dir.join(format!("relocs-{relocs}.s"));
    let obj = dir.join(format!("relocs-{relocs}.o"));
    common::compile_to("gcc", &[], &src, &generate(relocs), &obj);
    obj
}

fn relocs(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let linker = Linker::new();
    let mut opts = OpenOptions::new();
    opts.no_exec(true);

    let mut group = c.benchmark_group("relocs_open_close");
    group.sample_size(20);
    for size in SIZES {
        let obj = assemble(dir.path(), size);
        let bytes = std::fs::metadata(&obj).unwrap().len();
        // SAFETY: no_exec: nothing of the unit runs.
        let unit = unsafe { opts.open(&linker, [&obj]) }.expect("open");
        let n = unit.stats().relocations;
        eprintln!(
            "relocs: object {} ({:.1} MB): {} relocations, {}",
            obj.file_name().unwrap().to_string_lossy(),
            bytes as f64 / 1e6,
            n,
            unit.stats()
        );
        assert!(n as usize >= size, "{n} relocations, wanted {size}");
        unit.close();

        group.throughput(Throughput::Elements(n));
        group.bench_with_input(BenchmarkId::from_parameter(n), &obj, |b, obj| {
            b.iter(|| {
                // SAFETY: no_exec: nothing of the unit runs.
                let unit = unsafe { opts.open(&linker, [obj]) }.expect("open");
                unit.close();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, relocs);
criterion_main!(benches);

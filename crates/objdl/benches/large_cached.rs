//! Warm load of a large unit: a generated C program ten times SQLite's
//! size in relocations (about 200,000, against SQLite's 18,401), opened
//! and closed
//!
//! - `large-linked`: linked from its objects, without the cache;
//! - `large-cached`: mapped from a warm cache (`OpenOptions::cache`, the
//!   entry written by a first open), only its moved absolute addresses
//!   fixed;
//! - `sqlite-cached`: SQLite's PIE objects from a warm cache, as
//!   `open_close`'s `pie-cached`, so that one run gives the ratio
//!   `large-cached / sqlite-cached` (the goal: at most 3).
//!
//! The program is generated at bench time as `FILES` C files of
//! `FUNCS_PER_FILE` functions each, compiled with the system `gcc -c -O1`
//! (PIE, gcc's default) a few at a time. Every function calls functions of
//! other files (`R_X86_64_PLT32`), libc (`strlen`, `memcpy`, `snprintf`,
//! `strcmp`), reads its file's data (`R_X86_64_PC32`) and calls through its
//! file's table of records, each a function pointer, a string and a pointer
//! into the data (`R_X86_64_64`, as is the table of names). Plain code and
//! data only: nothing the cache refuses (thread-locals, IFUNCs, copies of
//! host variables). The bench checks the relocation count (180k to 260k,
//! printed) and runs the entry `large_entry` once (calls are bounded by a
//! depth argument).
//!
//! `cargo bench -p objdl --bench large_cached`

use objdl_testkit as common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use objdl::{Linker, OpenOptions, Symbol, Unit};

/// Source files of the generated program.
const FILES: usize = 32;
/// Functions (and records, and names) per file.
const FUNCS_PER_FILE: usize = 230;
/// Calls to other generated functions per function.
const CALLS: usize = 14;
/// The relocation counts the generated set must fall between.
const RELOCS: (u64, u64) = (180_000, 260_000);

/// The C source of file `f`.
fn generate(f: usize, rng: &mut common::Rng) -> String {
    let n = FUNCS_PER_FILE;
    let mut s = String::with_capacity(n * 700);
    s.push_str(
        "#include <stdio.h>\n#include <string.h>\n\n\
         typedef int (*fn_t)(int);\n\
         struct rec { const char *name; fn_t f; int *slot; const struct rec *next; };\n\n",
    );
    // The calls each function makes, to functions of other files.
    let mut calls = Vec::with_capacity(n);
    for _ in 0..n {
        let mut these = Vec::with_capacity(CALLS);
        for _ in 0..CALLS {
            let mut g = rng.below(FILES as u64) as usize;
            if g == f {
                g = (g + 1) % FILES;
            }
            let i = rng.below(n as u64) as usize;
            writeln!(s, "extern int lf_{g}_{i}(int);").unwrap();
            these.push((g, i));
        }
        calls.push(these);
    }
    for i in 0..n {
        writeln!(s, "int lf_{f}_{i}(int);").unwrap();
    }
    writeln!(s, "\nint data_{f}[{n}];").unwrap();
    writeln!(s, "static const char *const names_{f}[{n}] = {{").unwrap();
    for i in 0..n {
        writeln!(s, "\t\"name {f}.{i}\",").unwrap();
    }
    s.push_str("};\n");
    writeln!(s, "struct rec recs_{f}[{n}] = {{").unwrap();
    for i in 0..n {
        let next = (i + 1) % n;
        writeln!(
            s,
            "\t{{ \"rec {f}.{i}\", lf_{f}_{i}, &data_{f}[{i}], &recs_{f}[{next}] }},"
        )
        .unwrap();
    }
    s.push_str("};\n\n");
    for (i, these) in calls.iter().enumerate() {
        writeln!(
            s,
            "int lf_{f}_{i}(int d)\n{{\n\
             \tchar buf[32];\n\
             \tif (d <= 0)\n\
             \t\treturn (int)strlen(names_{f}[{i}]) + {i};\n\
             \tint r = d * 7 + {i};"
        )
        .unwrap();
        for (k, (g, j)) in these.iter().enumerate() {
            let op = ["+=", "^=", "-="][k % 3];
            writeln!(s, "\tr {op} lf_{g}_{j}(d - 1);").unwrap();
        }
        writeln!(
            s,
            "\tconst struct rec *p = &recs_{f}[(unsigned)r % {n}u];\n\
             \tr += p->f(d - 1) + *p->next->slot;\n\
             \tsnprintf(buf, sizeof buf, \"%d:{f}.{i}\", r);\n\
             \tif (strcmp(buf, p->name) == 0)\n\
             \t\tr++;\n\
             \tmemcpy(buf, names_{f}[(unsigned)r % {n}u], (unsigned)r % 8u);\n\
             \tr += (int)strlen(buf);\n\
             \tdata_{f}[{i}] += r;\n\
             \treturn r;\n}}\n"
        )
        .unwrap();
    }
    if f == 0 {
        for g in 1..FILES {
            writeln!(s, "extern int lf_{g}_0(int);").unwrap();
        }
        s.push_str("\nint large_entry(int d)\n{\n\tint r = 0;\n");
        for g in 0..FILES {
            writeln!(s, "\tr += lf_{g}_0(d);").unwrap();
        }
        s.push_str("\treturn r;\n}\n");
    }
    s
}

/// Writes and compiles the program into `dir`, `jobs` gcc at a time; its
/// objects, in order.
fn build(dir: &Path) -> Vec<PathBuf> {
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4));
    let mut rng = common::Rng::new(0x1a76e);
    let mut objects = Vec::with_capacity(FILES);
    let mut running: Vec<(Child, PathBuf)> = Vec::new();
    let wait = |(mut child, c): (Child, PathBuf)| {
        let status = child.wait().expect("wait for gcc");
        assert!(status.success(), "gcc failed on {}", c.display());
    };
    for f in 0..FILES {
        let c = dir.join(format!("large{f:02}.c"));
        let o = c.with_extension("o");
        std::fs::write(&c, generate(f, &mut rng)).expect("write a source");
        if running.len() == jobs {
            wait(running.remove(0));
        }
        let child = Command::new("gcc")
            .args(["-c", "-O1", "-o"])
            .arg(&o)
            .arg(&c)
            .spawn()
            .expect("run gcc");
        running.push((child, c));
        objects.push(o);
    }
    running.into_iter().for_each(wait);
    objects
}

/// Opens `inputs` from the cache in `dir` until the entry the first open
/// wrote (in a detached process) is there: the unit, from the cache.
fn warm(linker: &Linker, dir: &Path, inputs: &[PathBuf]) -> Unit {
    let started = Instant::now();
    loop {
        // SAFETY: the inputs have no constructors; opening and closing
        // them runs no code of theirs.
        let unit = unsafe { OpenOptions::new().cache(Some(dir)).open(linker, inputs) }
            .expect("open through the cache");
        if unit.stats().cached {
            return unit;
        }
        unit.close();
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "not cached after 30 s (OBJDL_CACHE_DEBUG=1 says why)"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn large_cached(c: &mut Criterion) {
    let started = Instant::now();
    let src = tempfile::tempdir().expect("a directory for the program");
    let inputs = build(src.path());
    let linker = Linker::new();

    // SAFETY: the generated objects have no constructors.
    let unit = unsafe { linker.open_inputs(&inputs) }.expect("open the large unit");
    let relocs = unit.stats().relocations;
    eprintln!(
        "large_cached: {FILES} files generated and compiled in {:.1?}: {}",
        started.elapsed(),
        unit.stats()
    );
    eprintln!("large_cached: {relocs} relocations (SQLite's unit: 18,401)");
    assert!(
        (RELOCS.0..=RELOCS.1).contains(&relocs),
        "{relocs} relocations, wanted {} to {}",
        RELOCS.0,
        RELOCS.1
    );
    // SAFETY: `large_entry` is `int large_entry(int)`; at depth 1 it makes
    // a few hundred calls, each bounded by the depth, and writes only the
    // unit's own data.
    let entry: Symbol<extern "C" fn(i32) -> i32> =
        unsafe { unit.get("large_entry") }.expect("large_entry");
    eprintln!("large_cached: large_entry(1) = {}", entry(1));
    unit.close();

    let large_cache = tempfile::tempdir().expect("a cache directory");
    warm(&linker, large_cache.path(), &inputs).close();

    // SQLite's objects, if `scripts/fetch-sqlite.sh` can make them (it
    // needs npm the first time); without them the reference is skipped.
    let sqlite_inputs = std::panic::catch_unwind(common::sqlite_dir)
        .ok()
        .map(|d| vec![d.join("pie/sqlite3.o"), d.join("pie/shell.o")])
        .filter(|inputs| inputs.iter().all(|p| p.is_file()));
    let sqlite_cache = tempfile::tempdir().expect("a cache directory");
    match &sqlite_inputs {
        Some(inputs) => warm(&linker, sqlite_cache.path(), inputs).close(),
        None => eprintln!("large_cached: SQLite's objects are missing: sqlite-cached skipped"),
    }

    let mut group = c.benchmark_group("large_cached");
    group.sample_size(20);
    group.bench_function("large-linked", |b| {
        b.iter(|| {
            // SAFETY: as above: no constructors.
            let unit = unsafe { linker.open_inputs(&inputs) }.expect("open");
            unit.close();
        })
    });
    let cached = [
        Some(("large-cached", large_cache.path(), &inputs[..])),
        sqlite_inputs
            .as_deref()
            .map(|inputs| ("sqlite-cached", sqlite_cache.path(), inputs)),
    ];
    for (name, dir, inputs) in cached.into_iter().flatten() {
        group.bench_function(name, |b| {
            b.iter(|| {
                // SAFETY: as above: no constructors.
                let unit = unsafe { OpenOptions::new().cache(Some(dir)).open(&linker, inputs) }
                    .expect("open");
                assert!(unit.stats().cached, "{name}: not from the cache");
                unit.close();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, large_cached);
criterion_main!(benches);

//! Hot reload ([`objdl::Unit::reload`]), link and patch, compile time
//! excluded (the objects are built before measuring):
//!
//! - `one_function_of_20`: a 20-object unit, one object alternating between
//!   two versions of one function (goal: at most 1 ms);
//! - `sqlite3`: SQLite's `sqlite3.o` (pie flavour, 18k relocations)
//!   reloaded under an open in-memory database, which answers a query after
//!   the reloads (goal: at most 5 ms). Each measured reload gets a freshly
//!   opened unit (not measured), so that the memory the reloads retain
//!   stays bounded.
//!
//! `cargo bench -p objdl --bench reload`

use objdl_testkit as common;

use std::ffi::{c_char, c_int, c_void, CString};
use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use objdl::{Linker, OpenOptions, Symbol, Unit};

fn reloadable(linker: &Linker, inputs: &[PathBuf]) -> Unit {
    // SAFETY: the benchmark's own objects; SQLite has no constructors.
    unsafe {
        OpenOptions::new()
            .reloadable(true)
            .open(linker, inputs.iter())
            .expect("open")
    }
}

/// A unit of 20 objects, each with a few functions and statics calling
/// into the next; object 7 has two versions of `f7`.
fn twenty_objects(dir: &std::path::Path) -> (Vec<PathBuf>, [Vec<u8>; 2]) {
    let source = |i: usize, k: i32| {
        let next = if i + 1 < 20 {
            format!("int f{}(int);", i + 1)
        } else {
            String::new()
        };
        let call = if i + 1 < 20 {
            format!("f{}(x)", i + 1)
        } else {
            "x".into()
        };
        format!(
            "{next}\nstatic int hits;\nint table{i}[16];\nint g{i}(int x) {{ return x * {i}; }}\n\
             int h{i}(int x) {{ table{i}[x & 15]++; return g{i}(x) + 1; }}\n\
             int f{i}(int x) {{ hits++; return {call} + {k}; }}\n"
        )
    };
    let mut paths = Vec::new();
    for i in 0..20 {
        paths.push(common::compile(dir, &format!("o{i}"), &source(i, 1), &[]));
    }
    let alt = dir.join("alt");
    std::fs::create_dir_all(&alt).unwrap();
    let v2 = std::fs::read(common::compile(&alt, "o7", &source(7, 2), &[])).unwrap();
    let v1 = std::fs::read(&paths[7]).unwrap();
    (paths, [v1, v2])
}

fn reload(c: &mut Criterion) {
    let mut group = c.benchmark_group("reload");
    let linker = Linker::new();

    let dir = tempfile::tempdir().unwrap();
    let (paths, versions) = twenty_objects(dir.path());
    let mut round = 0usize;
    group.bench_function("one_function_of_20", |b| {
        b.iter_batched(
            || {
                let unit = reloadable(&linker, &paths);
                round += 1;
                std::fs::write(&paths[7], &versions[round % 2]).unwrap();
                unit
            },
            |unit| {
                // SAFETY: the two versions share their data.
                unsafe { unit.reload(&paths[7]) }.expect("reload");
                unit
            },
            BatchSize::PerIteration,
        )
    });

    let sqlite = common::sqlite_dir().join("pie");
    let inputs = [sqlite.join("sqlite3.o")];
    group.bench_function("sqlite3", |b| {
        b.iter_batched(
            || {
                let unit = reloadable(&linker, &inputs);
                let db = open_memory_db(&unit);
                (unit, db)
            },
            |(unit, db)| {
                // SAFETY: the same object again.
                unsafe { unit.reload(&inputs[0]) }.expect("reload");
                (unit, db)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();

    // The database opened before a reload answers after it.
    let unit = reloadable(&linker, &inputs);
    let db = open_memory_db(&unit);
    for _ in 0..10 {
        // SAFETY: as above.
        unsafe { unit.reload(&inputs[0]) }.expect("reload");
    }
    assert_eq!(query_one(&unit, db, "select 6*7;"), 42);
}

type Db = *mut c_void;

fn open_memory_db(unit: &Unit) -> Db {
    // SAFETY: SQLite's signatures.
    let open: Symbol<unsafe extern "C" fn(*const c_char, *mut Db) -> c_int> =
        unsafe { unit.get("sqlite3_open") }.unwrap();
    let mut db: Db = std::ptr::null_mut();
    let name = CString::new(":memory:").unwrap();
    // SAFETY: a C string and a place for the handle.
    assert_eq!(unsafe { open(name.as_ptr(), &mut db) }, 0);
    assert_eq!(
        query_one(unit, db, "create table t(x); insert into t values(1);"),
        0
    );
    db
}

/// Runs `sql`; the first column of the last row, as an integer (0 if none).
fn query_one(unit: &Unit, db: Db, sql: &str) -> i64 {
    type Callback =
        unsafe extern "C" fn(*mut c_void, c_int, *mut *mut c_char, *mut *mut c_char) -> c_int;
    unsafe extern "C" fn first(
        out: *mut c_void,
        n: c_int,
        values: *mut *mut c_char,
        _: *mut *mut c_char,
    ) -> c_int {
        if n > 0 {
            // SAFETY: SQLite passes `n` column texts.
            let v = unsafe { std::ffi::CStr::from_ptr(*values) };
            // SAFETY: `out` is the i64 below.
            unsafe { *(out as *mut i64) = v.to_str().unwrap().parse().unwrap() };
        }
        0
    }
    // SAFETY: SQLite's signature.
    let exec: Symbol<
        unsafe extern "C" fn(Db, *const c_char, Callback, *mut c_void, *mut *mut c_char) -> c_int,
    > = unsafe { unit.get("sqlite3_exec") }.unwrap();
    let sql = CString::new(sql).unwrap();
    let mut out = 0i64;
    // SAFETY: an open database, a C string, a callback writing `out`.
    let rc = unsafe {
        exec(
            db,
            sql.as_ptr(),
            first,
            &mut out as *mut i64 as *mut c_void,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0);
    out
}

criterion_group!(benches, reload);
criterion_main!(benches);

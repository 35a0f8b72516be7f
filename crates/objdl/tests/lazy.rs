//! Lazy binding ([`OpenOptions::lazy`]): functions that nothing defines at
//! open time are bound at their first call. Real C, compiled at test time.
//! (A call to a name found nowhere aborts the process: that is tested from
//! the command line, `crates/objdl-cli/tests/lazy.rs`, and the C API.)

use objdl_testkit as common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use objdl::{Error, Linker, OpenOptions, Placement, Scope, Unit};

fn build(dir: &Path, name: &str, src: &str, flags: &[&str]) -> PathBuf {
    common::compile(dir, name, src, flags)
}

fn lazy(scope: Scope, placement: Placement) -> OpenOptions {
    let mut opts = OpenOptions::new();
    opts.scope(scope).placement(placement).lazy(true);
    opts
}

fn open(linker: &Linker, opts: &OpenOptions, obj: &Path) -> Unit {
    // SAFETY: the C sources of this file, whose constructors are harmless.
    unsafe { opts.open(linker, [obj]) }.unwrap_or_else(|e| panic!("{}: {e}", obj.display()))
}

fn get<T: Copy>(unit: &Unit, name: &str) -> T {
    // SAFETY: every test passes the symbol's real C type.
    *unsafe { unit.get::<T>(name) }.unwrap_or_else(|e| panic!("{name}: {e}"))
}

type Int1 = extern "C" fn(i32) -> i32;

const PING: &str = "int pong(int);\nint ping(int n) { return n <= 0 ? 0 : 1 + pong(n - 1); }\n";
const PONG: &str = "int ping(int);\nint pong(int n) { return n <= 0 ? 100 : 10 + ping(n - 1); }\n";

fn unresolved_names(e: &Error) -> Vec<String> {
    match e {
        Error::Unresolved(list) => list.iter().map(|u| u.symbol.clone()).collect(),
        other => panic!("not Unresolved: {other}"),
    }
}

/// Two Global units that call each other open one after the other; the
/// second binds to the first at once, the first to the second at its
/// first call. Immediate binding (the default) refuses the first. Every
/// way a call site reaches the stub: a direct `call`, a tail `jmp`, a
/// `call *pong@GOTPCREL(%rip)` (-fno-plt), and through a trampoline (Far).
#[test]
fn global_units_that_call_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let variants: [(&str, &[&str], Placement); 4] = [
        ("plain", &[], Placement::Auto),
        ("no-plt", &["-fPIC", "-fno-plt"], Placement::Auto),
        ("far", &[], Placement::Far),
        ("far-no-plt", &["-fPIC", "-fno-plt"], Placement::Far),
    ];
    for (name, flags, place) in variants {
        let ping = build(dir.path(), &format!("ping-{name}"), PING, flags);
        let pong = build(dir.path(), &format!("pong-{name}"), PONG, flags);
        let linker = Linker::new();
        let mut immediate = OpenOptions::new();
        immediate.scope(Scope::Global).placement(place);
        // SAFETY: as `open`.
        let err = unsafe { immediate.open(&linker, [&ping]) }.expect_err("pong is undefined");
        assert_eq!(unresolved_names(&err), ["pong"], "{name}");

        let opts = lazy(Scope::Global, place);
        let a = open(&linker, &opts, &ping);
        assert_eq!(a.stats().lazy_stubs, 1, "{name}: {}", a.stats());
        assert!(a.stats().to_string().contains(" lazy-stubs 1 "), "{name}");
        let b = open(&linker, &opts, &pong);
        assert_eq!(b.stats().lazy_stubs, 0, "{name}: ping is defined now");
        assert!(!b.stats().to_string().contains("lazy"), "{name}");
        let (f, g) = (get::<Int1>(&a, "ping"), get::<Int1>(&b, "pong"));
        assert_eq!(f(5), 123, "{name}");
        assert_eq!(g(5), 32, "{name}");
        assert_eq!(f(0), 0, "{name}");
        assert_eq!(f(1), 101, "{name}");
    }
}

/// A name that stays undefined but is never called costs nothing; names
/// that are defined at open time are bound then, even with lazy binding,
/// including those the implicit libraries (libgcc.a) define.
#[test]
fn only_what_is_undefined_at_open_is_lazy() {
    let dir = tempfile::tempdir().unwrap();
    let obj = build(
        dir.path(),
        "some",
        r#"
#include <string.h>
void never_defined_anywhere(int);
int bits(unsigned long long x) { return __builtin_popcountll(x); }
int some(int n) { if (n < 0) never_defined_anywhere(n); return (int)strlen("abc") + n; }
"#,
        &["-mno-popcnt"],
    );
    let linker = Linker::new();
    let unit = open(&linker, &lazy(Scope::Local, Placement::Auto), &obj);
    assert_eq!(unit.stats().lazy_stubs, 1, "{}", unit.stats());
    assert_eq!(get::<Int1>(&unit, "some")(4), 7);
    type Bits = extern "C" fn(u64) -> i32;
    assert_eq!(get::<Bits>(&unit, "bits")(0xff00_0000_0000_0001), 9);

    let report = linker
        .check([&obj], &lazy(Scope::Local, Placement::Auto))
        .expect("check");
    let lazy_names: Vec<&str> = report.lazy.iter().map(|u| u.symbol.as_str()).collect();
    assert_eq!(lazy_names, ["never_defined_anywhere"]);
    assert_eq!(report.lazy[0].file, obj.display().to_string());
    assert_eq!(report.stats.lazy_stubs, 1);
}

/// A reference that takes the address of an undefined function, or reads
/// an undefined variable, is not a call: it stays an error with lazy
/// binding, as without it (and the message names the file).
#[test]
fn data_references_stay_immediate() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &[&str]); 4] = [
        (
            "variable",
            "extern int missing_var;\nint f(void) { return missing_var; }\n",
            &["missing_var"],
        ),
        (
            "address",
            "void missing_fn(void);\nvoid *f(void) { return (void *)missing_fn; }\n",
            &["missing_fn"],
        ),
        (
            "pointer in data",
            "void missing_fn(void);\nvoid (*p)(void) = missing_fn;\nvoid f(void) { missing_fn(); }\n",
            &["missing_fn"],
        ),
        (
            "called and read",
            "int both(int);\nint f(void) { return both(1) + *(int *)both; }\n",
            &["both"],
        ),
    ];
    for (i, (what, src, names)) in cases.into_iter().enumerate() {
        for flags in [&[][..], &["-fPIC"]] {
            let obj = build(dir.path(), &format!("data{i}"), src, flags);
            let linker = Linker::new();
            // SAFETY: nothing is opened.
            let err = unsafe { lazy(Scope::Local, Placement::Auto).open(&linker, [&obj]) }
                .expect_err(what);
            assert_eq!(unresolved_names(&err), names, "{what} {flags:?}");
            assert!(
                err.to_string().contains(&obj.display().to_string()),
                "{err}"
            );
        }
    }
}

/// Threads racing on the first call: eight threads wait on a barrier and
/// call the same lazily bound functions at once, on fresh loads again and
/// again. Every argument register must survive the resolver: six
/// integers and eight doubles, a variadic call (%al counts the vector
/// registers), a tail call (`jmp`) and a call whose caller uses the
/// result.
#[test]
fn threads_racing_on_a_first_call() {
    let dir = tempfile::tempdir().unwrap();
    let caller = build(
        dir.path(),
        "caller",
        r#"
double many(int a, int b, int c, int d, int e, int f,
            double x0, double x1, double x2, double x3,
            double x4, double x5, double x6, double x7);
int fmt(char *buf, int n, const char *f, ...);
double tail_many(int a, int b, int c, int d, int e, int f,
                 double x0, double x1, double x2, double x3,
                 double x4, double x5, double x6, double x7) {
    return many(a, b, c, d, e, f, x0, x1, x2, x3, x4, x5, x6, x7);
}
double call_many(int k) {
    double r = many(k, k + 1, k + 2, k + 3, k + 4, k + 5,
                    k * 0.5, 1.25, 2.5, 3.75, 5.0, 6.25, 7.5, 8.75);
    return r + 1.0;
}
int call_fmt(char *buf, int n, int k, double d) {
    return fmt(buf, n, "%d|%.2f|%s|%ld|%g", k, d, "str", (long)k * 1000000007L, d * 2);
}
"#,
        &[],
    );
    let provider = build(
        dir.path(),
        "provider",
        r#"
#include <stdarg.h>
#include <stdio.h>
double many(int a, int b, int c, int d, int e, int f,
            double x0, double x1, double x2, double x3,
            double x4, double x5, double x6, double x7) {
    return a * 1 + b * 2 + c * 3 + d * 4 + e * 5 + f * 6
         + x0 * 10 + x1 * 20 + x2 * 30 + x3 * 40 + x4 * 50 + x5 * 60 + x6 * 70 + x7 * 80;
}
int fmt(char *buf, int n, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    int r = vsnprintf(buf, (size_t)n, f, ap);
    va_end(ap);
    return r;
}
"#,
        &[],
    );
    let many = |a: i32, b: i32, c: i32, d: i32, e: i32, f: i32, x: [f64; 8]| -> f64 {
        f64::from(a + b * 2 + c * 3 + d * 4 + e * 5 + f * 6)
            + x.iter()
                .enumerate()
                .map(|(i, v)| v * 10.0 * (i + 1) as f64)
                .sum::<f64>()
    };
    type TailMany =
        extern "C" fn(i32, i32, i32, i32, i32, i32, f64, f64, f64, f64, f64, f64, f64, f64) -> f64;
    type CallMany = extern "C" fn(i32) -> f64;
    type CallFmt = extern "C" fn(*mut u8, i32, i32, f64) -> i32;
    const THREADS: usize = 8;
    for round in 0..20 {
        let linker = Linker::new();
        // The caller first (Local, lazy), then what it calls (Global).
        let unit = Arc::new(open(&linker, &lazy(Scope::Local, Placement::Auto), &caller));
        assert_eq!(unit.stats().lazy_stubs, 2, "{}", unit.stats());
        let _provider = open(&linker, &lazy(Scope::Global, Placement::Auto), &provider);
        let barrier = Arc::new(Barrier::new(THREADS));
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let (unit, barrier) = (unit.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let which = (round + t) % 3;
                    barrier.wait();
                    let k = t as i32 + 1;
                    let x = [k as f64 * 0.5, 1.25, 2.5, 3.75, 5.0, 6.25, 7.5, 8.75];
                    match which {
                        0 => {
                            let f = get::<TailMany>(&unit, "tail_many");
                            let got = f(
                                k, 2, 3, 4, 5, 6, x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7],
                            );
                            assert_eq!(got, many(k, 2, 3, 4, 5, 6, x), "tail_many");
                        }
                        1 => {
                            let got = get::<CallMany>(&unit, "call_many")(k);
                            assert_eq!(got, many(k, k + 1, k + 2, k + 3, k + 4, k + 5, x) + 1.0);
                        }
                        _ => {
                            let mut buf = [0u8; 96];
                            let d = k as f64 + 0.25;
                            let n = get::<CallFmt>(&unit, "call_fmt")(buf.as_mut_ptr(), 96, k, d);
                            let want =
                                format!("{k}|{d:.2}|str|{}|{}", i64::from(k) * 1000000007, d * 2.0);
                            assert_eq!(&buf[..n as usize], want.as_bytes());
                        }
                    }
                    // Once bound, the same again (now through the slot).
                    let got = get::<CallMany>(&unit, "call_many")(k);
                    assert_eq!(got, many(k, k + 1, k + 2, k + 3, k + 4, k + 5, x) + 1.0);
                })
            })
            .collect();
        for t in threads {
            t.join().expect("a thread failed");
        }
    }
}

/// A lazily bound call into the host: the name comes from a shared
/// library loaded after the unit opened, or from a host definition made
/// after it opened.
#[test]
fn a_lazy_call_binds_to_what_the_process_gains_later() {
    let dir = tempfile::tempdir().unwrap();
    let lib_src = dir.path().join("later.c");
    std::fs::write(&lib_src, "int later_twice(int x) { return 2 * x; }\n").unwrap();
    let lib = dir.path().join("liblater_lazy_test.so");
    common::run_ok(
        std::process::Command::new("gcc")
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&lib)
            .arg(&lib_src),
    );
    let obj = build(
        dir.path(),
        "wants",
        "int later_twice(int);\nint defined_later(int);\n\
         int wants(int x) { return later_twice(x) + 1; }\n\
         int wants_host(int x) { return defined_later(x) - 1; }\n",
        &[],
    );
    let linker = Linker::new();
    let unit = open(&linker, &lazy(Scope::Local, Placement::Far), &obj);
    assert_eq!(unit.stats().lazy_stubs, 2);
    linker
        .load_library(&lib.to_string_lossy(), &[])
        .expect("load the library");
    assert_eq!(get::<Int1>(&unit, "wants")(20), 41);
    extern "C" fn host_triple(x: i32) -> i32 {
        3 * x
    }
    linker.define("defined_later", host_triple as *const ());
    assert_eq!(get::<Int1>(&unit, "wants_host")(5), 14);
    assert_eq!(get::<Int1>(&unit, "wants")(1), 3);
}

/// A Global unit that a lazy call bound to stays loaded while the caller
/// is, even once its own handle is closed (a dependency edge, as an
/// immediate binding makes one).
#[test]
fn a_lazy_binding_keeps_its_target_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let caller = build(
        dir.path(),
        "caller",
        "int callee(int);\nint caller(int x) { return callee(x) * 2; }\n",
        &[],
    );
    let callee = build(
        dir.path(),
        "callee",
        "static int calls;\nint callee(int x) { return x + ++calls; }\n",
        &[],
    );
    let linker = Linker::new();
    let a = open(&linker, &lazy(Scope::Local, Placement::Auto), &caller);
    let b = open(&linker, &lazy(Scope::Global, Placement::Auto), &callee);
    let f = get::<Int1>(&a, "caller");
    assert_eq!(f(10), 22);
    let base = b.stats().base;
    b.close();
    // Still mapped, still the same function (its state kept).
    assert!(mapped(base), "the callee was unmapped");
    assert_eq!(f(10), 24);
    drop(a);
    assert!(!mapped(base), "the callee outlived its last user");
}

fn mapped(base: u64) -> bool {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .any(|l| {
            let (range, _) = l.split_once(' ').unwrap();
            u64::from_str_radix(range.split_once('-').unwrap().0, 16).unwrap() == base
        })
}

/// Without lazy binding nothing changes: the default is immediate, and a
/// lazy open of a unit that needs no stub is an immediate open.
#[test]
fn immediate_binding_stays_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let obj = build(
        dir.path(),
        "plain",
        "#include <string.h>\nint plain(int x) { return (int)strlen(\"xy\") + x; }\n",
        &[],
    );
    let again = dir.path().join("plain-again.o");
    std::fs::copy(&obj, &again).unwrap();
    let linker = Linker::new();
    let eager = open(&linker, &OpenOptions::new(), &obj);
    let lazily = open(&linker, &lazy(Scope::Local, Placement::Auto), &again);
    assert_eq!(eager.stats().lazy_stubs, 0);
    assert_eq!(lazily.stats().lazy_stubs, 0);
    assert_eq!(get::<Int1>(&lazily, "plain")(1), 3);
    let missing = build(dir.path(), "missing", PING, &[]);
    // SAFETY: nothing is opened.
    let err = unsafe { OpenOptions::new().open(&linker, [&missing]) }.expect_err("immediate");
    assert_eq!(unresolved_names(&err), ["pong"]);
}

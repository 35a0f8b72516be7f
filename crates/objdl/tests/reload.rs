//! Hot reload ([`Unit::reload`]): real C and C++ objects compiled by gcc,
//! opened reloadable, recompiled with changes and reloaded while their
//! data, function pointers, callbacks, vtables and threads carry on.

use objdl_testkit as common;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use objdl::{Linker, OpenOptions, Placement, Symbol, Unit};

/// Compiles `src` to `dir/NAME.o` (replacing what was there), as a build
/// system would after an edit.
fn build(dir: &Path, name: &str, src: &str, flags: &[&str]) -> PathBuf {
    common::compile(dir, name, src, flags)
}

fn reloadable(linker: &Linker, inputs: &[&Path], place: Placement) -> Unit {
    // SAFETY: the test's own objects.
    unsafe {
        OpenOptions::new()
            .reloadable(true)
            .placement(place)
            .open(linker, inputs.iter().copied())
            .expect("open")
    }
}

/// The module a game would reload: a file-scope static, a function-local
/// static, a global, a static helper, a function pointer in data.
const GAME_V1: &str = r#"
static int calls;
int total = 100;
__attribute__((noipa)) static int helper(int x) { return x + 1; }
int version(void) { return 1; }
typedef int (*fp)(void);
fp callback = version;
int step(void) {
    static int local_count;
    local_count++;
    calls++;
    total += helper(0);
    return 1000 + local_count;
}
int call_callback(void) { return callback(); }
fp get_version(void) { return version; }
int calls_so_far(void) { return calls; }
"#;

/// The edit: the helper, `version` and `step` return other values, and a
/// function is added; the data is the same.
fn game_v2() -> String {
    let v2 = GAME_V1
        .replace("return x + 1;", "return x + 2;")
        .replace("version(void) { return 1; }", "version(void) { return 2; }")
        .replace("return 1000 + local_count;", "return 2000 + local_count;");
    v2 + "int added(void) { return 42; }\n"
}

type IntFn = extern "C" fn() -> i32;

fn call(unit: &Unit, name: &str) -> i32 {
    // SAFETY: every function of these tests is `int (void)`.
    let f: Symbol<IntFn> = unsafe { unit.get(name) }.expect(name);
    f()
}

fn reload_keeps_data_and_repoints_code(place: Placement) {
    let dir = tempfile::tempdir().unwrap();
    let obj = build(dir.path(), "game", GAME_V1, &[]);
    let linker = Linker::new();
    let unit = reloadable(&linker, &[&obj], place);
    for i in 1..=3 {
        assert_eq!(call(&unit, "step"), 1000 + i);
    }
    // A pointer taken before the reload, from the host and from the unit.
    // SAFETY: `int (void)`, `fp (void)`.
    let version: IntFn = *unsafe { unit.get::<IntFn>("version") }.unwrap();
    let get_version: Symbol<extern "C" fn() -> IntFn> = unsafe { unit.get("get_version") }.unwrap();
    let from_unit = get_version();
    assert_eq!(
        version as usize, from_unit as usize,
        "one address per function"
    );
    // SAFETY: `int *`.
    let total: *mut i32 = *unsafe { unit.get::<*mut i32>("total") }.unwrap();

    build(dir.path(), "game", &game_v2(), &[]);
    // SAFETY: the new version works with the old data.
    let report = unsafe { unit.reload(&obj) }.expect("reload");
    eprintln!("{report}");
    assert!(report.reset.is_empty(), "{report}");
    assert!(report.functions >= 7, "{report}");
    assert_eq!(report.new_functions, 1, "{report}");
    assert_eq!(report.changed, ["helper", "step", "version"], "{report}");
    assert_eq!(report.added, ["added"], "{report}");
    assert!(report.removed.is_empty(), "{report}");

    assert_eq!(version(), 2, "a pointer taken before the reload");
    assert_eq!(from_unit(), 2);
    assert_eq!(call(&unit, "call_callback"), 2, "a pointer stored in data");
    assert_eq!(
        call(&unit, "step"),
        2004,
        "the function-local static is kept"
    );
    assert_eq!(
        call(&unit, "calls_so_far"),
        4,
        "the file-scope static is kept"
    );
    // SAFETY: the kept global's storage.
    assert_eq!(
        unsafe { *total },
        100 + 3 + 2,
        "the global is kept, in place"
    );
    assert_eq!(call(&unit, "added"), 42, "a function the reload added");
    let again = get_version();
    assert_eq!(
        again as usize, version as usize,
        "the address does not move"
    );

    // And back, again and again: the data carries on.
    for round in 0..10 {
        let src = if round % 2 == 0 {
            GAME_V1.to_string()
        } else {
            game_v2()
        };
        build(dir.path(), "game", &src, &[]);
        // SAFETY: as above.
        unsafe { unit.reload(&obj) }.expect("reload");
    }
    assert_eq!(call(&unit, "calls_so_far"), 4);
    assert_eq!(version(), 2);
}

#[test]
fn reload_keeps_data_and_repoints_code_auto() {
    reload_keeps_data_and_repoints_code(Placement::Auto);
}

#[test]
fn reload_keeps_data_and_repoints_code_far() {
    reload_keeps_data_and_repoints_code(Placement::Far);
}

#[test]
fn other_objects_and_units_reach_the_new_code() {
    let dir = tempfile::tempdir().unwrap();
    let a = build(dir.path(), "a", "int value(void) { return 1; }\n", &[]);
    let b = build(
        dir.path(),
        "b",
        "int value(void);\nint twice(void) { return 2 * value(); }\n",
        &[],
    );
    let linker = Linker::new();
    let unit = reloadable(&linker, &[&a, &b], Placement::Auto);
    assert_eq!(call(&unit, "twice"), 2);
    build(dir.path(), "a", "int value(void) { return 21; }\n", &[]);
    // SAFETY: compatible.
    unsafe { unit.reload(&a) }.expect("reload");
    assert_eq!(call(&unit, "twice"), 42, "another object of the unit");
}

#[test]
fn a_failed_reload_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let obj = build(dir.path(), "game", GAME_V1, &[]);
    let linker = Linker::new();
    let unit = reloadable(&linker, &[&obj], Placement::Auto);
    assert_eq!(call(&unit, "step"), 1001);
    // Unresolved.
    build(
        dir.path(),
        "game",
        "int missing_everywhere(void);\nint step(void) { return missing_everywhere(); }\n",
        &[],
    );
    // SAFETY: refused before anything runs.
    let err = unsafe { unit.reload(&obj) }.unwrap_err();
    assert!(err.to_string().contains("missing_everywhere"), "{err}");
    // Not an object.
    std::fs::write(&obj, b"not an object").unwrap();
    // SAFETY: as above.
    let err = unsafe { unit.reload(&obj) }.unwrap_err();
    eprintln!("{err}");
    // Not an input of the unit.
    let other = build(dir.path(), "other", "int x;\n", &[]);
    // SAFETY: as above.
    let err = unsafe { unit.reload(&other) }.unwrap_err();
    assert!(err.to_string().contains("not one of the inputs"), "{err}");
    assert_eq!(call(&unit, "step"), 1002, "the old code and data run on");
    // A unit not opened reloadable.
    // SAFETY: the test's object.
    let plain = unsafe { linker.open(&other) }.unwrap();
    // SAFETY: refused.
    assert!(unsafe { plain.reload(&other) }.is_err());
}

#[test]
fn changed_and_new_variables() {
    let dir = tempfile::tempdir().unwrap();
    let obj = build(
        dir.path(),
        "vars",
        "int kept = 5;\nint grows = 7;\nstatic int counter = 70;\nint get_kept(void) { return kept++; }\nint get_grows(void) { return grows; }\nint count(void) { return counter++; }\n",
        // In definition order: `kept` at the start of .data, whose
        // symbol reaches `counter`.
        &["-fno-toplevel-reorder"],
    );
    let linker = Linker::new();
    let unit = reloadable(&linker, &[&obj], Placement::Auto);
    assert_eq!(call(&unit, "get_kept"), 5);
    assert_eq!(call(&unit, "count"), 70);
    build(
        dir.path(),
        "vars",
        "int kept = 5;\nlong grows[2] = {9, 9};\nint fresh = 11;\nstatic int counter = 70;\nint get_kept(void) { return kept++; }\nint get_grows(void) { return (int)grows[0]; }\nint get_fresh(void) { return fresh; }\nint count(void) { return counter++; }\n",
        // In definition order: `kept` at the start of .data, whose
        // symbol reaches `counter`.
        &["-fno-toplevel-reorder"],
    );
    // SAFETY: compatible, except `grows`, which is reset.
    let report = unsafe { unit.reload(&obj) }.expect("reload");
    assert_eq!(report.kept, vec!["kept".to_string()], "{report}");
    // `count` reaches `counter`, which moved in .data: not a change; nor
    // is `get_grows`, whose code reads the low 4 bytes in both versions.
    assert!(report.changed.is_empty(), "{report}");
    assert_eq!(report.added, ["get_fresh"], "{report}");
    assert_eq!(report.new, vec!["fresh".to_string()], "{report}");
    // `counter`, a static in the changed .data, starts again; `kept`, a
    // global at the section's start, keeps its storage, and the section's
    // own symbol (through which `counter` is reached) does not follow it.
    assert_eq!(report.reset.len(), 2, "{report}");
    assert!(
        report
            .reset
            .iter()
            .any(|r| r.starts_with("grows (size 4 -> 16)")),
        "{report}"
    );
    assert!(
        report.reset.iter().any(|r| r.starts_with("counter")),
        "{report}"
    );
    assert_eq!(call(&unit, "count"), 70, "reset to its initial value");
    assert_eq!(call(&unit, "count"), 71);
    assert_eq!(call(&unit, "get_kept"), 6);
    assert_eq!(call(&unit, "get_grows"), 9);
    assert_eq!(call(&unit, "get_fresh"), 11);
    // The same again: the section is kept whole now, and `kept` still
    // lives where it has since the first version.
    // SAFETY: the same object.
    let report = unsafe { unit.reload(&obj) }.expect("reload");
    assert!(report.reset.is_empty() && report.new.is_empty(), "{report}");
    assert_eq!(call(&unit, "get_kept"), 7, "the older storage, still");
    assert_eq!(call(&unit, "count"), 72);
}

/// Eight threads call into the unit, and one spins in old code calling a
/// `static` helper, while the main thread reloads 1,000 times between two
/// versions:
/// no crash, every call counted (the counter is kept data), and the
/// spinning thread sees the new helper.
#[test]
fn threads_call_during_reloads() {
    // Version K: the helper returns K, and `bump` subtracts it again.
    let version = |k: u32| {
        format!(
            "#include <stdatomic.h>\n\
             static _Atomic long counter;\n\
             __attribute__((noipa)) static int helper(void) {{ return {k}; }}\n\
             long bump(void) {{ return atomic_fetch_add(&counter, 1) + helper() - {k}; }}\n\
             long count(void) {{ return counter; }}\n\
             int spin(volatile int *stop) {{ int seen2 = 0; while (!*stop) {{ if (helper() == 2) seen2 = 1; }} return seen2; }}\n"
        )
    };
    let v = [version(1), version(2)];
    let dir = tempfile::tempdir().unwrap();
    // Calls within one section are resolved by the assembler: with a
    // section per function, every call goes through the entries.
    let flags = ["-ffunction-sections"];
    let obj = build(dir.path(), "hot", &v[0], &flags);
    let linker = Linker::new();
    let unit = Arc::new(reloadable(&linker, &[&obj], Placement::Auto));
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let spin_stop = Box::leak(Box::new(0i32)) as *mut i32 as usize;
    let mut threads = Vec::new();
    for _ in 0..8 {
        let (unit, stop, calls) = (unit.clone(), stop.clone(), calls.clone());
        threads.push(std::thread::spawn(move || {
            // SAFETY: `long (void)`.
            let bump: Symbol<extern "C" fn() -> i64> = unsafe { unit.get("bump") }.unwrap();
            while !stop.load(Ordering::Relaxed) {
                bump();
                calls.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let spinner = {
        let unit = unit.clone();
        std::thread::spawn(move || {
            // SAFETY: `int (volatile int *)`.
            let spin: Symbol<extern "C" fn(*mut i32) -> i32> = unsafe { unit.get("spin") }.unwrap();
            spin(spin_stop as *mut i32)
        })
    };
    let mut reloads = 0;
    let mut sources = Vec::new();
    for (i, src) in v.iter().enumerate() {
        let d = dir.path().join(format!("v{i}"));
        std::fs::create_dir(&d).unwrap();
        sources.push(std::fs::read(build(&d, "hot", src, &flags)).unwrap());
    }
    for round in 0..1000 {
        std::fs::write(&obj, &sources[(round + 1) % 2]).unwrap();
        // SAFETY: the two versions share their data.
        unsafe { unit.reload(&obj) }.expect("reload");
        reloads += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("a caller crashed");
    }
    // SAFETY: the spinner reads it with a volatile load.
    unsafe { std::ptr::write_volatile(spin_stop as *mut i32, 1) };
    assert_eq!(
        spinner.join().unwrap(),
        1,
        "old code calls the new static helper"
    );
    // SAFETY: `long (void)`.
    let count: Symbol<extern "C" fn() -> i64> = unsafe { unit.get("count") }.unwrap();
    assert_eq!(
        count() as u64,
        calls.load(Ordering::Relaxed),
        "every call counted"
    );
    assert_eq!(reloads, 1000);
}

/// C++: an object built before the reload calls the new virtual function
/// through its old vtable; a guarded function-local static and a
/// `std::string` global keep their values; constructors do not run again.
#[test]
fn cpp_vtables_guards_and_strings() {
    const V: [&str; 2] = [
        r#"
#include <string>
struct Shape { virtual int area() const = 0; virtual ~Shape() {} };
struct Square : Shape {
    int s;
    explicit Square(int s) : s(s) {}
    int area() const override { return s * s; }
};
std::string name = "square";
static Shape *made;
volatile int seed = 5;
static int start() { return seed; }
extern "C" void make(int s) { made = new Square(s); }
extern "C" int area() { return made->area(); }
extern "C" int counter() { static int n = start(); return ++n; }
extern "C" int name_length() { return (int)name.size(); }
extern "C" void grow_name() { name += "!"; }
"#,
        r#"
#include <string>
struct Shape { virtual int area() const = 0; virtual ~Shape() {} };
struct Square : Shape {
    int s;
    explicit Square(int s) : s(s) {}
    int area() const override { return 10 * s * s; }
};
std::string name = "square";
static Shape *made;
volatile int seed = 5;
static int start() { return seed; }
extern "C" void make(int s) { made = new Square(s); }
extern "C" int area() { return made->area(); }
extern "C" int counter() { static int n = start(); return 1000 + ++n; }
extern "C" int name_length() { return (int)name.size(); }
extern "C" void grow_name() { name += "!"; }
__attribute__((noinline)) static int checked(int b) { if (!b) throw std::string("zero"); return 100 / b; }
extern "C" int thrown() { try { return checked(seed - 5); } catch (const std::string &e) { return -(int)e.size(); } }
"#,
    ];
    let dir = tempfile::tempdir().unwrap();
    let obj = common::compile_with("g++", dir.path(), "shapes", V[0], &[]);
    let linker = Linker::new();
    linker.load_library("stdc++", &[]).expect("libstdc++");
    let unit = reloadable(&linker, &[&obj], Placement::Auto);
    // SAFETY: `void (int)`, `void (void)`.
    let make: Symbol<extern "C" fn(i32)> = unsafe { unit.get("make") }.unwrap();
    make(3);
    let grow: Symbol<extern "C" fn()> = unsafe { unit.get("grow_name") }.unwrap();
    grow();
    assert_eq!(call(&unit, "area"), 9);
    assert_eq!(call(&unit, "counter"), 6);
    assert_eq!(call(&unit, "name_length"), 7);

    common::compile_with("g++", dir.path(), "shapes", V[1], &[]);
    // SAFETY: the same data.
    let report = unsafe { unit.reload(&obj) }.expect("reload");
    eprintln!("{report}");
    assert!(report.reset.is_empty(), "{report}");
    assert_eq!(
        call(&unit, "area"),
        90,
        "the old object's vtable leads to the new code"
    );
    assert_eq!(
        call(&unit, "counter"),
        1007,
        "the guarded static is kept, not initialised again"
    );
    assert_eq!(
        call(&unit, "name_length"),
        7,
        "the std::string is kept, not constructed again"
    );
    grow();
    assert_eq!(call(&unit, "name_length"), 8);
    assert_eq!(
        call(&unit, "thrown"),
        -4,
        "an exception through the new code"
    );
    drop(unit);
}

/// Thread-locals keep their values when the unit's block is unchanged:
/// in objdl's own TLS module (`-fPIC`: general dynamic) and in static TLS
/// (the default PIE code: local-exec). A block whose layout changed starts
/// again, named in the report.
#[test]
fn thread_locals_are_kept() {
    for flags in [&["-fPIC"][..], &[][..]] {
        let dir = tempfile::tempdir().unwrap();
        let v = |k: i32, extra: &str| {
            format!("__thread int tcount;\n{extra}\nint bump(void) {{ return ++tcount + {k}; }}\n")
        };
        let obj = build(dir.path(), "tls", &v(0, ""), flags);
        let linker = Linker::new();
        let unit = reloadable(&linker, &[&obj], Placement::Auto);
        for i in 1..=3 {
            assert_eq!(call(&unit, "bump"), i, "{flags:?}");
        }
        build(dir.path(), "tls", &v(100, ""), flags);
        // SAFETY: the same thread-locals.
        let report = unsafe { unit.reload(&obj) }.expect("reload");
        assert_eq!(
            report.kept,
            vec!["tcount".to_string()],
            "{flags:?}: {report}"
        );
        assert_eq!(call(&unit, "bump"), 104, "{flags:?}: kept in this thread");
        // SAFETY: `int (void)`.
        let bump: Symbol<IntFn> = unsafe { unit.get("bump") }.unwrap();
        let f = *bump;
        let other = std::thread::spawn(move || f()).join().unwrap();
        assert_eq!(other, 101, "{flags:?}: another thread has its own");
        // A new thread-local changes the block: reset, and named.
        build(dir.path(), "tls", &v(200, "__thread long more = 5;"), flags);
        // SAFETY: as above.
        let report = unsafe { unit.reload(&obj) }.expect("reload");
        assert!(
            report.reset.iter().any(|r| r.starts_with("tcount")),
            "{flags:?}: {report}"
        );
        assert_eq!(report.new, vec!["more".to_string()], "{flags:?}: {report}");
        assert_eq!(call(&unit, "bump"), 201, "{flags:?}: a fresh block");
    }
}

/// Every kept byte is the same after the reload: a 64 KiB buffer that the
/// first version filled, and the statics around it.
#[test]
fn kept_bytes_are_unchanged() {
    let v = |k: u32| {
        format!(
            "unsigned char blob[65536];\nstatic unsigned seed = 7;\n\
             void fill(void) {{ for (int i = 0; i < 65536; i++) blob[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16); }}\n\
             unsigned version(void) {{ return {k}; }}\n"
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let obj = build(dir.path(), "blob", &v(1), &[]);
    let linker = Linker::new();
    let unit = reloadable(&linker, &[&obj], Placement::Auto);
    // SAFETY: `void (void)` and the buffer's address.
    let fill: Symbol<extern "C" fn()> = unsafe { unit.get("fill") }.unwrap();
    fill();
    let blob = unit.address("blob").unwrap() as *const u8;
    // SAFETY: the unit's 64 KiB buffer.
    let before = unsafe { std::slice::from_raw_parts(blob, 65536) }.to_vec();
    build(dir.path(), "blob", &v(2), &[]);
    // SAFETY: the same data.
    let report = unsafe { unit.reload(&obj) }.expect("reload");
    assert!(report.kept_bytes >= 65536, "{report}");
    assert_eq!(call(&unit, "version"), 2);
    assert_eq!(unit.address("blob").unwrap() as *const u8, blob, "in place");
    // SAFETY: as above.
    let after = unsafe { std::slice::from_raw_parts(blob, 65536) };
    assert!(before == after, "every kept byte unchanged");
}

/// A reload constructs new C++ objects (the object's data is all new) and
/// does not run constructors again where data was kept.
#[test]
fn constructors_run_only_for_new_data() {
    let dir = tempfile::tempdir().unwrap();
    let linker = Linker::new();
    linker.load_library("stdc++", &[]).expect("libstdc++");
    let obj = common::compile_with(
        "g++",
        dir.path(),
        "greet",
        "extern \"C\" int greeting_length() { return 0; }\n",
        &[],
    );
    let kept = build(
        dir.path(),
        "kept",
        "int x = 1;\nint get_x(void) { return x; }\n",
        &[],
    );
    let unit = reloadable(&linker, &[&obj, &kept], Placement::Auto);
    assert_eq!(call(&unit, "greeting_length"), 0);
    common::compile_with(
        "g++",
        dir.path(),
        "greet",
        "#include <string>\nstd::string greeting(\"hello\");\nextern \"C\" int greeting_length() { return (int)greeting.size(); }\n",
        &[],
    );
    // SAFETY: a new global, constructed by the reload.
    let report = unsafe { unit.reload(&obj) }.expect("reload");
    assert!(
        report.new.len() == 1 && report.new[0].contains("greeting"),
        "{report}"
    );
    assert_eq!(
        call(&unit, "greeting_length"),
        5,
        "the new std::string is constructed"
    );
    build(
        dir.path(),
        "kept",
        "int x = 1;\nint get_x(void) { return x; }\n__attribute__((constructor)) static void again(void) { x = 99; }\n",
        &[],
    );
    // SAFETY: `x` is kept: the new constructor does not run.
    unsafe { unit.reload(&kept) }.expect("reload");
    assert_eq!(
        call(&unit, "get_x"),
        1,
        "kept data is not initialised again"
    );
}

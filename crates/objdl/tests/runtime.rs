//! In-process behaviour of loaded units: symbol resolution rules, the
//! constructor/atexit/destructor life cycle, unwinding through loaded code,
//! W^X and unmapping at close. Every test compiles real C with gcc.

use common::compile_in_tempdir;
use objdl_testkit as common;

use objdl::{Error, Linker, OpenOptions, Placement, Symbol};

/// The mappings of this process that overlap `[base, base + size)`, as maps lines.
fn mappings_in(base: u64, size: u64) -> Vec<String> {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|l| {
            let (range, _) = l.split_once(' ').unwrap();
            let (a, b) = range.split_once('-').unwrap();
            let (a, b) = (
                u64::from_str_radix(a, 16).unwrap(),
                u64::from_str_radix(b, 16).unwrap(),
            );
            a < base + size && b > base
        })
        .map(str::to_string)
        .collect()
}

const FLAVOURS: [&[&str]; 3] = [&[], &["-fPIC"], &["-mcmodel=large"]];

#[test]
fn calls_and_data_in_every_flavour() {
    let src = r#"
        #include <string.h>
        #include <stdlib.h>
        int counter = 5;
        static int helper(int x) { return x * 3; }
        int triple_plus(int x) { return helper(x) + counter++; }
        size_t host_strlen(const char *s) { return strlen(s); }
        const char *greeting(void) { return "hello"; }
        int sum_sorted(int *v, int n) {
            int cmp(const void *a, const void *b);
            qsort(v, n, sizeof *v, cmp);
            return v[0] * 100 + v[n - 1];
        }
        int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
    "#;
    for flags in FLAVOURS {
        for place in [Placement::Auto, Placement::Far] {
            let (_d, o) = compile_in_tempdir("calls", src, flags);
            let linker = Linker::new();
            let unit = unsafe { OpenOptions::new().placement(place).open(&linker, [&o]) }.unwrap();
            let f: Symbol<extern "C" fn(i32) -> i32> = unsafe { unit.get("triple_plus") }.unwrap();
            assert_eq!(f(2), 11, "{flags:?} {place:?}");
            assert_eq!(f(2), 12, "{flags:?} {place:?}");
            let counter: Symbol<*mut i32> = unsafe { unit.get("counter") }.unwrap();
            assert_eq!(unsafe { **counter }, 7);
            let len: Symbol<extern "C" fn(*const u8) -> usize> =
                unsafe { unit.get("host_strlen") }.unwrap();
            assert_eq!(len(c"abcdef".as_ptr().cast()), 6);
            let g: Symbol<extern "C" fn() -> *const std::ffi::c_char> =
                unsafe { unit.get("greeting") }.unwrap();
            assert_eq!(
                unsafe { std::ffi::CStr::from_ptr(g()) }.to_str().unwrap(),
                "hello"
            );
            let sort: Symbol<extern "C" fn(*mut i32, i32) -> i32> =
                unsafe { unit.get("sum_sorted") }.unwrap();
            let mut v = [9, 3, 7, 1];
            assert_eq!(sort(v.as_mut_ptr(), 4), 109);
            if place == Placement::Far {
                assert!(
                    unit.stats().trampolines > 0 || flags == ["-mcmodel=large"],
                    "{:?}",
                    unit.stats()
                );
            }
        }
    }
}

#[test]
fn several_objects_reference_each_other_both_ways() {
    let (_a, a) = compile_in_tempdir("a", "int b_fn(int); int a_data = 40; int a_fn(int x) { return b_fn(x) + 1; } int a_back(void) { return 2; }", &[]);
    let (_b, b) = compile_in_tempdir(
        "b",
        "extern int a_data; int a_back(void); int b_fn(int x) { return x + a_data + a_back(); }",
        &[],
    );
    let linker = Linker::new();
    let unit = unsafe { linker.open_inputs([&a, &b]) }.unwrap();
    let f: Symbol<extern "C" fn(i32) -> i32> = unsafe { unit.get("a_fn") }.unwrap();
    assert_eq!(f(1), 44);
    assert_eq!(unit.stats().objects, 2);
}

#[test]
fn local_symbols_do_not_leak_between_objects() {
    let (_a, a) = compile_in_tempdir("a", "static int value = 1; static int get(void) { return value; } int from_a(void) { return get(); }", &[]);
    let (_b, b) = compile_in_tempdir("b", "static int value = 2; static int get(void) { return value; } int from_b(void) { return get(); }", &[]);
    let linker = Linker::new();
    let unit = unsafe { linker.open_inputs([&a, &b]) }.unwrap();
    let fa: Symbol<extern "C" fn() -> i32> = unsafe { unit.get("from_a") }.unwrap();
    let fb: Symbol<extern "C" fn() -> i32> = unsafe { unit.get("from_b") }.unwrap();
    assert_eq!((fa(), fb()), (1, 2));
    assert!(unit.address("value").is_none() && unit.address("get").is_none());
}

#[test]
fn host_definitions_come_before_dlsym() {
    extern "C" fn fake_abs(x: i32) -> i32 {
        x + 1000
    }
    let (_d, o) = compile_in_tempdir(
        "host",
        "int abs(int); int call_abs(int x) { return abs(x); }",
        &["-fno-builtin"],
    );
    let linker = Linker::new();
    linker.define("abs", fake_abs as *const ());
    let unit = unsafe { linker.open(&o) }.unwrap();
    let f: Symbol<extern "C" fn(i32) -> i32> = unsafe { unit.get("call_abs") }.unwrap();
    assert_eq!(f(-5), 995);
}

#[test]
fn every_unresolved_symbol_is_reported_at_once() {
    let (_d, o) = compile_in_tempdir("unres", "extern int missing_data_q; void missing_fn_q(void); int f(void) { missing_fn_q(); return missing_data_q; }", &[]);
    let err = unsafe { Linker::new().open(&o) }.unwrap_err();
    let Error::Unresolved(list) = &err else {
        panic!("{err}")
    };
    let names: Vec<&str> = list.iter().map(|u| u.symbol.as_str()).collect();
    assert!(
        names.contains(&"missing_data_q") && names.contains(&"missing_fn_q"),
        "{names:?}"
    );
    assert!(err.to_string().contains("unres.o"), "{err}");
}

#[test]
fn undefined_weak_resolves_to_zero() {
    let (_d, o) = compile_in_tempdir("weak", "extern void nobody_defines_this(void) __attribute__((weak)); int has(void) { return nobody_defines_this != 0; }", &["-fPIC"]);
    let unit = unsafe { Linker::new().open(&o) }.unwrap();
    let f: Symbol<extern "C" fn() -> i32> = unsafe { unit.get("has") }.unwrap();
    assert_eq!(f(), 0);
}

#[test]
fn duplicate_strong_definitions_name_both_files() {
    let (_a, a) = compile_in_tempdir("one", "int twice(void) { return 1; }", &[]);
    let (_b, b) = compile_in_tempdir("two", "int twice(void) { return 2; }", &[]);
    let err = unsafe { Linker::new().open_inputs([&a, &b]) }.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::DuplicateSymbol { .. }), "{msg}");
    assert!(
        msg.contains("twice") && msg.contains("one.o") && msg.contains("two.o"),
        "{msg}"
    );
}

/// Constructors run at open; at close the unit's atexit handlers run (LIFO),
/// then its destructors, all before the unmap.
#[test]
fn life_cycle_order_at_open_and_close() {
    let src = r#"
        #include <stdlib.h>
        #include <string.h>
        static char log[256];
        static void add(const char *s) { strcat(log, s); }
        char *(*sink)(char *);
        static void h1(void) { add("h1 "); }
        static void h2(void) { add("h2 "); }
        __attribute__((constructor(101))) static void c1(void) { add("c101 "); }
        __attribute__((constructor)) static void c2(void) { add("c "); atexit(h1); }
        __attribute__((constructor(102))) static void c3(void) { add("c102 "); }
        __attribute__((destructor)) static void d1(void) { add("d "); if (sink) sink(log); }
        const char *get_log(void) { return log; }
        void later(char *(*s)(char *)) { atexit(h2); sink = s; }
    "#;
    static mut SEEN: String = String::new();
    extern "C" fn record(s: *mut std::ffi::c_char) -> *mut std::ffi::c_char {
        // SAFETY: the unit passes its NUL-terminated log; the test is single-threaded here.
        unsafe { SEEN = std::ffi::CStr::from_ptr(s).to_string_lossy().into_owned() };
        s
    }
    let (_d, o) = compile_in_tempdir("life", src, &[]);
    let unit = unsafe { Linker::new().open(&o) }.unwrap();
    let get: Symbol<extern "C" fn() -> *const std::ffi::c_char> =
        unsafe { unit.get("get_log") }.unwrap();
    assert_eq!(
        unsafe { std::ffi::CStr::from_ptr(get()) }.to_str().unwrap(),
        "c101 c102 c "
    );
    let later: Symbol<
        extern "C" fn(extern "C" fn(*mut std::ffi::c_char) -> *mut std::ffi::c_char),
    > = unsafe { unit.get("later") }.unwrap();
    later(record);
    let (base, size) = (unit.stats().base, unit.stats().size);
    assert!(!mappings_in(base, size).is_empty());
    unit.close();
    #[allow(static_mut_refs)]
    // SAFETY: written once by `record` during close, read after.
    let seen = unsafe { SEEN.clone() };
    assert_eq!(seen, "c101 c102 c h2 h1 d ");
    assert!(
        mappings_in(base, size).is_empty(),
        "still mapped after close: {:?}",
        mappings_in(base, size)
    );
}

#[test]
fn no_mapping_is_writable_and_executable() {
    let src = "int data = 1; const int ro = 2; int bss; int f(void) { return data + ro + bss; }";
    for place in [Placement::Auto, Placement::Far] {
        let (_d, o) = compile_in_tempdir("wx", src, &["-fPIC"]);
        let unit = unsafe {
            OpenOptions::new()
                .placement(place)
                .open(&Linker::new(), [&o])
        }
        .unwrap();
        let maps = mappings_in(unit.stats().base, unit.stats().size);
        assert!(maps.iter().any(|l| l.contains(" r-xp ")), "{maps:?}");
        assert!(maps.iter().any(|l| l.contains(" rw-p ")), "{maps:?}");
        assert!(maps.iter().all(|l| !l.contains("wx")), "{maps:?}");
    }
}

/// `.eh_frame` is registered: the unwinder walks from loaded code into the host.
#[test]
fn unwinding_walks_through_loaded_frames() {
    let src = r#"
        #include <unwind.h>
        static _Unwind_Reason_Code step(struct _Unwind_Context *ctx, void *arg) {
            int *n = arg; (*n)++; return _URC_NO_REASON;
        }
        __attribute__((noinline)) int depth_inner(void) { int n = 0; _Unwind_Backtrace(step, &n); return n; }
        __attribute__((noinline)) int depth(int k) { return k ? depth(k - 1) + 0 * k : depth_inner(); }
    "#;
    let (_d, o) = compile_in_tempdir(
        "unwind",
        src,
        &[
            "-fno-optimize-sibling-calls",
            "-fasynchronous-unwind-tables",
        ],
    );
    let unit = unsafe { Linker::new().open(&o) }.unwrap();
    let depth: Symbol<extern "C" fn(i32) -> i32> = unsafe { unit.get("depth") }.unwrap();
    let shallow = depth(0);
    let deep = depth(5);
    // Five more loaded frames, and the walk continues past them into the
    // host (more than the loaded frames alone).
    assert_eq!(deep - shallow, 5, "shallow {shallow} deep {deep}");
    assert!(shallow > 3, "the walk stopped in loaded code: {shallow}");
}

#[test]
fn bytes_from_memory_and_stats() {
    let (_d, o) = compile_in_tempdir("mem", "int answer(void) { return 42; }", &[]);
    let bytes = std::fs::read(&o).unwrap();
    let unit = unsafe { Linker::new().open_bytes("in-memory.o", &bytes) }.unwrap();
    let f: Symbol<extern "C" fn() -> i32> = unsafe { unit.get("answer") }.unwrap();
    assert_eq!(f(), 42);
    let s = unit.stats();
    assert_eq!(s.objects, 1);
    assert!(s.sections >= 1 && s.size >= 4096 && s.base % 4096 == 0);
    let err = unsafe { unit.get::<extern "C" fn()>("nope") }.unwrap_err();
    assert!(err.to_string().contains("nope"));
}

#[test]
fn each_unit_has_its_own_dso_handle() {
    let src = "extern void *__dso_handle; void *handle(void) { return &__dso_handle; }";
    let (_d, o) = compile_in_tempdir("dso", src, &[]);
    let linker = Linker::new();
    let u1 = unsafe { linker.open(&o) }.unwrap();
    // A second copy (opening the same path again would return the same unit).
    let u2 = unsafe { linker.open_bytes("dso-copy.o", &std::fs::read(&o).unwrap()) }.unwrap();
    let h1: Symbol<extern "C" fn() -> usize> = unsafe { u1.get("handle") }.unwrap();
    let h2: Symbol<extern "C" fn() -> usize> = unsafe { u2.get("handle") }.unwrap();
    assert_ne!(h1(), h2());
    let (b1, s1) = (u1.stats().base as usize, u1.stats().size as usize);
    assert!((b1..b1 + s1).contains(&h1()));
}

static CAPTURED: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

extern "C" fn capture_rust_backtrace() {
    *CAPTURED.lock().unwrap() = std::backtrace::Backtrace::force_capture().to_string();
}

/// libc's backtrace() inside loaded code, and Rust's std::backtrace in a
/// host callback called from loaded code, both walk through the loaded
/// frames into the host.
#[test]
fn backtraces_walk_from_loaded_code_into_the_host() {
    let src = r#"
        #include <execinfo.h>
        __attribute__((noinline)) int depth_c(void) { void *buf[128]; return backtrace(buf, 128); }
        __attribute__((noinline)) int loaded_outer(int k) { return k ? loaded_outer(k - 1) + 0 * k : depth_c(); }
        __attribute__((noinline)) void call_back(void (*f)(void)) { f(); __asm__ volatile(""); }
    "#;
    let (_d, o) = compile_in_tempdir(
        "bt",
        src,
        &[
            "-fno-optimize-sibling-calls",
            "-fasynchronous-unwind-tables",
        ],
    );
    let unit = unsafe { Linker::new().open(&o) }.unwrap();
    let outer: Symbol<extern "C" fn(i32) -> i32> = unsafe { unit.get("loaded_outer") }.unwrap();
    let (shallow, deep) = (outer(0), outer(6));
    assert_eq!(deep - shallow, 6, "shallow {shallow}, deep {deep}");
    assert!(shallow > 4, "libc's walk stopped in loaded code: {shallow}");

    let call_back: Symbol<extern "C" fn(extern "C" fn())> =
        unsafe { unit.get("call_back") }.unwrap();
    call_back(capture_rust_backtrace);
    let bt = CAPTURED.lock().unwrap().clone();
    assert!(bt.contains("capture_rust_backtrace"), "{bt}");
    assert!(
        bt.contains("backtraces_walk_from_loaded_code_into_the_host"),
        "the walk did not pass the loaded frame: {bt}"
    );
}

#[test]
fn perf_map_notes_the_unload() {
    let (_d, o) = compile_in_tempdir("perfnote", "int perf_noted(int x) { return x + 1; }", &[]);
    let unit = unsafe { OpenOptions::new().perf_map(true).open(&Linker::new(), [&o]) }.unwrap();
    let base = unit.stats().base;
    let path = format!("/tmp/perf-{}.map", std::process::id());
    let map = std::fs::read_to_string(&path).unwrap();
    assert!(map.lines().any(|l| l.ends_with(" perf_noted")), "{map}");
    unit.close();
    let map = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    let note = format!("{base:x} 0 [objdl: unit ");
    assert!(
        map.lines()
            .any(|l| l.starts_with(&note) && l.ends_with("perfnote.o unloaded]")),
        "{map}"
    );
}

/// The memory a unit may reserve is capped, configurably; a 2^60-byte
/// .bss is an error, not an abort.
#[test]
fn unit_size_is_capped() {
    let (_d, o) = compile_in_tempdir(
        "big",
        "static char big[1 << 20]; char *get_big(void) { return big; }",
        &[],
    );
    let linker = Linker::new();
    let err = unsafe { OpenOptions::new().size_limit(256 << 10).open(&linker, [&o]) }.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, Error::NoPlacement { .. })
            && msg.contains("big.o")
            && msg.contains("0x40000-byte limit"),
        "{msg}"
    );
    assert!(unsafe { OpenOptions::new().size_limit(4 << 20).open(&linker, [&o]) }.is_ok());
    let (_dh, huge) = compile_in_tempdir(
        "huge",
        "static char huge[1L << 60]; char *get_huge(void) { return huge; }",
        &[],
    );
    let msg = unsafe { linker.open(&huge) }.unwrap_err().to_string();
    assert!(
        msg.contains("huge.o") && msg.contains("larger than the unit limit"),
        "{msg}"
    );
}

/// Under `Auto`, a unit whose relocations never constrain its base is
/// relocated where the kernel maps it, without planning; a site that does
/// not fit there either gets a GOT slot (a GOT load that stays a load) or,
/// when it needs a trampoline, sends the unit to the planner, which places
/// it within reach. The host symbols are far-away addresses that nothing
/// calls (`no_exec`).
#[test]
fn units_mapped_where_the_kernel_likes_fall_back_to_planning() {
    const FAR: u64 = 0x7e00_0000_0000;
    let near = |base: u64, target: u64| base.abs_diff(target) < 1 << 31;

    // A GOT load of far data: a slot, no planning, the kernel's address.
    let (_d, data) = compile_in_tempdir(
        "far_data",
        "extern int far_var; int get(void) { return far_var; }",
        &["-fPIC"],
    );
    let linker = Linker::new();
    linker.define("far_var", FAR as *const ());
    // SAFETY: no_exec: nothing of the unit runs.
    let unit = unsafe { OpenOptions::new().no_exec(true).open(&linker, [&data]) }.unwrap();
    let s = unit.stats();
    assert_eq!(
        (s.got_slots, s.relaxations, s.trampolines),
        (1, 0, 0),
        "{s}"
    );
    assert!(!near(s.base, FAR), "{s}");
    drop(unit);

    // A call to a far function: planned, and placed next to it.
    let (_d, call) = compile_in_tempdir(
        "far_call",
        "extern int far_fn(void); int call(void) { return far_fn() + 1; }",
        &["-fPIC"],
    );
    let linker = Linker::new();
    linker.define("far_fn", (FAR + 0x1000) as *const ());
    // SAFETY: as above.
    let unit = unsafe { OpenOptions::new().no_exec(true).open(&linker, [&call]) }.unwrap();
    let s = unit.stats();
    assert_eq!(s.trampolines, 0, "{s}");
    assert!(near(s.base, FAR), "{s}");
}

/// A unit's `on_exit` handlers are tied to it as its `atexit` handlers
/// are: they run when it closes (with status 0, as `__cxa_finalize` calls
/// them), before its memory goes, and never again at process exit.
#[test]
fn on_exit_handlers_run_when_their_unit_closes() {
    let (_d, obj) = compile_in_tempdir(
        "onexit",
        r#"
        #include <stdlib.h>
        static void handler(int status, void *arg) { *(int *)arg = 1000 + status; }
        void arm(int *flag) { on_exit(handler, flag); }
        "#,
        &[],
    );
    let flag = Box::leak(Box::new(0i32));
    let linker = Linker::new();
    // SAFETY: the test's object.
    let unit = unsafe { linker.open(&obj) }.unwrap();
    {
        // SAFETY: `void (int *)`.
        let arm: Symbol<extern "C" fn(*mut i32)> = unsafe { unit.get("arm") }.unwrap();
        arm(flag);
    }
    assert_eq!(*flag, 0, "not before the close");
    unit.close();
    assert_eq!(*flag, 1000, "run at close, with status 0");
}

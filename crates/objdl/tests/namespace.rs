//! Many units in one namespace: scopes, reopening, dependencies, and the
//! symbol semantics real build systems rely on (weak, COMMON, COMDAT,
//! visibility, GNU_UNIQUE, IFUNC, __start_/__stop_). Real C and assembly,
//! compiled at test time.

use objdl_testkit as common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

use objdl::{Error, Linker, OpenOptions, Scope, Symbol, Unit};

/// Compiles `src` (C, or assembly when `name` ends in `.s`) into an object
/// `NAME.o` with `gcc -O2 -c FLAGS`.
fn build(dir: &tempfile::TempDir, name: &str, src: &str, flags: &[&str]) -> PathBuf {
    let obj = dir.path().join(format!("{name}.o"));
    let args = [&["-O2"], flags].concat();
    common::compile_to("gcc", &args, &dir.path().join(name), src, &obj);
    obj
}

fn call<T: Copy>(unit: &Unit, name: &str) -> T {
    // SAFETY: every test passes the symbol's real C type.
    *unsafe { unit.get::<T>(name) }.unwrap_or_else(|e| panic!("{name}: {e}"))
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

type Int0 = extern "C" fn() -> i32;
type Int1 = extern "C" fn(i32) -> i32;
type Ptr0 = extern "C" fn() -> usize;

#[test]
fn local_units_are_invisible_until_made_global() {
    let d = tempfile::tempdir().unwrap();
    let lib = build(&d, "lib.c", "int lib_value(void) { return 7; }", &[]);
    let user = build(
        &d,
        "user.c",
        "int lib_value(void); int use_it(void) { return lib_value() * 2; }",
        &[],
    );
    let linker = Linker::new();
    let a = unsafe { linker.open(&lib) }.unwrap();
    assert!(!a.is_global());
    let err = unsafe { linker.open(&user) }.unwrap_err();
    assert!(
        matches!(&err, Error::Unresolved(u) if u[0].symbol == "lib_value"),
        "{err}"
    );
    a.make_global();
    let b = unsafe { linker.open(&user) }.unwrap();
    assert_eq!(call::<Int0>(&b, "use_it")(), 14);
}

#[test]
fn global_units_resolve_later_units() {
    let d = tempfile::tempdir().unwrap();
    let lib = build(
        &d,
        "lib.c",
        "int shared_counter = 40; int bump(void) { return ++shared_counter; }",
        &["-fPIC"],
    );
    let user = build(&d, "user.c", "extern int shared_counter; int bump(void); int twice(void) { bump(); return bump() + shared_counter; }", &["-fPIC"]);
    let linker = Linker::new();
    let a = unsafe {
        OpenOptions::new()
            .scope(Scope::Global)
            .open(&linker, [&lib])
    }
    .unwrap();
    let b = unsafe { linker.open(&user) }.unwrap();
    assert_eq!(call::<Int0>(&b, "twice")(), 84);
    assert_eq!(call::<Int0>(&a, "bump")(), 43);
}

#[test]
fn reopening_a_path_returns_the_same_unit() {
    let d = tempfile::tempdir().unwrap();
    let obj = build(
        &d,
        "counter.c",
        "static int n; int next(void) { return ++n; }",
        &[],
    );
    let linker = Linker::new();
    let first = unsafe { linker.open(&obj) }.unwrap();
    assert_eq!(call::<Int0>(&first, "next")(), 1);
    let second = unsafe { linker.open(&obj) }.unwrap();
    assert_eq!(first.stats().base, second.stats().base);
    assert_eq!(second.handle_count(), 2);
    assert_eq!(
        call::<Int0>(&second, "next")(),
        2,
        "the same unit: state is shared"
    );
    let base = first.stats().base;
    first.close();
    assert!(mapped(base), "still open through the second handle");
    assert_eq!(call::<Int0>(&second, "next")(), 3);
    second.close();
    assert!(!mapped(base), "unloaded when the last handle closed");
    let third = unsafe { linker.open(&obj) }.unwrap();
    assert_eq!(call::<Int0>(&third, "next")(), 1, "reopened fresh");
}

/// Closing a Global unit that another unit binds to keeps it loaded until
/// that unit goes: no dangling reference, and the finalisers run in order.
#[test]
fn a_used_unit_outlives_its_handle() {
    let d = tempfile::tempdir().unwrap();
    let lib = build(
        &d,
        "lib.c",
        r#"
        #include <string.h>
        char log[64];
        int lib_fn(void) { return 5; }
        __attribute__((destructor)) static void bye(void) { strcat(log, "lib-fini "); }
        "#,
        &["-fPIC"],
    );
    let user = build(
        &d,
        "user.c",
        r#"
        #include <string.h>
        extern char log[];
        int lib_fn(void);
        int use_lib(void) { return lib_fn() + 1; }
        __attribute__((destructor)) static void bye(void) { strcat(log, "user-fini "); }
        "#,
        &["-fPIC"],
    );
    let linker = Linker::new();
    let a = unsafe {
        OpenOptions::new()
            .scope(Scope::Global)
            .open(&linker, [&lib])
    }
    .unwrap();
    let log = a.address("log").unwrap();
    let a_base = a.stats().base;
    let b = unsafe { linker.open(&user) }.unwrap();
    a.close();
    assert!(mapped(a_base));
    assert_eq!(call::<Int0>(&b, "use_lib")(), 6);
    // `a`'s handle is closed but `b` still holds it: nothing was finalised.
    // SAFETY: `log` is a 64-byte char array in `a`, which `b` keeps mapped.
    let text = unsafe { std::ffi::CStr::from_ptr(log as *const std::ffi::c_char) }
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(text, "", "no finaliser ran yet");
    b.close();
    assert!(!mapped(a_base), "the last user gone, the library goes");
}

#[test]
fn weak_definitions_give_way_to_strong_ones() {
    let d = tempfile::tempdir().unwrap();
    let weak = build(
        &d,
        "weak.c",
        "__attribute__((weak)) int pick(void) { return 1; } int ask(void) { return pick(); }",
        &[],
    );
    let strong = build(&d, "strong.c", "int pick(void) { return 2; }", &[]);
    for order in [[&weak, &strong], [&strong, &weak]] {
        let unit = unsafe { Linker::new().open_inputs(order) }.unwrap();
        assert_eq!(call::<Int0>(&unit, "ask")(), 2);
    }
}

#[test]
fn common_symbols_take_the_largest_size_and_strictest_alignment() {
    let d = tempfile::tempdir().unwrap();
    let a = build(
        &d,
        "a.c",
        "int buf[4]; int size_a(void) { return sizeof buf; }",
        &["-fcommon"],
    );
    let b = build(
        &d,
        "b.c",
        "__attribute__((aligned(256))) int buf[64]; void *addr_b(void) { return buf; }",
        &["-fcommon"],
    );
    let unit = unsafe { Linker::new().open_inputs([&a, &b]) }.unwrap();
    let addr = call::<Ptr0>(&unit, "addr_b")();
    assert_eq!(addr % 256, 0, "strictest alignment");
    assert_eq!(unit.address("buf"), Some(addr as u64));
    // The largest size: 64 ints are writable without touching the next object.
    // SAFETY: `buf` has room for 64 ints if the largest COMMON size won.
    unsafe { std::ptr::write_bytes(addr as *mut i32, 0x11, 64) };
}

const COMDAT_ASM: &str = r#"
    .section .text.shared_fn,"axG",@progbits,shared_fn,comdat
    .globl shared_fn
    .weak shared_fn
    .type shared_fn, @function
shared_fn:
    movl $VALUE, %eax
    ret
    .text
    .globl WHO
WHO:
    leaq shared_fn(%rip), %rax
    ret
    .section .note.GNU-stack,"",@progbits
"#;

#[test]
fn comdat_first_group_wins_within_and_across_units() {
    let d = tempfile::tempdir().unwrap();
    let one = build(
        &d,
        "one.s",
        &COMDAT_ASM.replace("VALUE", "1").replace("WHO", "addr_one"),
        &[],
    );
    let two = build(
        &d,
        "two.s",
        &COMDAT_ASM.replace("VALUE", "2").replace("WHO", "addr_two"),
        &[],
    );
    // Within one unit: one copy, the first.
    let unit = unsafe { Linker::new().open_inputs([&one, &two]) }.unwrap();
    assert_eq!(
        call::<Ptr0>(&unit, "addr_one")(),
        call::<Ptr0>(&unit, "addr_two")()
    );
    assert_eq!(call::<Int0>(&unit, "shared_fn")(), 1);
    // Across units: the Global unit's copy is the one the later unit uses.
    let linker = Linker::new();
    let a = unsafe {
        OpenOptions::new()
            .scope(Scope::Global)
            .open(&linker, [&one])
    }
    .unwrap();
    let b = unsafe { linker.open(&two) }.unwrap();
    assert_eq!(
        call::<Ptr0>(&a, "addr_one")(),
        call::<Ptr0>(&b, "addr_two")()
    );
    let f = call::<Ptr0>(&b, "addr_two")();
    // SAFETY: the address of `shared_fn`, `int (void)`.
    let f: Int0 = unsafe { std::mem::transmute::<usize, Int0>(f) };
    assert_eq!(f(), 1);
}

#[test]
fn hidden_and_internal_symbols_are_not_exported() {
    let d = tempfile::tempdir().unwrap();
    let src = r#"
        __attribute__((visibility("hidden"))) int hidden_fn(void) { return 1; }
        __attribute__((visibility("internal"))) int internal_fn(void) { return 2; }
        __attribute__((visibility("protected"))) int protected_fn(void) { return 3; }
        int default_fn(void) { return hidden_fn() + internal_fn() + protected_fn(); }
    "#;
    let obj = build(&d, "vis.c", src, &["-fPIC"]);
    let unit = unsafe { Linker::new().open(&obj) }.unwrap();
    assert!(unit.address("hidden_fn").is_none());
    assert!(unit.address("internal_fn").is_none());
    assert!(unit.address("protected_fn").is_some());
    assert_eq!(call::<Int0>(&unit, "default_fn")(), 6);
}

#[test]
fn gnu_unique_has_one_definition_per_process() {
    let d = tempfile::tempdir().unwrap();
    let asm = |who: &str, v: u32| {
        format!(
            r#"
    .section .data.unique_counter,"awG",@progbits,unique_counter,comdat
    .type unique_counter, @gnu_unique_object
    .globl unique_counter
unique_counter:
    .long {v}
    .text
    .globl {who}
{who}:
    leaq unique_counter(%rip), %rax
    ret
    .section .note.GNU-stack,"",@progbits
"#
        )
    };
    let a = build(&d, "ua.s", &asm("where_a", 10), &[]);
    let b = build(&d, "ub.s", &asm("where_b", 20), &[]);
    let linker = Linker::new();
    let ua = unsafe { OpenOptions::new().scope(Scope::Global).open(&linker, [&a]) }.unwrap();
    let ub = unsafe { OpenOptions::new().scope(Scope::Global).open(&linker, [&b]) }.unwrap();
    let (pa, pb) = (
        call::<Ptr0>(&ua, "where_a")(),
        call::<Ptr0>(&ub, "where_b")(),
    );
    assert_eq!(pa, pb);
    // SAFETY: `unique_counter` is a 4-byte int.
    assert_eq!(unsafe { *(pa as *const i32) }, 10);
}

#[test]
fn ifunc_resolvers_run_and_their_address_is_canonical() {
    let d = tempfile::tempdir().unwrap();
    let src = r#"
        static int calls;
        static int slow(int x) { return x + 1; }
        static int fast(int x) { return x + 100; }
        static void *pick_add(void) { calls++; return fast; }
        int add(int) __attribute__((ifunc("pick_add")));
        int call_add(int x) { return add(x); }
        void *add_address(void) { return (void *)add; }
        int resolver_calls(void) { return calls + 0 * slow(0); }
    "#;
    let other = "int add(int); void *add_from_other(void) { return (void *)add; } int other_call(int x) { return add(x) * 2; }";
    let a = build(&d, "ifunc.c", src, &["-fPIC"]);
    let b = build(&d, "other.c", other, &["-fPIC"]);
    let unit = unsafe { Linker::new().open_inputs([&a, &b]) }.unwrap();
    assert_eq!(call::<Int1>(&unit, "call_add")(1), 101);
    assert_eq!(call::<Int1>(&unit, "other_call")(1), 202);
    assert_eq!(
        call::<Int1>(&unit, "add")(2),
        102,
        "the exported address works too"
    );
    assert_eq!(
        call::<Int0>(&unit, "resolver_calls")(),
        1,
        "one resolver call per IFUNC"
    );
    let here = call::<Ptr0>(&unit, "add_address")();
    assert_eq!(here, call::<Ptr0>(&unit, "add_from_other")());
    assert_eq!(Some(here as u64), unit.address("add"));
}

#[test]
fn start_and_stop_symbols_enclose_sections_from_every_object() {
    let d = tempfile::tempdir().unwrap();
    let decl = "struct entry { const char *name; int value; };";
    let a = build(
        &d,
        "a.c",
        &format!(
            r#"{decl}
            __attribute__((used, section("my_entries"))) static struct entry e1 = {{"one", 1}};
            __attribute__((used, section("my_entries"))) static struct entry e2 = {{"two", 2}};
            static int filler[100] = {{9}};
            extern struct entry __start_my_entries[], __stop_my_entries[];
            int count(void) {{ return __stop_my_entries - __start_my_entries + 0 * filler[0]; }}
            int sum(void) {{ int s = 0; for (struct entry *e = __start_my_entries; e < __stop_my_entries; e++) s += e->value; return s; }}"#
        ),
        &[],
    );
    let b = build(
        &d,
        "b.c",
        &format!(
            r#"{decl} __attribute__((used, section("my_entries"))) static struct entry e3 = {{"three", 30}};"#
        ),
        &[],
    );
    let unit = unsafe { Linker::new().open_inputs([&a, &b]) }.unwrap();
    assert_eq!(call::<Int0>(&unit, "count")(), 3);
    assert_eq!(call::<Int0>(&unit, "sum")(), 33);
}

#[test]
fn no_exec_runs_no_initialiser() {
    let d = tempfile::tempdir().unwrap();
    let src = "int flag = 1; __attribute__((constructor)) static void init(void) { flag = 99; } int get(void) { return flag; }";
    let obj = build(&d, "ctor.c", src, &[]);
    let unit = unsafe {
        OpenOptions::new()
            .no_exec(true)
            .open(&Linker::new(), [&obj])
    }
    .unwrap();
    let flag = unit.address("flag").unwrap();
    // SAFETY: `flag` is an int in the unit.
    assert_eq!(unsafe { *(flag as *const i32) }, 1);
}

#[test]
fn linker_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Linker>();
    check::<Unit>();
}

/// 8 threads open, call and close shared and distinct units at once.
#[test]
fn eight_threads_open_get_close() {
    let d = tempfile::tempdir().unwrap();
    let shared = build(
        &d,
        "shared.c",
        "int shared_twice(int x) { return 2 * x; }",
        &["-fPIC"],
    );
    let distinct: Vec<PathBuf> = (0..8)
        .map(|i| build(&d, &format!("own{i}.c"), &format!("int own_value(void) {{ return {i}; }} int own_twice(void) {{ return 2 * own_value(); }}"), &[]))
        .collect();
    let linker = Arc::new(Linker::new());
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let linker = linker.clone();
            let shared = shared.clone();
            let own = distinct[i].clone();
            std::thread::spawn(move || {
                for round in 0..40 {
                    let s = unsafe { linker.open(&shared) }.unwrap();
                    assert_eq!(call::<Int1>(&s, "shared_twice")(round), 2 * round);
                    let o = unsafe {
                        OpenOptions::new()
                            .scope(if round % 2 == 0 {
                                Scope::Global
                            } else {
                                Scope::Local
                            })
                            .open(&linker, [&own])
                    }
                    .unwrap();
                    assert_eq!(call::<Int0>(&o, "own_twice")(), 2 * i as i32);
                    drop(o);
                    drop(s);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

// Keep the Symbol type in the public surface used by the tests.
#[allow(dead_code)]
fn _symbol_type(s: Symbol<'_, Int0>) -> i32 {
    s()
}

/// Builds `lib{name}.a` from C members in `dir`, with or without an index.
fn archive(
    dir: &tempfile::TempDir,
    name: &str,
    members: &[(&str, &str)],
    indexed: bool,
) -> PathBuf {
    let objs: Vec<PathBuf> = members
        .iter()
        .map(|(n, src)| build(dir, n, src, &[]))
        .collect();
    let path = dir.path().join(format!("lib{name}.a"));
    let flags = if indexed { "rcs" } else { "rcS" };
    common::run_ok(Command::new("ar").arg(flags).arg(&path).args(&objs));
    path
}

#[test]
fn archives_pull_only_the_members_needed() {
    let d = tempfile::tempdir().unwrap();
    let members = [
        (
            "a.c",
            "int from_b(void); int from_a(void) { return from_b() + 1; }",
        ),
        ("b.c", "int from_b(void) { return 41; }"),
        // Pulled, this member would fail: nothing defines `nowhere`.
        (
            "c.c",
            "void nowhere(void); void unused(void) { nowhere(); }",
        ),
    ];
    let main = build(
        &d,
        "main.c",
        "int from_a(void); int entry(void) { return from_a(); }",
        &[],
    );
    for indexed in [true, false] {
        let lib = archive(&d, if indexed { "idx" } else { "noidx" }, &members, indexed);
        let unit = unsafe { Linker::new().open_inputs([&main, &lib]) }
            .unwrap_or_else(|e| panic!("indexed {indexed}: {e}"));
        assert_eq!(call::<Int0>(&unit, "entry")(), 42);
        assert_eq!(unit.stats().objects, 3, "main, a.o and b.o only");
        assert!(unit.address("unused").is_none());
    }
}

/// `load_library` of a path that is a FIFO fails at once, naming it; it
/// used to wait in `dlopen` for a writer. The call runs in a child process
/// (this test binary, running [`load_library_of_a_fifo`]): a thread stuck
/// in `dlopen` holds the dynamic loader's lock, which `exit` needs too.
#[test]
fn load_library_refuses_a_fifo_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("libplugin.so");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "load_library_of_a_fifo", "--ignored"])
        .env("OBJDL_TEST_FIFO", &fifo)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("run this test binary");
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > std::time::Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("load_library of a FIFO did not return within 10 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(status.success(), "{status}");
}

/// The child of [`load_library_refuses_a_fifo_at_once`].
#[test]
#[ignore = "run by load_library_refuses_a_fifo_at_once, in a process of its own"]
fn load_library_of_a_fifo() {
    let Some(fifo) = std::env::var_os("OBJDL_TEST_FIFO") else {
        return;
    };
    let fifo = fifo.to_str().unwrap();
    let msg = Linker::new()
        .load_library(fifo, &[])
        .expect_err("a FIFO is not a library")
        .to_string();
    assert!(
        msg.contains(fifo) && msg.contains("not a regular file (a FIFO)"),
        "{msg}"
    );
}

#[test]
fn minus_l_finds_a_static_archive() {
    let d = tempfile::tempdir().unwrap();
    let lib = archive(
        &d,
        "sample",
        &[("s.c", "int sample(void) { return 7; }")],
        true,
    );
    let found = objdl::find_library("sample", &[d.path().to_path_buf()]).unwrap();
    assert_eq!(found, objdl::LibraryFile::Static(lib));
    assert!(matches!(
        objdl::find_library("m", &[]).unwrap(),
        objdl::LibraryFile::Shared(_)
    ));
    assert!(objdl::find_library("no_such_library_xyz", &[]).is_err());
}

/// A function of this test executable that it does not export: only its
/// `.symtab` knows it (flexdll issue #132).
#[no_mangle]
pub extern "C" fn objdl_test_host_only(x: i32) -> i32 {
    x * 11
}

/// Keeps the function and its symbol in optimised builds, where it would
/// otherwise be inlined and dropped.
#[used]
static KEEP_HOST_ONLY: extern "C" fn(i32) -> i32 = objdl_test_host_only;

#[test]
fn the_executables_own_symbol_table_on_request() {
    let d = tempfile::tempdir().unwrap();
    let obj = build(
        &d,
        "exe.c",
        "int objdl_test_host_only(int); int via_host(int x) { return objdl_test_host_only(x); }",
        &[],
    );
    let linker = Linker::new();
    let bytes = std::fs::read(&obj).unwrap();
    let err = unsafe { linker.open_bytes("exe-a.o", &bytes) }.unwrap_err();
    assert!(err.to_string().contains("objdl_test_host_only"), "{err}");
    linker.use_executable_symbols(true);
    let unit = unsafe { linker.open_bytes("exe-b.o", &bytes) }.unwrap();
    assert_eq!(call::<Int1>(&unit, "via_host")(3), 33);
    assert_eq!(objdl_test_host_only(1), 11);
}

#[test]
fn a_name_falls_back_to_the_next_global_unit_and_lookup_sees_the_scope() {
    let d = tempfile::tempdir().unwrap();
    let first = build(&d, "first.c", "int which(void) { return 1; }", &[]);
    let second = build(&d, "second.c", "int which(void) { return 2; }", &[]);
    let user = build(
        &d,
        "user.c",
        "int which(void); int ask(void) { return which(); }",
        &[],
    );
    let linker = Linker::new();
    let a = unsafe {
        OpenOptions::new()
            .scope(Scope::Global)
            .open(&linker, [&first])
    }
    .unwrap();
    let b = unsafe {
        OpenOptions::new()
            .scope(Scope::Global)
            .open(&linker, [&second])
    }
    .unwrap();
    assert_eq!(linker.lookup("which"), a.address("which"));
    let u1 = unsafe { linker.open_bytes("user1.o", &std::fs::read(&user).unwrap()) }.unwrap();
    assert_eq!(call::<Int0>(&u1, "ask")(), 1);
    drop(u1);
    a.close();
    assert_eq!(
        linker.lookup("which"),
        b.address("which"),
        "the second definition takes over"
    );
    let u2 = unsafe { linker.open_bytes("user2.o", &std::fs::read(&user).unwrap()) }.unwrap();
    assert_eq!(call::<Int0>(&u2, "ask")(), 2);
    assert!(linker.lookup("strlen").is_some(), "then the host");
}

//! Thread-local storage in loaded units: the general- and local-dynamic
//! models through objdl's `__tls_get_addr`, from several threads, with the
//! unit closed while threads are alive; the static models are refused.

mod common;
use common::{compile, run_ok};

use std::process::Command;
use std::sync::{Arc, Barrier};

use objdl::{Error, Linker};

const TLS_C: &str = r#"
    __thread int counter = 5;                 /* .tdata, global: TLSGD  */
    static __thread char scratch[256];        /* .tbss, local: TLSLD + DTPOFF32 */
    static __thread long hits = 100;          /* .tdata, local */
    int bump(void) { hits++; return ++counter; }
    long get_hits(void) { return hits; }
    int scratch_is_zero(void) { for (int i = 0; i < 256; i++) if (scratch[i]) return 0; return 1; }
    void *scratch_address(void) { scratch[0] = 1; return scratch; }
"#;

type Int0 = extern "C" fn() -> i32;

#[test]
fn every_thread_sees_its_own_values() {
    let d = tempfile::tempdir().unwrap();
    let obj = compile(d.path(), "tls", TLS_C, &["-fPIC"]);
    let linker = Linker::new();
    let unit = Arc::new(unsafe { linker.open(&obj) }.unwrap());
    let start = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let unit = unit.clone();
            let start = start.clone();
            std::thread::spawn(move || {
                // SAFETY: the C signatures above.
                let bump: objdl::Symbol<Int0> = unsafe { unit.get("bump") }.unwrap();
                let zero: objdl::Symbol<Int0> = unsafe { unit.get("scratch_is_zero") }.unwrap();
                let hits: objdl::Symbol<extern "C" fn() -> i64> =
                    unsafe { unit.get("get_hits") }.unwrap();
                let addr: objdl::Symbol<extern "C" fn() -> usize> =
                    unsafe { unit.get("scratch_address") }.unwrap();
                start.wait();
                assert_eq!(zero(), 1, "fresh .tbss in thread {t}");
                for i in 1..=(10 * (t + 1)) {
                    assert_eq!(bump(), 5 + i, "thread {t}");
                }
                assert_eq!(hits(), 100 + 10 * (t as i64 + 1));
                addr()
            })
        })
        .collect();
    let mut addresses: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    addresses.sort_unstable();
    addresses.dedup();
    assert_eq!(addresses.len(), 4, "one block per thread");
    // This thread has its own block too, untouched by the others.
    let bump: objdl::Symbol<Int0> = unsafe { unit.get("bump") }.unwrap();
    assert_eq!(bump(), 6);
}

#[test]
fn closing_the_unit_while_threads_live() {
    let d = tempfile::tempdir().unwrap();
    let obj = compile(d.path(), "tls2", TLS_C, &["-fPIC"]);
    let linker = Linker::new();
    for _ in 0..20 {
        let unit = Arc::new(
            unsafe { linker.open_bytes("tls2.o", &std::fs::read(&obj).unwrap()) }.unwrap(),
        );
        let used = Arc::new(Barrier::new(5));
        let closed = Arc::new(Barrier::new(5));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (unit, used, closed) = (unit.clone(), used.clone(), closed.clone());
                std::thread::spawn(move || {
                    // SAFETY: the C signature above.
                    let bump: objdl::Symbol<Int0> = unsafe { unit.get("bump") }.unwrap();
                    assert_eq!(bump(), 6);
                    drop(unit);
                    used.wait();
                    closed.wait(); // alive while the unit closes
                })
            })
            .collect();
        used.wait();
        let unit = Arc::try_unwrap(unit).expect("the threads let go of the unit");
        unit.close(); // frees every thread's block of it
        closed.wait();
        for t in threads {
            t.join().unwrap();
        }
    }
}

#[test]
fn initial_and_local_exec_are_refused_with_the_fix() {
    let d = tempfile::tempdir().unwrap();
    // Default gcc here is PIE: a __thread defined in the object uses local-exec.
    let obj = compile(
        d.path(),
        "le",
        "__thread int tv = 1; int get_tv(void) { return tv; }",
        &[],
    );
    let err = unsafe { Linker::new().open(&obj) }.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::StaticTls { .. }), "{msg}");
    for needle in [
        "le.o:.text",
        "R_X86_64_TPOFF32",
        "`tv`",
        "-fPIC",
        "-ftls-model=global-dynamic",
    ] {
        assert!(msg.contains(needle), "missing {needle}: {msg}");
    }
    // Initial-exec, as -ftls-model=initial-exec makes it.
    let ie = compile(
        d.path(),
        "ie",
        "extern __thread int other; int get(void) { return other; } __thread int other = 2;",
        &["-fPIC", "-ftls-model=initial-exec"],
    );
    let msg = unsafe { Linker::new().open(&ie) }.unwrap_err().to_string();
    assert!(
        msg.contains("R_X86_64_GOTTPOFF") && msg.contains("-fPIC"),
        "{msg}"
    );
}

#[test]
fn tdata_holding_addresses_is_relocated() {
    let d = tempfile::tempdir().unwrap();
    // R_X86_64_64 relocations in .tdata: each thread's block starts as the
    // relocated template.
    let obj = compile(
        d.path(),
        "tdata_ptr",
        r#"
        static int x = 42;
        static const char *msg = "hello";
        __thread int *p = &x;
        __thread const char **q = &msg;
        int get_x(void) { return *p; }
        int msg_is_hello(void) { return (*q)[0] == 'h' && (*q)[4] == 'o'; }
        void repoint(void) { static int y = 7; p = &y; }
        "#,
        &["-fPIC"],
    );
    // SAFETY: the object has no constructors.
    let unit = unsafe { Linker::new().open(&obj) }.unwrap();
    // SAFETY: the C signatures above.
    let (get_x, hello, repoint) = unsafe {
        (
            *unit.get::<Int0>("get_x").unwrap(),
            *unit.get::<Int0>("msg_is_hello").unwrap(),
            *unit.get::<extern "C" fn()>("repoint").unwrap(),
        )
    };
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                assert_eq!((get_x(), hello()), (42, 1));
                repoint();
                assert_eq!(get_x(), 7);
            });
        }
    });
    assert_eq!((get_x(), hello()), (42, 1), "this thread's template copy");
}

const KEY_C: &str = r#"
    #include <pthread.h>
    __thread int tv = 7;
    static pthread_key_t key;
    int seen = -1;
    /* Runs at thread exit, after the __cxa_thread_atexit destructors. */
    static void dtor(void *v) { seen = tv + (int)(long)v; }
    int init_key(void) { return pthread_key_create(&key, dtor); }
    void use_key(void) { tv += 1; pthread_setspecific(key, (void *)100); }
    int get_seen(void) { return seen; }
"#;

#[test]
fn key_destructors_reach_thread_locals_and_never_outlive_the_unit() {
    let d = tempfile::tempdir().unwrap();
    let obj = compile(d.path(), "key", KEY_C, &["-fPIC"]);
    let linker = Linker::new();
    // A pthread key destructor in the unit reads a __thread variable at
    // thread exit: the thread's block is still there.
    // SAFETY: the object has no constructors.
    let unit = unsafe { linker.open(&obj) }.unwrap();
    // SAFETY: the C signatures above.
    let (init, use_key, seen) = unsafe {
        (
            *unit.get::<Int0>("init_key").unwrap(),
            *unit.get::<extern "C" fn()>("use_key").unwrap(),
            *unit.get::<Int0>("get_seen").unwrap(),
        )
    };
    assert_eq!(init(), 0);
    std::thread::spawn(move || use_key()).join().unwrap();
    assert_eq!(seen(), 108);

    // A thread that set the key outlives the unit: the unit's key is
    // deleted at close, so its destructor (unmapped) is not called.
    let (used_tx, used_rx) = std::sync::mpsc::channel();
    let (closed_tx, closed_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        use_key();
        used_tx.send(()).unwrap();
        closed_rx.recv().unwrap();
    });
    used_rx.recv().unwrap();
    unit.close();
    closed_tx.send(()).unwrap();
    thread.join().unwrap();
}

/// A thread-local variable of a shared library, reached from a unit with
/// the general-dynamic model: the pair names the library's module, and
/// glibc's __tls_get_addr serves it.
#[test]
fn thread_locals_of_a_shared_library() {
    let d = tempfile::tempdir().unwrap();
    let lib_c = d.path().join("libtlsdemo.c");
    let lib_so = d.path().join("libtlsdemo.so");
    std::fs::write(
        &lib_c,
        "__thread int lib_counter = 7; int *lib_counter_here(void) { return &lib_counter; }",
    )
    .unwrap();
    run_ok(
        Command::new("gcc")
            .args(["-O2", "-shared", "-fPIC"])
            .arg(&lib_c)
            .arg("-o")
            .arg(&lib_so),
    );
    let unit_src = "extern __thread int lib_counter; int bump_lib(void) { return ++lib_counter; } int *lib_address(void) { return &lib_counter; }";
    let obj = compile(d.path(), "tlsuser", unit_src, &["-fPIC"]);
    let linker = Linker::new();
    linker.load_library(lib_so.to_str().unwrap(), &[]).unwrap();
    let unit = Arc::new(unsafe { linker.open(&obj) }.unwrap());
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let unit = unit.clone();
            std::thread::spawn(move || {
                // SAFETY: the C signatures above.
                let bump: objdl::Symbol<Int0> = unsafe { unit.get("bump_lib") }.unwrap();
                let here: objdl::Symbol<extern "C" fn() -> usize> =
                    unsafe { unit.get("lib_address") }.unwrap();
                for i in 1..=(t + 3) {
                    assert_eq!(bump(), 7 + i);
                }
                // The library's own view of this thread's variable agrees.
                let lib_here =
                    unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"lib_counter_here".as_ptr()) };
                assert!(!lib_here.is_null());
                // SAFETY: `int *lib_counter_here(void)`.
                let lib_here: extern "C" fn() -> usize = unsafe { std::mem::transmute(lib_here) };
                assert_eq!(here(), lib_here());
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

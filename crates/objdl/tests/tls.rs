//! Thread-local storage in loaded units: the general- and local-dynamic
//! models through objdl's `__tls_get_addr`, from several threads, with the
//! unit closed while threads are alive; the initial- and local-exec models
//! in static TLS that ld.so allocates, for the unit's own thread-locals and
//! a shared library's; thread-exit destructors that outlive a close.

use common::{compile, run_ok};
use objdl_testkit as common;

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

/// Both dialects of the dynamic models: calls to `__tls_get_addr`
/// (TLSGD/TLSLD), and TLS descriptors (GOTPC32_TLSDESC/TLSDESC_CALL, with
/// `_TLS_MODULE_BASE_` for the local-dynamic model).
const DIALECTS: [&str; 2] = ["-mtls-dialect=gnu", "-mtls-dialect=gnu2"];

#[test]
fn every_thread_sees_its_own_values() {
    for dialect in DIALECTS {
        every_thread_sees_its_own_values_in(dialect);
    }
}

fn every_thread_sees_its_own_values_in(dialect: &str) {
    let d = tempfile::tempdir().unwrap();
    let obj = compile(d.path(), "tls", TLS_C, &["-fPIC", dialect]);
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

/// Initial-exec and local-exec code (what gcc makes of `__thread` by
/// default, PIE, and with `-fno-pic`) reaches the unit's thread-locals at
/// fixed offsets from the thread pointer: their block lies in static TLS,
/// initialised in threads that existed before the open and in those made
/// after, and general-dynamic code of the same unit (an `-fPIC` object, in
/// both dialects) reaches the same variables.
#[test]
fn initial_and_local_exec_thread_locals_live_in_static_tls() {
    const LE_C: &str = r#"
        static int anchor = 42;
        __thread int counter = 5;             /* local-exec: TPOFF32 */
        __thread int *where = &anchor;        /* .tdata holding an address */
        static __thread char scratch[64];
        int bump(void) { scratch[0]++; return ++counter; }
        int where_is_anchor(void) { return *where; }
        long scratch_offset(void) { return (char *)scratch - (char *)__builtin_thread_pointer(); }
    "#;
    const GD_C: &str = r#"
        extern __thread int counter;          /* general-dynamic or TLSDESC */
        int read_counter(void) { return counter; }
    "#;
    for (le_flags, gd_dialect) in [
        (&[][..], "-mtls-dialect=gnu"),
        (&["-fno-pic", "-fno-pie"][..], "-mtls-dialect=gnu2"),
        (
            &["-fPIC", "-ftls-model=initial-exec"][..],
            "-mtls-dialect=gnu",
        ),
    ] {
        let d = tempfile::tempdir().unwrap();
        let le = compile(d.path(), "le", LE_C, le_flags);
        let gd = compile(d.path(), "gd", GD_C, &["-fPIC", gd_dialect]);
        // A thread that exists before the open.
        let (go_tx, go_rx) = std::sync::mpsc::channel::<Arc<objdl::Unit>>();
        let early = std::thread::spawn(move || {
            let unit = go_rx.recv().unwrap();
            // SAFETY: the C signatures above.
            let bump: objdl::Symbol<Int0> = unsafe { unit.get("bump") }.unwrap();
            let read: objdl::Symbol<Int0> = unsafe { unit.get("read_counter") }.unwrap();
            let anchor: objdl::Symbol<Int0> = unsafe { unit.get("where_is_anchor") }.unwrap();
            assert_eq!(anchor(), 42, "the template, relocated, in an older thread");
            assert_eq!((bump(), bump(), read()), (6, 7, 7));
        });
        let linker = Linker::new();
        let unit = Arc::new(unsafe { linker.open_inputs([&le, &gd]) }.unwrap());
        // SAFETY: the C signatures above.
        let (bump, read, offset) = unsafe {
            (
                *unit.get::<Int0>("bump").unwrap(),
                *unit.get::<Int0>("read_counter").unwrap(),
                *unit
                    .get::<extern "C" fn() -> i64>("scratch_offset")
                    .unwrap(),
            )
        };
        let here = offset();
        assert!(here < 0, "static TLS lies below the thread pointer: {here}");
        go_tx.send(unit.clone()).unwrap();
        early.join().unwrap();
        assert_eq!((read(), bump(), read()), (5, 6, 6), "{le_flags:?}");
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    for i in 1..=t + 1 {
                        assert_eq!(bump(), 5 + i);
                    }
                    assert_eq!(read(), 5 + t + 1);
                    assert_eq!(offset(), here, "the same offset in every thread");
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(unit);
    }
}

/// A shared library's thread-local reached with initial-exec (an `extern
/// __thread` in a default PIE build): ld.so moves the library's block to
/// static TLS, as it does for a library loaded with initial-exec code, and
/// the unit reads and writes the library's own variable in every thread.
#[test]
fn initial_exec_reaches_a_shared_librarys_thread_locals() {
    let d = tempfile::tempdir().unwrap();
    let lib_c = d.path().join("libietls.c");
    let lib_so = d.path().join("libietls.so");
    std::fs::write(
        &lib_c,
        "__thread int ie_counter = 40; int *ie_counter_here(void) { return &ie_counter; }",
    )
    .unwrap();
    run_ok(
        Command::new("gcc")
            .args(["-O2", "-shared", "-fPIC"])
            .arg(&lib_c)
            .arg("-o")
            .arg(&lib_so),
    );
    let obj = compile(
        d.path(),
        "ieuser",
        "extern __thread int ie_counter; int bump_ie(void) { return ie_counter += 2; } int *ie_address(void) { return &ie_counter; }",
        &[],
    );
    let linker = Linker::new();
    linker.load_library(lib_so.to_str().unwrap(), &[]).unwrap();
    let unit = unsafe { linker.open(&obj) }.unwrap();
    assert!(unit
        .relocation_summary()
        .by_type
        .iter()
        .any(|(t, _)| t == "R_X86_64_GOTTPOFF"));
    // SAFETY: the C signatures above.
    let (bump, here) = unsafe {
        (
            *unit.get::<Int0>("bump_ie").unwrap(),
            *unit.get::<extern "C" fn() -> usize>("ie_address").unwrap(),
        )
    };
    // SAFETY: `int *ie_counter_here(void)`, from the library.
    let lib_here: extern "C" fn() -> usize = unsafe {
        std::mem::transmute(libc::dlsym(libc::RTLD_DEFAULT, c"ie_counter_here".as_ptr()))
    };
    for _ in 0..3 {
        std::thread::spawn(move || {
            assert_eq!((bump(), bump()), (42, 44));
            assert_eq!(here(), lib_here(), "the library's own variable");
        })
        .join()
        .unwrap();
    }
}

/// A unit whose static TLS does not fit in glibc's surplus is refused with
/// the bytes it needs and the tunable that makes room.
#[test]
fn static_tls_beyond_the_surplus_names_the_tunable() {
    let d = tempfile::tempdir().unwrap();
    let obj = compile(
        d.path(),
        "bigtls",
        "__thread char big[200000] = \"x\"; int first(void) { return big[0]; }",
        &[],
    );
    let err = unsafe { Linker::new().open(&obj) }.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, Error::StaticTlsFull { bytes: 200000, .. }),
        "{msg}"
    );
    for needle in [
        "bigtls.o",
        "200000 bytes",
        "GLIBC_TUNABLES=glibc.rtld.optional_static_tls=",
        "-fPIC",
    ] {
        assert!(msg.contains(needle), "missing {needle}: {msg}");
    }
    // The same object as -fPIC code (general-dynamic) needs no static TLS.
    let pic = compile(
        d.path(),
        "bigtls_pic",
        "__thread char big[200000] = \"x\"; int first(void) { return big[0]; }",
        &["-fPIC"],
    );
    let unit = unsafe { Linker::new().open(&pic) }.unwrap();
    // SAFETY: the C signature above.
    assert_eq!(
        unsafe { unit.get::<Int0>("first") }.unwrap()(),
        i32::from(b'x')
    );
}

/// A `thread_local` destructor still pending when its unit closes runs at
/// its thread's exit, from the unit's code, which stays mapped until then
/// (as glibc keeps a library mapped while such destructors are pending);
/// then the unit's memory goes.
#[test]
fn thread_exit_destructors_pending_at_close_run_and_then_the_unit_goes() {
    const DTOR_C: &str = r#"
        extern int __cxa_thread_atexit_impl(void (*)(void *), void *, void *);
        extern void *__dso_handle;
        extern void host_note(int);
        static __thread int value;
        static void dtor(void *p) { host_note(*(int *)p); }
        void arm(int v) { value = v; __cxa_thread_atexit_impl(dtor, &value, &__dso_handle); }
    "#;
    static NOTED: std::sync::Mutex<Vec<i32>> = std::sync::Mutex::new(Vec::new());
    extern "C" fn host_note(v: i32) {
        NOTED.lock().unwrap().push(v);
    }
    let maps_have = |base: u64| {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        maps.lines()
            .any(|l| u64::from_str_radix(l.split('-').next().unwrap(), 16).unwrap() == base)
    };
    for flags in [&[][..], &["-fPIC"][..]] {
        NOTED.lock().unwrap().clear();
        let d = tempfile::tempdir().unwrap();
        let obj = compile(d.path(), "dtor", DTOR_C, flags);
        let linker = Linker::new();
        linker.define("host_note", host_note as *const ());
        let unit = unsafe { linker.open(&obj) }.unwrap();
        let base = unit.stats().base;
        // SAFETY: `void arm(int)`.
        let arm = unsafe { *unit.get::<extern "C" fn(i32)>("arm").unwrap() };
        let (armed_tx, armed_rx) = std::sync::mpsc::channel();
        let (closed_tx, closed_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            arm(7);
            armed_tx.send(()).unwrap();
            closed_rx.recv().unwrap();
        });
        armed_rx.recv().unwrap();
        unit.close();
        assert!(maps_have(base), "kept mapped for the pending destructor");
        closed_tx.send(()).unwrap();
        thread.join().unwrap();
        assert_eq!(*NOTED.lock().unwrap(), [7], "{flags:?}: ran at thread exit");
        assert!(!maps_have(base), "{flags:?}: unmapped after it ran");
    }
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
    for dialect in DIALECTS {
        thread_locals_of_a_shared_library_in(dialect);
    }
}

fn thread_locals_of_a_shared_library_in(dialect: &str) {
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
    let obj = compile(d.path(), "tlsuser", unit_src, &["-fPIC", dialect]);
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

/// Calls through a TLS descriptor in assembly, with every register the
/// resolver could clobber holding a known value: general registers, and
/// (with AVX) the whole of ymm0–ymm15, whose upper halves glibc's AVX
/// `memcpy`, which a thread's first access runs, would zero with
/// `vzeroupper`. `probe(out)` stores the registers after the call, then the
/// variable's address, in `out`.
const PROBE_S: &str = r#"
	.section .tbss,"awT",@nobits
	.p2align 6
big:	.zero 8192
	.section .rodata
	.p2align 5
vectors:
	.rept 16
	.quad 0x0101010101010101 * ((. - vectors) / 32 + 1), 0x2323232323232323, 0x4545454545454545, 0x6767676767676767
	.endr
	.text
	.globl probe
	.type probe,@function
# void probe(unsigned long out[8 + 64 + 1]); with_avx in %esi
probe:
	push %rbx
	push %r15
	push %r14
	mov %rdi, %r15
	mov %esi, %r14d
	test %r14d, %r14d
	jz 1f
	.irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu vectors+32*\n(%rip), %ymm\n
	.endr
	jmp 2f
1:	.irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu vectors+32*\n(%rip), %xmm\n
	.endr
2:	mov $0x1111111111111111, %rcx
	mov $0x2222222222222222, %rdx
	mov $0x3333333333333333, %rsi
	mov $0x4444444444444444, %rdi
	mov $0x5555555555555555, %r8
	mov $0x6666666666666666, %r9
	mov $0x7777777777777777, %r10
	mov $0x8888888888888888, %r11
	lea big@tlsdesc(%rip), %rax
	call *big@tlscall(%rax)
	mov %rcx, 0(%r15)
	mov %rdx, 8(%r15)
	mov %rsi, 16(%r15)
	mov %rdi, 24(%r15)
	mov %r8, 32(%r15)
	mov %r9, 40(%r15)
	mov %r10, 48(%r15)
	mov %r11, 56(%r15)
	test %r14d, %r14d
	jz 3f
	.irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu %ymm\n, 64+32*\n(%r15)
	.endr
	vzeroupper
	jmp 4f
3:	.irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	movdqu %xmm\n, 64+32*\n(%r15)
	.endr
4:	add %fs:0, %rax
	mov %rax, 576(%r15)
	pop %r14
	pop %r15
	pop %rbx
	ret
	.section .note.GNU-stack,"",@progbits
"#;

#[test]
fn tls_descriptors_preserve_every_register() {
    let d = tempfile::tempdir().unwrap();
    let src = d.path().join("probe.s");
    let obj = d.path().join("probe.o");
    common::compile_to("gcc", &[], &src, PROBE_S, &obj);
    let linker = Linker::new();
    let unit = Arc::new(unsafe { linker.open(&obj) }.unwrap());
    let avx = std::arch::is_x86_feature_detected!("avx");
    let expected_gprs: [u64; 8] = std::array::from_fn(|i| 0x1111_1111_1111_1111 * (i as u64 + 1));
    let vector = |n: u64| -> [u64; 4] {
        [
            0x0101_0101_0101_0101 * (n + 1),
            0x2323_2323_2323_2323,
            0x4545_4545_4545_4545,
            0x6767_6767_6767_6767,
        ]
    };
    // All four alive at once: a thread's block is freed when it exits.
    let alive = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (unit, alive) = (unit.clone(), alive.clone());
            std::thread::spawn(move || {
                // SAFETY: the assembly above.
                let probe: objdl::Symbol<unsafe extern "C" fn(*mut u64, i32)> =
                    unsafe { unit.get("probe") }.unwrap();
                let mut addresses = Vec::new();
                // The first call allocates this thread's block; the second finds it.
                for _ in 0..2 {
                    let mut out = [0u64; 8 + 64 + 1];
                    // SAFETY: `out` has the 73 words the probe writes.
                    unsafe { probe(out.as_mut_ptr(), avx as i32) };
                    assert_eq!(out[..8], expected_gprs, "general registers");
                    for n in 0..16 {
                        let got = &out[8 + 4 * n..8 + 4 * n + 4];
                        let want = vector(n as u64);
                        let width = if avx { 4 } else { 2 };
                        assert_eq!(got[..width], want[..width], "vector register {n}");
                    }
                    addresses.push(out[72]);
                }
                assert_eq!(addresses[0], addresses[1], "the same block twice");
                assert_eq!(addresses[0] % 64, 0, "the block's alignment");
                alive.wait();
                addresses[0]
            })
        })
        .collect();
    let mut addresses: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    addresses.sort_unstable();
    addresses.dedup();
    assert_eq!(addresses.len(), 4, "one block per thread");
}

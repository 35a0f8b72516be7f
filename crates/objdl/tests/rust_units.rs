//! Units written in Rust: objects from `rustc --emit=obj` (`#![no_std]`,
//! `panic=abort`) in each relocation model, and a std staticlib
//! (`tests/rust/demo.rs`: formatting, allocation, threads, `thread_local!`,
//! `catch_unwind`) driven by a C object (`tests/rust/main.c`), loaded
//! together and compared with the same two linked by gcc.
//!
//! The compiler is `$RUSTC`, else `rustc`; the inputs are built once per
//! test binary.
//!
//! A unit's std registers thread-exit work in every thread that runs its
//! code (`thread_local!` destructors, its thread cleanup), which runs the
//! unit's code: the tests call the unit from threads they join before the
//! unit closes, so that this work runs, and check that a thread outliving
//! the unit skips it instead of jumping into unmapped memory.

use common::{build_rust_demo, run_ok, rustc, RustDemo};
use objdl_testkit as common;

use std::ffi::c_char;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use objdl::{Linker, Symbol, Unit};

/// `tests/rust`, the Rust (and C) sources of these tests.
fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rust")
}

/// A directory of this test binary's own under the target directory, for
/// the built inputs; those of earlier runs are removed.
fn work_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rust_units");
        let me = std::process::id();
        if let Ok(entries) = std::fs::read_dir(&root) {
            for e in entries.flatten() {
                let pid = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok());
                // SAFETY: kill with signal 0 only checks that the process exists.
                let dead = pid.is_some_and(|p| p as u32 != me && unsafe { libc::kill(p, 0) } != 0);
                if dead {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = root.join(me.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        dir
    })
}

/// The relocation models rustc is asked for: its default (PIC on this
/// target), explicit PIC, and static (absolute 32-bit addresses).
const MODELS: [(&str, Option<&str>); 3] = [
    ("default", None),
    ("pic", Some("pic")),
    ("static", Some("static")),
];

/// `tests/rust/nostd.rs` as an object, in relocation model `model`.
fn no_std_object(model: &str, flag: Option<&str>) -> PathBuf {
    let obj = work_dir().join(format!("nostd-{model}.o"));
    let mut cmd = rustc();
    cmd.args(["--edition=2021", "--crate-type=lib", "--crate-name=nostd"])
        .args(["-C", "panic=abort", "-O", "--emit=obj"]);
    if let Some(m) = flag {
        cmd.arg("-C").arg(format!("relocation-model={m}"));
    }
    run_ok(cmd.arg(source_dir().join("nostd.rs")).arg("-o").arg(&obj));
    obj
}

/// What the staticlib test needs, built once.
struct Demo {
    main_o: PathBuf,
    lib: PathBuf,
    /// The gcc-linked program's standard output.
    native_stdout: String,
}

fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| {
        let RustDemo {
            lib,
            main_o,
            native,
        } = build_rust_demo(&source_dir(), work_dir());
        let out = Command::new(&native)
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        Demo {
            main_o,
            lib,
            native_stdout: String::from_utf8(out.stdout).unwrap(),
        }
    })
}

/// Runs `f` on a thread of its own, joined before returning (so that the
/// unit's thread-exit work runs while the unit is loaded).
fn on_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

type Buf = extern "C" fn(*mut c_char, usize) -> usize;
type Caught = extern "C" fn(*mut c_char, usize) -> i32;

/// Calls a function that fills a C buffer (NUL-terminated); returns what it
/// returned and the text.
fn call<R>(f: impl FnOnce(*mut c_char, usize) -> R) -> (R, String) {
    let mut buf = vec![0u8; 4096];
    let r = f(buf.as_mut_ptr().cast(), buf.len());
    let text = std::ffi::CStr::from_bytes_until_nul(&buf).expect("NUL-terminated");
    (r, text.to_str().unwrap().to_string())
}

#[test]
fn no_std_objects_in_every_relocation_model() {
    for (model, flag) in MODELS {
        let obj = no_std_object(model, flag);
        let linker = Linker::new();
        // SAFETY: the object has no constructors.
        let unit = unsafe { linker.open(&obj) }.unwrap_or_else(|e| panic!("{model}: {e}"));
        // SAFETY: the signatures of nostd.rs; the pointers passed are valid
        // for the lengths passed with them.
        unsafe {
            let add: Symbol<extern "C" fn(i64, i64) -> i64> = unit.get("rs_add").unwrap();
            let mul_add: Symbol<extern "C" fn(u32, u32, u32) -> u32> =
                unit.get("rs_mul_add").unwrap();
            let sum: Symbol<unsafe extern "C" fn(*const i32, usize) -> i64> =
                unit.get("rs_sum").unwrap();
            let reverse: Symbol<unsafe extern "C" fn(*mut u8, usize)> =
                unit.get("rs_reverse").unwrap();
            let count: Symbol<extern "C" fn(u64) -> u64> = unit.get("rs_count").unwrap();
            let history: Symbol<extern "C" fn(usize) -> u64> = unit.get("rs_history").unwrap();
            let name_len: Symbol<extern "C" fn(usize) -> usize> = unit.get("rs_name_len").unwrap();

            assert_eq!(add(40, 2), 42, "{model}");
            assert_eq!(add(i64::MAX, 1), i64::MIN, "{model}: wrapping");
            assert_eq!(mul_add(6, 7, 100), 142, "{model}");
            let v: Vec<i32> = (1..=1000)
                .map(|i| if i % 2 == 0 { i } else { -i })
                .collect();
            assert_eq!(sum(v.as_ptr(), v.len()), 500, "{model}");
            assert_eq!(sum(v.as_ptr(), 0), 0, "{model}");
            let mut s = *b"objdl loads rust";
            reverse(s.as_mut_ptr(), s.len());
            assert_eq!(&s, b"tsur sdaol ldjbo", "{model}");
            // A static with interior state: it persists across calls.
            assert_eq!(count(5), 15, "{model}");
            assert_eq!(count(2), 17, "{model}");
            assert_eq!(history(15 % 4), 15, "{model}");
            assert_eq!(history(17 % 4), 17, "{model}");
            // A static table of `&str`: pointers relocated in data.
            assert_eq!(
                [name_len(0), name_len(1), name_len(2), name_len(3)],
                [4, 3, 3, 0],
                "{model}"
            );
        }
        unit.close();
        // A fresh unit has fresh statics.
        // SAFETY: as above.
        let unit = unsafe { linker.open(&obj) }.unwrap();
        // SAFETY: as above.
        let count: Symbol<extern "C" fn(u64) -> u64> = unsafe { unit.get("rs_count") }.unwrap();
        assert_eq!(count(1), 11, "{model}: reopened");
    }
}

/// Opens `main.o` and `libdemo.a` as one unit, whose panics print nothing
/// (the CLI's tests compare its default panic output with gcc's).
fn open_demo(linker: &Linker) -> Unit {
    let d = demo();
    // SAFETY: the unit's constructors are std's own.
    let unit = unsafe { linker.open_inputs([d.main_o.as_path(), d.lib.as_path()]) }.unwrap();
    // SAFETY: `void demo_quiet_panics(void)` in demo.rs.
    let quiet: Symbol<extern "C" fn()> = unsafe { unit.get("demo_quiet_panics") }.unwrap();
    quiet();
    unit
}

#[test]
fn std_staticlib_driven_from_c_matches_gcc() {
    let linker = Linker::new();
    let unit = open_demo(&linker);
    // SAFETY: `size_t run_demo(char *out, size_t cap)` in main.c.
    let run_demo: Symbol<Buf> = unsafe { unit.get("run_demo") }.unwrap();
    let f = *run_demo;
    let (len, got) = on_thread(move || call(|p, n| f(p, n)));
    assert_eq!(len, got.len());
    let want = &demo().native_stdout;
    assert!(want.starts_with(&got), "objdl:\n{got}\ngcc-linked:\n{want}");
    for line in [
        "format: x=00000042 y=2.500 hex=0x2a (\"tuple\", [1, 2, 3])  right|\n",
        "bump: 1 2\nname: initial\nrenamed: renamed\n",
        "threads: worker-0:1..2 initial [start+w0]; worker-1:1..3 initial [start+w1]; \
         worker-2:1..4 initial [start+w2]; worker-3:1..5 initial [start+w3]\n",
        "after threads: renamed, bump 3\n",
        "catch: 1 boom 42\ncatch again: 1 boom 42\nthread panic: 1 thread boom\n",
    ] {
        assert!(got.contains(line), "missing {line:?} in:\n{got}");
    }
    unit.close();
}

#[test]
fn std_thread_locals_catch_unwind_and_threads() {
    let linker = Linker::new();
    let unit = open_demo(&linker);
    // SAFETY: the signatures of demo.rs.
    let (touch, drops) = unsafe {
        (
            *unit.get::<extern "C" fn()>("demo_touch").unwrap(),
            *unit.get::<extern "C" fn() -> u32>("demo_drops").unwrap(),
        )
    };
    // SAFETY: the signatures of demo.rs.
    let (bump, name, rename, threads, catch, thread_panic) = unsafe {
        (
            *unit.get::<extern "C" fn() -> u32>("demo_bump").unwrap(),
            *unit.get::<Buf>("demo_name").unwrap(),
            *unit.get::<extern "C" fn()>("demo_rename").unwrap(),
            *unit.get::<Buf>("demo_threads").unwrap(),
            *unit.get::<Caught>("demo_catch").unwrap(),
            *unit.get::<Caught>("demo_thread_panic").unwrap(),
        )
    };
    // Threads of the host's std, each with its own copy of the unit's
    // thread-locals (zeroed `.tbss`, relocated `.tdata`, lazily initialised
    // with a destructor), each using the unit's std to spawn threads, catch
    // panics and see a spawned thread's panic.
    on_thread(|| {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..4u32)
                .map(|i| {
                    s.spawn(move || {
                        touch();
                        for k in 1..=10 + i {
                            assert_eq!(bump(), k);
                        }
                        assert_eq!(call(|p, n| name(p, n)).1, "initial");
                        rename();
                        assert_eq!(call(|p, n| name(p, n)).1, "renamed");
                        for _ in 0..3 {
                            assert_eq!(call(|p, n| catch(p, n)), (1, "boom 42".into()));
                        }
                        let (_, t) = call(|p, n| threads(p, n));
                        assert_eq!(
                            t,
                            "worker-0:1..2 initial [start+w0]; worker-1:1..3 initial [start+w1]; \
                             worker-2:1..4 initial [start+w2]; worker-3:1..5 initial [start+w3]"
                        );
                        assert_eq!(call(|p, n| thread_panic(p, n)), (1, "thread boom".into()));
                        assert_eq!(bump(), 11 + i, "this thread's count is its own");
                        assert_eq!(call(|p, n| name(p, n)).1, "renamed");
                    })
                })
                .collect();
            // Joined explicitly: a scope's implicit join does not wait for
            // the threads' thread-local destructors.
            for h in handles {
                h.join().unwrap();
            }
        })
    });
    assert_eq!(
        drops(),
        4,
        "each thread's `thread_local!` dropped at its exit"
    );
    unit.close();
}

/// A thread that ran the unit's code may outlive the unit: its thread-exit
/// work in the unit (`thread_local!` destructors through
/// `__cxa_thread_atexit_impl`, std's cleanup key) is dropped at close, not
/// run from unmapped memory when the thread exits.
#[test]
fn threads_that_used_the_unit_may_outlive_it() {
    let linker = Linker::new();
    for _ in 0..5 {
        let unit = open_demo(&linker);
        // SAFETY: the signatures of demo.rs.
        let (rename, name, threads) = unsafe {
            (
                *unit.get::<extern "C" fn()>("demo_rename").unwrap(),
                *unit.get::<Buf>("demo_thread_name").unwrap(),
                *unit.get::<Buf>("demo_threads").unwrap(),
            )
        };
        let (used_tx, used_rx) = std::sync::mpsc::channel();
        let (closed_tx, closed_rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            rename(); // a `thread_local!` with a destructor
            assert_eq!(call(|p, n| name(p, n)).1, "<unnamed>");
            assert!(call(|p, n| threads(p, n)).1.contains("worker-3"));
            used_tx.send(()).unwrap();
            closed_rx.recv().unwrap();
            // Exits with the unit gone.
        });
        used_rx.recv().unwrap();
        unit.close();
        closed_tx.send(()).unwrap();
        thread.join().unwrap();
    }
}

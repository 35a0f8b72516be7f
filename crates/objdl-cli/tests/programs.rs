//! Real C programs run by `objdl run` and compared with the same sources
//! linked by gcc into a native executable: stdout, stderr and exit status
//! must be identical.
//!
//! Each program's objects are compiled at test time in three flavours:
//! the default (PIE) code model, `-fPIC` and `-mcmodel=large`, all `-O2 -c`.
//! The sources are in `tests/c/`. argv[0] differs between the two runs (the
//! first input's path for objdl, the executable for gcc), so no program
//! prints it.

use common::{assert_same, cc, run_with_input, stdout};
use objdl_testkit as common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const OBJDL: &str = env!("CARGO_BIN_EXE_objdl");

/// How long one run of a program may take before the test fails.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The code models each program is compiled with.
const FLAVOURS: [(&str, &[&str]); 3] = [
    ("pie", &[]),
    ("pic", &["-fPIC"]),
    ("large", &["-mcmodel=large"]),
];

fn c_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c")
}

fn check_compiler(status: &Output, what: &str) {
    assert!(
        status.status.success(),
        "{what} failed:\n{}",
        String::from_utf8_lossy(&status.stderr)
    );
}

/// One C program: its sources, libraries, arguments and input.
struct Program<'a> {
    sources: &'a [&'a str],
    /// Library names, passed as `-l NAME` to objdl and `-lNAME` to gcc.
    libs: &'a [&'a str],
    args: &'a [&'a str],
    stdin: &'a [u8],
}

impl Program<'_> {
    fn new<'a>(sources: &'a [&'a str]) -> Program<'a> {
        Program {
            sources,
            libs: &[],
            args: &[],
            stdin: b"",
        }
    }

    /// Compiles the sources with `flags` into objects in `dir`.
    fn objects(&self, dir: &Path, flavour: &str, flags: &[&str]) -> Vec<PathBuf> {
        self.sources
            .iter()
            .map(|src| {
                let obj = dir.join(format!("{}.{flavour}.o", src.trim_end_matches(".c")));
                let out = Command::new(cc())
                    .args(["-O2", "-c"])
                    .args(flags)
                    .arg(c_dir().join(src))
                    .arg("-o")
                    .arg(&obj)
                    .output()
                    .expect("run the C compiler");
                check_compiler(&out, &format!("compiling {src} ({flavour})"));
                obj
            })
            .collect()
    }

    /// Links the sources with gcc into a native executable in `dir`.
    fn native(&self, dir: &Path) -> PathBuf {
        let exe = dir.join("native");
        let mut cmd = Command::new(cc());
        cmd.arg("-O2");
        for src in self.sources {
            cmd.arg(c_dir().join(src));
        }
        cmd.arg("-o").arg(&exe);
        for lib in self.libs {
            cmd.arg(format!("-l{lib}"));
        }
        let out = cmd.output().expect("run the C compiler");
        check_compiler(&out, &format!("linking {:?} natively", self.sources));
        exe
    }

    fn run_native(&self, exe: &Path) -> Output {
        let mut cmd = Command::new(exe);
        cmd.env("OBJDL_TEST_VAR", "forty two");
        cmd.args(self.args);
        run_with_input(cmd, self.stdin, TIMEOUT)
    }

    fn run_objdl(&self, objects: &[PathBuf], extra: &[&str]) -> Output {
        let mut cmd = common::objdl_command(OBJDL);
        cmd.env("OBJDL_TEST_VAR", "forty two");
        cmd.arg("run");
        for lib in self.libs {
            cmd.args(["-l", lib]);
        }
        cmd.args(extra).args(objects).arg("--").args(self.args);
        run_with_input(cmd, self.stdin, TIMEOUT)
    }

    /// Runs the program natively and through objdl in every flavour, and
    /// asserts the outputs are identical. Returns the native output.
    fn check(&self) -> Output {
        self.check_in(&FLAVOURS)
    }

    /// [`Program::check`] with the objects compiled in `flavours`.
    fn check_in(&self, flavours: &[(&str, &[&str])]) -> Output {
        let dir = tempfile::tempdir().expect("temporary directory");
        let expected = self.run_native(&self.native(dir.path()));
        for &(flavour, flags) in flavours {
            let objects = self.objects(dir.path(), flavour, flags);
            let got = self.run_objdl(&objects, &[]);
            assert_same(&expected, &got, &format!("{:?} ({flavour})", self.sources));
        }
        expected
    }
}

#[test]
fn objects_refer_to_each_other_both_ways() {
    let out = Program {
        args: &["7", "extra arg", ""],
        ..Program::new(&["multi_a.c", "multi_b.c"])
    }
    .check();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("b_compute(7)=140"), "{text}");
    assert!(text.contains("callback is a_square: 1"), "{text}");
}

#[test]
fn constructors_destructors_and_atexit_run_in_order() {
    let out = Program::new(&["lifecycle.c", "lifecycle_b.c"]).check();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    let pos = |s: &str| {
        text.find(s)
            .unwrap_or_else(|| panic!("`{s}` missing from:\n{text}"))
    };
    // Sanity-check the reference itself: priorities, then LIFO atexit.
    assert!(pos("constructor 101") < pos("constructor 102"));
    assert!(pos("constructor 102") < pos("constructor 200"));
    assert!(pos("atexit 3") < pos("atexit 2") && pos("atexit 2") < pos("atexit 1"));
    assert!(pos("destructor 102") < pos("destructor 101"));
}

#[test]
fn exit_from_a_nested_function() {
    let out = Program {
        args: &["x"],
        ..Program::new(&["exit_nested.c"])
    }
    .check();
    assert_eq!(out.status.code(), Some(3));
    let text = stdout(&out);
    assert!(text.contains("atexit handler ran"), "{text}");
    assert!(text.contains("destructor ran"), "{text}");
    assert!(!text.contains("not reached"), "{text}");
}

#[test]
fn main_returns_seven() {
    let out = Program::new(&["return7.c"]).check();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(stdout(&out), "returning 7handler after return\n");
}

#[test]
fn stdio_reads_stdin_and_writes_both_streams() {
    let out = Program {
        args: &["upper"],
        stdin: b"12 apples\nhello world\n\n-5\nlast line without newline",
        ..Program::new(&["stdio.c"])
    }
    .check();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("lines=5 total=7 eof=1"));
    // No input at all: a different path and exit status 1.
    let out = Program::new(&["stdio.c"]).check();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn libm_through_dash_l() {
    let out = Program {
        libs: &["m"],
        args: &["0.7"],
        ..Program::new(&["mathlib.c"])
    }
    .check();
    assert_eq!(out.status.code(), Some(0));
    assert!(stdout(&out).contains("same=1"));
}

#[test]
fn function_pointers_are_canonical() {
    let out = Program::new(&["fnptr_a.c", "fnptr_b.c"]).check();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for line in text.lines().filter(|l| l.contains("==")) {
        assert!(
            line.ends_with(" 1"),
            "pointer comparison failed: {line}\n{text}"
        );
    }
    assert!(text.contains("0 1 2 3 4 5 6 7 8 9"), "{text}");
    assert!(text.contains("apple banana cherry fig pear"), "{text}");
}

#[test]
fn weak_symbols() {
    let out = Program::new(&["weak_main.c", "weak_strong.c"]).check();
    assert_eq!(
        stdout(&out),
        "maybe is NULL\n&maybe_data is NULL: 1\nhook: strong hook\nkept: weak kept\nweak_value: 42\n"
    );
    // The other input order: the strong definition still wins.
    let out = Program::new(&["weak_strong.c", "weak_main.c"]).check();
    assert!(stdout(&out).contains("hook: strong hook"));
}

#[test]
fn setjmp_longjmp_and_jump_tables() {
    let out = Program {
        args: &["1"],
        ..Program::new(&["jumps.c"])
    }
    .check();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(
        text.contains("longjmp returned 42 after depth 11"),
        "{text}"
    );
    assert!(text.contains("rounds=3"), "{text}");
    assert!(text.contains("[eleven] eleven"), "{text}");
}

#[test]
fn pthreads() {
    let out = Program {
        libs: &["pthread"],
        ..Program::new(&["threads.c"])
    }
    .check();
    assert_eq!(stdout(&out), "total=7998000 rets=12 once=1\n");
}

/// Thread-locals need -fPIC (PIE code uses the static models, which objdl
/// refuses); both dialects of the dynamic models, in two code models.
#[test]
fn thread_locals_in_both_dialects() {
    let out = Program {
        libs: &["pthread"],
        ..Program::new(&["tls_a.c", "tls_b.c"])
    }
    .check_in(&[
        ("pic", &["-fPIC"]),
        ("pic-gnu2", &["-fPIC", "-mtls-dialect=gnu2"]),
        (
            "large-pic-gnu2",
            &["-mcmodel=large", "-fPIC", "-mtls-dialect=gnu2"],
        ),
    ]);
    assert!(
        stdout(&out).ends_with("total 90612, shared 1000\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn envp_common_symbols_and_local_statics() {
    let out = Program::new(&["env_common_a.c", "env_common_b.c"]).check();
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    assert!(text.contains("envp: OBJDL_TEST_VAR=forty two"), "{text}");
    assert!(text.contains("tentative=7 counter=1"), "{text}");
    assert!(text.contains("who: a b"), "{text}");
}

/// `.c` inputs are compiled by objdl itself (with `$CC -c -O2`).
#[test]
fn c_sources_as_inputs() {
    let program = Program {
        args: &["4"],
        ..Program::new(&["multi_a.c", "multi_b.c"])
    };
    let dir = tempfile::tempdir().expect("temporary directory");
    let expected = program.run_native(&program.native(dir.path()));
    let sources: Vec<PathBuf> = program.sources.iter().map(|s| c_dir().join(s)).collect();
    let got = program.run_objdl(&sources, &[]);
    assert_same(&expected, &got, "multi_a.c multi_b.c as .c inputs");
}

/// `--place far` puts the -fPIC unit out of reach of 32-bit displacements
/// to the host: every call and data access must still work.
#[test]
fn place_far_with_pic_objects() {
    let dir = tempfile::tempdir().expect("temporary directory");
    for program in [
        Program {
            args: &["3"],
            ..Program::new(&["multi_a.c", "multi_b.c"])
        },
        Program {
            args: &["x"],
            ..Program::new(&["exit_nested.c"])
        },
        Program {
            stdin: b"1\n2\n3\n",
            ..Program::new(&["stdio.c"])
        },
        Program {
            libs: &["m"],
            args: &["1.25"],
            ..Program::new(&["mathlib.c"])
        },
        Program::new(&["fnptr_a.c", "fnptr_b.c"]),
        Program::new(&["lifecycle.c", "lifecycle_b.c"]),
        Program::new(&["env_common_a.c", "env_common_b.c"]),
        Program {
            args: &["2"],
            ..Program::new(&["jumps.c"])
        },
    ] {
        let sub = dir.path().join(program.sources[0]);
        std::fs::create_dir(&sub).expect("mkdir");
        let expected = program.run_native(&program.native(&sub));
        let objects = program.objects(&sub, "pic", &["-fPIC"]);
        let got = program.run_objdl(&objects, &["--place", "far"]);
        assert_same(
            &expected,
            &got,
            &format!("{:?} (-fPIC, --place far)", program.sources),
        );
    }
}

/// `--place far` with PIE objects that reach stdin/stdout/stderr with
/// plain PC32 cannot work: a clean objdl error naming them, not a crash.
#[test]
fn place_far_with_pie_stdio_is_a_clean_error() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let program = Program {
        stdin: b"1\n",
        ..Program::new(&["stdio.c"])
    };
    let objects = program.objects(dir.path(), "pie", &[]);
    let got = program.run_objdl(&objects, &["--place", "far"]);
    let err = String::from_utf8_lossy(&got.stderr);
    assert_eq!(got.status.code(), Some(125), "{err}");
    assert!(got.stdout.is_empty());
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("objdl: error: "), "{err}");
    for name in ["stdin", "stdout", "stderr", "stdio.pie.o"] {
        assert!(err.contains(name), "`{name}` not named: {err}");
    }
}

/// Without `-l m` the libm functions are unresolved: one clean error line.
#[test]
fn libm_without_dash_l_is_a_clean_error() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let program = Program::new(&["mathlib.c"]);
    let objects = program.objects(dir.path(), "pie", &[]);
    let got = program.run_objdl(&objects, &[]);
    let err = String::from_utf8_lossy(&got.stderr);
    assert_eq!(got.status.code(), Some(125), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("objdl: error: "), "{err}");
    for name in ["`cos`", "`pow`", "mathlib.pie.o"] {
        assert!(err.contains(name), "{name} not named: {err}");
    }
}

#[test]
fn stats_line() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let program = Program {
        args: &["2"],
        ..Program::new(&["multi_a.c", "multi_b.c"])
    };
    let expected = program.run_native(&program.native(dir.path()));
    for (flavour, flags) in FLAVOURS {
        let objects = program.objects(dir.path(), flavour, flags);
        let got = program.run_objdl(&objects, &["--stats"]);
        assert_eq!(got.status.code(), Some(0), "{flavour}");
        assert_eq!(got.stdout, expected.stdout, "{flavour}");
        let err = String::from_utf8_lossy(&got.stderr);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{flavour}: {err}");
        let words: Vec<&str> = lines[0].split_whitespace().collect();
        let expect_keys = [
            "objects",
            "sections",
            "relocations",
            "trampolines",
            "got-slots",
        ];
        // `objects N sections N relocations N trampolines N got-slots N`,
        // after the `objdl:` prefix and possibly followed by more figures.
        let start = words
            .iter()
            .position(|w| *w == "objects")
            .unwrap_or_else(|| panic!("{flavour}: no `objects` in {err}"));
        for (i, key) in expect_keys.iter().enumerate() {
            assert_eq!(words.get(start + 2 * i), Some(key), "{flavour}: {err}");
            let n = words.get(start + 2 * i + 1).unwrap_or(&"");
            assert!(n.parse::<u64>().is_ok(), "{flavour}: `{key}` {n:?}: {err}");
        }
        assert_eq!(words[start + 1], "2", "{flavour}: two objects: {err}");
        let relocations: u64 = words[start + 5].parse().unwrap();
        assert!(relocations > 10, "{flavour}: {err}");
    }
}

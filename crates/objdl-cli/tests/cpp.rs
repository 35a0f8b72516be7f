//! C++ programs run by `objdl run -l stdc++` and compared with the same
//! objects linked by g++ into a native executable: stdout, stderr and exit
//! status must be identical.
//!
//! The sources are in `tests/cpp/`. Each is compiled at test time with
//! `g++ -O2 -c`, in the default (PIE) flavour and with `-fPIC`; the native
//! executable is linked by g++ from the PIE objects. Covered: static
//! constructors and destructors, COMDAT inline functions, vtables and
//! typeinfo shared by two objects of one unit and by two units, RTTI and
//! `dynamic_cast`, iostream and the containers, exceptions (and one nobody
//! catches), `std::thread`, `thread_local` (PIE local-exec in static TLS,
//! -fPIC general-dynamic, TLS descriptors), and exceptions crossing between
//! a C++ host using the C API and a unit, both ways.

use common::{assert_same, show, stdout};
use objdl_testkit as common;
use objdl_testkit::capi as capi_library;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const OBJDL: &str = env!("CARGO_BIN_EXE_objdl");

/// How long one run of a program may take before the test fails.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The flavours every object is compiled in: (name, g++ flags).
const FLAVOURS: [(&str, &[&str]); 2] = [("pie", &[]), ("pic", &["-fPIC"])];

fn cpp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cpp")
}

fn cxx() -> String {
    std::env::var("CXX").unwrap_or_else(|_| "g++".to_string())
}

/// Runs a compiler or linker, panicking with its diagnostics if it fails.
fn build(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Compiles `tests/cpp/SRC` with `g++ -O2 -c FLAGS` into `dir`.
fn compile(dir: &Path, src: &str, flavour: &str, flags: &[&str]) -> PathBuf {
    let obj = dir.join(format!("{}.{flavour}.o", src.trim_end_matches(".cpp")));
    build(
        Command::new(cxx())
            .args(["-O2", "-c", "-Wall"])
            .args(flags)
            .arg(cpp_dir().join(src))
            .arg("-o")
            .arg(&obj),
        &format!("compiling {src} ({flavour})"),
    );
    obj
}

/// Runs `cmd` in `dir` with `stdin` as its input, killing it after
/// [`TIMEOUT`]. (A program that aborts may leave a core file in `dir`.)
fn run(mut cmd: Command, dir: &Path, stdin: &[u8]) -> Output {
    cmd.current_dir(dir);
    common::run_with_input(cmd, stdin, TIMEOUT)
}

/// One C++ program: its sources, the ones loaded first as a separate
/// Global unit (`objdl run --unit`), its arguments and input.
struct Program<'a> {
    sources: &'a [&'a str],
    units: &'a [&'a str],
    args: &'a [&'a str],
    stdin: &'a [u8],
    flavours: &'a [(&'a str, &'a [&'a str])],
    /// Extra `objdl run` options (before the inputs).
    options: &'a [&'a str],
}

impl Program<'_> {
    fn new<'a>(sources: &'a [&'a str]) -> Program<'a> {
        Program {
            sources,
            units: &[],
            args: &[],
            stdin: b"",
            flavours: &FLAVOURS,
            options: &[],
        }
    }

    /// Every object, `--unit` ones first, in one flavour.
    fn objects(&self, dir: &Path, flavour: &str, flags: &[&str]) -> (Vec<PathBuf>, Vec<PathBuf>) {
        let units = self
            .units
            .iter()
            .map(|s| compile(dir, s, flavour, flags))
            .collect();
        let main = self
            .sources
            .iter()
            .map(|s| compile(dir, s, flavour, flags))
            .collect();
        (units, main)
    }

    /// Links the objects with g++ into a native executable in `dir`.
    fn native(&self, dir: &Path, units: &[PathBuf], main: &[PathBuf]) -> PathBuf {
        let exe = dir.join("native");
        build(
            Command::new(cxx())
                .arg("-O2")
                .args(units)
                .args(main)
                .arg("-o")
                .arg(&exe),
            &format!("linking {:?} natively", self.sources),
        );
        exe
    }

    fn run_native(&self, dir: &Path, exe: &Path) -> Output {
        let mut cmd = Command::new(exe);
        cmd.args(self.args);
        run(cmd, dir, self.stdin)
    }

    fn run_objdl(&self, dir: &Path, units: &[PathBuf], main: &[PathBuf]) -> Output {
        let mut cmd = common::objdl_command(OBJDL);
        cmd.args(["run", "-l", "stdc++"]).args(self.options);
        for u in units {
            cmd.arg("--unit").arg(u);
        }
        cmd.args(main).arg("--").args(self.args);
        run(cmd, dir, self.stdin)
    }

    /// Runs the program natively and through objdl in each flavour, and
    /// asserts the outputs are identical. Returns the native output.
    fn check(&self) -> Output {
        let dir = tempfile::tempdir().expect("temporary directory");
        let dir = dir.path();
        let mut expected = None;
        for &(flavour, flags) in self.flavours {
            let (units, main) = self.objects(dir, flavour, flags);
            let expected = expected.get_or_insert_with(|| {
                // The first flavour's objects make the native executable.
                let exe = self.native(dir, &units, &main);
                self.run_native(dir, &exe)
            });
            let got = self.run_objdl(dir, &units, &main);
            let what = format!(
                "{:?} with --unit {:?} ({flavour}{})",
                self.sources,
                self.units,
                if self.options.is_empty() {
                    String::new()
                } else {
                    format!(", {}", self.options.join(" "))
                }
            );
            assert_same(expected, &got, &what);
        }
        expected.take().expect("at least one flavour")
    }
}

/// Global objects in two objects (in input order, init_priority first),
/// function-local statics, atexit from main and from a constructor, all
/// interleaved in one numbered order; main returns 5.
#[test]
fn static_constructors_and_destructors() {
    let out = Program::new(&["lifecycle.cpp", "lifecycle_b.cpp"]).check();
    assert_eq!(out.status.code(), Some(5), "{}", show(&out));
    let text = stdout(&out);
    let pos = |s: &str| {
        text.find(s)
            .unwrap_or_else(|| panic!("`{s}` missing from:\n{text}"))
    };
    // Sanity checks of the reference itself.
    assert!(
        text.starts_with("1 construct global b (priority 101)\n"),
        "{text}"
    );
    assert!(pos("construct global a1") < pos("construct global b1"));
    assert!(pos("10 construct function-local static") < pos("11 first use of lazy"));
    assert!(pos("same: 1") < pos("main returns 5"));
    assert!(pos("destroy b's function-local static") < pos("atexit from main"));
    assert!(pos("destroy global b1") < pos("destroy global a1"));
    assert!(
        text.ends_with("destroy global b (priority 101)\n"),
        "{text}"
    );
    assert_eq!(out.stderr, b"main on stderr\n");
}

/// What shapes_main prints is true for every comparison of vtables,
/// typeinfo objects, inline functions, variables and template instances.
fn assert_shapes_all_same(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", show(out));
    let text = stdout(out);
    for same in [
        "same vtable true",
        "same typeinfo object true",
        "typeid== true",
        "same name pointer true",
    ] {
        assert_eq!(text.matches(same).count(), 4, "`{same}`:\n{text}");
    }
    for same in [
        "typeid(Labelled) from lib is ours: true",
        "inline variable: same object true, lib sees 17",
        "inline function address same true, template instance address same true",
    ] {
        assert!(text.contains(same), "`{same}` missing from:\n{text}");
    }
    assert_eq!(
        text.matches("cross-cast: labelled square").count(),
        2,
        "{text}"
    );
    assert!(
        text.contains("caught a Square-or-derived thrown by lib: square 14LabelledSquare"),
        "{text}"
    );
    assert!(text.contains("bad_cast caught: std::bad_cast"), "{text}");
    assert!(text.contains("tickets 101 102 103"), "{text}");
}

/// Two objects in one unit that both define the inline virtual functions,
/// vtables and typeinfo of the classes in shapes.h (COMDAT groups: the
/// first wins), with RTTI, dynamic_cast and exceptions between them.
#[test]
fn comdat_vtables_and_rtti_in_one_unit() {
    let out = Program::new(&["shapes_lib.cpp", "shapes_main.cpp"]).check();
    assert_shapes_all_same(&out);
}

/// The same, with shapes_lib.o a separate Global unit opened first: the
/// main unit's copies of the COMDAT groups give way to the first unit's.
#[test]
fn comdat_vtables_and_rtti_across_two_units() {
    let out = Program {
        units: &["shapes_lib.cpp"],
        ..Program::new(&["shapes_main.cpp"])
    }
    .check();
    assert_shapes_all_same(&out);
}

const STL_INPUT: &[u8] = b"the Cat sat 3.5 on the mat\n\nthe end -2 1e3 cat\nlast words 7";

#[test]
fn iostream_string_vector_map() {
    let out = Program {
        args: &["a b", "c", ""],
        stdin: STL_INPUT,
        ..Program::new(&["stl.cpp"])
    }
    .check();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = stdout(&out);
    for line in [
        "lines 4, words 11, numbers 4",
        "the            3",
        "sum 1008.500 min -2.000 max 1000.000",
        "0xff 0XBEEF 10",
        "********42|+     17|true 0",
        "args \"a b\",\"c\",\"\"",
    ] {
        assert!(text.contains(line), "`{line}` missing from:\n{text}");
    }
    assert_eq!(out.stderr, b"to cerr: 11 words\nto clog\n");
    // No input: a different path and status 1.
    let out = Program::new(&["stl.cpp"]).check();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
}

/// Exceptions thrown and caught in loaded code, then one that nobody
/// catches: std::terminate prints its message and aborts, as natively.
#[test]
fn exceptions() {
    let out = Program::new(&["exceptions.cpp"]).check();
    let text = stdout(&out);
    for line in [
        "  unwound frame 4\n  unwound frame 3\n  unwound frame 2\n  unwound frame 1\n  unwound frame 0\ncaught AppError: deep error at depth 4 code 4 dynamic type 9DeepError\n",
        "caught std::exception: plain runtime_error",
        "caught the rethrown one: deep error at depth 1",
        "rethrow_exception: saved for later",
        "nested: outer <- inner",
        "bad_alloc: std::bad_alloc",
        "  operator new\n  unwound frame 3\n  operator delete\n  unwound frame 1\nconstructor threw: n > 2 in constructor",
        "function-try-block rethrew: stoi",
        "caught (...) inside a noexcept function",
        "1000 throws, sum 249500",
    ] {
        assert!(text.contains(line), "`{line}` missing from:\n{text}");
    }
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{}", show(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "terminate called after throwing an instance of 'AppError'\n  what():  nobody catches this\n"
    );
}

/// std::thread with a mutex, a condition variable, atomics, and
/// exceptions thrown and caught on the threads' own stacks.
#[test]
fn std_thread_mutex_and_condition_variable() {
    let out = Program::new(&["threads.cpp"]).check();
    assert_eq!(
        stdout(&out),
        "total 7998000, caught 2, log lines 2\n\
         condition variable hand-off reached stage 2\n\
         atomic counter 80000\n\
         hardware_concurrency>0 1, joinable after join 0\n"
    );
}

/// thread_local with constructors and destructors: -fPIC (general-dynamic)
/// through `__tls_get_addr` and through TLS descriptors; the default PIE
/// (local-exec, and libstdc++'s own thread-locals with initial-exec), in
/// static TLS. (-fno-pic C++ takes `&std::cout` as a 32-bit absolute,
/// which only a copy relocation in a linked executable serves.)
#[test]
fn thread_local_in_every_model() {
    let out = Program {
        flavours: &[
            ("pic", &["-fPIC"]),
            ("pic-gnu2", &["-fPIC", "-mtls-dialect=gnu2"]),
            ("pie", &[]),
        ],
        ..Program::new(&["thread_local.cpp"])
    }
    .check();
    let text = stdout(&out);
    assert!(
        text.contains("thread 2: counter 20, name thread-101/2, object 2, own counter 1\nthread object 2 destroyed after 20 uses\n"),
        "{text}"
    );
    assert!(
        text.ends_with("main again: 4 thread-101\nmain thread's PerThread destroyed, uses 4\n"),
        "{text}"
    );
}

/// std::call_once, std::async and std::promise: inline code in the headers
/// reaches libstdc++'s own thread-local variables (std::__once_callable).
/// With -fPIC that is general-dynamic TLS of another module, which objdl
/// serves through glibc's __tls_get_addr; under PIE it is initial-exec,
/// and ld.so gives libstdc++'s block a place in static TLS, as it does for
/// a library loaded with initial-exec code.
#[test]
fn call_once_async_and_promise() {
    let out = Program {
        flavours: &[("pic", &["-fPIC"]), ("pie", &[])],
        ..Program::new(&["call_once.cpp"])
    }
    .check();
    assert_eq!(
        stdout(&out),
        "call_once ran 1 time(s)\nasync result 42, async exception from async, promised\n"
    );
}

/// -fPIC units placed out of 32-bit reach of libstdc++: every reference to
/// it goes through the GOT or a trampoline, and unwinding still works.
#[test]
fn fpic_units_placed_far() {
    let pic: &[(&str, &[&str])] = &[("pic", &["-fPIC"])];
    let far: &[&str] = &["--place", "far"];
    assert_shapes_all_same(
        &Program {
            units: &["shapes_lib.cpp"],
            flavours: pic,
            options: far,
            ..Program::new(&["shapes_main.cpp"])
        }
        .check(),
    );
    Program {
        flavours: pic,
        options: far,
        ..Program::new(&["exceptions.cpp"])
    }
    .check();
    Program {
        stdin: STL_INPUT,
        flavours: pic,
        options: far,
        ..Program::new(&["stl.cpp"])
    }
    .check();
}

// ---------------------------------------------------------------------------
// A C++ host using the C API.

/// Builds host.cpp with `-DUSE_OBJDL`, linked with the C API's shared
/// library (with an rpath) or its static library.
fn build_host(dir: &Path, shared: bool) -> PathBuf {
    let exe = dir.join(if shared { "host_so" } else { "host_static" });
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("../objdl-capi/include");
    let mut cmd = Command::new(cxx());
    cmd.args(["-O2", "-Wall", "-DUSE_OBJDL", "-I"])
        .arg(include)
        .arg(cpp_dir().join("host.cpp"))
        .arg("-o")
        .arg(&exe);
    capi_library::link_with_capi(&mut cmd, shared);
    build(&mut cmd, &format!("linking host.cpp (shared: {shared})"));
    exe
}

/// A C++ host opens host_unit.o with objdl_dlopen: exceptions thrown in
/// the unit are caught in the host (also through a host frame, and through
/// unit, host and unit frames), and exceptions thrown by the host (a
/// callback, and a function given with objdl_define) are caught in the
/// unit. The reference is host.cpp linked with host_unit.o by g++.
#[test]
fn exceptions_between_a_cpp_host_and_a_unit() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let dir = dir.path();
    let hosts = [build_host(dir, true), build_host(dir, false)];
    let native_host = compile(dir, "host.cpp", "native", &[]);
    let mut expected = None;
    for (flavour, flags) in FLAVOURS {
        let unit = compile(dir, "host_unit.cpp", flavour, flags);
        let expected = expected.get_or_insert_with(|| {
            let exe = dir.join("native");
            build(
                Command::new(cxx())
                    .arg("-O2")
                    .arg(&native_host)
                    .arg(&unit)
                    .arg("-o")
                    .arg(&exe),
                "linking host.cpp with host_unit.cpp natively",
            );
            run(Command::new(&exe), dir, b"")
        });
        for host in &hosts {
            let mut cmd = Command::new(host);
            cmd.arg(&unit);
            let got = run(cmd, dir, b"");
            assert_same(
                expected,
                &got,
                &format!("{} with host_unit ({flavour})", host.display()),
            );
        }
    }
    let out = expected.expect("a native run");
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = stdout(&out);
    for line in [
        "host: caught from the unit: thrown in the unit",
        "  unit: unwound unit_throw\n  host: unwound host_frame_between\nhost: caught through a host frame: thrown in the unit",
        "host: caught SharedError 7 from the unit",
        "  host: unwound host_frame_in_sandwich\n  unit: unwound unit_sandwich\nhost: caught through unit, host and unit frames: thrown in the unit",
        "unit: caught from the callback: thrown by the host's callback (St13runtime_error)",
        "unit: caught SharedError 9 from the callback",
        "unit: caught out_of_range from the host: host index out of range",
        "unit: caught SharedError 41 from the host, typeid 11SharedError",
        "unit: caught int 2 from the host",
    ] {
        assert!(text.contains(line), "`{line}` missing from:\n{text}");
    }
    assert!(text.starts_with("unit: global constructed\n"), "{text}");
    assert!(
        text.ends_with("host: done\nunit: global destroyed\n"),
        "{text}"
    );
}

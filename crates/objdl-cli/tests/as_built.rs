//! Objects as people build them, with the flags projects use, run by
//! `objdl run` and compared with their gcc-linked twins: thread-locals in
//! every model, executable stacks, LTO, hidden entry points, what the gcc
//! driver links implicitly, symbol versions, COMDAT and unwind tables,
//! sanitizers, the program's process (its name, `pthread_exit` of the main
//! thread, `on_exit`), and CREL relocations.
//!
//! Each program is compiled at test time, in the default PIE and in
//! `-fPIC` where the item applies, and linked by the same compiler driver
//! for the twin.

use common::{run_with_timeout, show};
use objdl_testkit as common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

const OBJDL: &str = env!("CARGO_BIN_EXE_objdl");

/// How long one run may take before the test fails.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The code models most items are checked in.
const PIE_AND_PIC: [(&str, &[&str]); 2] = [("pie", &[]), ("pic", &["-fPIC"])];

/// A program and how to build and run it.
struct Twin<'a> {
    /// (file name, contents) of each source.
    sources: &'a [(&'a str, &'a str)],
    /// `gcc` or `g++`.
    driver: &'a str,
    /// Flags for every compilation (besides the flavour's).
    cflags: &'a [&'a str],
    /// Flags for the twin's link only (`-lm`, `-fsanitize=address`).
    ldflags: &'a [&'a str],
    /// Flags for `objdl run` (`-l m`, `--exec-stack`).
    objdl: &'a [&'a str],
    /// The program's arguments.
    args: &'a [&'a str],
}

impl Twin<'_> {
    fn new<'a>(sources: &'a [(&'a str, &'a str)]) -> Twin<'a> {
        Twin {
            sources,
            driver: "gcc",
            cflags: &[],
            ldflags: &[],
            objdl: &[],
            args: &[],
        }
    }

    /// Compiles the sources with `flags` into `dir`; returns the objects.
    fn objects(&self, dir: &Path, flavour: &str, flags: &[&str]) -> Vec<PathBuf> {
        self.sources
            .iter()
            .map(|(name, text)| {
                let src = dir.join(name);
                std::fs::write(&src, text).expect("write the source");
                let obj = dir.join(format!("{name}.{flavour}.o"));
                common::run_ok(
                    Command::new(self.driver)
                        .args(["-c", "-O2", "-g"])
                        .args(self.cflags)
                        .args(flags)
                        .arg(&src)
                        .arg("-o")
                        .arg(&obj),
                );
                obj
            })
            .collect()
    }

    /// Builds the program in `flavour` and runs both: (native, objdl).
    fn run(&self, dir: &Path, flavour: &str, flags: &[&str]) -> (Output, Output) {
        let objs = self.objects(dir, flavour, flags);
        let exe = dir.join(format!("native.{flavour}"));
        common::run_ok(
            Command::new(self.driver)
                .args(flags)
                .args(&objs)
                .args(self.ldflags)
                .arg("-o")
                .arg(&exe),
        );
        let mut native = Command::new(&exe);
        native.args(self.args).current_dir(dir);
        let (native, killed) = run_with_timeout(native, None, TIMEOUT);
        assert!(!killed, "the native {flavour} build did not finish");
        let mut objdl = common::objdl_command(OBJDL);
        objdl
            .arg("run")
            .args(self.objdl)
            .args(&objs)
            .arg("--")
            .args(self.args)
            .current_dir(dir);
        let (objdl, killed) = run_with_timeout(objdl, None, TIMEOUT);
        assert!(!killed, "objdl run ({flavour}) did not finish");
        (native, objdl)
    }

    /// Runs the program in each flavour and checks that objdl's run is
    /// the native one's: status, stdout and stderr. Returns objdl's runs.
    fn same(&self, flavours: &[(&str, &[&str])]) -> Vec<Output> {
        let dir = tempfile::tempdir().expect("temporary directory");
        flavours
            .iter()
            .map(|(flavour, flags)| {
                let (native, objdl) = self.run(dir.path(), flavour, flags);
                assert!(
                    native.status.code() == objdl.status.code()
                        && native.stdout == objdl.stdout
                        && native.stderr == objdl.stderr,
                    "{flavour}: objdl's run differs from the native one\n=== native ===\n{}\n=== objdl ===\n{}",
                    show(&native),
                    show(&objdl)
                );
                objdl
            })
            .collect()
    }
}

/// `objdl ARGS` in `dir`: its output.
fn objdl(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = common::objdl_command(OBJDL);
    cmd.args(args).current_dir(dir);
    let (out, killed) = run_with_timeout(cmd, None, TIMEOUT);
    assert!(!killed, "objdl {args:?} did not finish");
    out
}

/// Asserts that `out` is objdl's own failure with `status`: one line
/// containing every one of `needles`.
fn refused(out: &Output, status: i32, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(status), "{}", show(out));
    let line = err.lines().last().unwrap_or("");
    assert!(line.starts_with("objdl: error: "), "{}", show(out));
    for n in needles {
        assert!(line.contains(n), "`{n}` missing: {}", show(out));
    }
}

// 1. Thread-locals in every model.

const TLS_C: &str = r#"
#include <pthread.h>
#include <stdio.h>
static int anchor = 40;
__thread int counter = 5;
__thread int *where = &anchor;
static __thread char name[16] = "main";
static void *worker(void *p) {
    long i = (long)p;
    snprintf(name, sizeof name, "worker-%ld", i);
    for (long k = 0; k <= i; k++) counter++;
    return (void *)(long)(counter * 100 + *where + name[7]);
}
int main(void) {
    pthread_t t[4];
    long sum = 0;
    for (long i = 0; i < 4; i++) pthread_create(&t[i], 0, worker, (void *)i);
    for (int i = 0; i < 4; i++) { void *r; pthread_join(t[i], &r); sum += (long)r; }
    printf("%s %d %d %ld\n", name, counter, *where, sum);
    return 0;
}
"#;

#[test]
fn thread_locals_in_every_model() {
    Twin::new(&[("tls.c", TLS_C)]).same(&[
        ("pie", &[]),
        ("pic", &["-fPIC"]),
        ("nopic", &["-fno-pic", "-fno-pie", "-no-pie"]),
        ("ie", &["-fPIC", "-ftls-model=initial-exec"]),
        ("gnu2", &["-fPIC", "-mtls-dialect=gnu2"]),
    ]);
}

/// A shared library's thread-local reached with initial-exec from PIE code,
/// and with the general-dynamic model from -fPIC code.
#[test]
fn a_shared_librarys_thread_locals_in_pie_and_pic() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("libtlsshared.c"),
        "__thread int shared_tv = 7; int shared_get(void) { return shared_tv; }",
    )
    .unwrap();
    common::run_ok(
        Command::new("gcc")
            .args([
                "-shared",
                "-fPIC",
                "-O2",
                "libtlsshared.c",
                "-o",
                "libtlsshared.so",
            ])
            .current_dir(dir.path()),
    );
    let libdir = dir.path().display().to_string();
    let lib_l = format!("-L{libdir}");
    let rpath = format!("-Wl,-rpath,{libdir}");
    Twin {
        ldflags: &[&lib_l, "-ltlsshared", &rpath],
        objdl: &["-L", &libdir, "-l", "tlsshared"],
        ..Twin::new(&[(
            "ieuser.c",
            r#"
            #include <stdio.h>
            #include <pthread.h>
            extern __thread int shared_tv;
            int shared_get(void);
            static void *w(void *p) { shared_tv += (int)(long)p; return (void *)(long)shared_get(); }
            int main(void) {
                pthread_t t; void *r;
                pthread_create(&t, 0, w, (void *)3); pthread_join(t, &r);
                shared_tv *= 2;
                printf("%d %d %ld\n", shared_tv, shared_get(), (long)r);
                return 0;
            }
            "#,
        )])
    }
    .same(&PIE_AND_PIC);
}

/// More thread-local storage than glibc's default static TLS surplus:
/// objdl run starts itself again with a larger surplus.
#[test]
fn static_tls_beyond_the_surplus_restarts_with_a_larger_one() {
    Twin::new(&[(
        "bigtls.c",
        r#"
        #include <stdio.h>
        __thread char big[300000] = "initialised";
        int main(void) { big[299999] = 3; printf("%s %d\n", big, big[299999]); return 0; }
        "#,
    )])
    .same(&[("pie", &[])]);
}

/// -fprofile-generate: libgcov's thread-local (initial-exec in the
/// object, defined in libgcov.a, which objdl pulls in) and its .gcda.
#[test]
fn profile_generate_writes_its_profile() {
    let twin = Twin {
        cflags: &["-fprofile-generate", "-fprofile-update=single"],
        ldflags: &["-fprofile-generate"],
        ..Twin::new(&[(
            "prof.c",
            r#"
            #include <stdio.h>
            static int f(int x) { return x * 3; }
            static int g(int x) { return x + 1; }
            int main(int argc, char **argv) {
                int (*p)(int) = argc > 5 ? g : f; int s = 0;
                for (int i = 0; i < 100; i++) s += p(i);
                printf("%d\n", s);
                return 0;
            }
            "#,
        )])
    };
    let dir = tempfile::tempdir().unwrap();
    let (native, objdl) = twin.run(dir.path(), "pie", &[]);
    assert_eq!(native.stdout, objdl.stdout, "{}", show(&objdl));
    assert!(objdl.status.success(), "{}", show(&objdl));
    // Both runs wrote (and the second merged into) the object's profile.
    let gcda = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .find(|e| e.path().extension().is_some_and(|x| x == "gcda"));
    assert!(gcda.is_some(), "no .gcda written");
}

// 2. Executable stacks.

const NESTED_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
int sort_desc(int *a, int n, int bias) {
    int cmp(const void *x, const void *y) { return (*(int *)y + bias) - (*(int *)x + bias); }
    qsort(a, n, sizeof *a, cmp);
    return a[0];
}
int main(void) { int a[] = {3, 1, 4, 1, 5, 9, 2, 6}; printf("%d\n", sort_desc(a, 8, 1)); return 0; }
"#;

#[test]
fn executable_stacks_are_refused_unless_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    // Not optimised, so that the nested function keeps its trampoline.
    let twin = Twin {
        cflags: &["-O0"],
        ..Twin::new(&[("nested.c", NESTED_C)])
    };
    let objs = twin.objects(dir.path(), "pie", &[]);
    let obj = objs[0].to_str().unwrap();
    let needles = [
        "nested.c.pie.o",
        "executable stack",
        "nested function",
        "-ftrampoline-impl=heap",
        "--exec-stack",
    ];
    refused(&objdl(dir.path(), &["run", obj]), 125, &needles);
    refused(&objdl(dir.path(), &["check", obj]), 1, &needles);
    // Hand-written assembly without the note means the same.
    std::fs::write(
        dir.path().join("bare.s"),
        ".text\n.globl main\nmain: xor %eax, %eax\n ret\n",
    )
    .unwrap();
    common::run_ok(
        Command::new("gcc")
            .args(["-c", "bare.s"])
            .current_dir(dir.path()),
    );
    refused(
        &objdl(dir.path(), &["run", "bare.o"]),
        125,
        &["bare.o", "no .note.GNU-stack", ".section .note.GNU-stack"],
    );
    // Asked for: it runs like its twin (whose stack gcc made executable).
    Twin {
        objdl: &["--exec-stack"],
        ldflags: &["-z", "execstack"],
        ..twin
    }
    .same(&PIE_AND_PIC);
}

// 3. LTO objects.

const LTO_C: &str = r#"
#include <stdio.h>
static int helper(int x) { return x * 7; }
int puts(const char *s) { return printf("[own puts] %s\n", s); }
int main(void) { puts("lto"); printf("%d\n", helper(6)); return 0; }
"#;

#[test]
fn lto_objects_are_compiled_first() {
    // Slim (the default with -flto) and fat GCC LTO objects.
    for cflags in [&["-flto"][..], &["-flto", "-ffat-lto-objects"]] {
        Twin {
            cflags,
            ldflags: &["-flto"],
            ..Twin::new(&[("lto.c", LTO_C)])
        }
        .same(&PIE_AND_PIC);
    }
    // `inspect` never calls a slim LTO object fine: it names LTO.
    let dir = tempfile::tempdir().unwrap();
    let objs = Twin {
        cflags: &["-flto"],
        ..Twin::new(&[("lto.c", LTO_C)])
    }
    .objects(dir.path(), "pie", &[]);
    refused(
        &objdl(dir.path(), &["inspect", objs[0].to_str().unwrap()]),
        125,
        &["lto.c.pie.o", "LTO", "slim"],
    );
}

/// LLVM bitcode (`clang -flto`): compiled with clang first.
#[test]
fn llvm_bitcode_is_compiled_with_clang() {
    let clang = common::clang();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lto.c"), LTO_C).unwrap();
    common::run_ok(
        Command::new(&clang)
            .args(["-c", "-O2", "-flto", "lto.c", "-o", "bitcode.o"])
            .current_dir(dir.path()),
    );
    common::run_ok(
        Command::new(&clang)
            .args(["-c", "-O2", "lto.c", "-o", "machine.o"])
            .current_dir(dir.path()),
    );
    common::run_ok(
        Command::new("gcc")
            .args(["machine.o", "-o", "native"])
            .current_dir(dir.path()),
    );
    let native = Command::new(dir.path().join("native")).output().unwrap();
    let run = objdl(dir.path(), &["run", "bitcode.o"]);
    assert_eq!(native.stdout, run.stdout, "{}", show(&run));
    assert!(run.status.success(), "{}", show(&run));
    refused(
        &objdl(dir.path(), &["inspect", "bitcode.o"]),
        125,
        &["bitcode.o", "LLVM bitcode", "-flto"],
    );
}

// 4. Entry points of any visibility.

#[test]
fn a_hidden_main_and_a_hidden_entry() {
    let twin = Twin {
        cflags: &["-fvisibility=hidden"],
        ..Twin::new(&[(
            "hidden.c",
            r#"
            #include <stdio.h>
            int start(int argc, char **argv) { printf("start %d\n", argc); return 4; }
            int main(int argc, char **argv) { puts("hidden main"); return 3; }
            "#,
        )])
    };
    twin.same(&PIE_AND_PIC);
    let dir = tempfile::tempdir().unwrap();
    let objs = twin.objects(dir.path(), "pie", &[]);
    let out = objdl(
        dir.path(),
        &[
            "run",
            "--entry",
            "start",
            objs[0].to_str().unwrap(),
            "--",
            "x",
        ],
    );
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "start 2\n");
}

// 5. What the gcc driver links implicitly.

const IMPLICIT_C: &str = r#"
#include <complex.h>
#include <stdio.h>
__attribute__((target_clones("avx2", "default"))) int twice(int x) { return x * 2; }
int main(void) {
    volatile float complex a = 1.0f + 2.0f * I, b = 3.0f - 1.0f * I;
    float complex q = a / b;
    volatile unsigned long long bits = 0xff00ff00ffULL;
    printf("%d %d %.3f %.3f %d\n", twice(21), !!__builtin_cpu_supports("sse2"),
           crealf(q), cimagf(q), __builtin_popcountll(bits));
    return 0;
}
"#;

#[test]
fn libgcc_helpers_come_from_the_implicit_libraries() {
    let twin = Twin::new(&[("implicit.c", IMPLICIT_C)]);
    twin.same(&PIE_AND_PIC);
    // Without them, __cpu_model and __cpu_indicator_init stay unresolved.
    let dir = tempfile::tempdir().unwrap();
    let objs = twin.objects(dir.path(), "pie", &[]);
    refused(
        &objdl(
            dir.path(),
            &["run", "--no-implicit-libs", objs[0].to_str().unwrap()],
        ),
        125,
        &["unresolved", "__cpu_indicator_init"],
    );
}

#[test]
fn split_stack_gets_morestack() {
    Twin {
        cflags: &["-fsplit-stack"],
        ldflags: &["-fsplit-stack"],
        ..Twin::new(&[(
            "split.c",
            r#"
            #include <stdio.h>
            int deep(int n) { volatile char buf[4096]; buf[0] = (char)n; return n ? deep(n - 1) + buf[0] - n + 1 : 0; }
            int main(void) { printf("%d\n", deep(3000)); return 0; }
            "#,
        )])
    }
    .same(&PIE_AND_PIC);
}

// 6. Symbol versions.

#[test]
fn a_pinned_symbol_version() {
    Twin {
        cflags: &["-fno-builtin"],
        ..Twin::new(&[(
            "pinned.c",
            r#"
            #include <stdio.h>
            #include <string.h>
            __asm__(".symver memcpy, memcpy@GLIBC_2.2.5");
            int main(void) { char b[8]; memcpy(b, "pinned", 7); puts(b); return 0; }
            "#,
        )])
    }
    .same(&PIE_AND_PIC);
}

/// A Global unit defines `api@V1` and the default `api@@V2`; a program
/// that binds to both versions gets each.
#[test]
fn versioned_definitions_in_a_global_unit() {
    let dir = tempfile::tempdir().unwrap();
    let lib = Twin::new(&[(
        "versioned.c",
        r#"
        int api_v1(void) { return 1; }
        int api_v2(void) { return 2; }
        __asm__(".symver api_v1, api@V1");
        __asm__(".symver api_v2, api@@V2");
        "#,
    )])
    .objects(dir.path(), "pic", &["-fPIC"]);
    let main = Twin::new(&[(
        "user.c",
        r#"
        #include <stdio.h>
        int api(void);
        int old_api(void);
        __asm__(".symver old_api, api@V1");
        int main(void) { printf("%d %d\n", api(), old_api()); return 0; }
        "#,
    )])
    .objects(dir.path(), "pie", &[]);
    let out = objdl(
        dir.path(),
        &[
            "run",
            "--unit",
            lib[0].to_str().unwrap(),
            main[0].to_str().unwrap(),
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "2 1\n",
        "{}",
        show(&out)
    );
}

/// A non-default `api@V1` alone does not satisfy a plain `api`, as ld
/// says "undefined reference" for it: only `api@@V2` would.
#[test]
fn a_lone_non_default_version_does_not_satisfy_a_plain_name() {
    let dir = tempfile::tempdir().unwrap();
    let lib = Twin::new(&[(
        "old_only.c",
        r#"
        int api_v1(void) { return 1; }
        __asm__(".symver api_v1, api@V1");
        "#,
    )])
    .objects(dir.path(), "pic", &["-fPIC"]);
    let main = Twin::new(&[(
        "plain.c",
        "int api(void);\nint main(void) { return api(); }\n",
    )])
    .objects(dir.path(), "pie", &[]);
    let out = objdl(
        dir.path(),
        &["run", main[0].to_str().unwrap(), lib[0].to_str().unwrap()],
    );
    refused(&out, 125, &["`api`"]);
}

// 7. COMDAT groups and unwind tables.

const INLINE_H: &str = r#"
#include <string>
inline int twice(int x) { std::string s(x, 'a'); return (int)s.size() * 2; }
"#;

#[test]
fn comdat_groups_of_mixed_exception_settings_in_any_order() {
    let a = (
        "a.cpp",
        "#include \"inline.h\"\nint from_a(int x) { return twice(x); }\n",
    );
    let b = (
        "b.cpp",
        r#"
        #include "inline.h"
        #include <cstdio>
        #include <stdexcept>
        int from_a(int);
        int main() {
            try { std::printf("%d %d\n", twice(4), from_a(5)); throw std::runtime_error("x"); }
            catch (const std::exception &e) { std::printf("caught %s\n", e.what()); }
            return 0;
        }
        "#,
    );
    for order in [[a, b], [b, a]] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("inline.h"), INLINE_H).unwrap();
        let mut objs = Vec::new();
        for (name, text) in order {
            std::fs::write(dir.path().join(name), text).unwrap();
            let obj = format!("{name}.o");
            let eh = if name == "a.cpp" {
                "-fno-exceptions"
            } else {
                "-fexceptions"
            };
            common::run_ok(
                Command::new("g++")
                    .args(["-c", "-O0", "-ffunction-sections", eh, name, "-o", &obj])
                    .current_dir(dir.path()),
            );
            objs.push(obj);
        }
        common::run_ok(
            Command::new("g++")
                .args(&objs)
                .args(["-o", "native"])
                .current_dir(dir.path()),
        );
        let native = Command::new(dir.path().join("native")).output().unwrap();
        let mut args = vec!["run", "-l", "stdc++"];
        args.extend(objs.iter().map(String::as_str));
        let out = objdl(dir.path(), &args);
        assert_eq!(native.stdout, out.stdout, "{:?}: {}", objs, show(&out));
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    }
}

#[test]
fn static_libstdcxx_iostream_exceptions_and_locale() {
    let libstdcxx = String::from_utf8(
        Command::new("g++")
            .arg("-print-file-name=libstdc++.a")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let libstdcxx = libstdcxx.trim().to_string();
    let twin = Twin {
        driver: "g++",
        ldflags: &["-static-libstdc++"],
        objdl: &[&libstdcxx, "-l", "m"],
        ..Twin::new(&[(
            "static.cpp",
            r#"
            #include <iostream>
            #include <locale>
            #include <sstream>
            #include <stdexcept>
            #include <map>
            int main() {
                std::ostringstream out;
                out.imbue(std::locale::classic());
                std::map<std::string, int> m{{"one", 1}, {"two", 2}};
                for (auto &[k, v] : m) out << k << '=' << v << ' ';
                try { throw std::out_of_range("range"); }
                catch (const std::exception &e) { out << "caught " << e.what(); }
                std::cout << out.str() << std::endl;
                std::cout << std::use_facet<std::numpunct<char>>(std::locale()).decimal_point() << std::endl;
                return 0;
            }
            "#,
        )])
    };
    twin.same(&PIE_AND_PIC);
}

// 8. Sanitizers.

#[test]
fn address_sanitizer_reports_like_its_twin() {
    let twin = Twin {
        cflags: &["-fsanitize=address"],
        ldflags: &["-fsanitize=address"],
        ..Twin::new(&[(
            "asan.c",
            r#"
            #include <stdio.h>
            #include <stdlib.h>
            void *kept;
            static void *kept_too;
            void *volatile lost;
            int main(int argc, char **argv) {
                kept = malloc(10); kept_too = malloc(20);
                lost = malloc(33); lost = 0;
                int *a = malloc(8 * sizeof *a);
                for (int i = 0; i < 8; i++) a[i] = i;
                printf("%d\n", a[argc + 2]);
                free(a);
                if (argc > 1) return a[0];
                return 0;
            }
            "#,
        )])
    };
    let dir = tempfile::tempdir().unwrap();
    for (flavour, flags) in PIE_AND_PIC {
        // A leak: the same report (the unit's globals are roots, objdl's
        // own allocations are not the program's leaks), the same status.
        let (native, objdl) = twin.run(dir.path(), flavour, flags);
        let leaks = |o: &Output| {
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .filter(|l| l.contains("leak of") || l.starts_with("SUMMARY"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            leaks(&native),
            [
                "Direct leak of 33 byte(s) in 1 object(s) allocated from:",
                "SUMMARY: AddressSanitizer: 33 byte(s) leaked in 1 allocation(s)."
            ]
        );
        assert_eq!(leaks(&native), leaks(&objdl), "{}", show(&objdl));
        assert_eq!(
            native.status.code(),
            objdl.status.code(),
            "{}",
            show(&objdl)
        );
        // A use after free.
        let uaf = Twin {
            args: &["x"],
            ..twin
        };
        let (native, objdl) = uaf.run(dir.path(), flavour, flags);
        let first = |o: &Output| {
            let e = String::from_utf8_lossy(&o.stderr).into_owned();
            e.lines()
                .find(|l| l.contains("ERROR: AddressSanitizer"))
                .map(|l| {
                    let kind = l.split("ERROR: ").nth(1).unwrap_or(l);
                    kind.split(" on address").next().unwrap_or(kind).to_string()
                })
        };
        assert_eq!(
            first(&native).as_deref(),
            Some("AddressSanitizer: heap-use-after-free")
        );
        assert_eq!(first(&native), first(&objdl), "{}", show(&objdl));
        assert_eq!(
            native.status.code(),
            objdl.status.code(),
            "{}",
            show(&objdl)
        );
    }
}

#[test]
fn thread_sanitizer_with_thread_locals() {
    Twin {
        cflags: &["-fsanitize=thread"],
        ldflags: &["-fsanitize=thread"],
        ..Twin::new(&[("tsan.c", TLS_C)])
    }
    .same(&PIE_AND_PIC);
}

#[test]
fn undefined_behaviour_sanitizer() {
    Twin {
        cflags: &["-fsanitize=undefined"],
        ldflags: &["-fsanitize=undefined"],
        ..Twin::new(&[(
            "ubsan.c",
            r#"
            #include <stdio.h>
            #include <limits.h>
            int main(int argc, char **argv) { int x = INT_MAX; x += argc; printf("%d\n", x); return 0; }
            "#,
        )])
    }
    .same(&PIE_AND_PIC);
}

/// `-fsanitize=leak` leaves no mark in objects: `--sanitize leak` asks.
#[test]
fn leak_sanitizer_when_asked() {
    let twin = Twin {
        cflags: &["-fsanitize=leak"],
        ldflags: &["-fsanitize=leak"],
        objdl: &["--sanitize", "leak"],
        ..Twin::new(&[(
            "lsan.c",
            r#"
            #include <stdio.h>
            #include <stdlib.h>
            void *kept;
            static void *kept_too;
            void *volatile lost;
            int main(void) {
                kept = malloc(10); kept_too = malloc(20); lost = malloc(33); lost = 0;
                printf("%p\n", (void *)0);
                return 0;
            }
            "#,
        )])
    };
    let dir = tempfile::tempdir().unwrap();
    let (native, objdl) = twin.run(dir.path(), "pie", &[]);
    let summary = |o: &Output| {
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .find(|l| l.starts_with("SUMMARY"))
            .map(str::to_string)
    };
    assert_eq!(
        summary(&native).as_deref(),
        Some("SUMMARY: LeakSanitizer: 33 byte(s) leaked in 1 allocation(s).")
    );
    assert_eq!(summary(&native), summary(&objdl), "{}", show(&objdl));
    assert_eq!(native.status.code(), objdl.status.code());
}

// 9. The program's process.

#[test]
fn the_program_is_named_after_its_argv0() {
    let dir = tempfile::tempdir().unwrap();
    let twin = Twin::new(&[(
        "named.c",
        r#"
        #include <err.h>
        #include <errno.h>
        #include <stdio.h>
        extern char *program_invocation_name, *program_invocation_short_name, *__progname;
        int main(void) {
            printf("%s %s\n", program_invocation_short_name, __progname);
            errno = ENOENT; warn("hello");
            return 0;
        }
        "#,
    )]);
    for (flavour, flags) in PIE_AND_PIC {
        let objs = twin.objects(dir.path(), flavour, flags);
        let name = objs[0].file_name().unwrap().to_str().unwrap();
        let out = objdl(dir.path(), &["run", objs[0].to_str().unwrap()]);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("{name} {name}\n")
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("{name}: hello: No such file or directory\n")
        );
    }
}

#[test]
fn pthread_exit_of_the_main_thread_and_on_exit() {
    Twin::new(&[(
        "mainexit.c",
        r#"
        #include <pthread.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <unistd.h>
        static void bye(void) { puts("atexit ran"); }
        static void also(int status, void *arg) { printf("on_exit %d %s\n", status, (char *)arg); }
        static void *worker(void *p) { usleep(100000); puts("worker done"); return 0; }
        int main(void) {
            pthread_t t;
            atexit(bye); on_exit(also, "arg");
            pthread_create(&t, 0, worker, 0);
            puts("main exits"); fflush(stdout);
            pthread_exit(0);
        }
        "#,
    )])
    .same(&PIE_AND_PIC);
}

/// The main thread cancelled (deferred cancellation, at a cancellation
/// point) while another thread runs: as in the linked program, the other
/// thread finishes, the exit handlers run, and the status is the same.
#[test]
fn cancellation_of_the_main_thread() {
    Twin::new(&[(
        "maincancel.c",
        r#"
        #include <pthread.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <unistd.h>
        static void bye(void) { puts("atexit ran"); }
        static void cleanup(void *arg) { printf("cleanup %s\n", (char *)arg); fflush(stdout); }
        static void *worker(void *p) { usleep(100000); puts("worker done"); return p; }
        int main(void) {
            pthread_t t;
            atexit(bye);
            pthread_create(&t, 0, worker, 0);
            pthread_cleanup_push(cleanup, "main");
            puts("main cancels itself"); fflush(stdout);
            pthread_cancel(pthread_self());
            pthread_testcancel();
            pthread_cleanup_pop(0);
            puts("not reached");
            return 3;
        }
        "#,
    )])
    .same(&PIE_AND_PIC);
}

// 10. CREL relocation sections.

/// An object with compact relocations (`clang -Wa,--crel`), which GNU ld
/// cannot link yet, runs like the same source compiled with RELA and
/// linked by gcc (objdl's relocations.rs checks that it relocates to the
/// same bytes).
#[test]
fn crel_objects_load_like_rela() {
    let clang = common::clang();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("crel.c"),
        r#"
        #include <stdio.h>
        static int table[4] = {1, 2, 3, 4};
        int *ptrs[] = {&table[0], &table[3]};
        extern int helper(int);
        int main(void) { printf("%d %d %d\n", *ptrs[0], *ptrs[1], helper(20)); return 0; }
        int helper(int x) { return x + table[2]; }
        "#,
    )
    .unwrap();
    let build = |out: &str, extra: &[&str]| {
        common::run_ok(
            Command::new(&clang)
                .args(["-c", "-O1", "crel.c", "-o", out])
                .args(extra)
                .current_dir(dir.path()),
        );
    };
    build("crel.o", &["-Wa,--crel,--allow-experimental-crel"]);
    build("rela.o", &[]);
    let sections = String::from_utf8(
        Command::new("readelf")
            .args(["-SW", "crel.o"])
            .current_dir(dir.path())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert!(sections.contains(".crel.text"), "{sections}");
    common::run_ok(
        Command::new("gcc")
            .args(["rela.o", "-o", "native"])
            .current_dir(dir.path()),
    );
    let native = Command::new(dir.path().join("native")).output().unwrap();
    let run = objdl(dir.path(), &["run", "crel.o"]);
    assert_eq!(native.stdout, run.stdout, "{}", show(&run));
    assert!(run.status.success(), "{}", show(&run));
}

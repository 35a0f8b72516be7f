//! Source inputs, compiled as a compiler driver would (`compile.rs`):
//! C, C++ and assembly, the flags `-I -D -U -O -g -std= -f -m -W`, the
//! variables `CC CXX CFLAGS CXXFLAGS CPPFLAGS` split as `make` splits them,
//! parallel compilation, the compiler's diagnostics, and gdb stepping
//! through the loaded source. Each program's output is compared with the
//! same source built and linked by gcc or g++ with the same flags.

use common::{show, stdout, write_file as write};
use objdl_testkit as common;

use std::path::Path;
use std::process::{Command, Output};

fn objdl() -> Command {
    common::objdl_command(env!("CARGO_BIN_EXE_objdl"))
}

/// Builds `sources` with `driver FLAGS -o exe` and runs the result.
fn native(driver: &str, flags: &[&str], sources: &[&Path], dir: &Path) -> Output {
    let exe = dir.join("native");
    let out = Command::new(driver)
        .args(flags)
        .args(sources)
        .arg("-o")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(out.status.success(), "{driver}: {}", show(&out));
    Command::new(&exe).output().unwrap()
}

/// A program that shows what the preprocessor and the optimiser were told.
const SHOW_FLAGS: &str = r#"
#include <stdio.h>
#include "config.h"
#ifndef FROM_D
#define FROM_D 0
#endif
#ifndef FROM_ENV
#define FROM_ENV 0
#endif
#ifdef GONE
#error "-U did not undefine GONE"
#endif
int main(void) {
#ifdef __OPTIMIZE__
    const char *opt = "optimised";
#else
    const char *opt = "not optimised";
#endif
    printf("include %d, -D %d, env %d, %s, C standard %ld\n", FROM_INCLUDE, FROM_D, FROM_ENV, opt, (long)__STDC_VERSION__);
    return 0;
}
"#;

#[test]
fn c_flags_reach_the_compiler_as_for_a_linked_twin() {
    let d = tempfile::tempdir().unwrap();
    let src = write(d.path(), "flags.c", SHOW_FLAGS);
    write(d.path(), "inc/config.h", "#define FROM_INCLUDE 7\n");
    let inc = d.path().join("inc");
    let flags = [
        "-I",
        inc.to_str().unwrap(),
        "-DFROM_D=3",
        "-DGONE",
        "-UGONE",
        "-O0",
        "-std=c99",
        "-Wall",
    ];
    let out = objdl().arg("run").args(flags).arg(&src).output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let twin = native("gcc", &flags, &[&src], d.path());
    assert_eq!(stdout(&out), stdout(&twin));
    assert_eq!(
        stdout(&out),
        "include 7, -D 3, env 0, not optimised, C standard 199901\n"
    );
    // --std is the same as -std=.
    let out = objdl()
        .args(["run", "--std", "c11", "-I"])
        .arg(&inc)
        .arg(&src)
        .output()
        .unwrap();
    assert_eq!(
        stdout(&out),
        "include 7, -D 0, env 0, optimised, C standard 201112\n",
        "{}",
        show(&out)
    );
}

/// `CC` and the flag variables are split on whitespace as `make` does; the
/// order is objdl's -O2, then `$CFLAGS $CPPFLAGS`, then the command line,
/// so that the later wins.
#[test]
fn cc_and_cflags_as_make_reads_them() {
    let d = tempfile::tempdir().unwrap();
    let src = write(d.path(), "flags.c", SHOW_FLAGS);
    let inc = d.path().join("inc");
    write(d.path(), "inc/config.h", "#define FROM_INCLUDE 1\n");
    let run = |env: &[(&str, String)], args: &[&str]| {
        let mut cmd = objdl();
        cmd.arg("run").args(args).arg(&src);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{env:?} {args:?}: {}", show(&out));
        stdout(&out)
    };
    let inc_flag = format!("-I{}", inc.display());
    // CC with arguments of its own.
    let line = run(&[("CC", format!("gcc -DFROM_ENV=5 {inc_flag}"))], &[]);
    assert!(
        line.starts_with("include 1, -D 0, env 5, optimised"),
        "{line}"
    );
    // CFLAGS and CPPFLAGS, several words each; -O0 in CFLAGS beats objdl's -O2.
    let line = run(
        &[
            ("CFLAGS", "-O0  -std=c11".to_string()),
            ("CPPFLAGS", format!("{inc_flag} -DFROM_ENV=6")),
        ],
        &[],
    );
    assert!(
        line.starts_with("include 1, -D 0, env 6, not optimised, C standard 201112"),
        "{line}"
    );
    // The command line beats the environment.
    let line = run(
        &[("CFLAGS", format!("-O0 {inc_flag}"))],
        &["-O2", "-DFROM_D=9"],
    );
    assert!(
        line.starts_with("include 1, -D 9, env 0, optimised"),
        "{line}"
    );
    // -g alone compiles without optimisation, for stepping.
    let line = run(&[], &[&inc_flag, "-g"]);
    assert!(line.contains("not optimised"), "{line}");
}

const CXX: &str = r#"
#include <cmath>
#include <iostream>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

static int parse(const std::string &s) {
    if (s.empty()) throw std::invalid_argument("empty");
    return std::stoi(s);
}

int main() {
    std::vector<std::string> words{"3", "", "4"};
    std::map<std::string, int> seen;
    int sum = 0;
    for (const auto &w : words) {
        try {
            sum += parse(w);
        } catch (const std::exception &e) {
            std::cout << "caught " << e.what() << "\n";
        }
        seen[w]++;
    }
    if constexpr (sizeof(long) == 8) std::cout << "C++17\n";
    auto [first, count] = *seen.begin();
    std::cout << "sum " << sum << " hypot " << std::hypot(3.0, 4.0) << " first '" << first << "' " << count << std::endl;
    return 0;
}
"#;

/// A C++ source is compiled with $CXX and links with libstdc++ and libm,
/// in every C++ extension gcc knows.
#[test]
fn cpp_sources_link_with_libstdcxx_and_libm() {
    let d = tempfile::tempdir().unwrap();
    let src = write(d.path(), "prog.cpp", CXX);
    let twin = native("g++", &["-O2", "-std=c++17"], &[&src], d.path());
    assert!(twin.status.success());
    for ext in ["cpp", "cc", "cxx", "C", "c++"] {
        let src = write(d.path(), &format!("prog.{ext}"), CXX);
        let out = objdl()
            .args(["run", "-std=c++17"])
            .arg(&src)
            .output()
            .unwrap();
        assert!(out.status.success(), "{ext}: {}", show(&out));
        assert_eq!(stdout(&out), stdout(&twin), "{ext}");
    }
    // CXX is honoured (and split): a definition only it gives.
    let src = write(
        d.path(),
        "which.cc",
        "#include <cstdio>\nint main() { std::printf(\"%d\\n\", VIA_CXX); }\n",
    );
    let out = objdl()
        .env("CXX", "g++ -DVIA_CXX=42")
        .arg("run")
        .arg(&src)
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "42\n", "{}", show(&out));
}

/// `.s` is assembled as it is; `.S` is preprocessed first (with -D).
#[test]
fn assembly_sources() {
    let d = tempfile::tempdir().unwrap();
    let plain = write(
        d.path(),
        "plain.s",
        "\t.text\n\t.globl answer\nanswer:\n\tmovl $40, %eax\n\tret\n\t.section .note.GNU-stack,\"\",@progbits\n",
    );
    let cpp = write(
        d.path(),
        "cpp.S",
        "#define RESULT(x) $ x\n\t.text\n\t.globl bonus\nbonus:\n\tmovl RESULT(BONUS), %eax\n\tret\n\t.section .note.GNU-stack,\"\",@progbits\n",
    );
    let main = write(
        d.path(),
        "main.c",
        "#include <stdio.h>\nint answer(void); int bonus(void);\nint main(void) { printf(\"%d\\n\", answer() + bonus()); return 0; }\n",
    );
    let out = objdl()
        .args(["run", "-DBONUS=2"])
        .args([&main, &plain, &cpp])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(stdout(&out), "42\n");
}

/// Sources compile in parallel: with two CPUs or more, two compilers run
/// at once. `CC` is a script (split on whitespace) that logs when each
/// compiler starts and ends.
#[test]
fn sources_compile_in_parallel() {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let log = d.path().join("log");
    let wrapper = write(
        d.path(),
        "cc.sh",
        &format!(
            "echo start >> {log}\nsleep 0.5\ngcc \"$@\"\nrc=$?\necho end >> {log}\nexit $rc\n",
            log = log.display()
        ),
    );
    let mut sources = Vec::new();
    for i in 0..4 {
        let body = if i == 0 {
            "#include <stdio.h>\nint f1(void); int f2(void); int f3(void);\nint main(void) { printf(\"%d\\n\", f1() + f2() + f3()); return 0; }\n".to_string()
        } else {
            format!("int f{i}(void) {{ return {i}; }}\n")
        };
        sources.push(write(d.path(), &format!("s{i}.c"), &body));
    }
    let out = objdl()
        .env("CC", format!("sh {}", wrapper.display()))
        .arg("run")
        .args(&sources)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(stdout(&out), "6\n");
    let log = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 8, "{log}");
    assert_eq!(&lines[..2], ["start", "start"], "not in parallel: {log}");
}

/// The compiler's own diagnostics are shown, then objdl's one line; a
/// warning does not stop the program.
#[test]
fn compiler_diagnostics_are_shown() {
    let d = tempfile::tempdir().unwrap();
    let bad = write(
        d.path(),
        "bad.c",
        "int main(void) {\n  return undeclared_thing;\n}\n",
    );
    let good = write(
        d.path(),
        "warn.c",
        "int main(void) {\n  int unused;\n  return 0;\n}\n",
    );
    let out = objdl().arg("run").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.c:2:10: error: ") && err.contains("undeclared_thing"),
        "{err}"
    );
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("objdl: error: ") && last.contains("bad.c: the compiler failed"),
        "{err}"
    );
    let out = objdl().args(["run", "-Wall"]).arg(&good).output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("warning: unused variable"),
        "{}",
        show(&out)
    );
}

/// -f, -m and -Wc, pass flags on: -fPIC makes a program that reads
/// `stderr` loadable far from libc (through the GOT), which the default
/// PIE code is not.
#[test]
fn pass_through_flags() {
    let d = tempfile::tempdir().unwrap();
    let src = write(
        d.path(),
        "far.c",
        "#include <stdio.h>\nint main(void) { fprintf(stderr, \"far\\n\"); printf(\"%d\\n\", VIA_WC); return 0; }\n",
    );
    let check = |flags: &[&str]| {
        objdl()
            .args(["check", "--place", "far", "-DVIA_WC=1"])
            .args(flags)
            .arg(&src)
            .output()
            .unwrap()
    };
    let pie = check(&[]);
    assert_eq!(pie.status.code(), Some(1), "{}", show(&pie));
    let pic = check(&["-fPIC"]);
    assert!(pic.status.success(), "{}", show(&pic));
    let out = objdl()
        .args([
            "run",
            "--place",
            "far",
            "-fPIC",
            "-mtune=generic",
            "-Wc,-DVIA_WC=7,-Wno-unused",
        ])
        .arg(&src)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(stdout(&out), "7\n");
    // Linker flags have no place: objdl is the linker.
    let out = objdl()
        .args(["run", "-Wl,-z,now"])
        .arg(&src)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("takes no linker flags"),
        "{}",
        show(&out)
    );
}

/// A compiler that is not there: one line that names it and the remedy.
#[test]
fn missing_compiler() {
    let d = tempfile::tempdir().unwrap();
    let src = write(d.path(), "x.cpp", "int main() { return 0; }\n");
    let out = objdl()
        .env("CXX", "/nonexistent/c++")
        .arg("run")
        .arg(&src)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("cannot run the compiler `/nonexistent/c++`") && err.contains("set CXX"),
        "{err}"
    );
}

/// `objdl run -g`: gdb stops in the loaded source, steps line by line,
/// and lists it.
#[test]
fn gdb_steps_through_the_loaded_source() {
    let d = tempfile::tempdir().unwrap();
    let src = write(
        d.path(),
        "step.c",
        "#include <stdio.h>\n\
         int twice(int x) {\n\
         \x20   int y = x * 2;\n\
         \x20   y = y + 1;\n\
         \x20   return y;\n\
         }\n\
         int main(void) {\n\
         \x20   printf(\"%d\\n\", twice(20));\n\
         \x20   return 0;\n\
         }\n",
    );
    let out = Command::new("gdb")
        .args(["-batch", "-nx"])
        .args(["-ex", "set breakpoint pending on"])
        .args(["-ex", "break twice"])
        .args(["-ex", "run"])
        .args(["-ex", "next"])
        .args(["-ex", "next"])
        .args(["-ex", "print y"])
        .args(["-ex", "continue"])
        .arg("--args")
        .arg(env!("CARGO_BIN_EXE_objdl"))
        .args(["run", "-g"])
        .arg(&src)
        .output()
        .expect("gdb must be installed (.ci/run installs it)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Breakpoint 1, twice (x=20) at "), "{text}");
    assert!(text.contains("step.c:3"), "{text}");
    // Each `next` shows the next source line.
    assert!(text.contains("4\t    y = y + 1;"), "{text}");
    assert!(text.contains("5\t    return y;"), "{text}");
    assert!(text.contains("$1 = 41"), "{text}");
    assert!(text.contains("41\n"), "the program ran on: {text}");
}

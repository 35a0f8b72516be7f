//! What a new user meets first: the one-line hints for the usual mistakes
//! (a forgotten `--`, a library not named, an executable given as an
//! input), the environment section of `--help`, and the shell completions
//! and man pages generated from the clap definitions.

use common::{show, stdout, write_file as write};
use objdl_testkit as common;

use std::process::Command;

fn objdl() -> Command {
    common::objdl_command(env!("CARGO_BIN_EXE_objdl"))
}

/// objdl's own error: exit 125 and exactly one line on stderr, which is returned.
fn one_error_line(out: &std::process::Output) -> String {
    assert_eq!(out.status.code(), Some(125), "{}", show(out));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("objdl: error: "), "{err}");
    err
}

const ARGS_C: &str = "#include <stdio.h>\nint main(int argc, char **argv) { for (int i = 1; i < argc; i++) printf(\"%s\\n\", argv[i]); return 0; }\n";

#[test]
fn a_forgotten_double_dash() {
    let d = tempfile::tempdir().unwrap();
    let src = write(d.path(), "args.c", ARGS_C);
    let out = objdl()
        .current_dir(d.path())
        .args(["run", "args.c", "one", "two"])
        .output()
        .unwrap();
    let err = one_error_line(&out);
    assert!(
        err.contains("one: No such file or directory")
            && err.contains("arguments for the program go after `--`: objdl run args.c -- one two"),
        "{err}"
    );
    // As the hint says.
    let out = objdl()
        .current_dir(d.path())
        .args(["run", "args.c", "--", "one", "two"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "one\ntwo\n", "{}", show(&out));
    // A missing object is only missing: no hint about `--`.
    let out = objdl()
        .arg("run")
        .arg(&src)
        .arg(d.path().join("missing.o"))
        .output()
        .unwrap();
    let err = one_error_line(&out);
    assert!(
        err.contains("missing.o: No such file") && !err.contains("--"),
        "{err}"
    );
}

#[test]
fn an_unresolved_libm_function_suggests_dash_l_m() {
    let d = tempfile::tempdir().unwrap();
    let src = write(
        d.path(),
        "root.c",
        "#include <math.h>\n#include <stdio.h>\n#include <stdlib.h>\nint main(int c, char **v) { printf(\"%.1f %.1f\\n\", sqrt(atof(v[1])), cbrt(atof(v[1]))); return 0; }\n",
    );
    let out = objdl()
        .arg("run")
        .arg(&src)
        .args(["--", "64"])
        .output()
        .unwrap();
    let err = one_error_line(&out);
    assert!(err.contains("unresolved symbols"), "{err}");
    assert!(
        err.contains("is in libm: add -l m") || err.contains("are in libm: add -l m"),
        "{err}"
    );
    assert!(err.contains("`sqrt`") && err.contains("`cbrt`"), "{err}");
    // check says the same, with exit status 1.
    let out = objdl().arg("check").arg(&src).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("add -l m"),
        "{}",
        show(&out)
    );
    // As the hint says.
    let out = objdl()
        .args(["run", "-l", "m"])
        .arg(&src)
        .args(["--", "64"])
        .output()
        .unwrap();
    assert_eq!(stdout(&out), "8.0 4.0\n", "{}", show(&out));
    // A name no library has: no hint.
    let src = write(
        d.path(),
        "nowhere.c",
        "int objdl_no_library_has_this(void);\nint main(void) { return objdl_no_library_has_this(); }\n",
    );
    let out = objdl().arg("run").arg(&src).output().unwrap();
    let err = one_error_line(&out);
    assert!(!err.contains("hint"), "{err}");
}

/// Linked files as inputs: each named for what it is, with what to do.
#[test]
fn executables_and_libraries_as_inputs() {
    let d = tempfile::tempdir().unwrap();
    let src = write(d.path(), "exe.c", ARGS_C);
    let build = |name: &str, flags: &[&str]| {
        let exe = d.path().join(name);
        let out = Command::new("gcc")
            .args(flags)
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", show(&out));
        exe
    };
    for (file, what, fix) in [
        (
            build("pie-exe", &["-pie", "-fPIE"]),
            "a position-independent executable",
            "or run it as it is",
        ),
        (
            build("exec-exe", &["-no-pie"]),
            "an executable (ET_EXEC)",
            "objects it is linked from (gcc -c)",
        ),
        (
            build("libx.so", &["-shared", "-fPIC"]),
            "a shared object (ET_DYN)",
            "with -l",
        ),
    ] {
        let out = objdl().arg("run").arg(&file).output().unwrap();
        let err = one_error_line(&out);
        assert!(err.contains(what) && err.contains(fix), "{err}");
    }
}

/// A file that is neither an object nor a source objdl knows: the
/// extensions it compiles are named.
#[test]
fn an_input_that_is_no_object() {
    let d = tempfile::tempdir().unwrap();
    let f = write(d.path(), "prog.f90", "program hello\nend program\n");
    let out = objdl().arg("run").arg(&f).output().unwrap();
    let err = one_error_line(&out);
    assert!(
        err.contains("not an ELF file")
            && err.contains("`.f90` is not a source objdl compiles")
            && err.contains(".cc/.cpp/.cxx"),
        "{err}"
    );
}

#[test]
fn help_has_an_environment_section() {
    for args in [&["--help"][..], &["run", "--help"], &["check", "--help"]] {
        let out = objdl().args(args).output().unwrap();
        assert!(out.status.success());
        let text = stdout(&out);
        let env = text
            .split("\nEnvironment:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("{args:?}: no environment section:\n{text}"));
        for var in [
            "CC, CXX",
            "CFLAGS, CXXFLAGS, CPPFLAGS, ASFLAGS",
            "OBJDL_GDB",
            "OBJDL_PERF_MAP",
            "GLIBC_TUNABLES",
        ] {
            assert!(env.contains(var), "{args:?}: {var}:\n{env}");
        }
    }
    // Each subcommand's description is its own (its arguments are built
    // only when it is used: lazy.rs), and the compiler flags are in run's help.
    let text = stdout(&objdl().args(["check", "--help"]).output().unwrap());
    assert!(
        text.starts_with("Link INPUTs without running anything"),
        "{text}"
    );
    let text = stdout(&objdl().args(["run", "--help"]).output().unwrap());
    assert!(text.starts_with("Load INPUTs as one unit"), "{text}");
    for flag in [
        "-I <DIR>",
        "-D <NAME[=VALUE]>",
        "-O <LEVEL>",
        "-g ",
        "--std <STD>",
        "--map",
    ] {
        assert!(text.contains(flag), "{flag}:\n{text}");
    }
}

/// The bash completion script, sourced by bash, completes subcommands and
/// options; zsh and fish scripts are generated too.
#[test]
fn shell_completions() {
    let out = objdl().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let d = tempfile::tempdir().unwrap();
    let script = write(d.path(), "objdl.bash", &stdout(&out));
    // Ask the completion function what `objdl ru<TAB>` and
    // `objdl run --ma<TAB>` complete to, as bash would.
    let probe = format!(
        "source {}\n\
         COMP_WORDS=(objdl ru); COMP_CWORD=1; _objdl objdl ru objdl; echo \"${{COMPREPLY[@]}}\"\n\
         COMP_WORDS=(objdl run --ma); COMP_CWORD=2; _objdl objdl --ma run; echo \"${{COMPREPLY[@]}}\"\n\
         complete -p objdl\n",
        script.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &probe])
        .output()
        .unwrap();
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "{}", show(&out));
    assert_eq!(lines[0], "run", "{text}");
    assert!(lines[1].split(' ').any(|w| w == "--map"), "{text}");
    assert!(
        lines[2].contains("_objdl") && lines[2].ends_with("objdl"),
        "{text}"
    );
    // Hidden commands are not offered.
    assert!(!text.contains("manpages"), "{text}");
    for shell in ["zsh", "fish"] {
        let out = objdl().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{}", show(&out));
        let text = stdout(&out);
        assert!(
            text.contains("inspect") && text.contains("map"),
            "{shell}:\n{text}"
        );
    }
}

/// One man page per command, with the options and an ENVIRONMENT section;
/// `man` renders it when it is installed.
#[test]
fn man_pages() {
    let d = tempfile::tempdir().unwrap();
    let out = objdl().arg("manpages").arg(d.path()).output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let mut names: Vec<String> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "objdl-cache.1",
            "objdl-check.1",
            "objdl-inspect.1",
            "objdl-run.1",
            "objdl.1"
        ]
    );
    let run = std::fs::read_to_string(d.path().join("objdl-run.1")).unwrap();
    assert!(run.starts_with(".ie"), "roff: {run}");
    for needle in [
        ".TH objdl-run 1",
        ".SH OPTIONS",
        ".SH ENVIRONMENT",
        "\\fBCFLAGS",
    ] {
        assert!(run.contains(needle), "{needle}:\n{run}");
    }
    if let Ok(out) = Command::new("man")
        .arg("-l")
        .arg(d.path().join("objdl-run.1"))
        .env("MANWIDTH", "100")
        .output()
    {
        if out.status.success() {
            let text = stdout(&out);
            assert!(
                text.contains("ENVIRONMENT") && text.contains("--map"),
                "{text}"
            );
        }
    }
}

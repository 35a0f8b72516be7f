//! `--lazy` on `objdl run` and `objdl check`: functions that nothing
//! defines are bound at their first call; a call to one found nowhere
//! aborts with ld.so's one line; data references stay errors.

use common::{show, stdout};
use objdl_testkit as common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

fn objdl() -> Command {
    let mut cmd = common::objdl_command(env!("CARGO_BIN_EXE_objdl"));
    for var in ["CC", "CXX", "CFLAGS", "CXXFLAGS", "CPPFLAGS", "ASFLAGS"] {
        cmd.env_remove(var);
    }
    cmd
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const SOMETIMES: &str = r#"#include <stdio.h>
void never_defined(int);
int main(int argc, char **argv) {
    (void)argv;
    printf("before\n");
    fflush(stdout);
    if (argc > 1) never_defined(argc);
    printf("after\n");
    return 0;
}
"#;

/// Never called: the program runs. Called: SIGABRT, and stderr is exactly
/// the one line naming the symbol and the input, as ld.so words it.
/// Without `--lazy` the open fails as before.
#[test]
fn a_call_to_a_name_found_nowhere_aborts_with_one_line() {
    let d = tempfile::tempdir().unwrap();
    let src = write(d.path(), "sometimes.c", SOMETIMES);
    let obj = d.path().join("sometimes.o");
    let built = Command::new(common::cc())
        .args(["-c", "-O2", "-o"])
        .arg(&obj)
        .arg(&src)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", show(&built));

    let out = objdl().args(["run", "--lazy"]).arg(&obj).output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(stdout(&out), "before\nafter\n");
    assert!(out.stderr.is_empty(), "{}", show(&out));

    for input in [&obj, &src] {
        let out = objdl()
            .args(["run", "--lazy"])
            .arg(input)
            .args(["--", "x"])
            .output()
            .unwrap();
        assert_eq!(out.status.signal(), Some(6), "SIGABRT: {}", show(&out));
        assert_eq!(stdout(&out), "before\n");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!(
                "objdl: symbol lookup error: {}: undefined symbol: never_defined\n",
                input.display()
            )
        );
    }

    let out = objdl().arg("run").arg(&obj).output().unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`never_defined`"),
        "{}",
        show(&out)
    );
}

/// `check --lazy` lists the names it would bind lazily and succeeds;
/// without `--lazy` they are unresolved. `--stats` shows `lazy-stubs`
/// only when there are some: the line is otherwise as before.
#[test]
fn check_lists_lazy_names_and_stats_stay_as_they_were() {
    let d = tempfile::tempdir().unwrap();
    let src = write(d.path(), "sometimes.c", SOMETIMES);
    let out = objdl()
        .args(["check", "--lazy"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let text = stdout(&out);
    assert!(
        text.lines()
            .any(|l| l == format!("lazy `never_defined` (referenced from {})", src.display())),
        "{text}"
    );
    // The figures keep their words, which tools parse (`lea-rewrites`
    // for what the library calls address rewrites).
    assert!(
        text.lines().any(|l| l.starts_with("objects ")
            && l.contains(" relaxations ")
            && l.contains(" lea-rewrites ")),
        "{text}"
    );
    let out = objdl().arg("check").arg(&src).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(stdout(&out).contains("unresolved `never_defined`"));

    let out = objdl()
        .args(["run", "--lazy", "--stats"])
        .arg(&src)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(" copies 0 lazy-stubs 1 base 0x"), "{err}");

    let plain = write(
        d.path(),
        "plain.c",
        "#include <stdio.h>\nint main(void) { puts(\"hi\"); return 0; }\n",
    );
    for lazy in [false, true] {
        let mut cmd = objdl();
        cmd.args(["run", "--stats"]);
        if lazy {
            cmd.arg("--lazy");
        }
        let out = cmd.arg(&plain).output().unwrap();
        assert!(out.status.success(), "{}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("lazy"), "{err}");
        assert!(err.contains(" lea-rewrites 0 copies 0 base 0x"), "{err}");
    }
}

/// A data reference (or the address of a function) to an undefined name
/// stays an error with `--lazy`, for `run` and `check`.
#[test]
fn data_references_stay_errors() {
    let d = tempfile::tempdir().unwrap();
    let src = write(
        d.path(),
        "data.c",
        "extern int missing_var;\nvoid missing_fn(void);\nvoid *p = (void *)missing_fn;\n\
         int main(void) { return missing_var; }\n",
    );
    let out = objdl().args(["run", "--lazy"]).arg(&src).output().unwrap();
    assert_eq!(out.status.code(), Some(125), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("`missing_var`") && err.contains("`missing_fn`"),
        "{err}"
    );
    let out = objdl()
        .args(["check", "--lazy"])
        .arg(&src)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(stdout(&out).contains("unresolved `missing_var`"));
}

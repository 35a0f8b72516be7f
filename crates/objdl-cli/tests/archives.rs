//! `objdl run` with static archives: as an input, and found by `-l`.

use common::compile_c;
use objdl_testkit as common;

use std::process::Command;

#[test]
fn archives_as_inputs_and_through_minus_l() {
    let d = tempfile::tempdir().unwrap();
    let cc = |name: &str, src: &str| compile_c("gcc", &["-O2"], d.path(), name, src);
    let shout = cc(
        "shout",
        "#include <stdio.h>\nvoid shout(const char *s) { printf(\"%s!\\n\", s); }",
    );
    let unused = cc(
        "unused",
        "void missing_everywhere(void); void unused(void) { missing_everywhere(); }",
    );
    let lib = d.path().join("libshout.a");
    let out = Command::new("ar")
        .arg("rcs")
        .arg(&lib)
        .arg(&shout)
        .arg(&unused)
        .output()
        .unwrap();
    assert!(out.status.success());
    let main = cc(
        "main",
        "void shout(const char *); int main(void) { shout(\"archived\"); return 3; }",
    );

    let as_input = common::objdl_command(env!("CARGO_BIN_EXE_objdl"))
        .arg("run")
        .arg(&main)
        .arg(&lib)
        .output()
        .unwrap();
    assert_eq!(
        as_input.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&as_input.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&as_input.stdout), "archived!\n");

    let by_l = common::objdl_command(env!("CARGO_BIN_EXE_objdl"))
        .args(["run", "-L"])
        .arg(d.path())
        .args(["-l", "shout"])
        .arg(&main)
        .output()
        .unwrap();
    assert_eq!(
        by_l.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&by_l.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&by_l.stdout), "archived!\n");
}

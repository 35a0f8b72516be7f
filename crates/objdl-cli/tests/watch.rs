//! `objdl run --watch`: a running program's source is edited; a broken
//! edit is reported and the old code runs on; a good one is compiled and
//! reloaded, and the program's counter carries on. Also the bundled
//! example, examples/hot-reload, edited while it runs.

use objdl_testkit as common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn objdl() -> Command {
    common::objdl_command(env!("CARGO_BIN_EXE_objdl"))
}

/// A program that prints `value()` and a counter every 20 ms, and stops
/// once it has seen `value() == 2` a few times (or after 15 s).
const LOOP_C: &str = r#"
#include <stdio.h>
#include <time.h>
int value(void);
long ticks;
int main(void) {
    struct timespec t = {0, 20 * 1000 * 1000};
    int seen2 = 0;
    while (seen2 < 3 && ticks < 750) {
        ticks++;
        int v = value();
        seen2 += v == 2;
        printf("%d %ld\n", v, ticks);
        fflush(stdout);
        nanosleep(&t, NULL);
    }
    return 0;
}
"#;

fn value_c(v: &str) -> String {
    format!("static int calls;\nint value(void) {{ calls++; return {v}; }}\n")
}

/// Starts `objdl run --watch` on `args` in `dir`; its stdout lines arrive
/// on the channel.
fn start(dir: &Path, args: &[&str]) -> (std::process::Child, mpsc::Receiver<String>) {
    let mut child = objdl()
        .current_dir(dir)
        .args(["run", "--watch"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("objdl runs");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for `child` to exit, checks that it succeeded, and returns its
/// standard error.
fn finish(mut child: std::process::Child) -> String {
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status}: {stderr}");
    stderr
}

/// Waits for a line of `rx` that satisfies `want`, returning the lines up
/// to it.
fn wait_for(rx: &mpsc::Receiver<String>, want: impl Fn(&str) -> bool) -> Vec<String> {
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(15)) {
        let done = want(&line);
        seen.push(line);
        if done {
            return seen;
        }
    }
    panic!("never came; saw {seen:?}");
}

#[test]
fn an_edited_source_is_reloaded_and_a_broken_one_is_not() {
    let d = tempfile::tempdir().unwrap();
    common::write_file(d.path(), "loop.c", LOOP_C);
    let value = common::write_file(d.path(), "value.c", &value_c("1"));
    let (child, rx) = start(d.path(), &["loop.c", "value.c"]);
    wait_for(&rx, |l| l.starts_with("1 "));
    // A compile error: reported, the program runs on.
    std::fs::write(&value, "int value(void) { return }\n").unwrap();
    std::thread::sleep(Duration::from_millis(600));
    wait_for(&rx, |l| l.starts_with("1 "));
    std::fs::write(&value, value_c("2")).unwrap();
    let lines = wait_for(&rx, |l| l.starts_with("2 "));
    let stderr = finish(child);
    assert!(
        stderr.contains("objdl: value.c: not reloaded, the old code runs on"),
        "{stderr}"
    );
    let reloaded: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("objdl: reloaded value.c: "))
        .collect();
    assert_eq!(reloaded.len(), 1, "{stderr}");
    assert!(reloaded[0].contains(": changed value; "), "{stderr}");
    assert!(
        reloaded[0].contains(" link ") && reloaded[0].contains(" patch "),
        "{stderr}"
    );
    // The counter carried on: the ticks never restart.
    let ticks: Vec<i64> = lines
        .iter()
        .map(|l| l.split(' ').nth(1).unwrap().parse().unwrap())
        .collect();
    assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "{lines:?}");
}

#[test]
fn the_bundled_example_changes_while_it_runs() {
    let d = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hot-reload");
    for f in ["main.c", "frame.c"] {
        std::fs::copy(root.join(f), d.path().join(f)).unwrap();
    }
    let child = objdl()
        .current_dir(d.path())
        .args(["run", "--watch", "main.c", "frame.c", "--", "40"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let frame = std::fs::read_to_string(d.path().join("frame.c")).unwrap();
    std::fs::write(
        d.path().join("frame.c"),
        frame.replace("#define BALL \"o\"", "#define BALL \"@\""),
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("objdl: reloaded frame.c: changed draw_frame; "),
        "{stderr}"
    );
    let frames: Vec<&str> = stdout.split('\r').filter(|f| f.contains('|')).collect();
    assert!(frames.first().unwrap().contains('o'), "{stdout}");
    assert!(frames.last().unwrap().contains('@'), "{stdout}");
    assert!(stdout.contains("40 frames, 40 steps"), "{stdout}");
}

/// A `--unit` (a Global unit the program calls) is watched and reloaded
/// too.
#[test]
fn a_unit_given_with_dash_dash_unit_is_reloaded() {
    let d = tempfile::tempdir().unwrap();
    common::write_file(d.path(), "loop.c", LOOP_C);
    let value = common::write_file(d.path(), "value.c", &value_c("1"));
    let (child, rx) = start(d.path(), &["--unit", "value.c", "loop.c"]);
    wait_for(&rx, |l| l.starts_with("1 "));
    std::fs::write(&value, value_c("2")).unwrap();
    wait_for(&rx, |l| l.starts_with("2 "));
    let stderr = finish(child);
    assert!(
        stderr.contains("objdl: reloaded value.c: changed value; "),
        "{stderr}"
    );
}

//! Helpers shared by the CLI's integration tests. Each test file is a crate
//! of its own and uses only part of them.
#![allow(dead_code)]

// Compilers, `rustc` and the SQLite cache, as objdl's own tests run them.
#[path = "../../../objdl/tests/common/toolchain.rs"]
mod toolchain;
#[allow(unused_imports)] // some test files use none of it
pub use toolchain::*;

// The mutation tests' random generator.
#[path = "../../../objdl/tests/common/rng.rs"]
mod rng;
#[allow(unused_imports)]
pub use rng::Rng;

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The C compiler: `$CC`, else `gcc`.
pub fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "gcc".to_string())
}

/// Runs `cmd` with `stdin` as its input (`None`: `/dev/null`), capturing
/// its standard output and error, and kills it if it has not finished after
/// `limit`. Returns what it printed and whether it had to be killed.
pub fn run_with_timeout(mut cmd: Command, stdin: Option<&[u8]>, limit: Duration) -> (Output, bool) {
    let what = format!("{cmd:?}");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let writer = stdin.map(|data| {
        let mut input = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        std::thread::spawn(move || {
            // The program may exit without reading everything: ignore EPIPE.
            let _ = input.write_all(&data);
        })
    });
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let mut killed = false;
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if start.elapsed() > limit {
            killed = true;
            let _ = child.kill();
            break child.wait().expect("wait");
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    if let Some(writer) = writer {
        writer.join().expect("stdin writer");
    }
    let out = Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    };
    (out, killed)
}

/// [`run_with_timeout`] with `stdin` as the input, failing the test if
/// `cmd` does not finish within `limit`.
pub fn run_with_input(cmd: Command, stdin: &[u8], limit: Duration) -> Output {
    let what = format!("{cmd:?}");
    let (out, killed) = run_with_timeout(cmd, Some(stdin), limit);
    if killed {
        panic!("{what} did not finish within {limit:?}");
    }
    out
}

/// An output's status, standard output and standard error, for messages.
pub fn show(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout ---\n{}--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// An output's standard output, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

//! The host side of the plugins example: compiles the C plugins in
//! `examples/plugins/`, gives them host symbols, opens them, calls them,
//! unloads and reloads them, and tells the story on `out`.
//!
//! Shared by the example (`main.rs`) and by `tests/plugins_example.rs`,
//! which runs the same flow and checks the output.

use std::error::Error;
use std::ffi::{c_char, c_int, CStr, CString};
use std::fmt::Display;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use objdl::{Linker, OpenOptions, Scope, Unit};

/// The plugins' C sources, at the repository root.
const PLUGIN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/plugins");

/// The prefix of every line a plugin says through `host_log`.
pub const PLUGIN_PREFIX: &str = "  [plugin] ";

/// The sink `host_log` writes to: what plugins said since the host last
/// wrote to `out`. The host drains it before each line of its own, so the
/// output keeps the order in which things happened.
static PLUGIN_LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// One [`run`] at a time: the sink is process-wide.
static RUN: Mutex<()> = Mutex::new(());

/// `const int host_version`: a data object the host gives the plugins.
static HOST_VERSION: c_int = 2;

/// `void host_log(const char *msg)`: how plugins say something.
extern "C" fn host_log(msg: *const c_char) {
    if msg.is_null() {
        return;
    }
    // SAFETY: the plugins pass a NUL-terminated string that lives for the call.
    let text = unsafe { CStr::from_ptr(msg) }
        .to_string_lossy()
        .into_owned();
    PLUGIN_LINES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(text);
}

/// Writes the host's lines to `out`, each after what the plugins said before it.
struct Story<'a> {
    out: &'a mut dyn Write,
}

impl Story<'_> {
    /// Writes what the plugins said since the last call.
    fn plugins(&mut self) -> io::Result<()> {
        let lines = std::mem::take(&mut *PLUGIN_LINES.lock().unwrap_or_else(|e| e.into_inner()));
        for line in lines {
            writeln!(self.out, "{PLUGIN_PREFIX}{line}")?;
        }
        Ok(())
    }

    /// Whether the plugins have said nothing since the host last wrote.
    fn quiet(&self) -> bool {
        PLUGIN_LINES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// A line of the host's.
    fn say(&mut self, text: impl Display) -> io::Result<()> {
        self.plugins()?;
        writeln!(self.out, "host: {text}")?;
        self.out.flush()
    }

    /// A heading.
    fn step(&mut self, title: &str) -> io::Result<()> {
        self.plugins()?;
        writeln!(self.out, "\n== {title}")
    }
}

/// Compiles `examples/plugins/NAME.c` into `dir/NAME.o` with `$CC` (default `cc`).
fn compile(name: &str, dir: &Path) -> Result<PathBuf, Box<dyn Error>> {
    let src = Path::new(PLUGIN_DIR).join(format!("{name}.c"));
    let obj = dir.join(format!("{name}.o"));
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let out = Command::new(&cc)
        .args(["-c", "-O2", "-fPIC"])
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
        .map_err(|e| format!("running {}: {e}", cc.to_string_lossy()))?;
    if !out.status.success() {
        return Err(format!(
            "compiling {}:\n{}",
            src.display(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(obj)
}

/// Opens plugin A: its exports join the global scope.
fn open_counter(linker: &Linker, path: &Path) -> objdl::Result<Unit> {
    // SAFETY: counter.c is our plugin; its constructor calls only host_log,
    // snprintf and atexit.
    unsafe { OpenOptions::new().scope(Scope::Global).open(linker, [path]) }
}

/// Opens plugin B, Local: only its handle reaches its exports.
fn open_greeter(linker: &Linker, path: &Path) -> objdl::Result<Unit> {
    // SAFETY: greeter.c is our plugin; its constructor calls only host_log.
    unsafe { linker.open(path) }
}

/// Calls `int greet(const char *name)` in the greeter.
fn greet(greeter: &Unit, name: &str) -> Result<c_int, Box<dyn Error>> {
    // SAFETY: greeter.c defines `int greet(const char *)`.
    let greet = unsafe { greeter.get::<extern "C" fn(*const c_char) -> c_int>("greet")? };
    let name = CString::new(name)?;
    Ok(greet(name.as_ptr()))
}

/// Calls `int counter_next(void)` in the counter.
fn counter_next(counter: &Unit) -> objdl::Result<c_int> {
    // SAFETY: counter.c defines `int counter_next(void)`.
    let next = unsafe { counter.get::<extern "C" fn() -> c_int>("counter_next")? };
    Ok(next())
}

/// Where a unit's address is, compared with the last load's.
fn moved(now: u64, before: u64) -> &'static str {
    if now == before {
        "the same address: the old mapping was unmapped at close and is reused"
    } else {
        "a different address"
    }
}

/// The whole example: compile, define, open, call, close, reopen, close.
pub fn run(out: &mut dyn Write) -> Result<(), Box<dyn Error>> {
    let _one_at_a_time = RUN.lock().unwrap_or_else(|e| e.into_inner());
    PLUGIN_LINES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clear();
    let mut story = Story { out };

    story.step("Compile the plugins (cc -c -O2 -fPIC)")?;
    let dir = tempfile::tempdir()?;
    let counter_o = compile("counter", dir.path())?;
    let greeter_o = compile("greeter", dir.path())?;
    story.say("compiled counter.o and greeter.o from examples/plugins/")?;

    story.step("Round 1: open both, call them, close greeter.o then counter.o")?;
    let linker = Linker::new();
    linker.define("host_log", host_log as *const ());
    linker.define("host_version", std::ptr::addr_of!(HOST_VERSION).cast());
    story.say("define host_log (a function) and host_version (data) for the plugins")?;

    story.say("open counter.o with Scope::Global")?;
    let counter = open_counter(&linker, &counter_o)?;
    let counter_base = counter.stats().base;
    story.say(format_args!("counter.o is at {counter_base:#x}"))?;

    story.say("open greeter.o (Local); it calls counter.o's functions directly")?;
    let greeter = open_greeter(&linker, &greeter_o)?;
    let greeter_base = greeter.stats().base;
    story.say(format_args!("greeter.o is at {greeter_base:#x}"))?;

    for name in ["alice", "bob"] {
        story.say(format_args!("call greet(\"{name}\")"))?;
        greet(&greeter, name)?;
    }
    let n = counter_next(&counter)?;
    story.say(format_args!(
        "call counter_next() in counter.o: {n} (the counter greeter.o uses)"
    ))?;

    story.say("close greeter.o")?;
    greeter.close();
    story.say("close counter.o: no unit uses it any more, so it unloads now")?;
    counter.close();
    story.say("both unloaded")?;

    story.step("Round 2: reopen both; the state starts afresh")?;
    story.say("open counter.o with Scope::Global")?;
    let counter = open_counter(&linker, &counter_o)?;
    let base = counter.stats().base;
    story.say(format_args!(
        "counter.o is at {base:#x}, {}",
        moved(base, counter_base)
    ))?;
    story.say("open greeter.o (Local)")?;
    let greeter = open_greeter(&linker, &greeter_o)?;
    let base = greeter.stats().base;
    story.say(format_args!(
        "greeter.o is at {base:#x}, {}",
        moved(base, greeter_base)
    ))?;
    story.say("call greet(\"carol\")")?;
    let n = greet(&greeter, "carol")?;
    story.say(format_args!(
        "greet returned {n}: the reloaded counter.o counts from zero again"
    ))?;

    story.say("close counter.o's handle while greeter.o is open")?;
    counter.close();
    if story.quiet() {
        story.say(
            "nothing ran: its exports left the global scope, but greeter.o binds \
             to it, so it stays loaded",
        )?;
    }
    story.say("call greet(\"dave\"): counter.o still answers")?;
    greet(&greeter, "dave")?;
    story.say("close greeter.o: counter.o loses its last user and unloads too")?;
    greeter.close();
    story.say("both unloaded")?;
    story.plugins()?;
    Ok(())
}

//! `objdl`: run x86-64 ELF objects in-process.
//!
//! `objdl run [-l LIB]... [-L DIR]... [--entry SYM] [--stats] INPUT... [-- ARGS...]`
//! loads every INPUT (`.o`, or `.c` compiled with `$CC -c -O2`) as one unit
//! and calls `main(argc, argv, envp)`. When objdl itself fails, it prints one
//! line `objdl: error: ...` and exits with 125.

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use objdl::{Input, Linker, OpenOptions, Placement};

/// The exit status when objdl itself fails (as opposed to the program it runs).
const FAILURE: u8 = 125;

#[derive(Parser)]
#[command(
    name = "objdl",
    version,
    about = "dlopen for object files: load, link and run x86-64 ELF objects in-process"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load INPUTs as one unit and call its `main(argc, argv, envp)`.
    Run(RunArgs),
}

#[derive(clap::Args)]
struct RunArgs {
    /// Load the shared library libLIB.so into the process first (repeatable).
    #[arg(short = 'l', value_name = "LIB")]
    libs: Vec<String>,
    /// Search DIR for -l libraries (repeatable).
    #[arg(short = 'L', value_name = "DIR")]
    lib_dirs: Vec<PathBuf>,
    /// The function to call instead of `main`; it receives (argc, argv, envp).
    #[arg(long, value_name = "SYM", default_value = "main")]
    entry: String,
    /// Print load figures (objects, sections, relocations, trampolines, GOT slots, time) to stderr.
    #[arg(long)]
    stats: bool,
    /// Where to place the unit: auto, far, low or an address (0x...).
    #[arg(long, value_name = "POLICY", default_value = "auto")]
    place: Placement,
    /// Object files (.o) or C sources (.c, compiled with $CC -c -O2).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Arguments for the program, after `--`.
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<OsString>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("objdl: error: {msg}");
            ExitCode::from(FAILURE)
        }
    }
}

type MainFn = unsafe extern "C" fn(
    libc::c_int,
    *const *const libc::c_char,
    *const *const libc::c_char,
) -> libc::c_int;

fn run(args: RunArgs) -> Result<ExitCode, String> {
    let linker = Linker::new();
    for lib in &args.libs {
        linker
            .load_library(lib, &args.lib_dirs)
            .map_err(|e| e.to_string())?;
    }
    let scratch = tempfile::Builder::new()
        .prefix("objdl-")
        .tempdir()
        .map_err(|e| format!("temporary directory: {e}"))?;
    let mut inputs = Vec::with_capacity(args.inputs.len());
    for (i, path) in args.inputs.iter().enumerate() {
        inputs.push(prepare_input(path, scratch.path(), i)?);
    }
    // SAFETY: running the user's program is the point of `objdl run`.
    let unit = unsafe {
        OpenOptions::new()
            .placement(args.place)
            .open(&linker, inputs)
    }
    .map_err(|e| e.to_string())?;
    drop(scratch); // compiled temporaries are no longer needed
    if args.stats {
        eprintln!("objdl: {}", unit.stats());
    }
    // SAFETY: the C `main` signature; the user chose the entry point.
    let entry = unsafe { unit.get::<MainFn>(&args.entry) }.map_err(|e| e.to_string())?;

    // argv: the first input's path, then the user's arguments; NULL-terminated.
    let mut owned: Vec<CString> = Vec::with_capacity(args.args.len() + 1);
    owned.push(cstring(args.inputs[0].as_os_str().as_bytes())?);
    for a in &args.args {
        owned.push(cstring(a.as_bytes())?);
    }
    let mut argv: Vec<*const libc::c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    argv.push(std::ptr::null());
    extern "C" {
        static environ: *const *const libc::c_char;
    }
    // SAFETY: argv is a NULL-terminated array of C strings that outlive the
    // call; environ is libc's environment block.
    let status = unsafe { entry(owned.len() as libc::c_int, argv.as_ptr(), environ) };
    // Return from main as a linked program does: exit(status) runs the
    // atexit handlers (the unit's among them, while it is still mapped),
    // then the unit's finalisers, then flushes stdio.
    // SAFETY: ends the process; nothing of objdl's needs to run after this.
    unsafe { libc::exit(status) }
}

fn cstring(bytes: &[u8]) -> Result<CString, String> {
    CString::new(bytes).map_err(|_| "an argument contains a NUL byte".to_string())
}

/// A `.c` input is compiled to an object in `scratch`; anything else is used as is.
fn prepare_input(path: &Path, scratch: &Path, index: usize) -> Result<Input, String> {
    if path.extension().is_some_and(|e| e == "c") {
        let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
        let out = scratch.join(format!("{index}.o"));
        let status = std::process::Command::new(&cc)
            .arg("-c")
            .arg("-O2")
            .arg(path)
            .arg("-o")
            .arg(&out)
            .status()
            .map_err(|e| {
                format!(
                    "{}: cannot run {}: {e}",
                    path.display(),
                    cc.to_string_lossy()
                )
            })?;
        if !status.success() {
            return Err(format!(
                "{}: {} -c failed ({status})",
                path.display(),
                cc.to_string_lossy()
            ));
        }
        // Read now: the temporary file is removed before the program runs.
        let bytes = std::fs::read(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        return Ok(Input::bytes(path.display().to_string(), bytes));
    }
    Ok(Input::path(path))
}

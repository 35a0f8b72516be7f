//! `objdl`: run x86-64 ELF objects in-process.
//!
//! - `objdl run [-l LIB]... [-L DIR]... [--entry SYM] [--stats] [--place P] [--unit FILE]... INPUT... [-- ARGS...]`
//!   loads every INPUT (`.o`, or `.c` compiled with `$CC -c -O2`) as one unit
//!   and calls `main(argc, argv, envp)`. When objdl itself fails, it prints one
//!   line `objdl: error: ...` and exits with 125.
//! - `objdl check [--place P | --at ADDR] [--dump FILE] INPUT...` links without
//!   running anything, prints the placement, trampolines, GOT slots and every
//!   error, and exits 0 if the inputs would load, 1 if not.
//! - `objdl inspect INPUT...` lists sections, symbols and each relocation with
//!   the reach it needs.

#![no_main]

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use objdl::{Error, Input, LibraryFile, Linker, OpenOptions, Placement, Scope};

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
    /// Link INPUTs without running anything; report placement, trampolines,
    /// GOT slots and every error. Exits 0 if they would load, 1 if not.
    Check(CheckArgs),
    /// List sections, symbols and each relocation with the reach it needs.
    Inspect {
        /// Object files (.o).
        #[arg(required = true, value_name = "INPUT")]
        inputs: Vec<PathBuf>,
    },
}

#[derive(clap::Args)]
struct CheckArgs {
    /// Link with libLIB: libLIB.so is loaded into the process, or else
    /// libLIB.a is linked into the unit (searched per directory, as ld does).
    #[arg(short = 'l', value_name = "LIB")]
    libs: Vec<String>,
    /// Search DIR for -l libraries (repeatable).
    #[arg(short = 'L', value_name = "DIR")]
    lib_dirs: Vec<PathBuf>,
    /// Where to place the unit: auto, far, low or an address (0x...).
    #[arg(
        long,
        value_name = "POLICY",
        default_value = "auto",
        conflicts_with = "at"
    )]
    place: Placement,
    /// Plan and relocate as if the unit sat at ADDR, without mapping anything there.
    #[arg(long, value_name = "ADDR", value_parser = parse_addr)]
    at: Option<u64>,
    /// Write the relocated unit (from its base, `size` bytes) to FILE.
    #[arg(long, value_name = "FILE")]
    dump: Option<PathBuf>,
    /// Object files (.o) or C sources (.c).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
}

fn parse_addr(s: &str) -> Result<u64, String> {
    match s.parse::<Placement>()? {
        Placement::At(a) => Ok(a),
        _ => Err(format!("`{s}` is not an address")),
    }
}

#[derive(clap::Args)]
struct RunArgs {
    /// Link with libLIB: libLIB.so is loaded into the process, or else
    /// libLIB.a is linked into the unit (searched per directory, as ld does).
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
    /// Open FILE (.o or .c) first as a separate Global unit, placed by the
    /// same policy; the main inputs can call it (repeatable).
    #[arg(long = "unit", value_name = "FILE")]
    units: Vec<PathBuf>,
    /// Object files (.o), static archives (.a) or C sources (.c, compiled with $CC -c -O2).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Arguments for the program, after `--`.
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<OsString>,
}

/// The exit status of a Rust program that panicked.
const PANICKED: u8 = 101;

// objdl starts from C's `main`, not Rust's: the Rust runtime's start-up
// reads /proc/self/maps to guard the main thread's stack (about a tenth of
// a millisecond, a fifth of what loading SQLite takes) and ignores SIGPIPE,
// which the programs objdl runs do not expect. The arguments still reach
// `std::env::args` (glibc passes them to initialisers).
#[no_mangle]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // A panic ends objdl as it would a Rust program, not by unwinding into C.
    let code = std::panic::catch_unwind(objdl_main).unwrap_or(PANICKED);
    libc::c_int::from(code)
}

fn objdl_main() -> u8 {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(args),
        Command::Check(args) => return check(args),
        Command::Inspect { inputs } => inspect(&inputs),
    };
    match result {
        Ok(code) => code,
        Err(msg) => {
            eprintln!("objdl: error: {}", one_line(&msg));
            FAILURE
        }
    }
}

type MainFn = unsafe extern "C" fn(
    libc::c_int,
    *const *const libc::c_char,
    *const *const libc::c_char,
) -> libc::c_int;

// `objdl_call_main(entry, argc, argv, envp)` calls `entry(argc, argv, envp)`
// from a frame whose personality routine handles no exception and lets none
// past in the search phase, so that an exception the program does not catch
// finds no handler: the C++ runtime then calls std::terminate ("terminate
// called after throwing an instance of ..."), as in a linked program, where
// the search ends at `_start`. Without it the search went on into objdl's
// own frames and stopped at the Rust runtime's catch_unwind, which aborted
// with "Rust cannot catch foreign exceptions". The frame's CFI is ordinary,
// so debuggers still unwind through it into objdl's frames.
std::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl objdl_call_main",
    ".hidden objdl_call_main",
    ".type objdl_call_main, @function",
    "objdl_call_main:",
    "    .cfi_startproc",
    "    .cfi_personality 0x1b, {personality}", // DW_EH_PE_pcrel | DW_EH_PE_sdata4
    "    pushq %rbp",
    "    .cfi_def_cfa_offset 16",
    "    .cfi_offset %rbp, -16",
    "    movq %rsp, %rbp",
    "    .cfi_def_cfa_register %rbp",
    "    movq %rdi, %rax",
    "    movl %esi, %edi",
    "    movq %rdx, %rsi",
    "    movq %rcx, %rdx",
    "    callq *%rax",
    "    popq %rbp",
    "    .cfi_def_cfa %rsp, 8",
    "    retq",
    "    .cfi_endproc",
    "    .size objdl_call_main, . - objdl_call_main",
    personality = sym main_caller_personality,
    options(att_syntax)
);
extern "C" {
    fn objdl_call_main(
        entry: MainFn,
        argc: libc::c_int,
        argv: *const *const libc::c_char,
        envp: *const *const libc::c_char,
    ) -> libc::c_int;
}

/// The personality routine of `objdl_call_main` (the Itanium C++ ABI's
/// `__personality_routine`): in the search phase, `_URC_FATAL_PHASE1_ERROR`,
/// which makes `_Unwind_RaiseException` return, as at the end of the stack;
/// in any other phase (a forced unwind), `_URC_CONTINUE_UNWIND`.
extern "C" fn main_caller_personality(
    _version: libc::c_int,
    actions: libc::c_int,
    _exception_class: u64,
    _exception: *mut libc::c_void,
    _context: *mut libc::c_void,
) -> libc::c_int {
    const UA_SEARCH_PHASE: libc::c_int = 1;
    const URC_FATAL_PHASE1_ERROR: libc::c_int = 3;
    const URC_CONTINUE_UNWIND: libc::c_int = 8;
    if actions & UA_SEARCH_PHASE != 0 {
        URC_FATAL_PHASE1_ERROR
    } else {
        URC_CONTINUE_UNWIND
    }
}

fn run(args: RunArgs) -> Result<u8, String> {
    let linker = Linker::new();
    let archives = load_libraries(&linker, &args.libs, &args.lib_dirs)?;
    let mut scratch = Scratch::default();
    let mut units = Vec::with_capacity(args.units.len());
    for (i, path) in args.units.iter().enumerate() {
        let input = prepare_input(path, &mut scratch, 1000 + i)?;
        // SAFETY: as below: the user asked to run this code.
        let unit = unsafe {
            OpenOptions::new()
                .placement(args.place)
                .scope(Scope::Global)
                .open(&linker, [input])
        }
        .map_err(|e| e.to_string())?;
        if args.stats {
            eprintln!("objdl: unit {}: {}", path.display(), unit.stats());
        }
        units.push(unit);
    }
    let mut inputs = Vec::with_capacity(args.inputs.len());
    for (i, path) in args.inputs.iter().enumerate() {
        inputs.push(prepare_input(path, &mut scratch, i)?);
    }
    inputs.extend(archives.iter().map(Input::path));
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
    // call; environ is libc's environment block; `entry` is a C `main`.
    let status =
        unsafe { objdl_call_main(*entry, owned.len() as libc::c_int, argv.as_ptr(), environ) };
    // Return from main as a linked program does: exit(status) runs the
    // atexit handlers (the unit's among them, while it is still mapped),
    // then the unit's finalisers, then flushes stdio.
    // SAFETY: ends the process; nothing of objdl's needs to run after this.
    unsafe { libc::exit(status) }
}

/// The message with control characters (a newline in a symbol or file
/// name, say) escaped, so that an error is always exactly one line.
fn one_line(msg: &str) -> String {
    msg.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `objdl check`: exit 0 if the inputs would load, 1 if not (125 if objdl
/// could not even try, e.g. a missing file).
fn check(args: CheckArgs) -> u8 {
    let linker = Linker::new();
    let outcome = (|| -> Result<objdl::Report, Result<Error, String>> {
        let archives = load_libraries(&linker, &args.libs, &args.lib_dirs).map_err(Err)?;
        let mut scratch = Scratch::default();
        let mut inputs = Vec::with_capacity(args.inputs.len());
        for (i, path) in args.inputs.iter().enumerate() {
            inputs.push(prepare_input(path, &mut scratch, i).map_err(Err)?);
        }
        inputs.extend(archives.iter().map(Input::path));
        let place = args.at.map(Placement::At).unwrap_or(args.place);
        linker
            .check(inputs, OpenOptions::new().placement(place))
            .map_err(Ok)
    })();
    match outcome {
        Ok(report) => {
            print_report(&report);
            if let Some(path) = &args.dump {
                if let Err(e) = std::fs::write(path, &report.image) {
                    eprintln!("objdl: error: {}: {e}", path.display());
                    return FAILURE;
                }
            }
            println!("ok: the inputs would load");
            0
        }
        Err(Ok(err)) => {
            // Every site, one a line, then the one-line summary.
            if let Error::Unreachable { sites, .. } = &err {
                for s in sites {
                    println!("unreachable {}", one_line(&s.to_string()));
                }
            }
            eprintln!("objdl: error: {}", one_line(&err.to_string()));
            1
        }
        Err(Err(msg)) => {
            eprintln!("objdl: error: {}", one_line(&msg));
            FAILURE
        }
    }
}

fn print_report(r: &objdl::Report) {
    let s = &r.stats;
    println!(
        "placement base {:#x} size {:#x} window {:#x}..={:#x}",
        s.base, s.size, s.window.0, s.window.1
    );
    for sec in &r.sections {
        println!(
            "section {} {} {:#x} size {:#x}",
            sec.file, sec.name, sec.address, sec.size
        );
    }
    for t in &r.trampolines {
        println!(
            "trampoline {:#x} -> {} {:#x}",
            t.address, t.symbol, t.target
        );
    }
    for g in &r.got_slots {
        println!("got-slot {:#x} = {} {:#x}", g.address, g.symbol, g.value);
    }
    println!(
        "objects {} sections {} relocations {} trampolines {} got-slots {} relaxations {} lea-rewrites {}",
        s.objects, s.sections, s.relocations, s.trampolines, s.got_slots, s.relaxations, s.lea_rewrites
    );
}

/// `objdl inspect`: sections, symbols, relocations and the reach each needs.
fn inspect(inputs: &[PathBuf]) -> Result<u8, String> {
    for path in inputs {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let name = path.display().to_string();
        let info = objdl::inspect::inspect(&name, &bytes).map_err(|e| e.to_string())?;
        println!("{name}:");
        println!("  sections:");
        for s in &info.sections {
            println!(
                "    [{:>3}] {:<24} {:<8} size {:#x} align {}",
                s.index, s.name, s.kind, s.size, s.align
            );
        }
        println!("  symbols:");
        for s in info.symbols.iter().filter(|s| !s.name.is_empty()) {
            println!(
                "    {:<32} {:<6} {:<16} value {:#x} size {:#x}",
                s.name, s.binding, s.section, s.value, s.size
            );
        }
        println!("  relocations:");
        for r in &info.relocations {
            println!(
                "    {}+{:#x} {} {}{:+} needs {}",
                r.section, r.offset, r.r_type, r.symbol, r.addend, r.reach
            );
        }
    }
    Ok(0)
}

/// `-lNAME`, as ld finds it: a shared library is loaded into the process;
/// a static archive is returned, to be linked into the unit.
fn load_libraries(
    linker: &Linker,
    libs: &[String],
    dirs: &[PathBuf],
) -> Result<Vec<PathBuf>, String> {
    let mut archives = Vec::new();
    for lib in libs {
        match objdl::find_library(lib, dirs).map_err(|e| e.to_string())? {
            LibraryFile::Shared(paths) => {
                for p in paths {
                    linker
                        .load_library(&p.to_string_lossy(), dirs)
                        .map_err(|e| e.to_string())?;
                }
            }
            LibraryFile::Static(path) => archives.push(path),
        }
    }
    Ok(archives)
}

fn cstring(bytes: &[u8]) -> Result<CString, String> {
    CString::new(bytes).map_err(|_| "an argument contains a NUL byte".to_string())
}

/// A temporary directory for compiled `.c` inputs, made when the first one
/// needs it (most runs have none) and removed when dropped.
#[derive(Default)]
struct Scratch(Option<tempfile::TempDir>);

impl Scratch {
    fn dir(&mut self) -> Result<&Path, String> {
        if self.0.is_none() {
            let dir = tempfile::Builder::new()
                .prefix("objdl-")
                .tempdir()
                .map_err(|e| format!("temporary directory: {e}"))?;
            self.0 = Some(dir);
        }
        Ok(self
            .0
            .as_ref()
            .map(tempfile::TempDir::path)
            .expect("made above"))
    }
}

/// A `.c` input is compiled to an object in `scratch`; anything else is used as is.
fn prepare_input(path: &Path, scratch: &mut Scratch, index: usize) -> Result<Input, String> {
    if path.extension().is_some_and(|e| e == "c") {
        let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
        let out = scratch.dir()?.join(format!("{index}.o"));
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

//! `objdl`: run x86-64 ELF objects in-process.
//!
//! - `objdl run [-l LIB]... [-L DIR]... [--entry SYM] [--stats] [--place P] [--unit FILE]... [--lazy] [--watch] [--map[=FILE]] [-I -D -U -O -g -std= -f -m -W...] INPUT... [-- ARGS...]`
//!   loads every INPUT (`.o`, `.a`, or a source compiled first: see
//!   `compile.rs`) as one unit and calls `main(argc, argv, envp)`. When objdl
//!   itself fails, it prints one line `objdl: error: ...` and exits with 125.
//! - `objdl check [--place P | --at ADDR] [--dump FILE] [--lazy] INPUT...` links without
//!   running anything, prints the placement, trampolines, GOT slots, the
//!   names `--lazy` would bind at their first call, and every error, and exits 0 if the inputs would load, 1 if not (125 if objdl
//!   cannot read them). The table of exit statuses is in `exit.rs`.
//! - `objdl inspect INPUT...` lists sections, symbols and each relocation with
//!   the reach it needs.

#![no_main]

mod compile;
mod docs;
mod exit;
mod hints;
mod input;
mod launch;
mod lazy;
mod lto;
mod map;
mod restart;
mod watch;

use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};
use objdl::{Error, Input, LibraryFile, Linker, OpenOptions, Placement, Scope};

use exit::FAILURE;
use input::Scratch;

#[derive(Parser)]
#[command(
    name = "objdl",
    version,
    about = "dlopen for object files: load, link and run x86-64 ELF objects in-process",
    after_help = docs::top_level_help()
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load INPUTs as one unit and call its `main(argc, argv, envp)`.
    #[command(after_help = docs::ENVIRONMENT)]
    Run(lazy::Deferred<RunArgs>),
    /// Link INPUTs without running anything; report placement, trampolines,
    /// GOT slots and every error. Exits 0 if they would load, 1 if not.
    #[command(after_help = docs::ENVIRONMENT)]
    Check(lazy::Deferred<CheckArgs>),
    /// List sections, symbols and each relocation with the reach it needs.
    Inspect {
        /// Object files (.o).
        #[arg(required = true, value_name = "INPUT")]
        inputs: Vec<PathBuf>,
    },
    /// The cache of linked units that `run` keeps: what it holds, or clear it.
    Cache {
        #[command(subcommand)]
        action: CacheAction,
        /// The cache directory (default: $XDG_CACHE_HOME/objdl, else ~/.cache/objdl).
        #[arg(long, value_name = "DIR", global = true)]
        dir: Option<PathBuf>,
    },
    /// Print the shell completion script for SHELL (scripts/install.sh installs them).
    #[command(hide = true)]
    Completions { shell: clap_complete::Shell },
    /// Write the man pages into DIR (scripts/install.sh installs them).
    #[command(hide = true)]
    Manpages { dir: PathBuf },
}

#[derive(clap::Subcommand)]
enum CacheAction {
    /// Entries and bytes in the cache.
    Stats,
    /// Remove every entry.
    Clear,
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
    #[command(flatten)]
    link: LinkFlags,
    #[command(flatten)]
    map: map::MapArg,
    /// Object files (.o), static archives (.a), or sources (.c, .cpp/.cc/.cxx, .s/.S).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    // Last: its help heading would apply to the arguments after it.
    #[command(flatten)]
    compile: compile::CompileFlags,
}

/// Linking choices `run` and `check` share.
#[derive(clap::Args)]
struct LinkFlags {
    /// Load objects that need an executable stack (a nested function whose
    /// address is taken, or no .note.GNU-stack section): makes every
    /// thread's stack executable, which breaks W^X for the whole process.
    #[arg(long)]
    exec_stack: bool,
    /// Do not look for what stays unresolved in the libraries gcc links
    /// implicitly (libgcc.a, libgcov.a, libgcc_s, libc_nonshared.a).
    #[arg(long)]
    no_implicit_libs: bool,
    /// Bind functions that nothing defines at their first call, as
    /// RTLD_LAZY does (`check` lists them); a call to one still undefined
    /// then aborts with `objdl: symbol lookup error`. Data references and
    /// address-taking stay errors.
    #[arg(long)]
    lazy: bool,
}

impl LinkFlags {
    /// Open options with these choices and `placement`.
    fn options(&self, placement: Placement) -> OpenOptions {
        let mut opts = OpenOptions::new();
        opts.placement(placement)
            .exec_stack(self.exec_stack)
            .implicit_libraries(!self.no_implicit_libs)
            .lazy(self.lazy);
        opts
    }
}

fn parse_sanitizer(s: &str) -> Result<&'static objdl::Sanitizer, String> {
    objdl::SANITIZERS
        .iter()
        .find(|z| z.flag == s)
        .ok_or_else(|| format!("`{s}` is not address, thread, undefined or leak"))
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
    /// Open FILE (an object or a source) first as a separate Global unit, placed by the
    /// same policy; the main inputs can call it (repeatable).
    #[arg(long = "unit", value_name = "FILE")]
    units: Vec<PathBuf>,
    /// Keep the linked unit in the cache in DIR (by default, without this
    /// flag, in $XDG_CACHE_HOME/objdl or ~/.cache/objdl), and take it from
    /// there when the same object files run again with the same options:
    /// the second load maps it and moves only its absolute addresses. A
    /// miss writes the entry from a detached process. `objdl cache
    /// stats|clear` manage it.
    #[arg(long, value_name = "DIR", num_args = 0..=1, default_missing_value = "")]
    cache: Option<PathBuf>,
    /// Neither use nor fill the cache (as does OBJDL_NO_CACHE=1 in the
    /// environment, unless --cache is given).
    #[arg(long, conflicts_with = "cache")]
    no_cache: bool,
    /// Watch the inputs (and the --unit files) while the program runs: when
    /// one changes, compile it again (a source) and reload it, its data
    /// kept; one line on stderr per reload. Sources are compiled with -ffunction-sections -fno-inline
    /// -fno-ipa-cp -fno-ipa-sra, so that every function an edit changes is
    /// reached anew, even from a loop running in old code.
    #[arg(long)]
    watch: bool,
    /// Run with this sanitizer's runtime first in the process: address,
    /// thread, undefined or leak (repeatable). objdl finds the runtimes
    /// that the inputs call into itself; -fsanitize=leak leaves no mark in
    /// objects, so it needs this.
    #[arg(long, value_name = "SANITIZER", value_parser = parse_sanitizer)]
    sanitize: Vec<&'static objdl::Sanitizer>,
    #[command(flatten)]
    link: LinkFlags,
    #[command(flatten)]
    map: map::MapArg,
    /// Object files (.o), static archives (.a), or sources (.c, .cpp/.cc/.cxx,
    /// .s/.S), compiled first with $CC or $CXX (-O2 unless -O or -g).
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Arguments for the program, after `--`.
    #[arg(last = true, value_name = "ARGS")]
    args: Vec<OsString>,
    // Last: its help heading would apply to the arguments after it.
    #[command(flatten)]
    compile: compile::CompileFlags,
}

/// What objdl does with the process: exit with a status, or hand it to
/// the program it loaded (see [`launch`]).
enum Outcome {
    Exit(u8),
    Run(launch::Program),
}

fn objdl_main() -> Outcome {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return Outcome::Exit(exit::bad_arguments(&e)),
    };
    let result = match cli.command {
        Command::Run(lazy::Deferred(args)) => return run(args).unwrap_or_else(fail),
        Command::Check(lazy::Deferred(args)) => return Outcome::Exit(check(args)),
        Command::Inspect { inputs } => inspect(&inputs),
        Command::Cache { action, dir } => cache_command(action, dir),
        Command::Completions { shell } => docs::completions(shell),
        Command::Manpages { dir } => docs::manpages(&dir),
    };
    match result {
        Ok(code) => Outcome::Exit(code),
        Err(msg) => fail(msg),
    }
}

/// Where `run` keeps its cache: the --cache directory (an unusable one is
/// an error); else, unless --no-cache or OBJDL_NO_CACHE, the default one
/// (an unusable one is a warning, and no cache).
fn cache_dir(args: &RunArgs) -> Result<Option<PathBuf>, String> {
    let off = std::env::var_os("OBJDL_NO_CACHE").is_some_and(|v| !v.is_empty() && v != "0");
    match &args.cache {
        Some(dir) if !dir.as_os_str().is_empty() => Ok(Some(dir.clone())),
        Some(_) => objdl::default_cache_dir()
            .map(Some)
            .ok_or_else(|| "no cache directory: set XDG_CACHE_HOME or HOME".to_string()),
        None if args.no_cache || off => Ok(None),
        None => Ok(objdl::default_cache_dir().filter(|dir| {
            objdl::check_cache_dir(dir)
                .map_err(|e| eprintln!("objdl: warning: not caching: {e}"))
                .is_ok()
        })),
    }
}

/// `objdl cache stats` and `objdl cache clear`.
fn cache_command(action: CacheAction, dir: Option<PathBuf>) -> Result<u8, String> {
    let dir = dir
        .or_else(objdl::default_cache_dir)
        .ok_or("no cache directory: set XDG_CACHE_HOME or HOME, or give --dir")?;
    match action {
        CacheAction::Stats => {
            let s = objdl::cache_stats(&dir);
            println!(
                "{}: {} entries, {} bytes",
                dir.display(),
                s.entries,
                s.bytes
            );
        }
        CacheAction::Clear => {
            let n = match objdl::cache_clear(&dir) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
                Err(e) => return Err(format!("{}: {e}", dir.display())),
            };
            println!("{}: {n} entries removed", dir.display());
        }
    }
    Ok(0)
}

/// objdl's own failure: one line, and its exit status.
fn fail(msg: String) -> Outcome {
    eprintln!("objdl: error: {}", one_line(&msg));
    Outcome::Exit(FAILURE)
}

fn run(args: RunArgs) -> Result<Outcome, String> {
    restart::with_sanitizers(&args.sanitize)?;
    // argv: the first input's path, then the user's arguments. libc names
    // the program after it from now on (before any unit is linked).
    let mut argv: Vec<CString> = Vec::with_capacity(args.args.len() + 1);
    argv.push(cstring(args.inputs[0].as_os_str().as_bytes())?);
    for a in &args.args {
        argv.push(cstring(a.as_bytes())?);
    }
    let name: &'static std::ffi::CStr = Box::leak(argv[0].clone().into_boxed_c_str());
    launch::set_program_name(name);

    let linker = Linker::new();
    let mut scratch = Scratch::default();
    // Every source, of the units and the inputs, compiled in one batch.
    let paths: Vec<PathBuf> = args.units.iter().chain(&args.inputs).cloned().collect();
    let mut flags = args.compile.clone();
    if args.watch {
        // Each function stays one function that an edit replaces: not
        // inlined into a caller or cloned under another name, and in a
        // section of its own, so that even calls from old code running a
        // loop go through the entries.
        for f in ["function-sections", "no-inline", "no-ipa-cp", "no-ipa-sra"] {
            flags.add_code_flag(f);
        }
    }
    let prepared = compile::prepare(&paths, &flags, compile::Caller::Run, &mut scratch)?;
    let libs = compile::libraries(&args.libs, prepared.cxx);
    let archives = load_libraries(&linker, &libs, &args.lib_dirs)?;
    let mut prepared = prepared.inputs.into_iter();
    let mut units = Vec::with_capacity(args.units.len());
    let mut views = Vec::new();
    for (path, input) in args.units.iter().zip(prepared.by_ref()) {
        let mut opts = args.link.options(args.place);
        opts.scope(Scope::Global).reloadable(args.watch);
        let unit = open(
            &linker,
            &opts,
            vec![input],
            &mut scratch,
            &args.lib_dirs,
            &[],
        )?;
        if args.stats {
            eprintln!("objdl: unit {}: {}", path.display(), unit.stats());
        }
        views.push(map::UnitView::of(std::slice::from_ref(path), unit.stats()));
        units.push(std::sync::Arc::new(unit));
    }
    let mut inputs: Vec<Input> = prepared.collect();
    inputs.extend(archives.iter().map(Input::path));
    let mut opts = args.link.options(args.place);
    opts.entry(&args.entry).reloadable(args.watch);
    opts.cache(cache_dir(&args)?).cache_in_background(true);
    let unit = open(
        &linker,
        &opts,
        inputs,
        &mut scratch,
        &args.lib_dirs,
        &args.inputs,
    )?;
    drop(scratch); // compiled temporaries are no longer needed
    if args.stats {
        eprintln!("objdl: {}", unit.stats());
    }
    views.push(map::UnitView::of(&args.inputs, unit.stats()));
    map::show(&args.map, "run", views, false)?;
    let entry = unit
        .entry_point()
        .ok_or_else(|| format!("symbol `{}` not found in the unit", args.entry))?;
    // SAFETY: the C `main` signature; the user chose the entry point, which
    // the unit defines, and the unit stays loaded (kept) while it runs.
    let entry: launch::MainFn = unsafe { std::mem::transmute(entry as usize) };
    let unit = std::sync::Arc::new(unit);
    if args.watch {
        let watched = units
            .iter()
            .zip(&args.units)
            .map(|(u, p)| (u.clone(), vec![p.clone()]))
            .chain([(unit.clone(), args.inputs.clone())])
            .collect();
        watch::start(watched, &flags);
    }
    Ok(Outcome::Run(launch::Program {
        entry,
        args: argv,
        keep: Box::new((linker, units, unit)),
    }))
}

/// Opens `inputs` as one unit. An LTO input is compiled first (into
/// `scratch`); an error that a fresh process avoids (a sanitizer's
/// runtime, a larger static TLS surplus) starts objdl again.
fn open(
    linker: &Linker,
    opts: &OpenOptions,
    inputs: Vec<Input>,
    scratch: &mut Scratch,
    lib_dirs: &[PathBuf],
    program_inputs: &[PathBuf],
) -> Result<objdl::Unit, String> {
    // SAFETY: running the user's program is the point of `objdl run`.
    compiling_lto(inputs, scratch, |inputs| unsafe {
        opts.open(linker, inputs)
    })?
    .map_err(|e| {
        // objdl fails, or starts again with `exec`, which runs no destructor.
        scratch.remove();
        match restart::for_error(&e) {
            Some(why) => format!("{e} ({why})"),
            None => with_hint(&e, lib_dirs, program_inputs),
        }
    })
}

/// The error's message, with a hint at the fix where objdl knows one
/// (`program_inputs`: the inputs of `objdl run`, where a forgotten `--`
/// makes the program's arguments inputs).
fn with_hint(e: &Error, lib_dirs: &[PathBuf], program_inputs: &[PathBuf]) -> String {
    let hint =
        hints::for_error(e, lib_dirs).or_else(|| hints::for_missing_input(e, program_inputs));
    match hint {
        Some(hint) => format!("{e}; {hint}"),
        None => e.to_string(),
    }
}

/// Runs `attempt` on `inputs`; while it refuses an LTO input (which holds
/// no machine code), that input is compiled (into `scratch`) and `attempt`
/// runs again. `Err` when compiling fails.
fn compiling_lto<T>(
    mut inputs: Vec<Input>,
    scratch: &mut Scratch,
    mut attempt: impl FnMut(Vec<Input>) -> objdl::Result<T>,
) -> Result<objdl::Result<T>, String> {
    loop {
        let (file, kind) = match attempt(inputs.clone()) {
            Err(Error::LtoInput { file, kind }) => (file, kind),
            other => return Ok(other),
        };
        let at = inputs
            .iter()
            .position(|i| i.name() == file)
            .ok_or_else(|| {
                format!("{file}: an LTO object in an archive: extract and compile it first")
            })?;
        let out = scratch.dir()?.join(format!("lto{at}.o"));
        lto::compile(Path::new(&file), kind, &out, scratch)?;
        let bytes = std::fs::read(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        inputs[at] = Input::bytes(file, bytes);
    }
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
        let mut scratch = Scratch::default();
        let prepared = compile::prepare(
            &args.inputs,
            &args.compile,
            compile::Caller::Check,
            &mut scratch,
        )
        .map_err(Err)?;
        let libs = compile::libraries(&args.libs, prepared.cxx);
        let archives = load_libraries(&linker, &libs, &args.lib_dirs).map_err(Err)?;
        let mut inputs = prepared.inputs;
        inputs.extend(archives.iter().map(Input::path));
        let place = args.at.map(Placement::At).unwrap_or(args.place);
        let opts = args.link.options(place);
        compiling_lto(inputs, &mut scratch, |inputs| linker.check(inputs, &opts))
            .map_err(Err)?
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
            let view = map::UnitView::of(&args.inputs, &report.stats);
            if let Err(msg) = map::show(&args.map, "check", vec![view], true) {
                eprintln!("objdl: error: {}", one_line(&msg));
                return FAILURE;
            }
            println!("ok: the inputs would load");
            0
        }
        Err(Ok(err)) if exit::could_not_try(&err) => {
            eprintln!("objdl: error: {}", one_line(&err.to_string()));
            FAILURE
        }
        Err(Ok(err)) => {
            // Every site, one a line, then the one-line summary.
            if let Error::Unreachable { sites, .. } = &err {
                for s in sites {
                    println!("unreachable {}", one_line(&s.to_string()));
                }
            }
            if let Error::Unresolved(names) = &err {
                for u in names {
                    println!("unresolved {}", one_line(&u.to_string()));
                }
            }
            eprintln!(
                "objdl: error: {}",
                one_line(&with_hint(&err, &args.lib_dirs, &[]))
            );
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
    for u in &r.lazy {
        println!("lazy {}", one_line(&u.to_string()));
    }
    println!(
        "objects {} sections {} relocations {} trampolines {} got-slots {} relaxations {} {} {}",
        s.objects,
        s.sections,
        s.relocations,
        s.trampolines,
        s.got_slots,
        s.relaxations,
        objdl::LoadStats::ADDRESS_REWRITES_LABEL,
        s.address_rewrites
    );
}

/// `objdl inspect`: sections, symbols, relocations and the reach each needs.
fn inspect(inputs: &[PathBuf]) -> Result<u8, String> {
    for path in inputs {
        let name = path.display().to_string();
        let info = objdl::inspect::inspect_file(path).map_err(|e| e.to_string())?;
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

//! Source inputs, compiled as a compiler driver would before linking:
//!
//! | input | compiled with |
//! |---|---|
//! | `.c` | `$CC -c` (default `cc`), with `$CFLAGS` and `$CPPFLAGS` |
//! | `.cc`, `.cpp`, `.cxx`, `.cp`, `.c++`, `.C`, `.CPP` | `$CXX -c` (default `c++`), with `$CXXFLAGS` and `$CPPFLAGS`; the unit then links with libstdc++ and libm |
//! | `.s` | `$CC -c`, with `$ASFLAGS` |
//! | `.S` | `$CC -c`, with `$ASFLAGS` and `$CPPFLAGS` (it is preprocessed) |
//!
//! As `make` does, the variables are split on whitespace (`CC="gcc -m64"`),
//! and the flags come in the order `-O2 $CFLAGS $CPPFLAGS` then the
//! command line's, so that the later wins: the command line over the
//! environment, both over objdl's default `-O2` (`-O0` with `-g`, so that
//! gdb steps line by line). The command line takes `-I`, `-D`, `-U`, `-O`,
//! `-g`, `-std=`, `-f...`, `-m...` and `-W...` (warnings, and `-Wc,ARGS` to
//! pass any argument to the compiler).
//!
//! Sources compile in parallel (one compiler per CPU), each into the
//! scratch directory, with the compiler's own diagnostics on stderr; the
//! objects are read into memory before the scratch directory goes.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use objdl::Input;

use crate::input::{regular_file, Compilers, Scratch};

/// Compiler flags for source inputs, shared by `run` and `check`.
#[derive(clap::Args, Debug, Default, Clone)]
#[command(next_help_heading = "Compiling .c, .cpp/.cc/.cxx, .s/.S inputs")]
pub(crate) struct CompileFlags {
    /// Add DIR to the include path.
    #[arg(short = 'I', value_name = "DIR")]
    include: Vec<PathBuf>,
    /// Define macro NAME (to VALUE, else 1).
    #[arg(short = 'D', value_name = "NAME[=VALUE]")]
    define: Vec<String>,
    /// Undefine macro NAME.
    #[arg(short = 'U', value_name = "NAME")]
    undefine: Vec<String>,
    /// Optimisation level: -O0, -O1, -O2 (the default), -O3, -Os, -Oz, -Og or -Ofast.
    #[arg(short = 'O', value_name = "LEVEL", value_parser = opt_level)]
    opt: Option<String>,
    /// Debug information, so that gdb steps through the loaded source
    /// (`gdb --args objdl run -g prog.c`); compiles with -O0 unless -O is given.
    #[arg(short = 'g')]
    debug: bool,
    /// The language standard, as -std=STD or --std STD (c11, gnu17, c++20...).
    #[arg(long = "std", value_name = "STD")]
    std: Option<String>,
    /// `-std=STD` as the compiler spells it: clap reads it as `-s` with
    /// the value `td=STD`.
    #[arg(short = 's', value_name = "td=STD", hide = true, value_parser = std_short)]
    std_short: Option<String>,
    /// Code generation flags passed on as they are: -fPIC, -fno-inline, -fsanitize=address...
    #[arg(short = 'f', value_name = "FLAG", allow_hyphen_values = true)]
    code: Vec<String>,
    /// Machine flags passed on as they are: -march=native, -mavx2...
    #[arg(short = 'm', value_name = "FLAG", allow_hyphen_values = true)]
    machine: Vec<String>,
    /// Warnings passed on as they are (-Wall, -Wextra, -Werror...), or
    /// -Wc,ARG[,ARG...] to pass any ARGs to the compiler (-Wc,-x,c),
    /// -Wp,... and -Wa,... to its preprocessor and assembler.
    #[arg(short = 'W', value_name = "WARNING|c,ARGS", allow_hyphen_values = true)]
    warn: Vec<String>,
}

impl CompileFlags {
    /// Adds `-fFLAG` to what the compiler is given.
    pub(crate) fn add_code_flag(&mut self, flag: &str) {
        self.code.push(flag.to_string());
    }
}

/// An optimisation level gcc and clang know.
fn opt_level(v: &str) -> Result<String, String> {
    match v {
        "0" | "1" | "2" | "3" | "s" | "z" | "g" | "fast" => Ok(v.to_string()),
        _ => Err("not 0, 1, 2, 3, s, z, g or fast".to_string()),
    }
}

/// `-std=STD`, which reaches clap as `-s` with the value `td=STD`.
fn std_short(v: &str) -> Result<String, String> {
    v.strip_prefix("td=")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| format!("`-s{v}` is not an option of objdl's (the standard is -std=STD)"))
}

/// The language of a source input, from its extension as gcc reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Language {
    C,
    Cxx,
    /// `.s`: assembly, not preprocessed.
    Asm,
    /// `.S`: assembly, preprocessed.
    AsmCpp,
}

impl Language {
    /// The language of `path`, or `None` for an object, archive or anything
    /// else objdl reads as it is.
    pub(crate) fn of(path: &Path) -> Option<Language> {
        match path.extension()?.to_str()? {
            "c" => Some(Language::C),
            "cc" | "cp" | "cxx" | "cpp" | "CPP" | "c++" | "C" => Some(Language::Cxx),
            "s" => Some(Language::Asm),
            "S" => Some(Language::AsmCpp),
            _ => None,
        }
    }

    /// The compiler's environment variable and its default.
    fn compiler(self) -> (&'static str, &'static str) {
        match self {
            Language::Cxx => ("CXX", "c++"),
            _ => ("CC", "cc"),
        }
    }

    /// The environment variables holding flags for it, in `make`'s order.
    fn flag_variables(self) -> &'static [&'static str] {
        match self {
            Language::C => &["CFLAGS", "CPPFLAGS"],
            Language::Cxx => &["CXXFLAGS", "CPPFLAGS"],
            Language::Asm => &["ASFLAGS"],
            Language::AsmCpp => &["ASFLAGS", "CPPFLAGS"],
        }
    }
}

/// The inputs, ready for the linker.
pub(crate) struct Prepared {
    /// One per path, in order: a compiled object in memory, or the path.
    pub inputs: Vec<Input>,
    /// Whether a C++ source was among them: the unit needs libstdc++ and libm.
    pub cxx: bool,
}

/// Where `prepare` is used from: `run` takes arguments for the program
/// after `--`, which a forgotten `--` turns into inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    Run,
    Check,
}

impl CompileFlags {
    /// The command line's flags for a source of `lang`, after the defaults
    /// and the environment's.
    fn args(&self, lang: Language) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        // objdl's default first, so that the environment's and the command
        // line's override it.
        args.push(if self.debug { "-O0" } else { "-O2" }.into());
        for var in lang.flag_variables() {
            if let Ok(v) = std::env::var(var) {
                args.extend(v.split_whitespace().map(OsString::from));
            }
        }
        if let Some(o) = &self.opt {
            args.push(format!("-O{o}").into());
        }
        if self.debug {
            args.push("-g".into());
        }
        // The driver gives -I to the assembler too (for `.include`), and
        // ignores -D and -U where nothing is preprocessed.
        for dir in &self.include {
            let mut a = OsString::from("-I");
            a.push(dir);
            args.push(a);
        }
        args.extend(self.define.iter().map(|d| format!("-D{d}").into()));
        args.extend(self.undefine.iter().map(|u| format!("-U{u}").into()));
        if matches!(lang, Language::C | Language::Cxx) {
            if let Some(std) = self.std.as_ref().or(self.std_short.as_ref()) {
                args.push(format!("-std={std}").into());
            }
        }
        args.extend(self.code.iter().map(|f| format!("-f{f}").into()));
        args.extend(self.machine.iter().map(|m| format!("-m{m}").into()));
        for w in &self.warn {
            match w.split_once(',') {
                // -Wc,A,B: A and B to the compiler itself.
                Some(("c", rest)) => args.extend(
                    rest.split(',')
                        .filter(|a| !a.is_empty())
                        .map(OsString::from),
                ),
                // -Wp,... and -Wa,...: the driver passes them on.
                _ => args.push(format!("-W{w}").into()),
            }
        }
        args
    }

    /// An error for flags that cannot apply: `-Wl,` (objdl is the linker).
    fn check(&self) -> Result<(), String> {
        if let Some(w) = self.warn.iter().find(|w| w.starts_with("l,")) {
            return Err(format!(
                "-W{w}: objdl is the linker and takes no linker flags; libraries are -l NAME and -L DIR"
            ));
        }
        Ok(())
    }
}

/// The `-l` libraries: the command line's, then, when a C++ source was
/// compiled, libstdc++ and libm as the C++ driver links them (unless named
/// already).
pub(crate) fn libraries(libs: &[String], cxx: bool) -> Vec<String> {
    let mut all = libs.to_vec();
    if cxx {
        for lib in ["stdc++", "m"] {
            if !all.iter().any(|l| l == lib) {
                all.push(lib.to_string());
            }
        }
    }
    all
}

/// A compiler running on one source.
struct Job {
    index: usize,
    path: PathBuf,
    out: PathBuf,
    compiler: String,
    child: Child,
}

/// Prepares `paths` for the linker: sources are compiled (in parallel,
/// into `scratch`; if objdl is told to stop meanwhile, the compilers stop
/// and `scratch` goes: see [`Compilers`]), objects and archives are taken
/// as they are (the library checks them when it opens them).
pub(crate) fn prepare(
    paths: &[PathBuf],
    flags: &CompileFlags,
    caller: Caller,
    scratch: &mut Scratch,
) -> Result<Prepared, String> {
    flags.check()?;
    let mut inputs: Vec<Option<Input>> = Vec::with_capacity(paths.len());
    let mut sources = Vec::new();
    let mut cxx = false;
    for (i, path) in paths.iter().enumerate() {
        match Language::of(path) {
            Some(lang) => {
                // Before any compiler starts: none is left running on an error.
                exists(path, i, paths, caller)?;
                cxx |= lang == Language::Cxx;
                sources.push((i, path, lang));
                inputs.push(None);
            }
            // The library reads it, and says if it is missing (see
            // `hints::forgotten_dashes` for the hint then).
            None => inputs.push(Some(Input::path(path))),
        }
    }
    if !sources.is_empty() {
        let dir = scratch.dir()?.to_path_buf();
        let compilers = Compilers::watch();
        let width = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut running: Vec<Job> = Vec::new();
        let mut failed: Vec<String> = Vec::new();
        let mut queue = sources.into_iter();
        loop {
            while running.len() < width {
                let Some((i, path, lang)) = queue.next() else {
                    break;
                };
                match start(i, path, lang, flags, &dir) {
                    Ok(job) => running.push(job),
                    Err(e) => {
                        // No compiler left writing into a directory that goes.
                        for mut job in running {
                            let _ = job.child.kill();
                            let _ = job.child.wait();
                        }
                        return Err(e);
                    }
                }
            }
            if running.is_empty() {
                break;
            }
            // In input order: the first one started is waited for first.
            let mut children: Vec<&mut Child> = running.iter_mut().map(|j| &mut j.child).collect();
            let waited = compilers.wait(&mut children, 0, scratch);
            let job = running.remove(0);
            let status = waited.map_err(|e| {
                format!("{}: waiting for {}: {e}", job.path.display(), job.compiler)
            })?;
            if !status.success() {
                failed.push(job.path.display().to_string());
                continue;
            }
            // Read now: the scratch directory is removed before the program runs.
            let bytes =
                std::fs::read(&job.out).map_err(|e| format!("{}: {e}", job.out.display()))?;
            inputs[job.index] = Some(Input::bytes(job.path.display().to_string(), bytes));
        }
        if !failed.is_empty() {
            return Err(format!(
                "{}: the compiler failed (its messages are above)",
                failed.join(", ")
            ));
        }
    }
    Ok(Prepared {
        inputs: inputs
            .into_iter()
            .map(|i| i.expect("every input prepared"))
            .collect(),
        cxx,
    })
}

/// Starts the compiler on one source.
fn start(
    index: usize,
    path: &Path,
    lang: Language,
    flags: &CompileFlags,
    dir: &Path,
) -> Result<Job, String> {
    let (var, default) = lang.compiler();
    let words = crate::lto::compiler(var, default);
    let stem = path
        .file_stem()
        .map_or("input".into(), |s| s.to_string_lossy());
    let out = dir.join(format!("{index}-{stem}.o"));
    let child = Command::new(&words[0])
        .args(&words[1..])
        .args(flags.args(lang))
        .arg("-c")
        .arg(path)
        .arg("-o")
        .arg(&out)
        .spawn()
        .map_err(|e| {
            let name = words[0].to_string_lossy();
            let package = if lang == Language::Cxx { "g++" } else { "gcc" };
            format!(
                "{}: cannot run the compiler `{name}` (${var}): {e}; install one (apt-get install {package}) or set {var}",
                path.display()
            )
        })?;
    Ok(Job {
        index,
        path: path.to_path_buf(),
        out,
        compiler: words[0].to_string_lossy().into_owned(),
        child,
    })
}

/// `Ok` if the source `paths[index]` exists, else its error (with a hint
/// when it looks like an argument meant for the program).
fn exists(path: &Path, index: usize, paths: &[PathBuf], caller: Caller) -> Result<(), String> {
    match std::fs::metadata(path) {
        // Before the compiler opens it: a FIFO would block it, a device
        // would feed it without end.
        Ok(_) => regular_file(path),
        Err(e) => {
            let msg = format!("{}: {e}", path.display());
            Err(
                match (caller, crate::hints::forgotten_dashes(paths, index, &e)) {
                    (Caller::Run, Some(hint)) => format!("{msg}; {hint}"),
                    _ => msg,
                },
            )
        }
    }
}

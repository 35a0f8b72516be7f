//! Starting `objdl run` again, when the process it runs in cannot host the
//! program but a fresh one, started differently, can, as the gcc driver
//! arranges it for a linked program:
//!
//! - **Sanitizers.** Code built with `-fsanitize=address` (or `thread`,
//!   `undefined`, `leak`) needs its runtime to be the first library of the
//!   process. When a unit calls into one that is not there (or
//!   `--sanitize` asks for it), objdl starts again with the runtime in
//!   `LD_PRELOAD`, found as `$CC -print-file-name=libasan.so` finds it.
//! - **Static TLS.** Initial-exec and local-exec thread-locals live in the
//!   static TLS surplus that glibc sizes at start-up. When a unit's do not
//!   fit, objdl starts again with a larger one
//!   (`GLIBC_TUNABLES=glibc.rtld.optional_static_tls=N`).
//!
//! The new process runs the same command line (its own
//! `/proc/self/exe`), before anything of the program has run. An
//! environment variable counts the restarts, so that one cannot loop.

use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;

/// Counts the restarts, in the environment of the process started again.
const RESTARTS: &str = "OBJDL_RESTARTS";

/// How many times objdl starts itself again for one command at most.
const MAX_RESTARTS: u32 = 4;

/// Starts objdl again if `err` is one that a fresh process with another
/// environment avoids. Returns only if it does not or cannot: with why
/// not, when it tried.
pub(crate) fn for_error(err: &objdl::Error) -> Option<String> {
    match err {
        objdl::Error::StaticTlsFull { suggested, .. } => Some(with_static_tls(*suggested)),
        objdl::Error::Unresolved(list) => {
            let wanted: Vec<&objdl::Sanitizer> = objdl::SANITIZERS
                .iter()
                .filter(|s| list.iter().any(|u| u.symbol.starts_with(s.prefix)))
                .collect();
            if wanted.is_empty() {
                return None;
            }
            Some(match with_sanitizers(&wanted) {
                Ok(()) => "the sanitizers' runtimes are loaded, yet not found".into(),
                Err(why) => why,
            })
        }
        _ => None,
    }
}

/// Starts objdl again with the runtimes of `sanitizers` preloaded, unless
/// they all are already (`Ok`). Returns `Err` if it cannot, with why.
pub(crate) fn with_sanitizers(sanitizers: &[&objdl::Sanitizer]) -> Result<(), String> {
    let mut runtimes = Vec::new();
    for s in sanitizers {
        if !runtime_loaded(s) {
            runtimes.push(runtime_path(s.runtime)?);
        }
    }
    if runtimes.is_empty() {
        return Ok(());
    }
    let mut preload: Vec<OsString> = runtimes.into_iter().map(PathBuf::into_os_string).collect();
    if let Some(old) = std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
        preload.push(old);
    }
    let preload = preload.join(std::ffi::OsStr::new(":"));
    Err(exec_again(&[("LD_PRELOAD", preload)]))
}

/// Whether the process already has `s`'s runtime.
fn runtime_loaded(s: &objdl::Sanitizer) -> bool {
    let Ok(name) = std::ffi::CString::new(s.probe) else {
        return false;
    };
    // SAFETY: a NUL-terminated name; RTLD_DEFAULT searches the global scope.
    !unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) }.is_null()
}

/// A sanitizer's runtime library, as the C compiler would link it.
fn runtime_path(lib: &str) -> Result<PathBuf, String> {
    let cc = crate::lto::compiler("CC", "cc");
    let out = std::process::Command::new(&cc[0])
        .args(&cc[1..])
        .arg(format!("-print-file-name={lib}"))
        .output()
        .map_err(|e| format!("cannot run {} to find {lib}: {e}", cc[0].to_string_lossy()))?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    // A name without a directory: the compiler does not have it.
    if !path.is_absolute() || !path.exists() {
        return Err(format!(
            "the sanitizer runtime {lib} is not installed (gcc's package libasan8, libtsan2, libubsan1 or liblsan0)"
        ));
    }
    Ok(std::fs::canonicalize(&path).unwrap_or(path))
}

/// Starts objdl again with a static TLS surplus that makes room for
/// `needed` more bytes. Returns only if it cannot, with why.
fn with_static_tls(needed: u64) -> String {
    const TUNABLE: &str = "glibc.rtld.optional_static_tls";
    let old = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
    let mut current = 512;
    let mut others: Vec<&str> = Vec::new();
    for t in old.split(':').filter(|t| !t.is_empty()) {
        match t.strip_prefix(TUNABLE).and_then(|v| v.strip_prefix('=')) {
            Some(v) => current = v.parse().unwrap_or(current),
            None => others.push(t),
        }
    }
    let wanted = format!("{TUNABLE}={}", current.max(512) + needed);
    others.push(&wanted);
    exec_again(&[("GLIBC_TUNABLES", others.join(":").into())])
}

/// Replaces this process with objdl again, with the same arguments and
/// these environment variables changed. Returns only if it cannot, with why.
fn exec_again(env: &[(&str, OsString)]) -> String {
    let restarts: u32 = std::env::var(RESTARTS)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if restarts >= MAX_RESTARTS {
        return format!("objdl started itself again {restarts} times already");
    }
    let mut args = std::env::args_os();
    let argv0 = args.next().unwrap_or_else(|| "objdl".into());
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.arg0(argv0)
        .args(args)
        .env(RESTARTS, (restarts + 1).to_string());
    for (name, value) in env {
        cmd.env(name, value);
    }
    let err = cmd.exec();
    format!("could not start objdl again: {err}")
}

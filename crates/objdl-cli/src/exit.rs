//! objdl's exit statuses: one table, for `objdl --help` and the README.

use objdl::Error;

/// The exit status when objdl itself fails (as opposed to the program it runs).
pub(crate) const FAILURE: u8 = 125;

/// The exit statuses, as `objdl --help` shows them.
pub(crate) const STATUSES: &str = "\
Exit status:
  0    ok (check: the inputs would load)
  1    check: the inputs would not load (each reason is printed)
  125  objdl itself failed: bad arguments, an input it cannot read, an error
       while loading (one line: objdl: error: ...)
  else run: the program's own status (from main, or exit)";

/// Whether an error of `objdl check` means that objdl could not even try
/// to link (exit 125), rather than that the inputs would not load (exit 1):
/// an input or a library it could not read, open or find.
pub(crate) fn could_not_try(e: &Error) -> bool {
    matches!(e, Error::Io { .. } | Error::Library { .. })
}

/// Prints clap's message for arguments it could not parse (or the help or
/// version asked for), and returns the exit status: [`FAILURE`] for bad
/// arguments, not clap's own 2, which a program may return too.
pub(crate) fn bad_arguments(e: &clap::Error) -> u8 {
    // Nothing to do if stderr is closed.
    let _ = e.print();
    if e.use_stderr() {
        FAILURE
    } else {
        0
    }
}

//! objdl's exit statuses.

use objdl::Error;

/// Whether an error of `objdl check` means that objdl could not even try
/// to link (exit 125), rather than that the inputs would not load (exit 1):
/// an input or a library it could not read, open or find.
pub(crate) fn could_not_try(e: &Error) -> bool {
    matches!(e, Error::Io { .. } | Error::Library { .. })
}

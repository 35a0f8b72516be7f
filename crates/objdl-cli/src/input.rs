//! The CLI's inputs: objects and archives are opened by the library; a `.c`
//! file is compiled first, with `$CC -c -O2`, into a scratch directory.

use std::path::Path;

use objdl::Input;

/// A temporary directory for compiled `.c` inputs, made when the first one
/// needs it (most runs have none) and removed when dropped.
#[derive(Default)]
pub(crate) struct Scratch(Option<tempfile::TempDir>);

impl Scratch {
    pub(crate) fn dir(&mut self) -> Result<&Path, String> {
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

/// A `.c` input is compiled to an object in `scratch`; anything else is used
/// as is (the library checks it when it opens it).
pub(crate) fn prepare_input(
    path: &Path,
    scratch: &mut Scratch,
    index: usize,
) -> Result<Input, String> {
    if path.extension().is_some_and(|e| e == "c") {
        // Before the compiler opens it: a FIFO would block it, a device
        // would feed it without end.
        regular_file(path)?;
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

/// `Ok` if `path` is a regular file (after symbolic links), else the one-line
/// error `PATH: not a regular file (a FIFO)` and the like, as the library
/// words it for the inputs it opens. Only `stat`s the path: nothing is opened.
fn regular_file(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let t = meta.file_type();
    let what = if t.is_file() {
        return Ok(());
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else {
        "not a file"
    };
    Err(format!("{}: not a regular file ({what})", path.display()))
}

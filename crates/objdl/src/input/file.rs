//! Input files: opened without blocking or side effects (only a regular
//! file of bounded size), and mapped read-only.

use std::io;

/// A file mapped read-only and private, unmapped on drop.
///
/// Like other linkers that map their inputs, objdl assumes the file is not
/// truncated while it is being linked (the mapping is dropped before any
/// of the unit's code runs).
#[derive(Debug)]
pub(crate) struct FileMap {
    base: *const u8,
    len: usize,
    /// Kept open for `Memory::map_file` (stage map).
    file: std::fs::File,
}

/// Opens the input at `path` for reading, and returns it with its size:
/// only a regular file of at most [`crate::limits::MAX_INPUT_SIZE`] bytes.
/// Nothing that could block or have side effects happens first: the path
/// is checked with `stat` (so a device is never opened and a FIFO never
/// waited on), then opened with `O_NONBLOCK` and `O_NOCTTY`, and what was
/// opened is checked again with `fstat` (it may have been replaced).
pub(crate) fn open_input(path: &std::path::Path) -> io::Result<(std::fs::File, u64)> {
    use std::os::unix::fs::OpenOptionsExt;
    regular_file(path)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    regular(&meta)?;
    let limit = crate::limits::MAX_INPUT_SIZE;
    if meta.len() > limit {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!(
                "{:#x} bytes is larger than the {limit:#x}-byte limit on an input",
                meta.len()
            ),
        ));
    }
    Ok((file, meta.len()))
}

/// `Ok` if `path` is a regular file (after symbolic links), else an error
/// saying what it is instead (`not a regular file (a FIFO)` and the like),
/// as objdl refuses its inputs. Only `stat`s the path: nothing is opened,
/// so a FIFO is never waited on and a device never touched.
///
/// ```
/// assert!(objdl::regular_file(std::path::Path::new("/dev/null")).is_err());
/// assert!(objdl::regular_file(std::path::Path::new("/dev")).is_err());
/// ```
pub fn regular_file(path: &std::path::Path) -> io::Result<()> {
    regular(&std::fs::metadata(path)?)
}

/// `Ok` for a regular file; otherwise an error saying what it is.
fn regular(meta: &std::fs::Metadata) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
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
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("not a regular file ({what})"),
    ))
}

impl FileMap {
    /// Maps the input at `path` (see [`open_input`]); `None` for an empty file.
    pub fn open(path: &std::path::Path) -> io::Result<Option<FileMap>> {
        use std::os::fd::AsRawFd;
        let (file, len) = open_input(path)?;
        // At most MAX_INPUT_SIZE, which fits.
        let len = len as usize;
        if len == 0 {
            return Ok(None);
        }
        // SAFETY: a fresh read-only private mapping of an open file; the
        // file descriptor may close after mmap returns.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Some(FileMap {
            base: p.cast(),
            len,
            file,
        }))
    }

    /// The open file.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.file.as_fd()
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes for the life of `self`.
        unsafe { std::slice::from_raw_parts(self.base, self.len) }
    }
}

impl Drop for FileMap {
    fn drop(&mut self) {
        // SAFETY: mapped by `open`, unmapped once.
        unsafe {
            libc::munmap(self.base as *mut libc::c_void, self.len);
        }
    }
}

// SAFETY: a read-only mapping, never written.
unsafe impl Send for FileMap {}
// SAFETY: as above.
unsafe impl Sync for FileMap {}

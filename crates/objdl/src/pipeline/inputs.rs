//! Stage 1, parse: the inputs' bytes (mapped files, or bytes given), each
//! object parsed, archive members pulled by what stays undefined, stacks
//! checked, and each object's place in its file found (for mapping its
//! large sections from the file).

use std::path::Path;

use crate::error::{Error, Result, Unsupported};
use crate::input;
use crate::input::archive;
use crate::link::resolve;
use crate::link::unit_layout::MappedSection;
use crate::load::memory::{Memory, Reservation};
use crate::load::shim;
use crate::options::OpenOptions;

use super::context::Context;

/// Parses the inputs in `files` (those from `user_inputs` on are archives
/// of the libraries the gcc driver adds), pulls archive members, checks
/// the objects' stacks and finds each object's file.
pub(super) fn parse<'d>(
    cx: &Context<'_>,
    files: &'d [(String, FileBytes)],
    user_inputs: usize,
    opts: &OpenOptions,
    check: bool,
) -> Result<Vec<input::ObjectFile<'d>>> {
    // 1. Parse, then pull what the objects need from archives.
    let mut objects = Vec::with_capacity(files.len());
    let mut archives = Vec::new();
    for (name, bytes) in &files[..user_inputs] {
        let bytes: &[u8] = bytes;
        if archive::is_archive(bytes) {
            archives.push((name.as_str(), bytes));
        } else {
            objects.push(input::parse(name, bytes)?);
        }
    }
    let implicit: Vec<(&str, &[u8])> = files[user_inputs..]
        .iter()
        .map(|(name, bytes)| (name.as_str(), &bytes[..]))
        .collect();
    let outside = |name: &str| resolve::defined_outside(name, cx.host, cx.namespace);
    if let Err(err) = archive::select(&mut objects, &archives, &implicit, &outside) {
        return Err(malformed_first(&objects, err));
    }
    executable_stack(&objects, opts, check).map_err(|err| malformed_first(&objects, err))?;
    // Which mapped file each object lies in (archive members too):
    // the files' ranges in address order, searched.
    let mut ranges: Vec<(u64, u64, u32)> = files
        .iter()
        .enumerate()
        .filter(|(_, (_, f))| matches!(f, FileBytes::Mapped(_)))
        .map(|(i, (_, f))| {
            (
                f.as_ptr() as u64,
                f.as_ptr() as u64 + f.len() as u64,
                i as u32,
            )
        })
        .collect();
    ranges.sort_unstable();
    for obj in &mut objects {
        let at = obj.data.as_ptr() as u64;
        let i = ranges.partition_point(|&(start, _, _)| start <= at);
        obj.backing = i
            .checked_sub(1)
            .map(|i| ranges[i])
            .filter(|&(_, end, _)| at < end)
            .map(|(start, _, file)| input::Backing {
                file,
                offset: at - start,
            });
    }
    Ok(objects)
}

/// An input's malformed relocation is reported before what it may have
/// caused further on (relocations are checked only later): `err`, or the
/// first malformed relocation's error.
pub(super) fn malformed_first(objects: &[input::ObjectFile<'_>], err: Error) -> Error {
    objects
        .iter()
        .find_map(|o| o.check_relocations().err())
        .unwrap_or(err)
}

/// An input's bytes: the file mapped read-only (no copy, and its pages come
/// from the page cache), or bytes given in memory.
pub(crate) enum FileBytes {
    Mapped(crate::input::file::FileMap),
    Owned(Vec<u8>),
}

impl FileBytes {
    pub(super) fn map(path: &Path) -> std::io::Result<FileBytes> {
        Ok(match crate::input::file::FileMap::open(path)? {
            Some(m) => FileBytes::Mapped(m),
            None => FileBytes::Owned(Vec::new()), // an empty file
        })
    }
}

impl std::ops::Deref for FileBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            FileBytes::Mapped(m) => m.bytes(),
            FileBytes::Owned(v) => v,
        }
    }
}

/// The unit's inputs, for messages.
pub(super) fn unit_name(objects: &[input::ObjectFile<'_>]) -> String {
    objects
        .iter()
        .map(|o| o.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses objects that need an executable stack unless
/// [`OpenOptions::exec_stack`] allows them; then makes the stacks
/// executable (not for a check), once per process: glibc never makes them
/// non-executable again.
fn executable_stack(
    objects: &[input::ObjectFile<'_>],
    opts: &OpenOptions,
    check: bool,
) -> Result<()> {
    let Some(obj) = objects
        .iter()
        .find(|o| o.stack != input::StackNote::NotExecutable)
    else {
        return Ok(());
    };
    if !opts.exec_stack {
        let (why, fix) = match obj.stack {
            input::StackNote::Executable => (
                "its .note.GNU-stack section is executable, as gcc marks an object whose nested function's address is taken",
                "compile with -ftrampoline-impl=heap (gcc 14 and later) or do not take a nested function's address",
            ),
            _ => (
                "it has no .note.GNU-stack section, which means an executable stack",
                "add `.section .note.GNU-stack,\"\",@progbits` to hand-written assembly",
            ),
        };
        return Err(Error::ExecutableStack {
            file: obj.name.clone(),
            why,
            fix,
        });
    }
    if check {
        return Ok(());
    }
    static EXECUTABLE: std::sync::OnceLock<std::result::Result<shim::Shim, String>> =
        std::sync::OnceLock::new();
    let made = EXECUTABLE.get_or_init(|| {
        let spec = shim::ShimSpec {
            exec_stack: true,
            ..shim::ShimSpec::default()
        };
        shim::load(&spec).map_err(|e| match e {
            shim::ShimError::StaticTls(why) | shim::ShimError::Other(why) => why,
        })
    });
    match made {
        Ok(_) => Ok(()),
        Err(why) => Err(Error::Unsupported {
            file: obj.name.clone(),
            what: Unsupported::ExecutableStackRefused { why: why.clone() },
        }),
    }
}

/// Maps the whole pages of large sections from their files into the
/// reservation. Returns `false` (and the sections are then copied) if any
/// mapping fails.
pub(super) fn map_sections(
    image: &Reservation,
    sections: &[MappedSection],
    files: &[(String, FileBytes)],
) -> bool {
    sections.iter().all(|m| match &files[m.file as usize].1 {
        FileBytes::Mapped(f) => image
            .map_file(m.offset, m.len, f.fd(), (m.file_offset, true))
            .is_ok(),
        FileBytes::Owned(_) => false,
    })
}

//! Inputs: what the linker reads. Relocatable objects, read by their
//! format's reader ([`format`](mod@format): the [`Format`] trait; [`elf`]: ELF) into
//! the format-neutral [`ObjectFile`] ([`object_file`]: flat arrays of
//! sections, symbols and relocations); static archives ([`archive`]:
//! members pulled by what stays undefined); and the files they come from
//! ([`file`](mod@file): opened without blocking, mapped read-only).
//!
//! [`Native`] is the format of the platform objdl runs on, chosen at build
//! time as `arch::Native` is: [`parse`], [`ObjectFile`] and [`Reloc`] are
//! its.

pub(crate) mod archive;
pub(crate) mod elf;
pub(crate) mod file;
pub(crate) mod format;
mod names;
pub(crate) mod object_file;

pub(crate) use format::Format;
pub(crate) use object_file::{
    Backing, Binding, RelocFields, SectionKind, StackNote, SymbolDef, SymbolKind, TableKind,
    Visibility,
};

use crate::error::Result;

#[cfg(not(unix))]
compile_error!(
    "objdl reads ELF objects only: another platform needs a `Format` (see `input/format.rs`)"
);

/// The object format of the platform objdl runs on, and loads.
#[cfg(unix)]
pub(crate) type Native = elf::Elf;

/// A relocation record of the native format, read in place.
pub(crate) type Reloc = <Native as Format>::Reloc;

/// A parsed object of the native format.
pub(crate) type ObjectFile<'d> = object_file::ObjectFile<'d, Reloc>;

/// Stage 1, parse: reads and validates `data`, the object named `name` in
/// messages, with the native format's reader.
#[inline]
pub(crate) fn parse<'d>(name: &str, data: &'d [u8]) -> Result<ObjectFile<'d>> {
    Native::parse(name, data)
}

/// Whether `bytes` start like an object of the native format.
#[inline]
pub(crate) fn recognise(bytes: &[u8]) -> bool {
    Native::recognise(bytes)
}

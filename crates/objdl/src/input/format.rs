//! The object-format seam: what a reader of one format (ELF today, COFF
//! next) provides, so that every stage after it reads one
//! [`ObjectFile`] whatever the format.
//!
//! A process only ever loads its platform's format, so the format is
//! chosen at build time, as the architecture is: `input::Native` names
//! the implementation (`Elf` under `cfg(unix)`), `input::parse` and
//! `input::Reloc` go through it, and every call is monomorphic. The
//! relocation loops read the format's own records in place through
//! [`RelocFields`]: no copy, no conversion per relocation.
//!
//! # How to add a format
//!
//! A reader in `input/` (as `elf.rs`) with a zero-sized type implementing
//! [`Format`], and `input::Native` set to it under its `cfg`. It provides:
//!
//! - [`Format::recognise`]: whether bytes start like its objects (an
//!   archive's members are tried with it).
//! - [`Format::Reloc`]: its relocation record as the input stores it, a
//!   plain-old-data type the stages index in place, implementing
//!   [`RelocFields`]: offset, symbol index, kind (the architecture's
//!   relocation type: COFF's `IMAGE_REL_AMD64_*` map onto x86-64's
//!   formulas), and the addend, which a format with implicit addends (ELF
//!   `REL`, COFF) reads from the field in the section's bytes it is given.
//! - [`Format::parse`]: the whole object, validated, as an
//!   [`ObjectFile`]: sections with their [`SectionKind`], bytes, size and
//!   alignment (and table priority); symbols with their name,
//!   [`Binding`], [`SymbolKind`], [`Visibility`], [`SymbolDef`] and size,
//!   global names checked; `special`, the indices of the global and
//!   indirect symbols; COMDAT groups; each loaded section's relocations;
//!   what it says of the stack. Every error names the file and the place.
//!
//! [`SectionKind`]: crate::input::object_file::SectionKind
//! [`Binding`]: crate::input::object_file::Binding
//! [`SymbolKind`]: crate::input::object_file::SymbolKind
//! [`Visibility`]: crate::input::object_file::Visibility
//! [`SymbolDef`]: crate::input::object_file::SymbolDef

use crate::error::Result;
use crate::input::object_file::{ObjectFile, RelocFields};

/// An object file format: how to recognise its objects, read one, and
/// read its relocation records. Implemented by a zero-sized type; the
/// stages reach it through `input::Native`.
pub(crate) trait Format {
    /// One relocation record, as the input stores it: the stages read it
    /// in place, through [`RelocFields`].
    type Reloc: RelocFields;

    /// Whether `bytes` start like an object of this format (its magic
    /// number); a cheap test, not a validation.
    fn recognise(bytes: &[u8]) -> bool;

    /// Reads and validates `data`, the object named `name` in messages.
    /// Everything the stages index is checked here, except the relocation
    /// entries (see [`ObjectFile::check_relocations`]).
    fn parse<'d>(name: &str, data: &'d [u8]) -> Result<ObjectFile<'d, Self::Reloc>>;
}

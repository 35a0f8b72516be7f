//! Inputs: what the linker reads. ELF relocatable objects ([`parse`]: flat
//! arrays of sections, symbols and relocations), static archives
//! ([`archive`]: members pulled by what stays undefined), and the files they
//! come from ([`file`](mod@file): opened without blocking, mapped read-only).

pub(crate) mod archive;
pub(crate) mod file;
pub(crate) mod parse;

//! The architecture seam. Only x86-64 exists today; everything that knows an
//! opcode or a relocation number lives behind this module, so that AArch64
//! (or COFF's x64 relocations) can be added as a sibling.

mod x86_64;

pub(crate) use x86_64::*;

//! Bounds on what one input or unit may ask for. They keep a hostile or
//! broken file from making objdl allocate or reserve without limit.

/// Sections in one object.
pub(crate) const MAX_SECTIONS: usize = 1 << 20;
/// Symbols in one object.
pub(crate) const MAX_SYMBOLS: usize = 1 << 24;
/// Relocations in one object.
pub(crate) const MAX_RELOCS: usize = 1 << 28;
/// Bytes in one symbol name.
pub(crate) const MAX_NAME: usize = 1 << 16;
/// Default cap on the bytes one unit may reserve. It also keeps every
/// internal reference of a unit within reach of a signed 32-bit displacement.
pub(crate) const MAX_UNIT_SIZE: u64 = 1 << 30;
/// Bytes in one input file (an object or an archive). Inputs are mapped,
/// never read whole, so this bounds address space, not memory.
pub(crate) const MAX_INPUT_SIZE: u64 = 1 << 32;

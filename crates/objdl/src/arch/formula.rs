//! The relocation vocabulary every architecture maps its relocation types
//! to: what a relocation computes ([`Formula`]) and how the passes over
//! relocations can settle it at a glance ([`Quick`]). The examples name
//! x86-64's types.

use super::field::Field;

/// What a relocation computes. S: symbol, A: addend, P: the field's address,
/// G: the symbol's GOT slot, GOT: the GOT's base, Z: the symbol's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Formula {
    /// Nothing (`R_X86_64_NONE`).
    None,
    /// S + A.
    Abs(Field),
    /// S + A − P, and PLT32's L + A − P. A 32-bit field that belongs to a
    /// call or jump may go through a trampoline (L) when S is out of reach.
    Pc(Field),
    /// G + A − P. `relaxable` for the GOTPCRELX forms.
    GotPcRel { field: Field, relaxable: bool },
    /// GOT + A − P.
    GotPc(Field),
    /// S + A − GOT.
    GotOff(Field),
    /// G − GOT + A.
    Got(Field),
    /// Z + A.
    Size(Field),
    /// The GOT pair (`tls_index`) for the symbol's module and offset
    /// (TLSGD), or for the module alone (`local`, TLSLD), − P + A, in
    /// `field`.
    TlsIndex { local: bool, field: Field },
    /// The symbol's offset in its module's TLS block, + A.
    DtpOff(Field),
    /// The symbol's TLS module id.
    DtpMod,
    /// The GOT's TLS descriptor for the symbol's module and offset (for
    /// `_TLS_MODULE_BASE_`, the module alone), − P + A
    /// (`R_X86_64_GOTPC32_TLSDESC`, on `lea x@tlsdesc(%rip), %rax`), in
    /// the field.
    TlsDesc(Field),
    /// The descriptor call `call *x@tlscall(%rax)` (`R_X86_64_TLSDESC_CALL`):
    /// marks the instruction, patches nothing.
    TlsDescCall,
    /// Initial-exec and local-exec TLS: the symbol's offset from the thread
    /// pointer, in static TLS, + A (TPOFF32/64); or, when `got`, a GOT slot
    /// holding that offset, G + A − P (GOTTPOFF).
    StaticTls { got: bool, field: Field },
}

/// How the passes over relocations can settle the most common types
/// without looking further (each architecture's `Arch::quick_class` gives
/// a type's class).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quick {
    /// A signed 32-bit PC-relative field (`R_X86_64_PC32`, `PLT32`).
    Pc32,
    /// A 64-bit absolute (`R_X86_64_64`).
    Abs64,
    /// A 32-bit absolute (`R_X86_64_32`, `32S`): it constrains the base.
    Abs32,
    /// A GOT load that may drop the GOT (`R_X86_64_GOTPCRELX`, `REX_GOTPCRELX`).
    GotPcRelx,
    /// Relative to the unit itself or 64 bits wide, so it fits wherever the
    /// unit goes (`PC64`, `GOTOFF64`, `PLTOFF64`, `GOTPC32`, `GOTPC64`):
    /// [`Formula::Pc`] with [`Field::W64`], [`Formula::GotOff`] or
    /// [`Formula::GotPc`].
    Wide,
    /// `S + A − GOT` in 64 bits (`GOTOFF64`, `PLTOFF64`): the large code
    /// model's data references.
    GotOff64,
    /// Needs nothing before the unit has an address (`NONE`, `SIZE*`).
    Nothing,
    /// Anything else: the general path.
    Other,
}

/// What a relocation needs to know of an external symbol besides its
/// address, which the resolver looks up only where asked (see
/// [`Formula::external_fact`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExternalFact {
    /// Its size ([`Formula::Size`]).
    Size,
    /// Whether it is code: a 32-bit absolute of a host function may be
    /// served by a trampoline in the unit (see [`Quick::Abs32`]).
    LowAbsolute,
    /// Its offset from the thread pointer, in static TLS, which `ld.so`
    /// gives by name ([`Formula::StaticTls`]: initial-exec).
    InitialExecTls,
    /// The module and offset of its thread-local: the general-dynamic
    /// forms ([`Formula::TlsIndex`] not `local`, [`Formula::DtpMod`],
    /// [`Formula::DtpOff`], [`Formula::TlsDesc`]).
    DynamicTls,
}

impl Formula {
    /// What this formula needs to know of an external symbol besides its
    /// address, if anything.
    #[inline]
    pub const fn external_fact(self) -> Option<ExternalFact> {
        match self {
            Formula::Size(_) => Some(ExternalFact::Size),
            Formula::Abs(Field::U32 | Field::S32) => Some(ExternalFact::LowAbsolute),
            Formula::StaticTls { .. } => Some(ExternalFact::InitialExecTls),
            Formula::TlsIndex { local: false, .. }
            | Formula::DtpMod
            | Formula::DtpOff(_)
            | Formula::TlsDesc(_) => Some(ExternalFact::DynamicTls),
            _ => None,
        }
    }
}

//! Read-only views of an object for `objdl inspect`: its sections, symbols,
//! and every relocation with the reach it needs.

use std::fmt;
use std::path::Path;

use crate::arch::{self, Field, Formula};
use crate::error::{Error, Result};
use crate::input::{self, Binding, RelocFields, SectionKind, SymbolDef};

/// What a relocated field needs in order to be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reach {
    /// Nothing: a 64-bit field, a size, an offset from the GOT.
    Any,
    /// A call or jump: direct within ±2 GiB, otherwise through a trampoline.
    Branch,
    /// An address computed relative to the program counter: within
    /// ±2 GiB, otherwise the instruction is rewritten to load the address
    /// from a GOT slot (counted in
    /// [`LoadStats::address_rewrites`](crate::LoadStats::address_rewrites)).
    ///
    /// ```
    /// use objdl::inspect::Reach;
    /// assert_eq!(
    ///     Reach::AddressComputation.to_string(),
    ///     "±2 GiB, else the address loaded from a GOT slot"
    /// );
    /// ```
    AddressComputation,
    /// A load through the GOT: the slot is in the unit; relaxed to a direct
    /// form when the target is within ±2 GiB.
    GotSlot,
    /// A RIP-relative access that cannot be redirected: the target must lie
    /// within ±2 GiB of the site (8/16 bits: ±128 B / ±32 KiB).
    PcRelative(u8),
    /// A zero-extended 32-bit absolute: the target must lie in the low 4 GiB.
    Low4GiB,
    /// A sign-extended 32-bit absolute: the target must lie in the low 2 GiB.
    Low2GiB,
    /// A 16- or 8-bit absolute.
    Absolute(u8),
    /// Initial-exec or local-exec TLS: an offset in static TLS, which
    /// `ld.so` allocates for the unit.
    StaticTls,
    /// A relocation type objdl refuses.
    Unsupported,
}

impl fmt::Display for Reach {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reach::Any => f.write_str("any distance"),
            Reach::Branch => f.write_str("±2 GiB, else a trampoline"),
            Reach::AddressComputation => {
                f.write_str("±2 GiB, else the address loaded from a GOT slot")
            }
            Reach::GotSlot => f.write_str("a GOT slot in the unit (direct if within ±2 GiB)"),
            Reach::PcRelative(32) => f.write_str("±2 GiB of the site (irreducible)"),
            Reach::PcRelative(bits) => write!(f, "±2^{} bytes of the site (irreducible)", bits - 1),
            Reach::Low4GiB => f.write_str("the low 4 GiB (absolute)"),
            Reach::Low2GiB => f.write_str("the low 2 GiB (sign-extended absolute)"),
            Reach::Absolute(bits) => write!(f, "a {bits}-bit absolute"),
            Reach::StaticTls => f.write_str("static TLS (an offset from the thread pointer)"),
            Reach::Unsupported => f.write_str("unsupported"),
        }
    }
}

/// One section.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SectionInfo {
    /// Its ELF index.
    pub index: usize,
    /// Its name.
    pub name: String,
    /// What objdl does with it: `text`, `rodata`, `data`, `bss`, `eh_frame`, `table` or `skip`.
    pub kind: &'static str,
    /// Its size.
    pub size: u64,
    /// Its alignment.
    pub align: u64,
}

/// One symbol.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SymbolInfo {
    /// Its name (empty for section symbols and the null symbol).
    pub name: String,
    /// `local`, `global`, `weak` or `unique`.
    pub binding: &'static str,
    /// The section it is defined in; `UND`, `ABS` or `COMMON` otherwise.
    pub section: String,
    /// Its value (offset in the section).
    pub value: u64,
    /// Its size.
    pub size: u64,
}

/// One relocation.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RelocationInfo {
    /// The section it patches.
    pub section: String,
    /// The field's offset in the section.
    pub offset: u64,
    /// Its type's name.
    pub r_type: String,
    /// The symbol it refers to.
    pub symbol: String,
    /// Its addend.
    pub addend: i64,
    /// What it needs.
    pub reach: Reach,
}

/// Everything `objdl inspect` shows about one object.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ObjectInfo {
    /// Every section.
    pub sections: Vec<SectionInfo>,
    /// Every symbol.
    pub symbols: Vec<SymbolInfo>,
    /// Every relocation of a loaded section.
    pub relocations: Vec<RelocationInfo>,
}

/// Parses `bytes` (named `name` in messages) and describes it.
///
/// ```no_run
/// let bytes = std::fs::read("x.o").unwrap();
/// let info = objdl::inspect::inspect("x.o", &bytes)?;
/// for r in &info.relocations {
///     println!("{}+{:#x} {} {} needs {}", r.section, r.offset, r.r_type, r.symbol, r.reach);
/// }
/// # Ok::<(), objdl::Error>(())
/// ```
pub fn inspect(name: &str, bytes: &[u8]) -> Result<ObjectInfo> {
    let obj = input::parse(name, bytes)?;
    obj.check_relocations()?;
    let sections = obj
        .sections
        .iter()
        .enumerate()
        .map(|(index, s)| SectionInfo {
            index,
            name: s.name.to_string(),
            kind: match s.kind {
                SectionKind::Skip => "skip",
                SectionKind::Text => "text",
                SectionKind::ReadOnly => "rodata",
                SectionKind::Data => "data",
                SectionKind::Bss => "bss",
                SectionKind::EhFrame => "eh_frame",
                SectionKind::Table(_) => "table",
                SectionKind::Tls { .. } => "tls",
            },
            size: s.size,
            align: s.align,
        })
        .collect();
    let symbols = obj
        .symbols
        .iter()
        .enumerate()
        .map(|(i, s)| SymbolInfo {
            name: obj.symbol_name(i as u32),
            binding: match s.bind {
                Binding::Local => "local",
                Binding::Weak => "weak",
                Binding::Unique => "unique",
                Binding::Global => "global",
            },
            section: match s.def {
                SymbolDef::Undefined => "UND".to_string(),
                SymbolDef::Absolute(_) => "ABS".to_string(),
                SymbolDef::Common { .. } => "COMMON".to_string(),
                SymbolDef::Section { index, .. } => obj.sections[index as usize].name.to_string(),
            },
            value: match s.def {
                SymbolDef::Section { value, .. } | SymbolDef::Absolute(value) => value,
                _ => 0,
            },
            size: s.size,
        })
        .collect();
    let mut relocations = Vec::new();
    for sec in &obj.sections {
        for r in sec.relocs.iter() {
            relocations.push(RelocationInfo {
                section: sec.name.to_string(),
                offset: r.offset(),
                r_type: arch::reloc_name(r.kind()).into_owned(),
                symbol: crate::link::plan::symbol_name(&obj, r.sym()),
                addend: r.addend(sec.data),
                reach: reach(arch::formula(r.kind()), sec.data, r.offset() as usize),
            });
        }
    }
    Ok(ObjectInfo {
        sections,
        symbols,
        relocations,
    })
}

/// Maps the object file at `path` and describes it, as [`inspect`] does.
/// The file is read as every input is: only a regular file, mapped (never
/// read whole), of at most 4 GiB; a FIFO, a device, a socket or a
/// directory is an error at once.
///
/// ```no_run
/// let info = objdl::inspect::inspect_file("x.o")?;
/// println!("{} sections, {} symbols", info.sections.len(), info.symbols.len());
/// # Ok::<(), objdl::Error>(())
/// ```
pub fn inspect_file(path: impl AsRef<Path>) -> Result<ObjectInfo> {
    let path = path.as_ref();
    let map = crate::input::file::FileMap::open(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let bytes = map
        .as_ref()
        .map_or(&[][..], crate::input::file::FileMap::bytes);
    inspect(&path.display().to_string(), bytes)
}

fn reach(formula: Option<Formula>, bytes: &[u8], off: usize) -> Reach {
    let bits = |f: Field| (f.width() * 8) as u8;
    match formula {
        None => Reach::Unsupported,
        Some(Formula::None | Formula::Size(_) | Formula::GotOff(_) | Formula::Got(_)) => Reach::Any,
        Some(
            Formula::GotPc(_)
            | Formula::TlsIndex { .. }
            | Formula::TlsDesc(_)
            | Formula::TlsDescCall
            | Formula::DtpOff(_)
            | Formula::DtpMod,
        ) => Reach::Any,
        Some(Formula::StaticTls { .. }) => Reach::StaticTls,
        Some(Formula::GotPcRel { .. }) => Reach::GotSlot,
        Some(Formula::Abs(Field::W64) | Formula::Pc(Field::W64)) => Reach::Any,
        Some(Formula::Abs(Field::U32)) => Reach::Low4GiB,
        Some(Formula::Abs(Field::S32)) => Reach::Low2GiB,
        Some(Formula::Abs(f)) => Reach::Absolute(bits(f)),
        Some(Formula::Pc(f)) if f == arch::REDIRECT_FIELD && bytes.is_empty() => {
            Reach::PcRelative(bits(f))
        }
        Some(Formula::Pc(f)) if f == arch::REDIRECT_FIELD => match arch::site_kind(bytes, off) {
            arch::SiteKind::Branch => Reach::Branch,
            arch::SiteKind::Address => Reach::AddressComputation,
            arch::SiteKind::Other => Reach::PcRelative(bits(f)),
        },
        Some(Formula::Pc(f)) => Reach::PcRelative(bits(f)),
    }
}

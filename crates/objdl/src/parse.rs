//! Stage 1, parse: read one ELF64 x86-64 relocatable object into flat arrays.
//!
//! Everything read from the file is validated here, once: section bounds,
//! symbol and section indices, relocation offsets against their section.
//! Later stages index these arrays without further checks.

use object::elf;
use object::read::elf::{FileHeader, Rela as _, SectionHeader, Sym as _};
use object::{LittleEndian as LE, SectionIndex};

use crate::arch;
use crate::error::{Error, Result};

/// What a section becomes in the loaded unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SectionKind {
    /// Not loaded: not `SHF_ALLOC`, or a note, group, symbol table...
    Skip,
    /// Executable code.
    Text,
    /// Read-only data.
    ReadOnly,
    /// Writable data.
    Data,
    /// Writable, zero-initialised data (`SHT_NOBITS`).
    Bss,
    /// `.eh_frame`: unwind tables, registered with the unwinder.
    EhFrame,
    /// A table of initialiser or finaliser pointers.
    Table(TableKind),
    /// Thread-local data (`.tdata`), or zero-initialised (`.tbss`) when
    /// `zero`: the template of each thread's block, not loaded in the unit.
    Tls { zero: bool },
}

/// The constructor and destructor tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TableKind {
    PreinitArray,
    InitArray,
    FiniArray,
    Ctors,
    Dtors,
}

/// One section of an input object.
#[derive(Debug)]
pub(crate) struct Section<'d> {
    pub name: &'d str,
    pub kind: SectionKind,
    pub size: u64,
    pub align: u64,
    /// The file contents; empty for `SHT_NOBITS`.
    pub data: &'d [u8],
    /// This section's relocations, as a range of [`ObjectFile::relocs`].
    pub relocs: std::ops::Range<usize>,
    /// For a constructor/destructor table, its init priority (65536 when none).
    pub priority: u32,
    /// Discarded because its COMDAT group was already seen.
    pub discarded: bool,
}

/// Where a symbol is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SymbolDef {
    Undefined,
    /// In a section of this object, at this offset.
    Section {
        index: u32,
        value: u64,
    },
    /// An absolute value (`SHN_ABS`).
    Absolute(u64),
    /// A COMMON symbol: storage of `size` bytes to be allocated, with this alignment.
    Common {
        align: u64,
    },
}

/// One symbol of an input object.
#[derive(Debug, Clone)]
pub(crate) struct Symbol<'d> {
    pub name: &'d str,
    pub bind: elf::SymbolBind,
    pub kind: elf::SymbolType,
    pub visibility: elf::SymbolVisibility,
    pub def: SymbolDef,
    pub size: u64,
}

impl Symbol<'_> {
    pub fn is_local(&self) -> bool {
        self.bind == elf::STB_LOCAL
    }
    pub fn is_weak(&self) -> bool {
        self.bind == elf::STB_WEAK
    }
}

/// One relocation, as stored in `SHT_RELA`, with its symbol index checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reloc {
    pub offset: u64,
    pub r_type: elf::RelocationType,
    pub sym: u32,
    pub addend: i64,
}

/// A parsed relocatable object. It borrows the file's bytes.
#[derive(Debug)]
pub(crate) struct ObjectFile<'d> {
    pub name: String,
    /// The whole file, for the debugger's copy.
    pub data: &'d [u8],
    pub sections: Vec<Section<'d>>,
    pub symbols: Vec<Symbol<'d>>,
    pub relocs: Vec<Reloc>,
    /// COMDAT groups: (signature, member section indices).
    pub groups: Vec<(&'d str, Vec<u32>)>,
}

/// The largest alignment accepted for a section or COMMON symbol (1 GiB).
const MAX_ALIGN: u64 = 1 << 30;

/// `bytes` as text: names are almost always ASCII, checked much faster.
fn utf8(bytes: &[u8]) -> std::result::Result<&str, std::str::Utf8Error> {
    if bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
    } else {
        std::str::from_utf8(bytes)
    }
}

/// Does a name hold a control character (a newline, an escape...)? Such a
/// name would break the one-line messages that quote it.
fn has_control(name: &str) -> bool {
    name.chars().any(char::is_control)
}

/// How many RELA entries the file's relocation sections claim, as a
/// capacity hint: never more than the file itself could hold, whatever the
/// headers say.
fn reloc_count(
    table: &object::read::elf::SectionTable<'_, elf::FileHeader64<LE>>,
    e: LE,
    file_len: usize,
) -> usize {
    let bytes: u64 = table
        .iter()
        .filter(|s| s.sh_type(e) == elf::SHT_RELA)
        .map(|s| s.sh_size(e))
        .fold(0, u64::saturating_add);
    (bytes.min(file_len as u64) / 24) as usize
}

/// Does `bytes` start like an ELF file?
pub(crate) fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// Parses and validates `data` as an ELF64 little-endian x86-64 `ET_REL` file.
pub(crate) fn parse<'d>(name: &str, data: &'d [u8]) -> Result<ObjectFile<'d>> {
    let malformed = |what: String| Error::Malformed {
        file: name.to_string(),
        what,
    };
    let unsupported = |what: String| Error::Unsupported {
        file: name.to_string(),
        what,
    };

    if data.len() < 16 {
        return Err(malformed(format!(
            "{} bytes is too short for an ELF header",
            data.len()
        )));
    }
    if &data[..4] != b"\x7fELF" {
        return Err(malformed("not an ELF file (bad magic)".into()));
    }
    if data[4] != elf::ELFCLASS64.0 {
        return Err(unsupported(format!(
            "ELF class {} (only ELF64 is supported)",
            data[4]
        )));
    }
    if data[5] != elf::ELFDATA2LSB.0 {
        return Err(unsupported(
            "big-endian ELF (only little-endian is supported)".into(),
        ));
    }
    let header =
        elf::FileHeader64::<LE>::parse(data).map_err(|e| malformed(format!("ELF header: {e}")))?;
    let e = LE;
    if header.e_machine(e) != elf::EM_X86_64 {
        return Err(unsupported(format!(
            "machine {} (only x86-64, EM_X86_64 = 62, is supported)",
            header.e_machine(e).0
        )));
    }
    if header.e_type(e) != elf::ET_REL {
        return Err(unsupported(format!(
            "ELF type {} (only relocatable objects, ET_REL, are supported; shared objects are loaded with -l)",
            header.e_type(e).0
        )));
    }
    let table = header
        .sections(e, data)
        .map_err(|err| malformed(format!("section headers: {err}")))?;
    let count = table.len();
    if count > crate::limits::MAX_SECTIONS {
        return Err(unsupported(format!(
            "{count} sections (the limit is {})",
            crate::limits::MAX_SECTIONS
        )));
    }

    // Sections.
    let mut sections = Vec::with_capacity(count);
    let mut groups = Vec::new();
    for (i, sh) in table.iter().enumerate() {
        let sname = table
            .section_name(e, sh)
            .map_err(|err| malformed(format!("section {i}: name: {err}")))?;
        let sname =
            utf8(sname).map_err(|_| malformed(format!("section {i}: name is not UTF-8")))?;
        if has_control(sname) {
            return Err(malformed(format!(
                "section {i}: name {sname:?} contains a control character"
            )));
        }
        let flags = sh.sh_flags(e);
        let sh_type = sh.sh_type(e);
        let size = sh.sh_size(e);
        let align = sh.sh_addralign(e).max(1);
        let alloc = flags.contains(elf::SHF_ALLOC);
        let at = |what: &str| format!("section {sname} (index {i}): {what}");
        if alloc && !align.is_power_of_two() {
            return Err(malformed(at(&format!(
                "alignment {align} is not a power of two"
            ))));
        }
        if alloc && align > MAX_ALIGN {
            return Err(unsupported(at(&format!(
                "alignment {align:#x} is larger than {MAX_ALIGN:#x}"
            ))));
        }
        let kind = if !alloc {
            SectionKind::Skip
        } else if flags.contains(elf::SHF_TLS) {
            SectionKind::Tls {
                zero: sh_type == elf::SHT_NOBITS,
            }
        } else {
            match sh_type {
                elf::SHT_NOTE | elf::SHT_NULL => SectionKind::Skip,
                elf::SHT_NOBITS => SectionKind::Bss,
                elf::SHT_INIT_ARRAY => SectionKind::Table(TableKind::InitArray),
                elf::SHT_FINI_ARRAY => SectionKind::Table(TableKind::FiniArray),
                elf::SHT_PREINIT_ARRAY => SectionKind::Table(TableKind::PreinitArray),
                elf::SHT_X86_64_UNWIND => SectionKind::EhFrame,
                elf::SHT_PROGBITS if sname == ".eh_frame" => SectionKind::EhFrame,
                elf::SHT_PROGBITS if sname == ".ctors" || sname.starts_with(".ctors.") => {
                    SectionKind::Table(TableKind::Ctors)
                }
                elf::SHT_PROGBITS if sname == ".dtors" || sname.starts_with(".dtors.") => {
                    SectionKind::Table(TableKind::Dtors)
                }
                elf::SHT_PROGBITS if flags.contains(elf::SHF_EXECINSTR) => SectionKind::Text,
                elf::SHT_PROGBITS if flags.contains(elf::SHF_WRITE) => SectionKind::Data,
                elf::SHT_PROGBITS => SectionKind::ReadOnly,
                other => {
                    return Err(unsupported(at(&format!(
                        "allocated section of type {:#x}",
                        other.0
                    ))))
                }
            }
        };
        let data_range = if kind == SectionKind::Skip
            || kind == SectionKind::Bss
            || kind == (SectionKind::Tls { zero: true })
        {
            &[][..]
        } else {
            sh.data(e, data).map_err(|_| {
                malformed(at(&format!(
                    "contents at offset {:#x} size {:#x} lie outside the file ({:#x} bytes)",
                    sh.sh_offset(e),
                    size,
                    data.len()
                )))
            })?
        };
        let has_contents = !matches!(
            kind,
            SectionKind::Skip | SectionKind::Bss | SectionKind::Tls { zero: true }
        );
        if has_contents && data_range.len() as u64 != size {
            return Err(malformed(at("size does not match its contents")));
        }
        if size > crate::limits::MAX_UNIT_SIZE {
            return Err(unsupported(at(&format!(
                "size {size:#x} is larger than the unit limit"
            ))));
        }
        let priority = match kind {
            SectionKind::Table(t) => {
                table_priority(t, sname).ok_or_else(|| malformed(at("bad init priority suffix")))?
            }
            _ => 0,
        };
        if matches!(kind, SectionKind::Table(_)) && size % 8 != 0 {
            return Err(malformed(at(
                "constructor/destructor table size is not a multiple of 8",
            )));
        }
        if sh_type == elf::SHT_GROUP {
            let words: &[object::U32<LE>] = sh
                .data_as_array(e, data)
                .map_err(|_| malformed(at("group contents lie outside the file")))?;
            if let Some((flag, members)) = words.split_first() {
                if flag.get(e) & elf::GRP_COMDAT.0 != 0 {
                    // sh_info names the signature symbol (in the symbol
                    // table, which sh_link names: objdl reads the one table).
                    groups.push((
                        i,
                        sh.sh_info(e),
                        members.iter().map(|m| m.get(e)).collect::<Vec<_>>(),
                    ));
                }
            }
        }
        if (sh_type == elf::SHT_REL || sh_type == elf::SHT_CREL || sh_type == elf::SHT_RELR)
            && alloc_target(&table, sh, e)
        {
            return Err(unsupported(at(
                "relocations of type SHT_REL, SHT_CREL or SHT_RELR (x86-64 objects use SHT_RELA)",
            )));
        }
        sections.push(Section {
            name: sname,
            kind,
            size,
            align,
            data: data_range,
            relocs: 0..0,
            priority,
            discarded: false,
        });
    }

    // Symbols.
    let symtab = table
        .symbols(e, data, elf::SHT_SYMTAB)
        .map_err(|err| malformed(format!("symbol table: {err}")))?;
    if symtab.len() > crate::limits::MAX_SYMBOLS {
        return Err(unsupported(format!(
            "{} symbols (the limit is {})",
            symtab.len(),
            crate::limits::MAX_SYMBOLS
        )));
    }
    let mut symbols = Vec::with_capacity(symtab.len());
    for (i, sym) in symtab.enumerate() {
        let i = i.0;
        let sname = symtab
            .symbol_name(e, sym)
            .map_err(|err| malformed(format!("symbol {i}: name: {err}")))?;
        if sname.len() > crate::limits::MAX_NAME {
            return Err(unsupported(format!(
                "symbol {i}: name of {} bytes is too long",
                sname.len()
            )));
        }
        let sname = utf8(sname).map_err(|_| malformed(format!("symbol {i}: name is not UTF-8")))?;
        if has_control(sname) {
            return Err(malformed(format!(
                "symbol {i}: name {sname:?} contains a control character"
            )));
        }
        let shndx = sym.st_shndx(e);
        let value = sym.st_value(e);
        let def = match shndx {
            elf::SHN_UNDEF => SymbolDef::Undefined,
            elf::SHN_ABS => SymbolDef::Absolute(value),
            elf::SHN_COMMON => {
                let align = value.max(1);
                if !align.is_power_of_two() || align > MAX_ALIGN {
                    return Err(malformed(format!(
                        "symbol {sname}: COMMON alignment {align:#x} is invalid"
                    )));
                }
                if sym.st_size(e) > crate::limits::MAX_UNIT_SIZE {
                    return Err(unsupported(format!(
                        "symbol {sname}: COMMON size {:#x} is larger than the unit limit",
                        sym.st_size(e)
                    )));
                }
                SymbolDef::Common { align }
            }
            _ => {
                let index = symtab
                    .symbol_section(e, sym, object::SymbolIndex(i))
                    .map_err(|err| malformed(format!("symbol {sname}: section index: {err}")))?
                    .map(|s| s.0)
                    .unwrap_or(0);
                let Some(sec) = sections.get(index) else {
                    return Err(malformed(format!(
                        "symbol {sname}: section index {index} out of range"
                    )));
                };
                if sec.kind != SectionKind::Skip && value > sec.size {
                    return Err(malformed(format!(
                        "symbol {sname}: value {value:#x} lies outside its section {} ({:#x} bytes)",
                        sec.name, sec.size
                    )));
                }
                SymbolDef::Section {
                    index: index as u32,
                    value,
                }
            }
        };
        if sname.is_empty() && sym.st_bind() != elf::STB_LOCAL {
            return Err(malformed(format!(
                "symbol {i}: a global or weak symbol without a name"
            )));
        }
        let kind = sym.st_type();
        symbols.push(Symbol {
            name: sname,
            bind: sym.st_bind(),
            kind,
            visibility: sym.st_visibility(),
            def,
            size: sym.st_size(e),
        });
    }

    // Relocations, only for sections that are loaded.
    let mut relocs = Vec::with_capacity(reloc_count(&table, e, data.len()));
    for (i, sh) in table.iter().enumerate() {
        let Some((rela, _symtab)) = sh
            .rela(e, data)
            .map_err(|err| malformed(format!("relocation section {i}: {err}")))?
        else {
            continue;
        };
        let target = sh.sh_info(e) as usize;
        let Some(tsec) = sections.get(target) else {
            return Err(malformed(format!(
                "relocation section {i}: target section {target} out of range"
            )));
        };
        if tsec.kind == SectionKind::Skip {
            continue;
        }
        let tname = tsec.name;
        // SHT_NOBITS: there is nothing to patch (and later stages read the
        // instruction bytes around a field from the section's contents).
        if matches!(
            tsec.kind,
            SectionKind::Bss | SectionKind::Tls { zero: true }
        ) && !rela.is_empty()
        {
            return Err(malformed(format!(
                "relocation section {i}: applies to section {tname}, which has no contents (SHT_NOBITS)"
            )));
        }
        let tsize = tsec.size;
        let start = relocs.len();
        for r in rela {
            let offset = r.r_offset(e);
            let r_type = r.r_type(e, false);
            let sym = r.r_sym(e, false);
            let addend = r.r_addend(e);
            if sym as usize >= symbols.len() {
                return Err(malformed(format!(
                    "section {tname}: relocation at offset {offset:#x} refers to symbol index {sym}, but there are {} symbols",
                    symbols.len()
                )));
            }
            let width = arch::field_width(r_type);
            if offset.checked_add(width).is_none_or(|end| end > tsize) {
                return Err(malformed(format!(
                    "section {tname}: relocation at offset {offset:#x} ({width} bytes) lies outside the section ({tsize:#x} bytes)"
                )));
            }
            relocs.push(Reloc {
                offset,
                r_type,
                sym,
                addend,
            });
        }
        if relocs.len() > crate::limits::MAX_RELOCS {
            return Err(unsupported(format!(
                "more than {} relocations",
                crate::limits::MAX_RELOCS
            )));
        }
        if !sections[target].relocs.is_empty() {
            return Err(malformed(format!(
                "section {tname} has two relocation sections"
            )));
        }
        sections[target].relocs = start..relocs.len();
    }

    // COMDAT groups: the signature is a symbol named by sh_link/sh_info.
    let mut comdats = Vec::with_capacity(groups.len());
    for (i, info, members) in groups {
        let sig = symbols.get(info as usize).map(|s| s.name).ok_or_else(|| {
            malformed(format!(
                "group section {i}: signature symbol {info} out of range"
            ))
        })?;
        for &m in &members {
            if m as usize >= sections.len() {
                return Err(malformed(format!(
                    "group section {i}: member section {m} out of range"
                )));
            }
        }
        comdats.push((sig, members));
    }

    Ok(ObjectFile {
        name: name.to_string(),
        data,
        sections,
        symbols,
        relocs,
        groups: comdats,
    })
}

/// Does this relocation section apply to an allocated section?
fn alloc_target(
    table: &object::read::elf::SectionTable<'_, elf::FileHeader64<LE>>,
    sh: &elf::SectionHeader64<LE>,
    e: LE,
) -> bool {
    table
        .section(SectionIndex(sh.sh_info(e) as usize))
        .map(|t| t.sh_flags(e).contains(elf::SHF_ALLOC))
        .unwrap_or(false)
}

/// The init priority of a constructor/destructor table, from its name suffix.
/// `.init_array.N`/`.fini_array.N` run at priority N; `.ctors.N`/`.dtors.N`
/// at 65535 − N (as GNU ld sorts them); unnumbered tables after all of them.
fn table_priority(kind: TableKind, name: &str) -> Option<u32> {
    let suffix = name.trim_start_matches('.').split_once('.').map(|(_, s)| s);
    match suffix {
        None => Some(65536),
        Some(s) => {
            let n: u32 = s.parse().ok()?;
            let n = n.min(65535);
            Some(match kind {
                TableKind::Ctors | TableKind::Dtors => 65535 - n,
                _ => n,
            })
        }
    }
}

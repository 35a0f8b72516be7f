//! The ELF reader: one ELF64 little-endian relocatable object (`ET_REL`)
//! of the architecture objdl runs on, read with `object::read::elf` into
//! the format-neutral [`ObjectFile`](object_file::ObjectFile). [`Elf`]
//! implements [`Format`].
//!
//! Everything read from the file is validated here, once: section bounds,
//! symbol and section indices, names. ELF's words become objdl's here and
//! nowhere else: section types and flags become a
//! [`SectionKind`], `STB_*`/`STT_*`/`STV_*` a [`Binding`], [`SymbolKind`]
//! and [`Visibility`]. The machine (`e_machine`) and the processor's unwind
//! section type are the architecture's (`Arch::ELF_MACHINE`,
//! `Arch::ELF_UNWIND_SECTION_TYPE`). `SHT_RELA` relocations are read in
//! place (a [`Rela`] is the file's own record); `SHT_CREL` is decoded into
//! the same records.

use object::elf;
use object::read::elf::{FileHeader, SectionHeader, Sym as _};
use std::borrow::Cow;

use object::{LittleEndian as LE, SectionIndex};

use crate::arch;
use crate::error::{Error, Malformed, Part, Result, Unsupported};
use crate::input::format::Format;
use crate::input::names::{bad_name, lossy_name, name_at, scan_name, BadName};
use crate::input::object_file::{
    self, Binding, Blame, ObjectSymbol, RelocFields, SectionKind, StackNote, SymbolDef, SymbolKind,
    TableKind, Visibility, MAX_ALIGN,
};

/// ELF, 64-bit, little-endian: the object format of Linux and the BSDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Elf;

impl Format for Elf {
    type Reloc = Rela;

    #[inline]
    fn recognise(bytes: &[u8]) -> bool {
        bytes.starts_with(b"\x7fELF")
    }

    fn parse<'d>(name: &str, data: &'d [u8]) -> Result<ObjectFile<'d>> {
        parse(name, data)
    }
}

/// One ELF relocation with its addend, read in place from the file's
/// `SHT_RELA` section (or decoded from `SHT_CREL`). Parse has checked its
/// symbol index and that its field lies in its section.
pub(crate) type Rela = elf::Rela64<LE>;

/// An ELF object, as the stages read it.
type ObjectFile<'d> = object_file::ObjectFile<'d, Rela>;

/// A section of an ELF object.
type Section<'d> = object_file::Section<'d, Rela>;

impl RelocFields for Rela {
    #[inline]
    fn offset(&self) -> u64 {
        self.r_offset.get(LE)
    }
    #[inline]
    fn kind(&self) -> elf::RelocationType {
        elf::RelocationType(self.r_info.get(LE) as u32)
    }
    #[inline]
    fn sym(&self) -> u32 {
        (self.r_info.get(LE) >> 32) as u32
    }
    /// The record's own `r_addend` (`section` is not read).
    #[inline]
    fn addend(&self, _section: &[u8]) -> i64 {
        self.r_addend.get(LE)
    }
    #[inline]
    fn retarget(&mut self, sym: u32, addend: i64) {
        let kind = self.kind();
        self.set_r_info(LE, false, sym, kind);
        self.r_addend.set(LE, addend);
    }
}

/// The symbol a GCC LTO object without machine code defines.
const GCC_LTO_SLIM: &str = "__gnu_lto_slim";

/// Does `bytes` start like LLVM bitcode, raw or in its wrapper?
fn is_llvm_bitcode(bytes: &[u8]) -> bool {
    bytes.starts_with(b"BC\xc0\xde") || bytes.starts_with(&[0xde, 0xc0, 0x17, 0x0b])
}

/// What kind of link-time-optimisation input an object file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LtoObject {
    /// A GCC LTO object without machine code (`gcc -c -flto`, slim):
    /// `gcc -r -flinker-output=nolto-rel` makes it an ordinary object.
    GccSlim,
    /// LLVM bitcode (`clang -c -flto`): `clang -c` makes it an object.
    LlvmBitcode,
}

/// Whether `bytes` is an LTO input that holds no machine code, which
/// objdl cannot load as it is (it refuses it, naming LTO). A fat GCC LTO
/// object (`-ffat-lto-objects`) has its machine code, and is not one.
///
/// ```
/// assert_eq!(objdl::lto_object(b"BC\xc0\xde\x35\x14"), Some(objdl::LtoObject::LlvmBitcode));
/// assert_eq!(objdl::lto_object(b"\x7fELF"), None);
/// ```
pub fn lto_object(bytes: &[u8]) -> Option<LtoObject> {
    use object::read::elf::FileHeader as _;
    if is_llvm_bitcode(bytes) {
        return Some(LtoObject::LlvmBitcode);
    }
    let e = LE;
    let header = elf::FileHeader64::<LE>::parse(bytes).ok()?;
    let sections = header.sections(e, bytes).ok()?;
    let lto = sections.iter().any(|sh| {
        sections
            .section_name(e, sh)
            .is_ok_and(|n| n.starts_with(b".gnu.lto_"))
    });
    if !lto {
        return None;
    }
    let symbols = sections.symbols(e, bytes, elf::SHT_SYMTAB).ok()?;
    symbols
        .iter()
        .any(|s| symbols.symbol_name(e, s) == Ok(GCC_LTO_SLIM.as_bytes()))
        .then_some(LtoObject::GccSlim)
}

/// Parses and validates `data` as an ELF64 little-endian x86-64 `ET_REL` file.
fn parse<'d>(name: &str, data: &'d [u8]) -> Result<ObjectFile<'d>> {
    let b = Blame(name);
    let header = header(&b, data)?;
    let e = LE;
    let table = header
        .sections(e, data)
        .map_err(|err| b.read(Part::SectionHeaders, err))?;
    let count = table.len();
    if count > crate::limits::MAX_SECTIONS {
        return Err(b.unsupported(Unsupported::Sections {
            count,
            limit: crate::limits::MAX_SECTIONS,
        }));
    }
    let (mut sections, groups, stack) = read_sections(&b, &table, data, header)?;
    // Symbols.
    let symtab = table
        .symbols(e, data, elf::SHT_SYMTAB)
        .map_err(|err| b.read(Part::SymbolTable, err))?;
    if symtab.len() > crate::limits::MAX_SYMBOLS {
        return Err(b.unsupported(Unsupported::Symbols {
            count: symtab.len(),
            limit: crate::limits::MAX_SYMBOLS,
        }));
    }
    // The names' string table (object checked that it is a section).
    let strtab = if symtab.is_empty() {
        &[][..]
    } else {
        table
            .section(symtab.string_section())
            .ok()
            .and_then(|sh| sh.data(e, data).ok())
            .ok_or_else(|| {
                b.malformed(Malformed::StringTableOutside {
                    part: Part::SymbolNames,
                })
            })?
    };
    // SHN_XINDEX: the index is in SHT_SYMTAB_SHNDX.
    let xindex = |i: usize| {
        symtab
            .symbol_section(e, &symtab.symbols()[i], object::SymbolIndex(i))
            .map(|index| index.map_or(0, |s| s.0))
            .map_err(|_| ())
    };
    let mut special = Vec::new();
    let symbols = read_symbols(symtab.symbols(), strtab, &sections, &xindex, &mut special)
        .map_err(|(i, bad)| bad_symbol(name, i, &symtab.symbols()[i], strtab, &sections, bad))?;
    // A GCC LTO object holds GIMPLE in `.gnu.lto_*` sections; a slim one
    // (the default with -flto) holds nothing else, which would load as an
    // empty unit. A fat one (-ffat-lto-objects) also has its machine code.
    if sections.iter().any(|s| s.name.starts_with(".gnu.lto_"))
        && special
            .iter()
            .any(|&i| symbols[i as usize].name == GCC_LTO_SLIM)
    {
        return Err(Error::LtoInput {
            file: name.to_string(),
            kind: LtoObject::GccSlim,
        });
    }
    attach_relocations(&b, &table, data, &mut sections)?;
    let comdats = comdat_groups(&b, groups, &symbols, strtab, sections.len())?;
    Ok(ObjectFile {
        name: name.to_string(),
        data,
        sections,
        symbols,
        strtab,
        special,
        groups: comdats,
        backing: None,
        stack,
    })
}

/// The ELF header, checked: ELF64, little-endian, x86-64, `ET_REL` (LLVM
/// bitcode is an LTO input).
fn header<'d>(b: &Blame<'_>, data: &'d [u8]) -> Result<&'d elf::FileHeader64<LE>> {
    let name = b.0;
    if data.len() < 16 {
        return Err(b.malformed(Malformed::TooShort { len: data.len() }));
    }
    if &data[..4] != b"\x7fELF" {
        if is_llvm_bitcode(data) {
            return Err(Error::LtoInput {
                file: name.to_string(),
                kind: LtoObject::LlvmBitcode,
            });
        }
        return Err(b.malformed(Malformed::NotElf));
    }
    if data[4] != elf::ELFCLASS64.0 {
        return Err(b.unsupported(Unsupported::ElfClass(data[4])));
    }
    if data[5] != elf::ELFDATA2LSB.0 {
        return Err(b.unsupported(Unsupported::BigEndian));
    }
    let header = elf::FileHeader64::<LE>::parse(data).map_err(|e| b.read(Part::ElfHeader, e))?;
    let e = LE;
    if header.e_machine(e).0 != arch::ELF_MACHINE {
        return Err(b.unsupported(Unsupported::Machine(header.e_machine(e).0)));
    }
    if header.e_type(e) != elf::ET_REL {
        return Err(b.unsupported(not_relocatable(header, data)));
    }
    Ok(header)
}

/// A section group of the input: (its section index, the signature
/// symbol's index, the member sections).
type Group = (usize, u32, Vec<u32>);

/// The input's section header table.
type SectionTable<'d> = object::read::elf::SectionTable<'d, elf::FileHeader64<LE>>;

/// Every section of the input, read and checked, with its COMDAT groups
/// and what its `.note.GNU-stack` says.
fn read_sections<'d>(
    b: &Blame<'_>,
    table: &SectionTable<'d>,
    data: &'d [u8],
    header: &elf::FileHeader64<LE>,
) -> Result<(Vec<Section<'d>>, Vec<Group>, StackNote)> {
    let e = LE;
    let count = table.len();
    let mut sections = Vec::with_capacity(count);
    let mut groups = Vec::new();
    let mut stack = StackNote::Missing;
    // The section names' string table, read as the symbols' is (object's
    // own lookup would make the `memchr` crate probe the CPU with `cpuid`,
    // which costs tens of microseconds in a virtual machine).
    let shstrtab = match header.shstrndx(e, data) {
        Ok(0) => &[][..],
        Ok(index) => table
            .section(SectionIndex(index as usize))
            .ok()
            .and_then(|sh| sh.data(e, data).ok())
            .ok_or_else(|| {
                b.malformed(Malformed::StringTableOutside {
                    part: Part::SectionNames,
                })
            })?,
        Err(err) => return Err(b.read(Part::SectionNames, err)),
    };
    for (i, sh) in table.iter().enumerate() {
        let section = read_section(b, (i, sh), shstrtab, table, data, &mut groups, &mut stack)?;
        sections.push(section);
    }
    Ok((sections, groups, stack))
}

/// Section `i` of the input, read and checked; a COMDAT group goes to
/// `groups`, a `.note.GNU-stack` to `stack`.
fn read_section<'d>(
    b: &Blame<'_>,
    (i, sh): (usize, &elf::SectionHeader64<LE>),
    shstrtab: &'d [u8],
    table: &SectionTable<'d>,
    data: &'d [u8],
    groups: &mut Vec<Group>,
    stack: &mut StackNote,
) -> Result<Section<'d>> {
    let e = LE;
    let sname = match name_at(shstrtab, sh.sh_name(e)) {
        Ok(name) => name,
        Err(bad) => {
            return Err(b.malformed(bad_name(Part::Section(i), bad, shstrtab, sh.sh_name(e))))
        }
    };
    let flags = sh.sh_flags(e);
    let sh_type = sh.sh_type(e);
    let size = sh.sh_size(e);
    let align = sh.sh_addralign(e).max(1);
    let alloc = flags.contains(elf::SHF_ALLOC);
    // What the errors below name the section by.
    let (section, index) = (|| sname.to_string(), i);
    if alloc && !align.is_power_of_two() {
        return Err(b.malformed(Malformed::Alignment {
            section: section(),
            index,
            align,
        }));
    }
    if alloc && align > MAX_ALIGN {
        return Err(b.unsupported(Unsupported::Alignment {
            section: section(),
            index,
            align,
            limit: MAX_ALIGN,
        }));
    }
    if sname == ".note.GNU-stack" {
        *stack = if flags.contains(elf::SHF_EXECINSTR) {
            StackNote::Executable
        } else {
            StackNote::NotExecutable
        };
    }
    let kind = section_kind(b, (sname, index), sh_type, flags)?;
    let data_range = if kind == SectionKind::Skip
        || kind == SectionKind::Bss
        || kind == (SectionKind::Tls { zero: true })
    {
        &[][..]
    } else {
        sh.data(e, data).map_err(|_| {
            b.malformed(Malformed::ContentsOutside {
                section: section(),
                index,
                offset: sh.sh_offset(e),
                size,
                file_len: data.len(),
            })
        })?
    };
    let has_contents = !matches!(
        kind,
        SectionKind::Skip | SectionKind::Bss | SectionKind::Tls { zero: true }
    );
    if has_contents && data_range.len() as u64 != size {
        return Err(b.malformed(Malformed::SizeMismatch {
            section: section(),
            index,
        }));
    }
    if size > crate::limits::MAX_UNIT_SIZE {
        return Err(b.unsupported(Unsupported::SectionSize {
            section: section(),
            index,
            size,
        }));
    }
    let priority = match kind {
        SectionKind::Table(t) => table_priority(t, sname).ok_or_else(|| {
            b.malformed(Malformed::InitPriority {
                section: section(),
                index,
            })
        })?,
        _ => 0,
    };
    if matches!(kind, SectionKind::Table(_)) && size % 8 != 0 {
        return Err(b.malformed(Malformed::TableSize {
            section: section(),
            index,
        }));
    }
    if sh_type == elf::SHT_GROUP {
        let words: &[object::U32<LE>] = sh.data_as_array(e, data).map_err(|_| {
            b.malformed(Malformed::GroupOutside {
                section: section(),
                index,
            })
        })?;
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
    if (sh_type == elf::SHT_REL || sh_type == elf::SHT_RELR) && alloc_target(table, sh, e) {
        return Err(b.unsupported(Unsupported::RelSection {
            section: section(),
            index,
        }));
    }
    Ok(Section {
        name: sname,
        kind,
        size,
        align,
        data: data_range,
        relocs: Cow::Borrowed(&[]),
        priority,
        discarded: false,
    })
}

/// What section `sname` (of this index) is to objdl, from its type and flags.
fn section_kind(
    b: &Blame<'_>,
    (sname, index): (&str, usize),
    sh_type: elf::SectionType,
    flags: elf::SectionFlags,
) -> Result<SectionKind> {
    let alloc = flags.contains(elf::SHF_ALLOC);
    Ok(if !alloc {
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
            t if Some(t.0) == <arch::Native as arch::Arch>::ELF_UNWIND_SECTION_TYPE => {
                SectionKind::EhFrame
            }
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
                return Err(b.unsupported(Unsupported::SectionType {
                    section: sname.to_string(),
                    index,
                    sh_type: other.0,
                }))
            }
        }
    })
}

/// Gives each loaded section its relocations (`SHT_RELA`, read in place,
/// or `SHT_CREL`, decoded), read by every later pass. Each entry is checked
/// by `check_relocations`, or by the relocation pass of a unit relocated
/// without planning.
fn attach_relocations<'d>(
    b: &Blame<'_>,
    table: &SectionTable<'d>,
    data: &'d [u8],
    sections: &mut [Section<'d>],
) -> Result<()> {
    let e = LE;
    let mut reloc_total = 0usize;
    let mut has_relocs = vec![false; sections.len()];
    for (i, sh) in table.iter().enumerate() {
        let crel = sh.sh_type(e) == elf::SHT_CREL;
        if sh.sh_type(e) != elf::SHT_RELA && !crel {
            continue;
        }
        let target = sh.sh_info(e) as usize;
        let Some(tsec) = sections.get(target) else {
            return Err(b.malformed(Malformed::RelocationTarget { section: i, target }));
        };
        if tsec.kind == SectionKind::Skip {
            continue;
        }
        let rela: Cow<'_, [Rela]> = if crel {
            let bytes = sh.data(e, data).map_err(|_| {
                b.malformed(Malformed::Outside {
                    part: Part::RelocationSection(i),
                })
            })?;
            // Decoded (24 bytes an entry): within what is left of the limit.
            let left = crate::limits::MAX_RELOCS - reloc_total;
            Cow::Owned(decode_crel(i, bytes, left).map_err(|what| b.malformed(what))?)
        } else {
            match sh
                .rela(e, data)
                .map_err(|err| b.read(Part::RelocationSection(i), err))?
            {
                Some((rela, _symtab)) => Cow::Borrowed(rela),
                None => continue,
            }
        };
        let tname = tsec.name;
        // SHT_NOBITS: there is nothing to patch (and later stages read the
        // instruction bytes around a field from the section's contents).
        if matches!(
            tsec.kind,
            SectionKind::Bss | SectionKind::Tls { zero: true }
        ) && !rela.is_empty()
        {
            return Err(b.malformed(Malformed::NoBitsTarget {
                section: i,
                target: tname.to_string(),
            }));
        }
        reloc_total += rela.len();
        if reloc_total > crate::limits::MAX_RELOCS {
            return Err(b.unsupported(Unsupported::Relocations {
                limit: crate::limits::MAX_RELOCS,
            }));
        }
        if has_relocs[target] {
            return Err(b.malformed(Malformed::TwoRelocationSections {
                section: tname.to_string(),
            }));
        }
        has_relocs[target] = true;
        sections[target].relocs = rela;
    }
    Ok(())
}

/// The COMDAT groups, (signature, member sections): the signature is the
/// name of the symbol a group's `sh_info` names.
fn comdat_groups<'d>(
    b: &Blame<'_>,
    groups: Vec<Group>,
    symbols: &[ObjectSymbol<'d>],
    strtab: &'d [u8],
    section_count: usize,
) -> Result<Vec<(&'d str, Vec<u32>)>> {
    let mut comdats = Vec::with_capacity(groups.len());
    for (i, info, members) in groups {
        let sym = symbols.get(info as usize).ok_or_else(|| {
            b.malformed(Malformed::GroupSignature {
                group: i,
                symbol: info,
            })
        })?;
        // A local signature's name is read only now.
        let sig = match name_at(strtab, sym.name_offset) {
            Ok(name) => name,
            Err(_) => {
                return Err(b.malformed(Malformed::GroupSignatureName {
                    group: i,
                    symbol: info,
                    name: lossy_name(strtab, sym.name_offset),
                }))
            }
        };
        for &m in &members {
            if m as usize >= section_count {
                return Err(b.malformed(Malformed::GroupMember {
                    group: i,
                    member: m,
                }));
            }
        }
        comdats.push((sig, members));
    }
    Ok(comdats)
}

/// Decodes `SHT_CREL` section `section` (compact relocations, `clang
/// -Wa,--crel`) into RELA entries, which every later pass reads as it reads
/// `SHT_RELA`; at most `left` of them (what the limit on relocations
/// leaves), counted before any is decoded.
fn decode_crel(
    section: usize,
    bytes: &[u8],
    left: usize,
) -> std::result::Result<Vec<Rela>, Malformed> {
    let bad = |e: object::read::Error| Malformed::Crel {
        section,
        reason: e.to_string(),
    };
    let crel = object::read::elf::CrelIterator::new(bytes).map_err(bad)?;
    if !crel.is_rela() {
        return Err(Malformed::CrelWithoutAddends { section });
    }
    // Each entry takes a byte at least: a count beyond that is a lie.
    let count = crel.len();
    if count > bytes.len() || count > left {
        return Err(Malformed::CrelCount {
            section,
            count,
            len: bytes.len(),
        });
    }
    let mut out = Vec::with_capacity(count);
    for r in crel {
        let r = r.map_err(bad)?;
        out.push(elf::Rela64 {
            r_offset: object::U64::new(LE, r.r_offset),
            r_info: object::U64::new(LE, (u64::from(r.r_sym) << 32) | u64::from(r.r_type.0)),
            r_addend: object::I64::new(LE, r.r_addend),
        });
    }
    if out.len() != count {
        return Err(Malformed::CrelShort {
            section,
            decoded: out.len(),
            count,
        });
    }
    Ok(out)
}

/// What is wrong with a symbol; [`bad_symbol`] words it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BadSymbol {
    Name(BadName),
    LongName(usize),
    NoName,
    CommonAlign(u64),
    CommonSize(u64),
    /// Its extended section index cannot be read.
    SectionIndex,
    /// The section index is out of range.
    Section(usize),
    /// The value lies outside its section.
    Value(usize),
    /// `SHN_XINDEX`: the caller looks the section index up.
    Extended,
}

/// The [`Binding`] of each ELF `STB_*` value: `STB_LOCAL`, `STB_WEAK`
/// and `STB_GNU_UNIQUE` are their own; the others count as global.
const BINDINGS: [Binding; 16] = {
    let mut t = [Binding::Global; 16];
    t[elf::STB_LOCAL.0 as usize] = Binding::Local;
    t[elf::STB_WEAK.0 as usize] = Binding::Weak;
    t[elf::STB_GNU_UNIQUE.0 as usize] = Binding::Unique;
    t
};

/// The [`SymbolKind`] of each ELF `STT_*` value (`STT_NOTYPE` and the
/// types objdl does not know are [`SymbolKind::Other`]): for the rare
/// types past `STT_TLS` (see [`common_kind`]).
const SYMBOL_KINDS: [SymbolKind; 16] = {
    let mut t = [SymbolKind::Other; 16];
    t[elf::STT_OBJECT.0 as usize] = SymbolKind::Data;
    t[elf::STT_FUNC.0 as usize] = SymbolKind::Function;
    t[elf::STT_SECTION.0 as usize] = SymbolKind::Section;
    t[elf::STT_FILE.0 as usize] = SymbolKind::File;
    t[elf::STT_COMMON.0 as usize] = SymbolKind::Common;
    t[elf::STT_TLS.0 as usize] = SymbolKind::ThreadLocal;
    t[elf::STT_GNU_IFUNC.0 as usize] = SymbolKind::Indirect;
    t
};

/// The binding of an ELF symbol (a table lookup).
#[inline(always)]
fn binding(sym: &elf::Sym64<LE>) -> Binding {
    BINDINGS[usize::from(sym.st_bind().0 & 0xf)]
}

/// The kind of an ELF symbol.
#[inline(always)]
fn symbol_kind(sym: &elf::Sym64<LE>) -> SymbolKind {
    let t = sym.st_type().0;
    if t <= elf::STT_TLS.0 {
        common_kind(t)
    } else {
        SYMBOL_KINDS[usize::from(t & 0xf)]
    }
}

/// The kind of an ELF symbol of type `t`, one of `STT_NOTYPE` to
/// `STT_TLS` (0 to 6): [`SymbolKind`]'s variants are in that order, so
/// that this costs nothing once `t` is known to be one of them.
#[inline(always)]
fn common_kind(t: u8) -> SymbolKind {
    match t {
        1 => SymbolKind::Data,
        2 => SymbolKind::Function,
        3 => SymbolKind::Section,
        4 => SymbolKind::File,
        5 => SymbolKind::Common,
        6 => SymbolKind::ThreadLocal,
        _ => SymbolKind::Other,
    }
}

/// The visibility of an ELF symbol ([`Visibility`]'s variants are in
/// ELF's order: this costs nothing).
#[inline(always)]
fn visibility(sym: &elf::Sym64<LE>) -> Visibility {
    match sym.st_visibility().0 & 3 {
        0 => Visibility::Default,
        1 => Visibility::Internal,
        2 => Visibility::Hidden,
        _ => Visibility::Protected,
    }
}

/// The fields of a symbol other than where it is defined.
#[inline]
fn symbol_fields<'d>(sym: &elf::Sym64<LE>, name: &'d str) -> ObjectSymbol<'d> {
    ObjectSymbol {
        name,
        name_offset: sym.st_name(LE),
        bind: binding(sym),
        kind: symbol_kind(sym),
        visibility: visibility(sym),
        def: SymbolDef::Undefined,
        size: sym.st_size(LE),
        versioned: false,
    }
}

/// Reads and checks every symbol; on failure, the index of the first bad
/// one and what is wrong. `xindex` looks up an extended section index; the
/// indices of global and IFUNC symbols go to `special`.
/// Apart from [`parse`], so that its loop has the registers to itself.
#[inline(never)]
fn read_symbols<'d>(
    syms: &[elf::Sym64<LE>],
    strtab: &'d [u8],
    sections: &[Section<'d>],
    xindex: &dyn Fn(usize) -> std::result::Result<usize, ()>,
    special: &mut Vec<u32>,
) -> std::result::Result<Vec<ObjectSymbol<'d>>, (usize, BadSymbol)> {
    let mut symbols = Vec::with_capacity(syms.len());
    let mut i = 0;
    loop {
        i = read_plain_locals(syms, i, sections, &mut symbols);
        let Some(sym) = syms.get(i) else {
            break;
        };
        let symbol = match read_symbol(sym, strtab, sections, None) {
            Ok(symbol) => symbol,
            Err(BadSymbol::Extended) => {
                let index = xindex(i).map_err(|()| (i, BadSymbol::SectionIndex))?;
                read_symbol(sym, strtab, sections, Some(index)).map_err(|bad| (i, bad))?
            }
            Err(bad) => return Err((i, bad)),
        };
        if !symbol.is_local() || symbol.kind == SymbolKind::Indirect {
            special.push(i as u32);
        }
        symbols.push(symbol);
        i += 1;
    }
    Ok(symbols)
}

/// Reads symbols from `from` on while they are the common case, a local
/// symbol of a common type (not IFUNC) in an ordinary section and inside it, into
/// `symbols`; returns the index of the first that is not (or `syms.len()`).
/// Apart from [`read_symbols`] so that its loop keeps its registers.
#[inline(never)]
fn read_plain_locals<'d>(
    syms: &[elf::Sym64<LE>],
    from: usize,
    sections: &[Section<'d>],
    symbols: &mut Vec<ObjectSymbol<'d>>,
) -> usize {
    for (i, sym) in syms.iter().enumerate().skip(from) {
        let shndx = sym.st_shndx(LE).0;
        let value = sym.st_value(LE);
        // Local (`STB_LOCAL` is 0, the high nibble) and of ELF's common
        // types (not IFUNC, nor one objdl does not know): one comparison.
        let info = sym.st_info.0;
        let plain = info <= elf::STT_TLS.0
            && shndx != 0
            && shndx < elf::SHN_LORESERVE
            && sections
                .get(usize::from(shndx))
                .is_some_and(|sec| sec.kind == SectionKind::Skip || value <= sec.size);
        if !plain {
            return i;
        }
        symbols.push(ObjectSymbol {
            name: "",
            name_offset: sym.st_name(LE),
            bind: Binding::Local,
            kind: common_kind(info),
            visibility: visibility(sym),
            def: SymbolDef::Section {
                index: u32::from(shndx),
                value,
            },
            size: sym.st_size(LE),
            versioned: false,
        });
    }
    syms.len()
}

/// Reads and checks one symbol. Only global names are read now. An
/// extended section index (`SHN_XINDEX`) is `xindex`, which the caller
/// looks up when asked.
#[inline(always)]
fn read_symbol<'d>(
    sym: &elf::Sym64<LE>,
    strtab: &'d [u8],
    sections: &[Section<'d>],
    xindex: Option<usize>,
) -> std::result::Result<ObjectSymbol<'d>, BadSymbol> {
    let local = sym.st_bind() == elf::STB_LOCAL;
    let mut versioned = false;
    let name = if local {
        ""
    } else {
        let (name, at) = scan_name(strtab, sym.st_name(LE)).map_err(BadSymbol::Name)?;
        versioned = at;
        if name.len() > crate::limits::MAX_NAME {
            return Err(BadSymbol::LongName(name.len()));
        }
        if name.is_empty() {
            return Err(BadSymbol::NoName);
        }
        name
    };
    let value = sym.st_value(LE);
    let def = match sym.st_shndx(LE) {
        elf::SHN_UNDEF => SymbolDef::Undefined,
        elf::SHN_ABS => SymbolDef::Absolute(value),
        elf::SHN_COMMON => {
            let align = value.max(1);
            if !align.is_power_of_two() || align > MAX_ALIGN {
                return Err(BadSymbol::CommonAlign(align));
            }
            if sym.st_size(LE) > crate::limits::MAX_UNIT_SIZE {
                return Err(BadSymbol::CommonSize(sym.st_size(LE)));
            }
            SymbolDef::Common { align }
        }
        elf::SHN_XINDEX => match xindex {
            Some(index) => defined_in(sym, index, sections)?,
            None => return Err(BadSymbol::Extended),
        },
        // Other reserved indices (processor- or OS-specific) name no section.
        index if index.0 >= elf::SHN_LORESERVE => defined_in(sym, 0, sections)?,
        index => defined_in(sym, usize::from(index.0), sections)?,
    };
    Ok(ObjectSymbol {
        def,
        versioned,
        ..symbol_fields(sym, name)
    })
}

/// A symbol defined in section `index`, checked against it.
#[inline]
fn defined_in(
    sym: &elf::Sym64<LE>,
    index: usize,
    sections: &[Section<'_>],
) -> std::result::Result<SymbolDef, BadSymbol> {
    let value = sym.st_value(LE);
    let Some(sec) = sections.get(index) else {
        return Err(BadSymbol::Section(index));
    };
    if sec.kind != SectionKind::Skip && value > sec.size {
        return Err(BadSymbol::Value(index));
    }
    Ok(SymbolDef::Section {
        index: index as u32,
        value,
    })
}

/// The error for symbol `i`.
#[cold]
fn bad_symbol(
    file: &str,
    i: usize,
    sym: &elf::Sym64<LE>,
    strtab: &[u8],
    sections: &[Section<'_>],
    bad: BadSymbol,
) -> Error {
    let b = Blame(file);
    let shown = || lossy_name(strtab, sym.st_name(LE));
    match bad {
        BadSymbol::Name(bad) => {
            b.malformed(bad_name(Part::Symbol(i), bad, strtab, sym.st_name(LE)))
        }
        BadSymbol::LongName(len) => b.unsupported(Unsupported::LongName { symbol: i, len }),
        BadSymbol::NoName => b.malformed(Malformed::Nameless { symbol: i }),
        BadSymbol::CommonAlign(align) => b.malformed(Malformed::CommonAlign {
            symbol: shown(),
            align,
        }),
        BadSymbol::CommonSize(size) => b.unsupported(Unsupported::CommonSize {
            symbol: shown(),
            size,
        }),
        BadSymbol::SectionIndex => b.malformed(Malformed::ExtendedIndex { symbol: shown() }),
        BadSymbol::Section(index) => b.malformed(Malformed::SymbolSection {
            symbol: shown(),
            index,
        }),
        BadSymbol::Value(index) => b.malformed(Malformed::SymbolValue {
            symbol: shown(),
            value: sym.st_value(LE),
            section: sections[index].name.to_string(),
            size: sections[index].size,
        }),
        // `read_symbols` looks an extended index up and reads the symbol again.
        BadSymbol::Extended => Error::Internal {
            file: file.to_string(),
            what: "a symbol's extended section index (SHN_XINDEX) was not looked up",
            at: None,
        },
    }
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

/// Why a well-formed ELF file of another type than `ET_REL` is not an
/// input (see [`Unsupported::FileType`]). A position-independent executable
/// is `ET_DYN` like a shared library; its `PT_INTERP` tells them apart.
fn not_relocatable(header: &elf::FileHeader64<LE>, data: &[u8]) -> Unsupported {
    let e = LE;
    let interp = header
        .program_headers(e, data)
        .is_ok_and(|phs| phs.iter().any(|p| p.p_type.get(e) == elf::PT_INTERP));
    Unsupported::FileType {
        e_type: header.e_type(e).0,
        interp,
    }
}

//! Stage 1, parse: read one ELF64 x86-64 relocatable object into flat arrays.
//!
//! Everything read from the file is validated here, once: section bounds,
//! symbol and section indices, relocation offsets against their section.
//! Later stages index these arrays without further checks.

use object::elf;
use object::read::elf::{FileHeader, SectionHeader, Sym as _};
use std::borrow::Cow;

use object::{LittleEndian as LE, SectionIndex};

use crate::arch;
use crate::error::{Error, Malformed, Part, Result, Unsupported};

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
    /// This section's relocations: read in place (`SHT_RELA`), or decoded
    /// (`SHT_CREL`).
    pub relocs: Cow<'d, [Reloc]>,
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
pub(crate) struct ObjectSymbol<'d> {
    /// The name of a global or weak symbol (checked at parse); empty for a
    /// local one, whose name only messages and tools read, through
    /// [`ObjectFile::symbol_name`].
    pub name: &'d str,
    /// Where the name starts in the string table.
    pub name_offset: u32,
    pub bind: Binding,
    pub kind: SymbolKind,
    pub visibility: Visibility,
    pub def: SymbolDef,
    pub size: u64,
    /// The name holds an `@`: a symbol version (`name@VER`, `name@@VER`).
    pub versioned: bool,
}

impl ObjectSymbol<'_> {
    /// Seen only in its own object.
    pub fn is_local(&self) -> bool {
        self.bind == Binding::Local
    }
    /// A weak symbol: a weak definition gives way to a strong one, and a
    /// weak reference left undefined is 0.
    pub fn is_weak(&self) -> bool {
        self.bind == Binding::Weak
    }
}

/// How far a symbol is seen, and how its definition meets another of the
/// same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binding {
    /// Seen only in its own object (ELF `STB_LOCAL`).
    Local,
    /// Seen by every object; two definitions clash (ELF `STB_GLOBAL`, and
    /// any binding objdl does not know, which it treats so).
    Global,
    /// Seen by every object; gives way to a global definition, and is 0
    /// when nothing defines it (ELF `STB_WEAK`).
    Weak,
    /// One definition in the whole process, the first loaded: a template's
    /// static member or inline variable (ELF `STB_GNU_UNIQUE`).
    Unique,
}

/// What a symbol names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SymbolKind {
    /// Nothing said, or something objdl does not tell apart (ELF
    /// `STT_NOTYPE`: assembly labels; unknown types).
    Other,
    /// A variable or other data (ELF `STT_OBJECT`).
    Data,
    /// A function, or other code (ELF `STT_FUNC`).
    Function,
    /// A section itself: relocations refer to its start through it (ELF
    /// `STT_SECTION`).
    Section,
    /// The source file's name (ELF `STT_FILE`).
    File,
    /// A COMMON block: storage the linker allocates (ELF `STT_COMMON`;
    /// most COMMON symbols are `Data` whose definition is
    /// [`SymbolDef::Common`]).
    Common,
    /// A thread-local variable: its value is an offset in the TLS block
    /// (ELF `STT_TLS`).
    ThreadLocal,
    /// An indirect function: its value is a resolver that returns the
    /// function's address, called once at load (ELF `STT_GNU_IFUNC`).
    Indirect,
}

/// Whether a defined symbol is seen outside the unit that defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Visibility {
    /// As its binding says: a global symbol is exported (ELF `STV_DEFAULT`).
    Default,
    /// Exported, but always bound within its unit (ELF `STV_PROTECTED`).
    Protected,
    /// Not exported from its unit (ELF `STV_HIDDEN`).
    Hidden,
    /// Hidden, and never called from outside its unit (ELF `STV_INTERNAL`).
    Internal,
}

/// One relocation, read in place from the file's `SHT_RELA` section. Parse
/// has checked its symbol index and that its field lies in its section.
pub(crate) type Reloc = elf::Rela64<LE>;

/// The fields of a [`Reloc`] (x86-64 objects are little-endian).
pub(crate) trait RelocFields {
    /// Where the field is, in its section.
    fn offset(&self) -> u64;
    /// The relocation type.
    fn kind(&self) -> elf::RelocationType;
    /// The symbol index.
    fn sym(&self) -> u32;
    fn addend(&self) -> i64;
}

impl RelocFields for Reloc {
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
    #[inline]
    fn addend(&self) -> i64 {
        self.r_addend.get(LE)
    }
}

/// A parsed relocatable object. It borrows the file's bytes.
#[derive(Debug)]
pub(crate) struct ObjectFile<'d> {
    pub name: String,
    /// The whole file, for the debugger's copy.
    pub data: &'d [u8],
    pub sections: Vec<Section<'d>>,
    pub symbols: Vec<ObjectSymbol<'d>>,
    /// The symbols' string table.
    pub strtab: &'d [u8],
    /// The indices of the global and IFUNC symbols, in order: the only ones
    /// resolution gives an entry of their own (see `resolve::Targets`).
    pub special: Vec<u32>,

    /// COMDAT groups: (signature, member section indices).
    pub groups: Vec<(&'d str, Vec<u32>)>,
    /// Where `data` lies in a mapped input file, when it does: large
    /// sections are then mapped from the file instead of copied.
    pub backing: Option<Backing>,
    /// What the object says of the stack it needs.
    pub stack: StackNote,
}

/// What an object's `.note.GNU-stack` section says of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StackNote {
    /// Present, not executable: the stack need not be executable.
    NotExecutable,
    /// Present and executable (`SHF_EXECINSTR`): gcc marks so an object
    /// whose nested function's address escapes (a trampoline on the stack).
    Executable,
    /// Absent, which the toolchain takes to mean executable (hand-written
    /// assembly without the section, old compilers).
    Missing,
}

/// The place of an object's bytes in a mapped input file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Backing {
    /// Index of the file among the unit's inputs.
    pub file: u32,
    /// Offset of the object's first byte in the file.
    pub offset: u64,
}

impl ObjectFile<'_> {
    /// Checks every relocation: its symbol index, and that its field lies in
    /// its section. Returns the kinds that occur, as a bit set (see
    /// `scan_relocs`). One branch-light scan; a bad entry sends
    /// it to a slower one for the first, to report it.
    pub fn check_relocations(&self) -> Result<u64> {
        let nsyms = self.symbols.len() as u64;
        let mut kinds = 0;
        for sec in &self.sections {
            let (bad, k) = scan_relocs(&sec.relocs, nsyms, sec.size);
            kinds |= k;
            if bad {
                for r in sec.relocs.iter() {
                    self.check_relocation(sec, r)?;
                }
            }
        }
        Ok(kinds)
    }

    /// Checks one relocation of section `sec` (see [`Self::check_relocations`]).
    pub fn check_relocation(&self, sec: &Section<'_>, r: &Reloc) -> Result<()> {
        let b = Blame(&self.name);
        let (offset, sym) = (r.offset(), r.sym());
        if sym as usize >= self.symbols.len() {
            return Err(b.malformed(Malformed::RelocationSymbol {
                section: sec.name.to_string(),
                offset,
                symbol: sym,
                count: self.symbols.len(),
            }));
        }
        let width = arch::field_width(r.kind());
        if offset.checked_add(width).is_none_or(|end| end > sec.size) {
            return Err(b.malformed(Malformed::RelocationOutside {
                section: sec.name.to_string(),
                offset,
                width,
                size: sec.size,
            }));
        }
        Ok(())
    }

    /// Symbol `sym`'s name for messages and tools (empty for a section
    /// symbol). A local name that is not clean UTF-8 is shown escaped, so
    /// that a message stays one line.
    pub fn symbol_name(&self, sym: u32) -> String {
        let s = &self.symbols[sym as usize];
        if !s.name.is_empty() {
            return s.name.to_string();
        }
        match name_at(self.strtab, s.name_offset) {
            Ok(n) => n.to_string(),
            Err(_) => lossy_name(self.strtab, s.name_offset),
        }
    }

    /// The file offset of section `si`'s contents, when the object is backed by a file.
    pub fn file_offset(&self, si: usize) -> Option<(u32, u64)> {
        let b = self.backing?;
        let sec = &self.sections[si];
        // Sections without contents have an empty slice from elsewhere.
        let within = (sec.data.as_ptr() as u64).checked_sub(self.data.as_ptr() as u64)?;
        (!sec.data.is_empty() && within < self.data.len() as u64)
            .then_some((b.file, b.offset + within))
    }
}

/// The largest alignment accepted for a section or COMMON symbol (1 GiB).
const MAX_ALIGN: u64 = 1 << 30;

/// Why a symbol name cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BadName {
    /// The offset is outside the string table, or the name has no NUL.
    Range,
    Utf8,
    /// It holds a control character.
    Control,
}

/// The NUL-terminated name at `offset` in `strtab`. Almost every name is
/// printable ASCII, found and checked in one pass; anything else must be
/// UTF-8 without control characters (which would break one-line messages).
fn name_at(strtab: &[u8], offset: u32) -> std::result::Result<&str, BadName> {
    scan_name(strtab, offset).map(|(name, _)| name)
}

/// [`name_at`], and whether the name holds an `@`: a symbol version
/// (`memcpy@GLIBC_2.2.5`), found in the same pass.
fn scan_name(strtab: &[u8], offset: u32) -> std::result::Result<(&str, bool), BadName> {
    let tail = strtab.get(offset as usize..).ok_or(BadName::Range)?;
    let plain = plain_prefix(tail);
    if tail.get(plain) == Some(&0) {
        // SAFETY: printable ASCII is valid UTF-8.
        return Ok((
            unsafe { std::str::from_utf8_unchecked(&tail[..plain]) },
            false,
        ));
    }
    let end = tail.iter().position(|&b| b == 0).ok_or(BadName::Range)?;
    let name = std::str::from_utf8(&tail[..end]).map_err(|_| BadName::Utf8)?;
    if has_control(name) {
        return Err(BadName::Control);
    }
    Ok((name, name.contains('@')))
}

/// How many bytes at the start of `bytes` are printable ASCII (0x20 to
/// 0x7e) other than `@`: eight at a time while they all are, then one by
/// one.
fn plain_prefix(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut n = 0;
    for chunk in bytes.chunks_exact(8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // A byte below 0x20, or whose low seven bits are all set (0x7f,
        // 0xff), or with its top bit set: not printable ASCII.
        let below = x.wrapping_sub(0x20 * ONES) & !x & HIGH;
        let at_7f = (x & !HIGH).wrapping_add(ONES) & HIGH;
        // A byte equal to `@`.
        let at = x ^ (b'@' as u64 * ONES);
        let at_sign = at.wrapping_sub(ONES) & !at & HIGH;
        let bad = below | at_7f | (x & HIGH) | at_sign;
        if bad != 0 {
            // The subtractions' borrows can mark a byte after the first
            // bad one, never one before it: the lowest mark is the first.
            return n + (bad.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + bytes[n..]
        .iter()
        .position(|&b| !(0x20..0x7f).contains(&b) || b == b'@')
        .unwrap_or(bytes.len() - n)
}

/// The name at `offset`, unchecked and cut at its NUL (or the table's
/// end), as text with invalid UTF-8 replaced.
fn lossy_str(strtab: &[u8], offset: u32) -> String {
    let tail = strtab.get(offset as usize..).unwrap_or(&[]);
    let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
    String::from_utf8_lossy(&tail[..end.min(crate::limits::MAX_NAME)]).into_owned()
}

/// The name at `offset` for a message, whatever it holds: escaped, never
/// more than one line.
fn lossy_name(strtab: &[u8], offset: u32) -> String {
    lossy_str(strtab, offset).escape_debug().to_string()
}

/// Does a name hold a control character (a newline, an escape...)? Such a
/// name would break the one-line messages that quote it.
fn has_control(name: &str) -> bool {
    name.chars().any(char::is_control)
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

/// Does `bytes` start like an ELF file?
pub(crate) fn is_elf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// Parses and validates `data` as an ELF64 little-endian x86-64 `ET_REL` file.
pub(crate) fn parse<'d>(name: &str, data: &'d [u8]) -> Result<ObjectFile<'d>> {
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

/// The errors about one input, which they name.
struct Blame<'a>(&'a str);

impl Blame<'_> {
    /// The input is not well formed.
    #[cold]
    fn malformed(&self, what: Malformed) -> Error {
        Error::Malformed {
            file: self.0.to_string(),
            what,
        }
    }

    /// A part of the input could not be read: the `object` crate says why.
    #[cold]
    fn read(&self, part: Part, reason: impl std::fmt::Display) -> Error {
        self.malformed(Malformed::Read {
            part,
            reason: reason.to_string(),
        })
    }

    /// The input is well formed, but asks for what objdl does not do.
    #[cold]
    fn unsupported(&self, what: Unsupported) -> Error {
        Error::Unsupported {
            file: self.0.to_string(),
            what,
        }
    }
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
    if header.e_machine(e).0 != <arch::Native as arch::Arch>::ELF_MACHINE {
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
        let rela: Cow<'_, [Reloc]> = if crel {
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
) -> std::result::Result<Vec<Reloc>, Malformed> {
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

/// Checks every relocation of a section at once: whether any refers to a
/// symbol index at or above `nsyms` or has a field outside the section's
/// `size` bytes, and which kinds occur: bit `i % 64` for the kind of dense
/// index `i` ([`arch::count_index`]; a filter: an unknown type, or an
/// architecture with more than 64 kinds, may set a bit another kind has).
/// No branch per entry beyond the loop's own.
fn scan_relocs(rela: &[Reloc], nsyms: u64, size: u64) -> (bool, u64) {
    let mut bad = false;
    let mut kinds = 0u64;
    for r in rela {
        // A kind's dense index, with no branch; a type objdl does not know
        // shares one with a known kind (and its width here): it is refused
        // later anyway, with its site.
        let i = arch::count_index(r.kind());
        // Offsets near 2^64 would wrap; no section is that large.
        let end = r
            .offset()
            .saturating_add(arch::field_width(arch::kind_of_index(i)));
        bad |= (u64::from(r.sym()) >= nsyms) | (end > size);
        kinds |= 1 << (i % 64);
    }
    (bad, kinds)
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
/// types objdl does not know are [`SymbolKind::Other`]).
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

/// The [`Visibility`] of each ELF `STV_*` value.
const VISIBILITIES: [Visibility; 4] = {
    let mut t = [Visibility::Default; 4];
    t[elf::STV_INTERNAL.0 as usize] = Visibility::Internal;
    t[elf::STV_HIDDEN.0 as usize] = Visibility::Hidden;
    t[elf::STV_PROTECTED.0 as usize] = Visibility::Protected;
    t
};

/// The binding of an ELF symbol (a table lookup).
#[inline(always)]
fn binding(sym: &elf::Sym64<LE>) -> Binding {
    BINDINGS[usize::from(sym.st_bind().0 & 0xf)]
}

/// The kind of an ELF symbol (a table lookup).
#[inline(always)]
fn symbol_kind(sym: &elf::Sym64<LE>) -> SymbolKind {
    SYMBOL_KINDS[usize::from(sym.st_type().0 & 0xf)]
}

/// The visibility of an ELF symbol (a table lookup).
#[inline(always)]
fn visibility(sym: &elf::Sym64<LE>) -> Visibility {
    VISIBILITIES[usize::from(sym.st_visibility().0 & 3)]
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
/// symbol (not IFUNC) in an ordinary section and inside it, into
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
        let plain = sym.st_bind() == elf::STB_LOCAL
            && sym.st_type() != elf::STT_GNU_IFUNC
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
            kind: symbol_kind(sym),
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

/// What is wrong with the name at `offset` of `strtab`, the name of `part`.
#[cold]
fn bad_name(part: Part, bad: BadName, strtab: &[u8], offset: u32) -> Malformed {
    match bad {
        BadName::Range => Malformed::NameOffset {
            part,
            offset,
            len: strtab.len(),
        },
        BadName::Utf8 => Malformed::NameNotUtf8 { part },
        BadName::Control => Malformed::NameControl {
            part,
            name: lossy_str(strtab, offset),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_prefixes() {
        for (bytes, n) in [
            (&b"abcdefgh\0"[..], 8),
            (b"sqlite3_free\0x", 12),
            (b"", 0),
            (b"0123456789abcdef~", 17),
            (b"01234567\x7f", 8),
            (b"0123456\x1f89", 7),
            (b"012345678\xff", 9),
            (b"\x20\x7e\x7f", 2),
            (b"abc\0\x01\x1f\xffh", 3),
            (b"\0\0\0\0\0\0\0\0", 0),
            (b"abcdefg\x80", 7),
            (b"memcpy@GLIBC_2.2.5\0", 6),
            (b"foo@@V2\0", 3),
            (b"abcdefghij@k", 10),
        ] {
            assert_eq!(plain_prefix(bytes), n, "{bytes:?}");
        }
        // Every byte value, at every position of a chunk.
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut chunk = *b"abcdefgh";
                chunk[at] = b;
                let want = if (0x20..0x7f).contains(&b) && b != b'@' {
                    8
                } else {
                    at
                };
                assert_eq!(plain_prefix(&chunk), want, "{b:#x} at {at}");
            }
        }
    }
}

//! The one error type of objdl.
//!
//! Every message names where the problem is: the file, and where it applies
//! the section, the offset in it, the symbol and the relocation type.

use std::fmt;
use std::path::PathBuf;

/// A place in an input: file, section and offset in that section.
///
/// Displayed as `file:section+0xOFFSET`, the form used in every message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The input's name (its path, or the name given to in-memory bytes).
    pub file: String,
    /// The section's name, e.g. `.text`.
    pub section: String,
    /// The byte offset in the section.
    pub offset: u64,
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}+{:#x}", self.file, self.section, self.offset)
    }
}

/// A reference that no placement of the unit can serve: a RIP-relative data
/// access or a 32-bit absolute whose target is out of reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreachableSite {
    /// Where the relocated field is.
    pub site: Site,
    /// The relocation type, e.g. `R_X86_64_PC32`.
    pub r_type: String,
    /// The symbol the field refers to.
    pub symbol: String,
    /// The target's address.
    pub target: u64,
    /// A few instruction bytes around the field (up to 3 before it and the field itself).
    pub bytes: Vec<u8>,
    /// Why it cannot be served.
    pub why: OutOfReach,
}

/// Why an [`UnreachableSite`] cannot be served. `field` names the
/// relocated field's range as messages do, e.g. `a signed 32-bit field`.
///
/// ```
/// let why = objdl::OutOfReach::Value { value: 0x1_0000_0000, field: "an unsigned 32-bit field" };
/// assert_eq!(why.to_string(), "value 0x100000000 does not fit an unsigned 32-bit field");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OutOfReach {
    /// The value to write does not fit the field, wherever the unit lies.
    #[error("value {value:#x} does not fit {field}")]
    Value {
        /// The value.
        value: i128,
        /// The field.
        field: &'static str,
    },
    /// An absolute of the unit's own address: the unit at this base puts
    /// the target outside the field's range.
    ///
    /// ```
    /// let why = objdl::OutOfReach::Placed { base: 0x7f00_0000_0000, at: 0x7f00_0000_2010, field: "a signed 32-bit field" };
    /// assert_eq!(
    ///     why.to_string(),
    ///     "the unit at 0x7f0000000000 puts it at 0x7f0000002010, outside a signed 32-bit field"
    /// );
    /// ```
    #[error("the unit at {base:#x} puts it at {at:#x}, outside {field}")]
    Placed {
        /// The unit's base.
        base: u64,
        /// Where the target lies with the unit there.
        at: i128,
        /// The field.
        field: &'static str,
    },
    /// A PC-relative reference: the target lies farther from the field
    /// than the field reaches.
    ///
    /// ```
    /// let why = objdl::OutOfReach::Distance { distance: -0x8000_0010, from: 0x7f00_0000_1000, field: "a signed 32-bit field" };
    /// assert_eq!(
    ///     why.to_string(),
    ///     "distance -0x80000010 from 0x7f0000001000 exceeds a signed 32-bit field"
    /// );
    /// ```
    #[error("distance {}{:#x} from {from:#x} exceeds {field}", if *.distance < 0 { "-" } else { "" }, .distance.unsigned_abs())]
    Distance {
        /// The target (with the addend) minus the field's address.
        distance: i128,
        /// The field's address.
        from: i128,
        /// The field.
        field: &'static str,
    },
    /// A 32-bit absolute of a host function: the trampoline standing in for
    /// it, last in the unit, would lie outside the field's range.
    ///
    /// ```
    /// let why = objdl::OutOfReach::StandIn { base: 0x7000_0000, field: "an unsigned 32-bit field" };
    /// assert_eq!(
    ///     why.to_string(),
    ///     "the trampoline standing in for it in the unit at 0x70000000 would lie outside an unsigned 32-bit field"
    /// );
    /// ```
    #[error(
        "the trampoline standing in for it in the unit at {base:#x} would lie outside {field}"
    )]
    StandIn {
        /// The unit's base.
        base: u64,
        /// The field.
        field: &'static str,
    },
}

impl fmt::Display for UnreachableSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} against `{}` ({:#x}): {} [bytes",
            self.site, self.r_type, self.symbol, self.target, self.why
        )?;
        for b in &self.bytes {
            write!(f, " {b:02x}")?;
        }
        f.write_str("]")
    }
}

/// An unresolved reference: the symbol and the first input that wanted it.
///
/// Displayed as `` `name` (referenced from file) ``.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// The symbol's name.
    pub symbol: String,
    /// The first input that referenced it.
    pub file: String,
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` (referenced from {})", self.symbol, self.file)
    }
}

/// A part of an input that a [`Malformed`] defect names.
///
/// Displayed as the part's name in messages, e.g. `section headers`,
/// `relocation section 4` or `member at 0x8`.
///
/// ```
/// assert_eq!(objdl::Part::RelocationSection(4).to_string(), "relocation section 4");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part {
    /// The ELF header.
    ElfHeader,
    /// The section header table.
    SectionHeaders,
    /// The section names' string table (`e_shstrndx`).
    SectionNames,
    /// The symbol table.
    SymbolTable,
    /// The symbol names' string table.
    SymbolNames,
    /// The section header of this index.
    Section(usize),
    /// The `SHT_RELA` or `SHT_CREL` section of this index.
    RelocationSection(usize),
    /// The symbol of this index.
    Symbol(usize),
    /// An archive's global header.
    Archive,
    /// An archive's symbol index.
    ArchiveSymbolIndex,
    /// An archive's member, read in order.
    ArchiveMember,
    /// The archive member at this offset, named by the symbol index.
    ArchiveMemberAt(u64),
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::ElfHeader => f.write_str("ELF header"),
            Part::SectionHeaders => f.write_str("section headers"),
            Part::SectionNames => f.write_str("section names"),
            Part::SymbolTable => f.write_str("symbol table"),
            Part::SymbolNames => f.write_str("symbol names"),
            Part::Section(i) => write!(f, "section {i}"),
            Part::RelocationSection(i) => write!(f, "relocation section {i}"),
            Part::Symbol(i) => write!(f, "symbol {i}"),
            Part::Archive => f.write_str("archive"),
            Part::ArchiveSymbolIndex => f.write_str("archive symbol index"),
            Part::ArchiveMember => f.write_str("archive member"),
            Part::ArchiveMemberAt(off) => write!(f, "member at {off:#x}"),
        }
    }
}

/// What is wrong with a malformed input ([`Error::Malformed`]), with the
/// numbers that show it. `section` fields hold a section's name, `index`
/// fields its index; `symbol` fields that are strings hold a symbol's name
/// as messages show it (escaped).
///
/// ```
/// use objdl::{Malformed, Part};
/// let what = Malformed::NameNotUtf8 { part: Part::Symbol(7) };
/// assert_eq!(what.to_string(), "symbol 7: name is not UTF-8");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Malformed {
    /// Fewer bytes than an ELF header's identification.
    #[error("{len} bytes is too short for an ELF header")]
    TooShort {
        /// The input's length.
        len: usize,
    },
    /// The input does not start with `\x7fELF`.
    #[error("not an ELF file (bad magic)")]
    NotElf,
    /// A part could not be read (the `object` crate's reason).
    #[error("{part}: {reason}")]
    Read {
        /// The part.
        part: Part,
        /// Why not.
        reason: String,
    },
    /// A part's string table lies outside the file.
    #[error("{part}: string table lies outside the file")]
    StringTableOutside {
        /// The part whose names it holds.
        part: Part,
    },
    /// A part's contents lie outside the file.
    #[error("{part}: lies outside the file")]
    Outside {
        /// The part.
        part: Part,
    },
    /// A name's offset is not a string in its string table.
    #[error("{part}: name: offset {offset:#x} is not a string in {} ({len:#x} bytes)", names_of(.part))]
    NameOffset {
        /// The section or symbol.
        part: Part,
        /// The name's offset.
        offset: u32,
        /// The string table's size.
        len: usize,
    },
    /// A name is not UTF-8.
    #[error("{part}: name is not UTF-8")]
    NameNotUtf8 {
        /// The section or symbol.
        part: Part,
    },
    /// A name holds a control character, which would break one-line messages.
    #[error("{part}: name {name:?} contains a control character")]
    NameControl {
        /// The section or symbol.
        part: Part,
        /// The name, read lossily.
        name: String,
    },
    /// An allocated section's alignment is not a power of two.
    #[error("section {section} (index {index}): alignment {align} is not a power of two")]
    Alignment {
        /// The section's name.
        section: String,
        /// Its index.
        index: usize,
        /// Its `sh_addralign`.
        align: u64,
    },
    /// A section's contents lie outside the file.
    #[error("section {section} (index {index}): contents at offset {offset:#x} size {size:#x} lie outside the file ({file_len:#x} bytes)")]
    ContentsOutside {
        /// The section's name.
        section: String,
        /// Its index.
        index: usize,
        /// Its `sh_offset`.
        offset: u64,
        /// Its `sh_size`.
        size: u64,
        /// The file's size.
        file_len: usize,
    },
    /// A section's size does not match its contents.
    #[error("section {section} (index {index}): size does not match its contents")]
    SizeMismatch {
        /// The section's name.
        section: String,
        /// Its index.
        index: usize,
    },
    /// A constructor or destructor table's name has a suffix that is not a priority.
    #[error("section {section} (index {index}): bad init priority suffix")]
    InitPriority {
        /// The section's name.
        section: String,
        /// Its index.
        index: usize,
    },
    /// A constructor or destructor table's size is not a multiple of 8.
    #[error("section {section} (index {index}): constructor/destructor table size is not a multiple of 8")]
    TableSize {
        /// The section's name.
        section: String,
        /// Its index.
        index: usize,
    },
    /// A section group's contents lie outside the file.
    #[error("section {section} (index {index}): group contents lie outside the file")]
    GroupOutside {
        /// The group section's name.
        section: String,
        /// Its index.
        index: usize,
    },
    /// A relocation section's `sh_info` names no section.
    #[error("relocation section {section}: target section {target} out of range")]
    RelocationTarget {
        /// The relocation section's index.
        section: usize,
        /// The index it names.
        target: usize,
    },
    /// A `SHT_CREL` section could not be decoded (the `object` crate's reason).
    #[error("relocation section {section}: CREL: {reason}")]
    Crel {
        /// The relocation section's index.
        section: usize,
        /// Why not.
        reason: String,
    },
    /// A `SHT_CREL` section without addends.
    #[error("relocation section {section}: CREL without addends (x86-64 relocations have explicit addends)")]
    CrelWithoutAddends {
        /// The relocation section's index.
        section: usize,
    },
    /// A `SHT_CREL` section declares more relocations than it has bytes
    /// (or than the limit on relocations leaves).
    #[error("relocation section {section}: CREL: {count} relocations in {len} bytes")]
    CrelCount {
        /// The relocation section's index.
        section: usize,
        /// The count it declares.
        count: usize,
        /// Its size.
        len: usize,
    },
    /// A `SHT_CREL` section holds fewer relocations than it declares.
    #[error("relocation section {section}: CREL: {decoded} of {count} relocations")]
    CrelShort {
        /// The relocation section's index.
        section: usize,
        /// The relocations decoded.
        decoded: usize,
        /// The count it declares.
        count: usize,
    },
    /// Relocations for a section without contents (`SHT_NOBITS`).
    #[error("relocation section {section}: applies to section {target}, which has no contents (SHT_NOBITS)")]
    NoBitsTarget {
        /// The relocation section's index.
        section: usize,
        /// The name of the section it applies to.
        target: String,
    },
    /// Two relocation sections apply to one section.
    #[error("section {section} has two relocation sections")]
    TwoRelocationSections {
        /// The name of the section they apply to.
        section: String,
    },
    /// A relocation's symbol index is beyond the symbol table.
    #[error("section {section}: relocation at offset {offset:#x} refers to symbol index {symbol}, but there are {count} symbols")]
    RelocationSymbol {
        /// The name of the section it applies to.
        section: String,
        /// Its offset in that section.
        offset: u64,
        /// The symbol index.
        symbol: u32,
        /// How many symbols there are.
        count: usize,
    },
    /// A relocation's field lies outside its section.
    #[error("section {section}: relocation at offset {offset:#x} ({width} bytes) lies outside the section ({size:#x} bytes)")]
    RelocationOutside {
        /// The name of the section it applies to.
        section: String,
        /// Its offset in that section.
        offset: u64,
        /// The field's width in bytes.
        width: u64,
        /// The section's size.
        size: u64,
    },
    /// A section group's signature symbol index is beyond the symbol table.
    #[error("group section {group}: signature symbol {symbol} out of range")]
    GroupSignature {
        /// The group section's index.
        group: usize,
        /// The symbol index (`sh_info`).
        symbol: u32,
    },
    /// A section group's signature symbol has a name that cannot be read.
    #[error("group section {group}: signature symbol {symbol} has a bad name: {name}")]
    GroupSignatureName {
        /// The group section's index.
        group: usize,
        /// The symbol index (`sh_info`).
        symbol: u32,
        /// The name, read lossily and escaped.
        name: String,
    },
    /// A section group names a section that does not exist.
    #[error("group section {group}: member section {member} out of range")]
    GroupMember {
        /// The group section's index.
        group: usize,
        /// The member's section index.
        member: u32,
    },
    /// A global or weak symbol without a name.
    #[error("symbol {symbol}: a global or weak symbol without a name")]
    Nameless {
        /// The symbol's index.
        symbol: usize,
    },
    /// A COMMON symbol's alignment is not a power of two, or too large.
    #[error("symbol {symbol}: COMMON alignment {align:#x} is invalid")]
    CommonAlign {
        /// The symbol's name.
        symbol: String,
        /// Its alignment (`st_value`).
        align: u64,
    },
    /// A symbol's extended section index (`SHN_XINDEX`) cannot be read.
    #[error("symbol {symbol}: section index: its SHT_SYMTAB_SHNDX entry cannot be read")]
    ExtendedIndex {
        /// The symbol's name.
        symbol: String,
    },
    /// A symbol's section index names no section.
    #[error("symbol {symbol}: section index {index} out of range")]
    SymbolSection {
        /// The symbol's name.
        symbol: String,
        /// The section index.
        index: usize,
    },
    /// A symbol's value lies outside its section.
    #[error(
        "symbol {symbol}: value {value:#x} lies outside its section {section} ({size:#x} bytes)"
    )]
    SymbolValue {
        /// The symbol's name.
        symbol: String,
        /// Its value.
        value: u64,
        /// Its section's name.
        section: String,
        /// Its section's size.
        size: u64,
    },
    /// An IFUNC's resolver is not in an executable section.
    #[error("symbol `{symbol}`: the resolver of an STT_GNU_IFUNC symbol lies in section {section}, which is not executable")]
    ResolverNotCode {
        /// The IFUNC symbol.
        symbol: String,
        /// The section its resolver lies in.
        section: String,
    },
    /// An initialiser or finaliser (an entry of `.init_array`, `.ctors`,
    /// `.fini_array`...) is not code.
    #[error("section {table} offset {offset:#x}: {} {}", if *.finaliser { "a finaliser" } else { "an initialiser" }, .lies)]
    EntryNotCode {
        /// The table's section.
        table: String,
        /// The entry's offset in it.
        offset: u64,
        /// A finaliser (else an initialiser).
        finaliser: bool,
        /// Where it points.
        lies: NotCode,
    },
    /// A relocation refers to a symbol in a section that is not loaded.
    #[error("section {section} offset {offset:#x}: relocation refers to `{symbol}`, which is in a section that is not loaded")]
    TargetNotLoaded {
        /// The relocated section.
        section: String,
        /// The field's offset in it.
        offset: u64,
        /// The symbol.
        symbol: String,
    },
}

/// Where an initialiser or finaliser that is not code points
/// ([`Malformed::EntryNotCode`]).
///
/// ```
/// use objdl::NotCode;
/// let lies = NotCode::UnitData { address: 0x7f00_0000_1000 };
/// assert_eq!(lies.to_string(), "at 0x7f0000001000 points into the unit's data");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NotCode {
    /// Into a section of an input that is not executable.
    #[error("points into section {section} of {file}, which is not executable")]
    Section {
        /// The input.
        file: String,
        /// The section.
        section: String,
    },
    /// Into the unit, but into none of its sections (objdl's own data).
    #[error("at {address:#x} points into the unit's data")]
    UnitData {
        /// The entry's value.
        address: u64,
    },
    /// Outside the unit, into no executable mapping of the process.
    #[error("at {address:#x} lies outside the unit, in no executable mapping")]
    Outside {
        /// The entry's value.
        address: u64,
    },
}

/// What `part`'s names are in, for [`Malformed::NameOffset`].
fn names_of(part: &Part) -> &'static str {
    match part {
        Part::Section(_) => "the section names",
        _ => "the string table",
    }
}

/// What a well-formed input uses that objdl does not support
/// ([`Error::Unsupported`]).
///
/// ```
/// assert_eq!(
///     objdl::Unsupported::Machine(183).to_string(),
///     "machine 183 (only x86-64, machine 62, is supported)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// More sections than objdl's limit.
    #[error("{count} sections (the limit is {limit})")]
    Sections {
        /// How many the input has.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// More symbols than objdl's limit.
    #[error("{count} symbols (the limit is {limit})")]
    Symbols {
        /// How many the input has.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// More relocations than objdl's limit (in all sections together).
    #[error("more than {limit} relocations")]
    Relocations {
        /// The limit.
        limit: usize,
    },
    /// An ELF class other than ELF64 (`EI_CLASS`).
    #[error("ELF class {0} (only ELF64 is supported)")]
    ElfClass(u8),
    /// Big-endian ELF.
    #[error("big-endian ELF (only little-endian is supported)")]
    BigEndian,
    /// A machine other than the one objdl runs on (`e_machine`; x86-64's
    /// is 62).
    #[error(
        "machine {0} (only {arch}, machine {machine}, is supported)",
        arch = crate::arch::NAME,
        machine = crate::arch::ELF_MACHINE
    )]
    Machine(u16),
    /// An ELF file that is not a relocatable object: an executable, a
    /// shared object, a core dump. The message says what to give instead.
    #[error("{}", not_relocatable(*.e_type, *.interp))]
    FileType {
        /// Its `e_type`.
        e_type: u16,
        /// Whether it has a `PT_INTERP` (an `ET_DYN` with one is a PIE).
        interp: bool,
    },
    /// An allocated section aligned more than objdl supports.
    #[error("section {section} (index {index}): alignment {align:#x} is larger than {limit:#x}")]
    Alignment {
        /// The section's name.
        section: String,
        /// Its index.
        index: usize,
        /// Its alignment.
        align: u64,
        /// The largest alignment objdl supports.
        limit: u64,
    },
    /// An allocated section of a type objdl does not know.
    #[error("section {section} (index {index}): allocated section of type {sh_type:#x}")]
    SectionType {
        /// The section's name.
        section: String,
        /// Its index.
        index: usize,
        /// Its `sh_type`.
        sh_type: u32,
    },
    /// A section larger than a unit may be.
    #[error("section {section} (index {index}): size {size:#x} is larger than the unit limit")]
    SectionSize {
        /// The section's name.
        section: String,
        /// Its index.
        index: usize,
        /// Its size.
        size: u64,
    },
    /// Relocations of an allocated section in `SHT_REL` or `SHT_RELR` form.
    #[error("section {section} (index {index}): relocations of type SHT_REL or SHT_RELR (x86-64 objects use SHT_RELA or SHT_CREL)")]
    RelSection {
        /// The relocation section's name.
        section: String,
        /// Its index.
        index: usize,
    },
    /// A symbol name longer than objdl's limit.
    #[error("symbol {symbol}: name of {len} bytes is too long")]
    LongName {
        /// The symbol's index.
        symbol: usize,
        /// The name's length.
        len: usize,
    },
    /// A COMMON symbol larger than a unit may be.
    #[error("symbol {symbol}: COMMON size {size:#x} is larger than the unit limit")]
    CommonSize {
        /// The symbol's name.
        symbol: String,
        /// Its size.
        size: u64,
    },
    /// A thin archive (its members are files of their own).
    #[error("thin archives")]
    ThinArchive,
    /// A thread-local block objdl cannot register as a TLS module.
    #[error("a TLS block of {size:#x} bytes aligned to {align:#x}")]
    TlsBlock {
        /// The block's size.
        size: u64,
        /// Its alignment.
        align: u64,
    },
    /// A thread-local initialised with its own module's id (`DTPMOD64` in
    /// `.tdata`) when the unit's thread-locals are in static TLS.
    #[error("a thread-local initialised with its own TLS module id (DTPMOD64 in .tdata) in a unit whose thread-locals are in static TLS")]
    ModuleIdInStaticTls,
    /// A dynamic TLS reference to a symbol outside the unit that no loaded
    /// module holds as thread-local.
    #[error("section {section} offset {offset:#x}: {r_type} against `{symbol}`, a symbol outside the unit that no loaded module holds as thread-local")]
    ThreadLocalNowhere {
        /// The relocated section.
        section: String,
        /// The field's offset in it.
        offset: u64,
        /// The relocation type's name.
        r_type: String,
        /// The symbol.
        symbol: String,
    },
    /// A TLS descriptor on a processor or kernel without `xsave`, which
    /// objdl's descriptor resolver needs.
    #[error("section {section} offset {offset:#x}: a TLS descriptor (-mtls-dialect=gnu2) needs xsave, which this processor or kernel does not offer; recompile with -mtls-dialect=gnu")]
    TlsDescriptorWithoutXsave {
        /// The relocated section.
        section: String,
        /// The field's offset in it.
        offset: u64,
    },
    /// A unit opened again by its own initialiser, before its first open
    /// finished (the open would wait for itself).
    #[error("opened again by its own initialiser, before its first open finished")]
    ReentrantOpen,
    /// More names bound lazily than a unit may have.
    #[error("more lazily bound names than a unit may have")]
    LazyNames,
    /// An executable stack ([`crate::OpenOptions::exec_stack`]) that glibc
    /// would not give: the shim asking `ld.so` for it failed.
    ///
    /// ```
    /// let what = objdl::Unsupported::ExecutableStackRefused { why: "dlopen failed".into() };
    /// assert_eq!(
    ///     what.to_string(),
    ///     "an executable stack: glibc would not make the stacks executable: dlopen failed"
    /// );
    /// ```
    #[error("an executable stack: glibc would not make the stacks executable: {why}")]
    ExecutableStackRefused {
        /// What `ld.so` (or the shim's making) said.
        why: String,
    },
    /// A reload whose new code reaches the unit's thread-locals with the
    /// initial-exec or local-exec model, when the block it keeps is not in
    /// static TLS.
    ///
    /// ```
    /// let what = objdl::Unsupported::KeptBlockNotStatic;
    /// assert!(what.to_string().ends_with("so it cannot be kept; open the unit again"));
    /// ```
    #[error("thread-locals: the new code reaches them with initial-exec or local-exec, but the unit's block is not in static TLS, so it cannot be kept; open the unit again")]
    KeptBlockNotStatic,
    /// The unit's thread-local block could not be put in static TLS for a
    /// reason other than room: the shim asking `ld.so` for it failed.
    ///
    /// ```
    /// let what = objdl::Unsupported::StaticTlsBlock { why: "dlinfo: no".into() };
    /// assert_eq!(what.to_string(), "thread-locals in static TLS: dlinfo: no");
    /// ```
    #[error("thread-locals in static TLS: {why}")]
    StaticTlsBlock {
        /// What `ld.so` (or the shim's making) said.
        why: String,
    },
    /// Other modules' thread-locals reached with the initial-exec model
    /// that cannot be served, when no relocation site names them (the
    /// site, when there is one, makes it an [`Error::StaticTls`]).
    ///
    /// ```
    /// use objdl::{StaticTlsRefusal, Unsupported};
    /// let what = Unsupported::InitialExecTls {
    ///     why: StaticTlsRefusal::OffsetMismatch { symbol: "errno".into() },
    /// };
    /// assert_eq!(
    ///     what.to_string(),
    ///     "initial-exec thread-locals: ld.so's offset in static TLS for `errno` does not lead to the variable dlsym finds"
    /// );
    /// ```
    #[error("initial-exec thread-locals: {why}")]
    InitialExecTls {
        /// Why they cannot be served.
        why: StaticTlsRefusal,
    },
    /// More functions in one reloadable unit
    /// ([`crate::OpenOptions::reloadable`]) than it may have entries.
    ///
    /// ```
    /// let what = objdl::Unsupported::ReloadableFunctions { limit: 1 << 20 };
    /// assert_eq!(what.to_string(), "more than 1048576 functions in one reloadable unit");
    /// ```
    #[error("more than {limit} functions in one reloadable unit")]
    ReloadableFunctions {
        /// The most entries a unit may have.
        limit: usize,
    },
}

/// Why a thread-local reached with the initial-exec model cannot be given
/// a fixed offset from the thread pointer ([`Error::StaticTls`],
/// [`Unsupported::InitialExecTls`]).
///
/// ```
/// use objdl::StaticTlsRefusal;
/// assert_eq!(
///     StaticTlsRefusal::NotThreadLocal.to_string(),
///     "it is not a thread-local variable of the unit or of a loaded module"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StaticTlsRefusal {
    /// The symbol is neither the unit's thread-local nor a loaded module's.
    #[error("it is not a thread-local variable of the unit or of a loaded module")]
    NotThreadLocal,
    /// `ld.so` would not give the variables static offsets (the shim that
    /// asks it failed).
    #[error("ld.so could not serve it: {why}")]
    LdSoRefused {
        /// What `ld.so` (or the shim's making) said.
        why: String,
    },
    /// The offset `ld.so` gave a variable does not lead to the variable
    /// `dlsym` finds under its name.
    #[error(
        "ld.so's offset in static TLS for `{symbol}` does not lead to the variable dlsym finds"
    )]
    OffsetMismatch {
        /// The variable's name.
        symbol: String,
    },
}

/// Why a reload ([`crate::Unit::reload`]) was refused ([`Error::Reload`]).
///
/// ```
/// assert_eq!(
///     objdl::ReloadRefusal::NotAnInput.to_string(),
///     "not one of the inputs the unit was opened from"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReloadRefusal {
    /// The unit was opened without [`crate::OpenOptions::reloadable`].
    #[error("the unit was not opened reloadable (OpenOptions::reloadable)")]
    NotReloadable,
    /// The path is none of the unit's inputs.
    #[error("not one of the inputs the unit was opened from")]
    NotAnInput,
}

/// The remedy an [`Error::Unreachable`] suggests.
///
/// ```
/// assert_eq!(
///     objdl::UnreachableFix::Pic.to_string(),
///     "recompile with -fPIC, so that data outside the unit is reached through the GOT"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnreachableFix {
    /// Position-independent code, which reaches data outside the unit
    /// through the GOT.
    #[error("recompile with -fPIC, so that data outside the unit is reached through the GOT")]
    Pic,
    /// Some sites are 32-bit absolutes: position-independent code, the
    /// large code model, or a unit in the low 2 GiB.
    #[error("recompile with -fPIC (or -mcmodel=large), or load with --place low")]
    PicOrLow,
}

/// Why no base can be given to a unit ([`Error::NoPlacement`]). `unit`
/// fields name the unit's inputs as messages list them (`a.o, b.o`).
///
/// ```
/// use objdl::PlacementRefusal;
/// let why = PlacementRefusal::Misaligned { base: 0x1000_0800, align: 0x1000, unit: None };
/// assert_eq!(why.to_string(), "0x10000800 is not aligned to 0x1000");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlacementRefusal {
    /// The unit's sections, laid out, are larger than a unit may be.
    ///
    /// ```
    /// let why = objdl::PlacementRefusal::TooLarge { unit: "a.o".into(), limit: 0x1000 };
    /// assert_eq!(why.to_string(), "the unit (a.o) needs more than the 0x1000-byte limit");
    /// ```
    #[error("the unit ({unit}) needs more than the {limit:#x}-byte limit")]
    TooLarge {
        /// The unit's inputs.
        unit: String,
        /// The most bytes a unit may have.
        limit: u64,
    },
    /// The unit, with the most room its GOT and trampolines may take, is
    /// larger than its own limit ([`crate::OpenOptions::size_limit`], or
    /// the default).
    ///
    /// ```
    /// let why = objdl::PlacementRefusal::OverSizeLimit { unit: "a.o".into(), limit: 0x1000 };
    /// assert_eq!(why.to_string(), "the unit (a.o) needs more than its 0x1000-byte limit");
    /// ```
    #[error("the unit ({unit}) needs more than its {limit:#x}-byte limit")]
    OverSizeLimit {
        /// The unit's inputs.
        unit: String,
        /// The unit's limit.
        limit: u64,
    },
    /// The unit's thread-local block is larger than a unit may be.
    ///
    /// ```
    /// let why = objdl::PlacementRefusal::TlsTooLarge { unit: "a.o".into(), limit: 0x1000 };
    /// assert_eq!(
    ///     why.to_string(),
    ///     "the thread-local storage of the unit (a.o) needs more than the 0x1000-byte limit"
    /// );
    /// ```
    #[error(
        "the thread-local storage of the unit ({unit}) needs more than the {limit:#x}-byte limit"
    )]
    TlsTooLarge {
        /// The unit's inputs.
        unit: String,
        /// The most bytes a unit may have.
        limit: u64,
    },
    /// A base asked for ([`crate::Placement::At`]) that is not aligned as
    /// the unit (or the page) needs.
    ///
    /// ```
    /// let why = objdl::PlacementRefusal::Misaligned {
    ///     base: 0x1000_0000,
    ///     align: 0x4000_0000,
    ///     unit: Some("align.o".into()),
    /// };
    /// assert_eq!(
    ///     why.to_string(),
    ///     "0x10000000 is not aligned to 0x40000000, as the unit (align.o) needs"
    /// );
    /// ```
    #[error("{base:#x} is not aligned to {align:#x}{}", needed_by(.unit))]
    Misaligned {
        /// The base asked for.
        base: u64,
        /// The alignment it lacks.
        align: u64,
        /// The unit's inputs, when the unit's own alignment is the one
        /// missed (not only the page's).
        unit: Option<String>,
    },
    /// A base asked for that no unit of this size can have; the message
    /// gives the range a base of the unit must lie in.
    ///
    /// ```
    /// use objdl::{BaseProblem, PlacementRefusal};
    /// let why = PlacementRefusal::BadBase {
    ///     base: 0xffff_8000_0000_0000,
    ///     problem: BaseProblem::KernelHalf,
    ///     unit: "a.o".into(),
    ///     lowest: 0x10000,
    ///     highest: 0x7fff_ffff_e000,
    /// };
    /// assert_eq!(
    ///     why.to_string(),
    ///     "base 0xffff800000000000 lies in the kernel's half of the address space; \
    ///      a base of the unit (a.o) must lie in 0x10000..=0x7fffffffe000"
    /// );
    /// ```
    #[error("{}; a base of the unit ({unit}) must lie in {lowest:#x}..={highest:#x}", bad_base(*.base, .problem, *.lowest))]
    BadBase {
        /// The base asked for.
        base: u64,
        /// What is wrong with it.
        problem: BaseProblem,
        /// The unit's inputs.
        unit: String,
        /// The lowest base objdl maps a unit at (`vm.mmap_min_addr`, and
        /// never below 64 KiB).
        lowest: u64,
        /// The highest base at which the unit ends in user space.
        highest: u64,
    },
    /// No free range of the process's address space has room for the unit
    /// where it was sought.
    ///
    /// ```
    /// use objdl::{PlacementRefusal, PlacementSearch};
    /// let why = PlacementRefusal::NoRoom { search: PlacementSearch::Low, lo: 0x10000, hi: 0x7fff_0000 };
    /// assert_eq!(why.to_string(), "no free range in the low 2 GiB (window 0x10000..=0x7fff0000)");
    /// ```
    #[error("{search} (window {lo:#x}..={hi:#x})")]
    NoRoom {
        /// Where room was sought.
        search: PlacementSearch,
        /// The placement window's lowest base (0 if the window lies below 0).
        lo: u128,
        /// The placement window's highest base (0 if it lies below 0).
        hi: u128,
    },
}

/// What is wrong with a base that no unit of its size can have
/// ([`PlacementRefusal::BadBase`], which renders it with the base).
///
/// ```
/// use objdl::{BaseProblem, PlacementRefusal};
/// let why = PlacementRefusal::BadBase {
///     base: 1 << 47,
///     problem: BaseProblem::NotCanonical { arch: "x86-64" },
///     unit: "a.o".into(),
///     lowest: 0x10000,
///     highest: 0x7fff_ffff_e000,
/// };
/// assert!(why.to_string().starts_with("base 0x800000000000 is not a canonical x86-64 address;"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BaseProblem {
    /// Below the lowest address objdl maps ([`PlacementRefusal::BadBase`]'s `lowest`).
    BelowLowest,
    /// In the kernel's half of the address space.
    KernelHalf,
    /// Between user space and the kernel's half: not a canonical address.
    NotCanonical {
        /// The architecture's name, e.g. `x86-64`.
        arch: &'static str,
    },
    /// A unit there would end above the top of user space.
    AboveTop {
        /// Where the unit would end.
        end: u128,
        /// The top of user space.
        top: u64,
    },
}

/// The first part of [`PlacementRefusal::BadBase`]'s message: what is
/// wrong with `base`.
fn bad_base(base: u64, problem: &BaseProblem, lowest: u64) -> String {
    match problem {
        BaseProblem::BelowLowest => format!(
            "base {base:#x} is below {lowest:#x}, the lowest address objdl maps (vm.mmap_min_addr, and never below 64 KiB)"
        ),
        BaseProblem::KernelHalf => {
            format!("base {base:#x} lies in the kernel's half of the address space")
        }
        BaseProblem::NotCanonical { arch } => {
            format!("base {base:#x} is not a canonical {arch} address")
        }
        BaseProblem::AboveTop { end, top } => format!(
            "a unit at base {base:#x} would end at {end:#x}, above the top of user space ({top:#x})"
        ),
    }
}

/// `, as the unit (NAMES) needs` for [`PlacementRefusal::Misaligned`], if
/// the unit is named.
fn needed_by(unit: &Option<String>) -> String {
    unit.as_ref()
        .map_or_else(String::new, |u| format!(", as the unit ({u}) needs"))
}

/// Where room for a unit was sought ([`PlacementRefusal::NoRoom`]).
///
/// ```
/// assert_eq!(
///     objdl::PlacementSearch::Far.to_string(),
///     "no free range lies 4 GiB away from every mapping"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlacementSearch {
    /// In the placement window ([`crate::Placement::Auto`]).
    #[error("no free range of that size lies inside the placement window")]
    Window,
    /// 4 GiB away from every mapping ([`crate::Placement::Far`]).
    #[error("no free range lies 4 GiB away from every mapping")]
    Far,
    /// In the low 2 GiB ([`crate::Placement::Low`]).
    #[error("no free range in the low 2 GiB")]
    Low,
}

/// Why a shared library ([`crate::Linker::load_library`], `-l`) could not
/// be found or loaded ([`Error::Library`]).
///
/// ```
/// use objdl::LibraryRefusal;
/// let why = LibraryRefusal::StaticArchive { path: "/usr/lib/libz.a".into() };
/// assert_eq!(why.to_string(), "/usr/lib/libz.a is a static archive: open it as an input of the unit");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LibraryRefusal {
    /// `-lNAME` found only `libNAME.a`, which is linked into the unit, not
    /// loaded into the process.
    #[error("{} is a static archive: open it as an input of the unit", .path.display())]
    StaticArchive {
        /// The archive.
        path: PathBuf,
    },
    /// Neither `libNAME.so` nor `libNAME.a` in any directory searched.
    ///
    /// ```
    /// let why = objdl::LibraryRefusal::NotFound {
    ///     name: "nope".into(),
    ///     searched: vec!["/opt/lib".into(), "/usr/lib".into()],
    /// };
    /// assert_eq!(why.to_string(), "neither libnope.so nor libnope.a found in /opt/lib, /usr/lib");
    /// ```
    #[error("neither lib{name}.so nor lib{name}.a found in {}", list_paths(.searched))]
    NotFound {
        /// The `NAME` of `-lNAME`.
        name: String,
        /// The directories searched, in order.
        searched: Vec<PathBuf>,
    },
    /// A `libNAME.so` that is not ELF, and too large to be a linker script.
    ///
    /// ```
    /// let why = objdl::LibraryRefusal::NotSharedObject { path: "/l/libx.so".into(), len: 0x20000 };
    /// assert_eq!(
    ///     why.to_string(),
    ///     "/l/libx.so is neither a shared object nor a linker script (0x20000 bytes)"
    /// );
    /// ```
    #[error("{} is neither a shared object nor a linker script ({len:#x} bytes)", .path.display())]
    NotSharedObject {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
    },
    /// A `libNAME.so` that is not ELF, read as a linker script, names no
    /// shared object.
    #[error("{} is neither a shared object nor a linker script naming shared objects", .path.display())]
    ScriptWithoutObjects {
        /// The file.
        path: PathBuf,
    },
    /// The library's path holds a NUL byte, which `dlopen` cannot take.
    #[error("path contains a NUL byte")]
    NulInPath,
    /// `dlopen` failed.
    ///
    /// ```
    /// let why = objdl::LibraryRefusal::Dlopen { dlerror: "libx.so: cannot open".into() };
    /// assert_eq!(why.to_string(), "libx.so: cannot open");
    /// ```
    #[error("{dlerror}")]
    Dlopen {
        /// `dlerror()`'s text, or `dlopen failed` when it had none.
        dlerror: String,
    },
}

/// `paths` as messages list them: displayed, joined with `, `.
fn list_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(", ")
}

/// Why a directory cannot hold a cache ([`Error::Cache`]). A cache is
/// code, so only a directory of this user's that no one else may write to
/// is used.
///
/// ```
/// let why = objdl::CacheRefusal::WritableByOthers { mode: 0o777 };
/// assert_eq!(why.to_string(), "writable by others (mode 777): a cache is code");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheRefusal {
    /// It was missing and could not be made.
    #[error("cannot create it: {error}")]
    CannotCreate {
        /// The operating system's error.
        error: std::io::Error,
    },
    /// Its metadata could not be read.
    #[error("{error}")]
    Unreadable {
        /// The operating system's error.
        error: std::io::Error,
    },
    /// It is not a directory (or it is a symbolic link).
    #[error("not a directory")]
    NotADirectory,
    /// It belongs to another user.
    ///
    /// ```
    /// let why = objdl::CacheRefusal::OtherOwner { owner: 0, me: 1000 };
    /// assert_eq!(why.to_string(), "owned by user 0, not by this user (1000): a cache is code");
    /// ```
    #[error("owned by user {owner}, not by this user ({me}): a cache is code")]
    OtherOwner {
        /// Its owner's user id.
        owner: u32,
        /// This process's effective user id.
        me: u32,
    },
    /// Others may write to it.
    #[error("writable by others (mode {mode:o}): a cache is code")]
    WritableByOthers {
        /// Its permission bits (`mode & 0o777`).
        mode: u32,
    },
}

/// Why an ELF file of type `e_type` is not an input, and what to give
/// objdl instead. A position-independent executable is `ET_DYN` like a
/// shared library; its `PT_INTERP` (`interp`) tells them apart.
fn not_relocatable(e_type: u16, interp: bool) -> String {
    use object::elf::{FileType, ET_CORE, ET_DYN, ET_EXEC};
    let t = FileType(e_type);
    let what = match t {
        ET_EXEC => "an executable (ET_EXEC)",
        ET_DYN if interp => "a position-independent executable (ET_DYN with PT_INTERP)",
        ET_DYN => "a shared object (ET_DYN)",
        ET_CORE => "a core dump (ET_CORE)",
        _ => "of an unknown ELF type",
    };
    let fix = match t {
        ET_EXEC | ET_CORE => "give objdl the objects it is linked from (gcc -c)",
        ET_DYN if interp => "give objdl the objects it is linked from (gcc -c), or run it as it is",
        ET_DYN => "load shared libraries into the process with -l",
        _ => "give objdl a relocatable object (gcc -c)",
    };
    format!("{what}, type {e_type}: objdl loads relocatable objects (ET_REL, .o files); {fix}")
}

/// ` at SITE` for [`Error::Internal`], if there is a site.
fn at_site(at: &Option<Box<Site>>) -> String {
    at.as_ref().map_or_else(String::new, |s| format!(" at {s}"))
}

/// Everything that can go wrong while opening, linking or using a unit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// An input is not a well-formed ELF file: a size, offset, count or index
    /// points outside the file or is otherwise inconsistent.
    ///
    /// ```
    /// let input = objdl::Input::bytes("x.o", b"hello, world!!!!");
    /// let err = objdl::Linker::new()
    ///     .check([input], &objdl::OpenOptions::new())
    ///     .unwrap_err();
    /// assert!(matches!(
    ///     err,
    ///     objdl::Error::Malformed { what: objdl::Malformed::NotElf, .. }
    /// ));
    /// assert_eq!(err.to_string(), "x.o: malformed: not an ELF file (bad magic)");
    /// ```
    #[error("{file}: malformed: {what}")]
    Malformed {
        /// The input's name.
        file: String,
        /// What is wrong, and where (section, offset).
        what: Malformed,
    },

    /// An input is well formed but uses something objdl does not support:
    /// another class, byte order, machine or file type, a TLS section, SHT_REL.
    #[error("{file}: unsupported: {what}")]
    Unsupported {
        /// The input's name.
        file: String,
        /// What is not supported, and where.
        what: Unsupported,
    },

    /// objdl broke one of its own invariants: a bug in objdl, not a
    /// defect of the input. Please report it, with the input.
    #[error("{file}: internal error: {what}{}; this is a bug in objdl, please report it (with the input)", at_site(.at))]
    Internal {
        /// The input being processed.
        file: String,
        /// Which invariant failed.
        what: &'static str,
        /// Where in the input, if known.
        at: Option<Box<Site>>,
    },

    /// A relocation type objdl does not implement (yet), e.g. the TLS ones.
    #[error("{site}: unsupported relocation {r_type} against `{symbol}`")]
    UnsupportedRelocation {
        /// Where the relocation applies.
        site: Box<Site>,
        /// The type's name, or its number.
        r_type: String,
        /// The symbol it refers to.
        symbol: String,
    },

    /// A thread-local variable of another module, reached with the
    /// initial-exec model, that cannot be given a fixed offset from the
    /// thread pointer: its module's block is not (and can no longer be
    /// made) part of static TLS, or it is not thread-local.
    #[error("{site}: {r_type} against `{symbol}` (initial-exec TLS): {why}; recompile with -fPIC, which reaches other modules' thread-locals with the general-dynamic model")]
    StaticTls {
        /// Where the relocation applies.
        site: Box<Site>,
        /// The type's name.
        r_type: String,
        /// The thread-local symbol.
        symbol: String,
        /// Why it cannot be served.
        why: StaticTlsRefusal,
    },

    /// The unit's thread-local storage, reached with the initial-exec or
    /// local-exec model, needs room in glibc's static TLS area, and the
    /// surplus glibc reserves at start-up for modules loaded later has none
    /// left. Starting the process with a larger surplus (the tunable
    /// `glibc.rtld.optional_static_tls`) makes room; `objdl run` restarts
    /// itself so.
    #[error("{file}: its initial-exec thread-local storage ({bytes} bytes, aligned to {align}) does not fit in glibc's static TLS surplus ({why}); start the process with GLIBC_TUNABLES=glibc.rtld.optional_static_tls={suggested} (objdl run restarts itself so), or recompile with -fPIC")]
    StaticTlsFull {
        /// The unit's inputs.
        file: String,
        /// The bytes the unit's block needs.
        bytes: u64,
        /// Its alignment.
        align: u64,
        /// A value of `glibc.rtld.optional_static_tls` that leaves room for it.
        suggested: u64,
        /// What glibc said.
        why: String,
    },

    /// An input holds no machine code, only a compiler's intermediate
    /// representation for link-time optimisation: a slim GCC LTO object or
    /// LLVM bitcode. Compiling it to an object first makes it loadable
    /// (`objdl run` does); see [`crate::lto_object`].
    #[error("{file}: unsupported: {}", lto_message(*.kind))]
    LtoInput {
        /// The input.
        file: String,
        /// Which kind of LTO input.
        kind: crate::LtoObject,
    },

    /// An input needs an executable stack, which objdl gives only when
    /// asked ([`crate::OpenOptions::exec_stack`]): it breaks W^X for every
    /// thread of the process.
    #[error("{file}: needs an executable stack ({why}); objdl refuses it by default, as it makes every thread's stack writable and executable: {fix}, or allow it with --exec-stack (OpenOptions::exec_stack)")]
    ExecutableStack {
        /// The input.
        file: String,
        /// Why it needs one.
        why: &'static str,
        /// How to do without.
        fix: &'static str,
    },

    /// Symbols that nothing defines. Every one of them is listed; the
    /// message names the first ten, then says how many more there are.
    #[error("unresolved symbols: {}{}", list_unresolved(.0), unresolved_hint(.0))]
    Unresolved(Vec<Unresolved>),

    /// Two strong definitions of one symbol in one unit.
    #[error("duplicate definition of `{symbol}`: first in {first}, again in {second}")]
    DuplicateSymbol {
        /// The symbol's name.
        symbol: String,
        /// The first definition's file.
        first: String,
        /// The second definition's file.
        second: String,
    },

    /// A relocated value does not fit its field. Nothing was written.
    #[error("{site}: {r_type} against `{symbol}`: value {value:#x} does not fit {detail}")]
    Overflow {
        /// Where the field is.
        site: Box<Site>,
        /// The relocation type's name.
        r_type: String,
        /// The symbol it refers to.
        symbol: String,
        /// The value that was computed (as a two's-complement 64-bit number).
        value: i64,
        /// The field's range, e.g. "a signed 32-bit field".
        detail: &'static str,
    },

    /// References that no placement can serve. Every such site is listed,
    /// with the fix.
    #[error("{}; {fix}", summarize_sites(.sites))]
    Unreachable {
        /// Every site that cannot be served.
        sites: Vec<UnreachableSite>,
        /// How to fix it, e.g. "recompile with -fPIC".
        fix: UnreachableFix,
    },

    /// The cache directory ([`crate::OpenOptions::cache`]) cannot be used.
    #[error("{}: refused as a cache directory: {why}", dir.display())]
    Cache {
        /// The directory.
        dir: PathBuf,
        /// Why.
        why: CacheRefusal,
    },

    /// A reload ([`crate::Unit::reload`]) was refused; the unit is unchanged.
    #[error("{}: cannot reload: {why}", path.display())]
    Reload {
        /// The input asked for.
        path: PathBuf,
        /// Why.
        why: ReloadRefusal,
    },

    /// No free address range satisfies the unit's placement constraints.
    ///
    /// ```
    /// use objdl::{Error, PlacementRefusal, PlacementSearch};
    /// let err = Error::NoPlacement {
    ///     size: 0x3000,
    ///     why: PlacementRefusal::NoRoom { search: PlacementSearch::Far, lo: 0x10000, hi: 0x7fff_ffff_d000 },
    /// };
    /// assert_eq!(
    ///     err.to_string(),
    ///     "no place for the unit (0x3000 bytes): no free range lies 4 GiB away from every mapping (window 0x10000..=0x7fffffffd000)"
    /// );
    /// ```
    #[error("no place for the unit ({size:#x} bytes): {why}")]
    NoPlacement {
        /// The unit's size.
        size: u64,
        /// Why not, with the numbers that show it.
        why: PlacementRefusal,
    },

    /// The operating system refused a memory operation.
    #[error("{op} failed at {addr:#x} ({len:#x} bytes): {source}")]
    Memory {
        /// `mmap`, `mprotect`...
        op: &'static str,
        /// The address asked for.
        addr: u64,
        /// The length asked for.
        len: u64,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// A unit does not define (or does not export) this symbol.
    #[error("symbol `{0}` not found in the unit")]
    SymbolNotFound(String),

    /// A shared library given with `-l` or [`crate::Linker::load_library`]
    /// could not be found or loaded.
    #[error("library {name}: {why}")]
    Library {
        /// The name as given.
        name: String,
        /// What went wrong (dlerror's text, or the paths searched).
        why: LibraryRefusal,
    },

    /// A symbol name or other string contained a NUL byte or was not valid.
    #[error("invalid name `{0}`")]
    InvalidName(String),
}

fn lto_message(kind: crate::LtoObject) -> &'static str {
    match kind {
        crate::LtoObject::GccSlim => "a GCC LTO object (-flto) without machine code (slim): `objdl run` compiles such an input first (gcc -r -flinker-output=nolto-rel); otherwise rebuild it with -ffat-lto-objects or without -flto",
        crate::LtoObject::LlvmBitcode => "LLVM bitcode (clang -flto), not machine code: `objdl run` compiles such an input first (clang -c); otherwise rebuild it without -flto",
    }
}

/// A sanitizer whose instrumented code calls into its runtime library,
/// which must be the first library of the process.
///
/// ```
/// let asan = objdl::SANITIZERS.iter().find(|s| "__asan_init".starts_with(s.prefix)).unwrap();
/// assert_eq!((asan.flag, asan.runtime), ("address", "libasan.so"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sanitizer {
    /// The prefix of its runtime's functions, e.g. `__asan_`.
    pub prefix: &'static str,
    /// Its name, e.g. `AddressSanitizer`.
    pub name: &'static str,
    /// Its `-fsanitize=` value, e.g. `address`.
    pub flag: &'static str,
    /// Its runtime library, as `gcc -print-file-name` finds it.
    pub runtime: &'static str,
    /// A function its runtime defines: the process has the runtime if
    /// `dlsym` finds it.
    pub probe: &'static str,
}

/// The sanitizers gcc instruments code for.
pub const SANITIZERS: &[Sanitizer] = &[
    Sanitizer {
        prefix: "__asan_",
        name: "AddressSanitizer",
        flag: "address",
        runtime: "libasan.so",
        probe: "__asan_init",
    },
    Sanitizer {
        prefix: "__tsan_",
        name: "ThreadSanitizer",
        flag: "thread",
        runtime: "libtsan.so",
        probe: "__tsan_init",
    },
    Sanitizer {
        prefix: "__ubsan_",
        name: "UndefinedBehaviorSanitizer",
        flag: "undefined",
        runtime: "libubsan.so",
        probe: "__ubsan_handle_add_overflow",
    },
    Sanitizer {
        prefix: "__lsan_",
        name: "LeakSanitizer",
        flag: "leak",
        runtime: "liblsan.so",
        probe: "__lsan_do_leak_check",
    },
];

/// What to do about unresolved names that the loader can explain: a
/// sanitizer's runtime missing from the process.
fn unresolved_hint(list: &[Unresolved]) -> String {
    for s in SANITIZERS {
        if list.iter().any(|u| u.symbol.starts_with(s.prefix)) {
            return format!(
                "; these are {}'s (-fsanitize={}), whose runtime must be the first library of the process: link the host with -fsanitize={}, or start it with LD_PRELOAD=$(gcc -print-file-name={}) (objdl run does this itself)",
                s.name, s.flag, s.flag, s.runtime
            );
        }
    }
    String::new()
}

/// How many unresolved names the message of [`Error::Unresolved`] shows.
const SHOWN_UNRESOLVED: usize = 10;

fn list_unresolved(list: &[Unresolved]) -> String {
    let items: Vec<String> = list
        .iter()
        .take(SHOWN_UNRESOLVED)
        .map(|u| u.to_string())
        .collect();
    let more = list.len().saturating_sub(SHOWN_UNRESOLVED);
    if more > 0 {
        format!("{}, and {more} more", items.join(", "))
    } else {
        items.join(", ")
    }
}

/// How many sites the message shows in full; all are in [`Error::Unreachable::sites`].
const SHOWN_SITES: usize = 4;

/// How many symbols the message of [`Error::Unreachable`] names.
const SHOWN_SYMBOLS: usize = 10;

fn summarize_sites(sites: &[UnreachableSite]) -> String {
    // Per symbol, how many sites, in order of first appearance.
    let mut index: crate::hash::KeyedMap<&str, usize> = Default::default();
    let mut per_symbol: Vec<(&str, usize)> = Vec::new();
    for s in sites {
        let i = *index.entry(&s.symbol).or_insert_with(|| {
            per_symbol.push((&s.symbol, 0));
            per_symbol.len() - 1
        });
        per_symbol[i].1 += 1;
    }
    let mut symbols: Vec<String> = per_symbol
        .iter()
        .take(SHOWN_SYMBOLS)
        .map(|(n, c)| format!("`{n}` ({c})"))
        .collect();
    let more_symbols = per_symbol.len().saturating_sub(SHOWN_SYMBOLS);
    if more_symbols > 0 {
        symbols.push(format!("and {more_symbols} more symbols"));
    }
    let shown: Vec<String> = sites
        .iter()
        .take(SHOWN_SITES)
        .map(|s| s.to_string())
        .collect();
    let more = sites.len().saturating_sub(SHOWN_SITES);
    format!(
        "{} reference(s) to {} cannot reach their targets from this placement: {}{}",
        sites.len(),
        symbols.join(", "),
        shown.join("; "),
        if more > 0 {
            format!("; and {more} more")
        } else {
            String::new()
        }
    )
}

/// `Result` with objdl's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

//! The object file as every stage reads it, whatever its format: flat
//! arrays of sections, symbols and COMDAT groups, each section's
//! relocations in the format's own record (read through [`RelocFields`]),
//! and objdl's own words for what a symbol is ([`Binding`],
//! [`SymbolKind`], [`Visibility`]). A format's reader (the `Format` trait,
//! `input/format.rs`) fills it and validates everything in it, once:
//! section bounds, symbol and section indices, names; relocation entries
//! are checked by [`ObjectFile::check_relocations`] or the pass that uses
//! them. Later stages index these arrays without further checks.

use std::borrow::Cow;

use object::elf::RelocationType;

use crate::arch;
use crate::error::{Error, Malformed, Part, Result, Unsupported};
use crate::input::names::{lossy_name, name_at};

/// What a section becomes in the loaded unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SectionKind {
    /// Not loaded: not allocated (ELF: not `SHF_ALLOC`), or a note,
    /// group, symbol table...
    Skip,
    /// Executable code.
    Text,
    /// Read-only data.
    ReadOnly,
    /// Writable data.
    Data,
    /// Writable, zero-initialised data, without contents in the file (ELF
    /// `SHT_NOBITS`).
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
pub(crate) struct Section<'d, R: RelocFields> {
    pub name: &'d str,
    pub kind: SectionKind,
    pub size: u64,
    pub align: u64,
    /// The file contents; empty for a section without any (`Bss`, `Tls {
    /// zero: true }`, `Skip`).
    pub data: &'d [u8],
    /// This section's relocations, in the format's own record: read in
    /// place from the input (ELF `SHT_RELA`), or decoded when the format
    /// compresses them (ELF `SHT_CREL`).
    pub relocs: Cow<'d, [R]>,
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
    /// An absolute value (ELF `SHN_ABS`).
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
    /// How far it is seen, and how it meets another definition.
    pub bind: Binding,
    /// What it names.
    pub kind: SymbolKind,
    /// Whether its definition is exported from the unit.
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

/// What a symbol names. (The order of the variants follows ELF's
/// numbering, up to `ThreadLocal`, so that the ELF reader's mapping of the
/// common types is free; nothing else depends on it.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
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
/// (The order of the variants follows ELF's numbering, so that the ELF
/// reader's mapping is free; nothing else depends on it.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Visibility {
    /// As its binding says: a global symbol is exported (ELF `STV_DEFAULT`).
    Default,
    /// Hidden, and never called from outside its unit (ELF `STV_INTERNAL`).
    Internal,
    /// Not exported from its unit (ELF `STV_HIDDEN`).
    Hidden,
    /// Exported, but always bound within its unit (ELF `STV_PROTECTED`).
    Protected,
}

/// The fields of one relocation record, in the format's own layout. Every
/// stage reads relocations through these, in place: no copy, no per-entry
/// conversion (each accessor is a load or two, inlined).
pub(crate) trait RelocFields: Clone + std::fmt::Debug {
    /// Where the field is, in its section.
    fn offset(&self) -> u64;
    /// The relocation type: one of the architecture's kinds (see `arch`).
    fn kind(&self) -> RelocationType;
    /// The index of the symbol it refers to, in [`ObjectFile::symbols`].
    fn sym(&self) -> u32;
    /// The addend. `section` is the contents of the section the
    /// relocation applies to, as the input holds them ([`Section::data`],
    /// never the relocated copy): a format with implicit addends (ELF
    /// `REL`, COFF) reads the addend from the field there; one that keeps
    /// it in the record (ELF `RELA`) ignores `section`, at no cost.
    fn addend(&self, section: &[u8]) -> i64;
    /// Makes the record refer to symbol `sym` with `addend` instead: a
    /// reloadable unit names a function's start by the function, not by
    /// its section's symbol (`link::entries`). A format with implicit
    /// addends keeps relocations it may retarget in a record with room for
    /// one.
    fn retarget(&mut self, sym: u32, addend: i64);
}

/// A parsed relocatable object, in any format; `R` is the format's
/// relocation record. It borrows the file's bytes.
#[derive(Debug)]
pub(crate) struct ObjectFile<'d, R: RelocFields> {
    pub name: String,
    /// The whole file, for the debugger's copy.
    pub data: &'d [u8],
    pub sections: Vec<Section<'d, R>>,
    pub symbols: Vec<ObjectSymbol<'d>>,
    /// The symbols' string table: each name NUL-terminated, at its
    /// symbol's `name_offset`.
    pub strtab: &'d [u8],
    /// The indices of the global and IFUNC symbols, in order: the only ones
    /// resolution gives an entry of their own (see `resolution::Targets`).
    pub special: Vec<u32>,

    /// COMDAT groups: (signature, member section indices).
    pub groups: Vec<(&'d str, Vec<u32>)>,
    /// Where `data` lies in a mapped input file, when it does: large
    /// sections are then mapped from the file instead of copied.
    pub backing: Option<Backing>,
    /// What the object says of the stack it needs.
    pub stack: StackNote,
}

/// What an object says of the stack it needs (ELF: its `.note.GNU-stack`
/// section).
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

impl<R: RelocFields> ObjectFile<'_, R> {
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
    pub fn check_relocation(&self, sec: &Section<'_, R>, r: &R) -> Result<()> {
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
pub(crate) const MAX_ALIGN: u64 = 1 << 30;

/// The errors about one input, which they name.
pub(crate) struct Blame<'a>(pub(crate) &'a str);

impl Blame<'_> {
    /// The input is not well formed.
    #[cold]
    pub(crate) fn malformed(&self, what: Malformed) -> Error {
        Error::Malformed {
            file: self.0.to_string(),
            what,
        }
    }

    /// A part of the input could not be read: the `object` crate says why.
    #[cold]
    pub(crate) fn read(&self, part: Part, reason: impl std::fmt::Display) -> Error {
        self.malformed(Malformed::Read {
            part,
            reason: reason.to_string(),
        })
    }

    /// The input is well formed, but asks for what objdl does not do.
    #[cold]
    pub(crate) fn unsupported(&self, what: Unsupported) -> Error {
        Error::Unsupported {
            file: self.0.to_string(),
            what,
        }
    }
}

/// Checks every relocation of a section at once: whether any refers to a
/// symbol index at or above `nsyms` or has a field outside the section's
/// `size` bytes, and which kinds occur: bit `i % 64` for the kind of dense
/// index `i` ([`arch::count_index`]; a filter: an unknown type, or an
/// architecture with more than 64 kinds, may set a bit another kind has).
/// No branch per entry beyond the loop's own.
fn scan_relocs<R: RelocFields>(rela: &[R], nsyms: u64, size: u64) -> (bool, u64) {
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

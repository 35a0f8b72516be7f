//! Builds ELF64 x86-64 relocatable objects (and `ar` archives of them) in
//! memory, with `object::write`, for the stage tests: sections of each kind,
//! local, global, weak, undefined and COMMON symbols, relocations of chosen
//! types and addends, COMDAT groups, `.tdata`/`.tbss` and `.note.GNU-stack`.

use object::elf;
use object::write::{
    self, Comdat, Relocation, SectionId, StandardSegment, SymbolId, SymbolSection,
};
use object::{
    Architecture, BinaryFormat, ComdatKind, Endianness, RelocationFlags, SectionFlags, SectionKind,
    SymbolFlags, SymbolKind, SymbolScope,
};

/// An object under construction. [`Obj::new`] gives it a non-executable
/// `.note.GNU-stack`, as gcc does; [`Obj::bare`] none.
pub(crate) struct Obj {
    obj: write::Object<'static>,
    /// The `.note.GNU-stack` to add last (executable when `true`), so that
    /// the sections a test adds have the indices 1, 2...
    note: Option<bool>,
}

impl Obj {
    /// An empty object with a non-executable `.note.GNU-stack`.
    pub fn new() -> Obj {
        Obj {
            note: Some(false),
            ..Obj::bare()
        }
    }

    /// An empty object without `.note.GNU-stack` (an executable stack, to the toolchain).
    pub fn bare() -> Obj {
        Obj {
            obj: write::Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little),
            note: None,
        }
    }

    /// Adds `.note.GNU-stack`, executable (`SHF_EXECINSTR`) when `exec`.
    pub fn stack_note(&mut self, exec: bool) -> SectionId {
        let id = self
            .obj
            .add_section(Vec::new(), b".note.GNU-stack".to_vec(), SectionKind::Other);
        self.obj.section_mut(id).flags = SectionFlags::Elf {
            sh_type: elf::SHT_PROGBITS,
            sh_flags: if exec {
                elf::SHF_EXECINSTR
            } else {
                elf::SectionFlags(0)
            },
        };
        id
    }

    /// Adds a section `name` of `kind` holding `data` (for a NOBITS kind,
    /// `data.len()` zero bytes), aligned to `align`.
    pub fn section(&mut self, name: &str, kind: SectionKind, data: &[u8], align: u64) -> SectionId {
        let segment = self.obj.segment_name(StandardSegment::Data).to_vec();
        let id = self
            .obj
            .add_section(segment, name.as_bytes().to_vec(), kind);
        match kind {
            SectionKind::UninitializedData | SectionKind::UninitializedTls => {
                self.obj.append_section_bss(id, data.len() as u64, align);
            }
            _ => {
                self.obj.append_section_data(id, data, align);
            }
        }
        id
    }

    /// `.text` (RX) with `code`, 16-byte aligned.
    pub fn text(&mut self, code: &[u8]) -> SectionId {
        self.section(".text", SectionKind::Text, code, 16)
    }

    /// `.data` (RW) with `bytes`, 8-byte aligned.
    pub fn data(&mut self, bytes: &[u8]) -> SectionId {
        self.section(".data", SectionKind::Data, bytes, 8)
    }

    /// `.rodata` (R) with `bytes`, 8-byte aligned.
    pub fn rodata(&mut self, bytes: &[u8]) -> SectionId {
        self.section(".rodata", SectionKind::ReadOnlyData, bytes, 8)
    }

    /// `.bss` of `size` bytes aligned to `align`.
    pub fn bss(&mut self, size: usize, align: u64) -> SectionId {
        self.section(
            ".bss",
            SectionKind::UninitializedData,
            &vec![0; size],
            align,
        )
    }

    /// `.tdata` with `bytes`, 8-byte aligned.
    pub fn tdata(&mut self, bytes: &[u8]) -> SectionId {
        self.section(".tdata", SectionKind::Tls, bytes, 8)
    }

    /// `.tbss` of `size` bytes, 8-byte aligned.
    pub fn tbss(&mut self, size: usize) -> SectionId {
        self.section(".tbss", SectionKind::UninitializedTls, &vec![0; size], 8)
    }

    /// Adds `sym`, a [`symbol`] with the fields a caller changed.
    fn add(&mut self, sym: write::Symbol) -> SymbolId {
        self.obj.add_symbol(sym)
    }

    /// A global function `name` at `value` in `sec`.
    pub fn func(&mut self, name: &str, sec: SectionId, value: u64, size: u64) -> SymbolId {
        self.add(write::Symbol {
            value,
            size,
            ..symbol(name, SymbolSection::Section(sec), SymbolKind::Text)
        })
    }

    /// A global data object `name` at `value` in `sec`.
    pub fn global(&mut self, name: &str, sec: SectionId, value: u64, size: u64) -> SymbolId {
        self.add(write::Symbol {
            value,
            size,
            ..symbol(name, SymbolSection::Section(sec), SymbolKind::Data)
        })
    }

    /// A weak data object `name` at `value` in `sec`.
    pub fn weak(&mut self, name: &str, sec: SectionId, value: u64, size: u64) -> SymbolId {
        self.add(write::Symbol {
            value,
            size,
            weak: true,
            ..symbol(name, SymbolSection::Section(sec), SymbolKind::Data)
        })
    }

    /// A local data object `name` at `value` in `sec`.
    pub fn local(&mut self, name: &str, sec: SectionId, value: u64) -> SymbolId {
        self.add(write::Symbol {
            value,
            scope: SymbolScope::Compilation,
            ..symbol(name, SymbolSection::Section(sec), SymbolKind::Data)
        })
    }

    /// A thread-local variable `name` at `value` in `.tdata`/`.tbss` `sec`.
    pub fn tls(&mut self, name: &str, sec: SectionId, value: u64, size: u64) -> SymbolId {
        self.add(write::Symbol {
            value,
            size,
            ..symbol(name, SymbolSection::Section(sec), SymbolKind::Tls)
        })
    }

    /// A symbol `name` at `value` in `sec` with the ELF `st_info` and
    /// `st_other` given, whatever binding, type and visibility they say
    /// (local when the binding is `STB_LOCAL`).
    pub fn elf_symbol(
        &mut self,
        name: &str,
        sec: SectionId,
        value: u64,
        info: (u8, u8),
    ) -> SymbolId {
        let (st_info, st_other) = info;
        let local = st_info >> 4 == elf::STB_LOCAL.0;
        self.add(write::Symbol {
            value,
            scope: if local {
                SymbolScope::Compilation
            } else {
                SymbolScope::Dynamic
            },
            flags: SymbolFlags::Elf {
                st_info: elf::SymbolInfo(st_info),
                st_other: elf::SymbolOther(st_other),
            },
            ..symbol(name, SymbolSection::Section(sec), SymbolKind::Unknown)
        })
    }

    /// An undefined (strong) reference to `name`.
    pub fn undefined(&mut self, name: &str) -> SymbolId {
        self.add(symbol(name, SymbolSection::Undefined, SymbolKind::Unknown))
    }

    /// An undefined weak reference to `name`.
    pub fn weak_undefined(&mut self, name: &str) -> SymbolId {
        self.add(write::Symbol {
            weak: true,
            ..symbol(name, SymbolSection::Undefined, SymbolKind::Unknown)
        })
    }

    /// A COMMON symbol `name` of `size` bytes aligned to `align`.
    pub fn common(&mut self, name: &str, size: u64, align: u64) -> SymbolId {
        let sym = symbol(name, SymbolSection::Undefined, SymbolKind::Data);
        self.obj.add_common_symbol(sym, size, align)
    }

    /// An absolute symbol `name` = `value` (`SHN_ABS`).
    pub fn absolute(&mut self, name: &str, value: u64) -> SymbolId {
        self.add(write::Symbol {
            value,
            ..symbol(name, SymbolSection::Absolute, SymbolKind::Data)
        })
    }

    /// The section symbol of `sec`.
    pub fn section_symbol(&mut self, sec: SectionId) -> SymbolId {
        self.obj.section_symbol(sec)
    }

    /// A relocation of type `r_type` at `offset` in `sec` against `sym`, + `addend`.
    pub fn reloc(
        &mut self,
        sec: SectionId,
        offset: u64,
        sym: SymbolId,
        r_type: elf::RelocationType,
        addend: i64,
    ) {
        self.obj
            .add_relocation(
                sec,
                Relocation {
                    offset,
                    symbol: sym,
                    addend,
                    flags: RelocationFlags::Elf { r_type },
                },
            )
            .expect("add relocation");
    }

    /// A COMDAT group (`SHT_GROUP`, `GRP_COMDAT`) of `sections`, its
    /// signature the symbol `signature`.
    pub fn comdat(&mut self, signature: SymbolId, sections: &[SectionId]) {
        self.obj.add_comdat(Comdat {
            kind: ComdatKind::Any,
            symbol: signature,
            sections: sections.to_vec(),
        });
    }

    /// The object file's bytes.
    pub fn bytes(&mut self) -> Vec<u8> {
        if let Some(exec) = self.note.take() {
            self.stack_note(exec);
        }
        self.obj.write().expect("write object")
    }
}

/// A global (default visibility), non-weak symbol `name` of `kind` in
/// `section`, with value and size 0.
fn symbol(name: &str, section: SymbolSection, kind: SymbolKind) -> write::Symbol {
    write::Symbol {
        name: name.as_bytes().to_vec(),
        value: 0,
        size: 0,
        kind,
        scope: SymbolScope::Dynamic,
        weak: false,
        section,
        flags: SymbolFlags::None,
    }
}

/// An `ar` archive of `members` (name, bytes) without a symbol index; with
/// `index`, a GNU `/` index listing each member's defined globals (read from
/// the member with `object`).
pub(crate) fn archive(members: &[(&str, &[u8])], index: bool) -> Vec<u8> {
    fn header(out: &mut Vec<u8>, name: &str, size: usize) {
        let h = format!("{name:<16}{:<12}{:<6}{:<6}{:<8}{size:<10}`\n", 0, 0, 0, 644);
        assert_eq!(h.len(), 60);
        out.extend_from_slice(h.as_bytes());
    }
    fn globals(bytes: &[u8]) -> Vec<String> {
        use object::{Object as _, ObjectSymbol as _};
        let file = object::File::parse(bytes).expect("member parses");
        file.symbols()
            .filter(|s| s.is_global() && !s.is_undefined())
            .map(|s| s.name().expect("name").to_string())
            .collect()
    }
    let mut names: Vec<(usize, String)> = Vec::new();
    for (i, (_, bytes)) in members.iter().enumerate() {
        names.extend(globals(bytes).into_iter().map(|n| (i, n)));
    }
    let index_size = 4 + 4 * names.len() + names.iter().map(|(_, n)| n.len() + 1).sum::<usize>();
    let index_total = if index {
        60 + index_size + index_size % 2
    } else {
        0
    };
    // Member header offsets.
    let mut offsets = Vec::new();
    let mut at = 8 + index_total;
    for (_, bytes) in members {
        offsets.push(at);
        at += 60 + bytes.len() + bytes.len() % 2;
    }
    let mut out = b"!<arch>\n".to_vec();
    if index {
        header(&mut out, "/", index_size);
        out.extend_from_slice(&(names.len() as u32).to_be_bytes());
        for (i, _) in &names {
            out.extend_from_slice(&(offsets[*i] as u32).to_be_bytes());
        }
        for (_, n) in &names {
            out.extend_from_slice(n.as_bytes());
            out.push(0);
        }
        if index_size % 2 == 1 {
            out.push(b'\n');
        }
    }
    for (name, bytes) in members {
        header(&mut out, &format!("{name}/"), bytes.len());
        out.extend_from_slice(bytes);
        if bytes.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

/// Offsets of the parts of a written object that refusal tests corrupt,
/// read with `object`.
pub(crate) mod locate {
    use object::read::elf::{FileHeader, SectionHeader};
    use object::{elf, LittleEndian as LE};

    type Header = elf::FileHeader64<LE>;

    /// The file offset of section `name`'s header.
    pub fn section_header(bytes: &[u8], name: &str) -> usize {
        let h = Header::parse(bytes).expect("ELF header");
        let sections = h.sections(LE, bytes).expect("section table");
        let (index, _) = sections
            .iter()
            .enumerate()
            .find(|(_, s)| sections.section_name(LE, *s).ok() == Some(name.as_bytes()))
            .unwrap_or_else(|| panic!("no section {name}"));
        h.e_shoff(LE) as usize + index * usize::from(h.e_shentsize(LE))
    }

    /// The file offset of section `name`'s contents.
    pub fn contents(bytes: &[u8], name: &str) -> usize {
        let h = Header::parse(bytes).expect("ELF header");
        let sections = h.sections(LE, bytes).expect("section table");
        let s = sections
            .iter()
            .find(|s| sections.section_name(LE, *s).ok() == Some(name.as_bytes()))
            .unwrap_or_else(|| panic!("no section {name}"));
        s.sh_offset(LE) as usize
    }

    /// The file offset of symbol `name`'s entry in `.symtab`.
    pub fn symbol(bytes: &[u8], name: &str) -> usize {
        let h = Header::parse(bytes).expect("ELF header");
        let sections = h.sections(LE, bytes).expect("section table");
        let symbols = sections
            .symbols(LE, bytes, elf::SHT_SYMTAB)
            .expect("symtab");
        let i = symbols
            .iter()
            .position(|s| symbols.symbol_name(LE, s).ok() == Some(name.as_bytes()))
            .unwrap_or_else(|| panic!("no symbol {name}"));
        contents(bytes, ".symtab") + i * size_of::<elf::Sym64<LE>>()
    }
}

//! `parse`: what an in-memory object becomes (section kinds, symbols,
//! relocations, groups, the stack note) and what parse refuses, with the
//! message naming the place.

use super::build::{locate, Obj};
use super::{parsed, refusal};
use crate::input::{
    Binding, RelocFields, SectionKind, StackNote, SymbolDef, SymbolKind, TableKind, Visibility,
};
use object::elf;

fn index_of(obj: &crate::input::ObjectFile<'_>, name: &str) -> usize {
    obj.sections
        .iter()
        .position(|s| s.name == name)
        .unwrap_or_else(|| panic!("no section {name}"))
}

/// Each section becomes the kind its type and flags say (and unloaded ones are Skip).
#[test]
fn section_kinds() {
    let mut o = Obj::new();
    o.text(&[0xc3]);
    o.data(&[1, 2, 3, 4]);
    o.rodata(&[5]);
    o.bss(16, 8);
    o.tdata(&[7; 8]);
    o.tbss(8);
    o.section(".init_array", object::SectionKind::Data, &[0; 16], 8);
    o.section(".ctors.00100", object::SectionKind::Data, &[0; 8], 8);
    o.section(".comment", object::SectionKind::OtherString, b"gcc\0", 1);
    let bytes = o.bytes();
    let obj = parsed(&bytes);
    let kind = |n: &str| obj.sections[index_of(&obj, n)].kind;
    assert_eq!(kind(".text"), SectionKind::Text);
    assert_eq!(kind(".data"), SectionKind::Data);
    assert_eq!(kind(".rodata"), SectionKind::ReadOnly);
    assert_eq!(kind(".bss"), SectionKind::Bss);
    assert_eq!(kind(".tdata"), SectionKind::Tls { zero: false });
    assert_eq!(kind(".tbss"), SectionKind::Tls { zero: true });
    assert_eq!(kind(".comment"), SectionKind::Skip);
    assert_eq!(kind(".note.GNU-stack"), SectionKind::Skip);
    // `.init_array` by name is PROGBITS here: a table only by SHT_INIT_ARRAY.
    assert_eq!(kind(".init_array"), SectionKind::Data);
    // `.ctors.NNNNN`: a table, with priority 65535 − NNNNN.
    let ctors = &obj.sections[index_of(&obj, ".ctors.00100")];
    assert_eq!(ctors.kind, SectionKind::Table(TableKind::Ctors));
    assert_eq!(ctors.priority, 65535 - 100);
    // Sizes and contents: NOBITS has a size and no contents.
    let bss = &obj.sections[index_of(&obj, ".bss")];
    assert_eq!((bss.size, bss.align, bss.data.len()), (16, 8, 0));
    assert_eq!(obj.sections[index_of(&obj, ".data")].data, &[1, 2, 3, 4]);
}

/// Symbols keep their binding, definition, size; COMMON keeps its alignment.
#[test]
fn symbols() {
    let mut o = Obj::new();
    let text = o.text(&[0x90; 16]);
    let data = o.data(&[0; 16]);
    o.func("f", text, 4, 12);
    o.weak("w", data, 8, 8);
    o.local("l", data, 0);
    o.undefined("u");
    o.common("c", 24, 16);
    o.absolute("abs", 0x1234);
    let bytes = o.bytes();
    let obj = parsed(&bytes);
    let sym = |name: &str| {
        let i = (0..obj.symbols.len())
            .find(|&i| obj.symbol_name(i as u32) == name)
            .unwrap_or_else(|| panic!("no symbol {name}"));
        obj.symbols[i].clone()
    };
    let f = sym("f");
    assert_eq!(f.bind, Binding::Global);
    assert_eq!(f.kind, SymbolKind::Function);
    assert_eq!(f.size, 12);
    assert!(matches!(f.def, SymbolDef::Section { value: 4, .. }));
    assert!(sym("w").is_weak());
    let l = sym("l");
    assert!(l.is_local());
    // A local symbol's name is read only for messages.
    assert_eq!(l.name, "");
    assert_eq!(sym("u").def, SymbolDef::Undefined);
    let c = sym("c");
    assert_eq!((c.def, c.size), (SymbolDef::Common { align: 16 }, 24));
    assert_eq!(sym("abs").def, SymbolDef::Absolute(0x1234));
    // Only the globals (and IFUNCs) get an entry of their own.
    let names: Vec<String> = obj.special.iter().map(|&i| obj.symbol_name(i)).collect();
    assert_eq!(names, ["f", "w", "u", "c", "abs"]);
}

/// ELF's bindings, types and visibilities become objdl's own words, the
/// ones no stage tells apart included (an unknown binding is global, an
/// unknown type `Other`); a local IFUNC is special, as a global is.
#[test]
fn symbol_attributes_are_format_neutral() {
    use elf::{STB_GLOBAL, STB_GNU_UNIQUE, STB_LOCAL, STB_WEAK};
    use elf::{STT_FUNC, STT_GNU_IFUNC, STT_NOTYPE, STT_OBJECT, STT_TLS};
    use elf::{STV_DEFAULT, STV_HIDDEN, STV_INTERNAL, STV_PROTECTED};
    let mut o = Obj::new();
    let text = o.text(&[0xc3; 16]);
    let data = o.data(&[0; 16]);
    let tdata = o.tdata(&[0; 8]);
    let info = |b: elf::SymbolBind, t: elf::SymbolType| (b.0 << 4) | t.0;
    o.elf_symbol(
        "lifunc",
        text,
        3,
        (info(STB_LOCAL, STT_GNU_IFUNC), STV_DEFAULT.0),
    );
    o.elf_symbol(
        "ifunc",
        text,
        0,
        (info(STB_GLOBAL, STT_GNU_IFUNC), STV_DEFAULT.0),
    );
    o.elf_symbol(
        "unique",
        data,
        0,
        (info(STB_GNU_UNIQUE, STT_OBJECT), STV_DEFAULT.0),
    );
    o.elf_symbol(
        "hidden",
        data,
        4,
        (info(STB_GLOBAL, STT_OBJECT), STV_HIDDEN.0),
    );
    o.elf_symbol("prot", text, 1, (info(STB_WEAK, STT_FUNC), STV_PROTECTED.0));
    o.elf_symbol(
        "internal",
        text,
        2,
        (info(STB_GLOBAL, STT_NOTYPE), STV_INTERNAL.0),
    );
    // STB_LOPROC, and a type number no one defined.
    o.elf_symbol("odd", data, 8, ((13 << 4) | 9, STV_DEFAULT.0));
    o.elf_symbol("t", tdata, 0, (info(STB_GLOBAL, STT_TLS), STV_DEFAULT.0));
    let sec = o.section_symbol(data);
    o.reloc(text, 4, sec, elf::R_X86_64_64, 0);
    let bytes = o.bytes();
    let obj = parsed(&bytes);
    let attrs = |name: &str| {
        let i = (0..obj.symbols.len())
            .find(|&i| obj.symbol_name(i as u32) == name)
            .unwrap_or_else(|| panic!("no symbol {name}"));
        let s = &obj.symbols[i];
        (s.bind, s.kind, s.visibility)
    };
    use {Binding as B, SymbolKind as K, Visibility as V};
    assert_eq!(attrs("lifunc"), (B::Local, K::Indirect, V::Default));
    assert_eq!(attrs("ifunc"), (B::Global, K::Indirect, V::Default));
    assert_eq!(attrs("unique"), (B::Unique, K::Data, V::Default));
    assert_eq!(attrs("hidden"), (B::Global, K::Data, V::Hidden));
    assert_eq!(attrs("prot"), (B::Weak, K::Function, V::Protected));
    assert_eq!(attrs("internal"), (B::Global, K::Other, V::Internal));
    assert_eq!(attrs("odd"), (B::Global, K::Other, V::Default));
    assert_eq!(attrs("t"), (B::Global, K::ThreadLocal, V::Default));
    let r = &obj.sections[index_of(&obj, ".text")].relocs[0];
    let s = &obj.symbols[r.sym() as usize];
    assert_eq!((s.bind, s.kind), (B::Local, K::Section));
    // The locals are read by the plain-local loop, except the IFUNC:
    // special, with the globals.
    let special: Vec<String> = obj.special.iter().map(|&i| obj.symbol_name(i)).collect();
    assert_eq!(
        special,
        ["lifunc", "ifunc", "unique", "hidden", "prot", "internal", "odd", "t"]
    );
}

/// The native format recognises its objects and parses them as
/// `input::parse` does; its records give offset, symbol, kind and addend
/// (ELF RELA: the addend is the record's, whatever the section holds), and
/// `retarget` changes the symbol and addend only.
#[test]
fn native_format_and_its_records() {
    use crate::input::{Format, Native};
    let mut o = Obj::new();
    let text = o.text(&[0xe8, 0xaa, 0xbb, 0xcc, 0xdd, 0xc3]);
    let puts = o.undefined("puts");
    o.func("f", text, 5, 1);
    o.reloc(text, 1, puts, elf::R_X86_64_PLT32, -4);
    let bytes = o.bytes();
    assert!(Native::recognise(&bytes));
    assert!(!Native::recognise(b"BC\xc0\xde"));
    assert!(!Native::recognise(b"!<arch>\n"));
    let obj = Native::parse("t.o", &bytes).unwrap();
    assert_eq!(obj.symbols.len(), parsed(&bytes).symbols.len());
    let sec = &obj.sections[index_of(&obj, ".text")];
    let r = &sec.relocs[0];
    assert_eq!(r.addend(sec.data), -4);
    assert_eq!(r.addend(&[0xff; 8]), -4);
    let mut moved = *r;
    let fi = (0..obj.symbols.len() as u32)
        .find(|&i| obj.symbol_name(i) == "f")
        .unwrap();
    moved.retarget(fi, 7);
    assert_eq!(
        (
            moved.offset(),
            moved.kind(),
            moved.sym(),
            moved.addend(sec.data)
        ),
        (1, elf::R_X86_64_PLT32, fi, 7)
    );
}

/// Relocations are read in place: offset, type, symbol index and addend.
#[test]
fn relocations_read_in_place() {
    let mut o = Obj::new();
    let text = o.text(&[0xe8, 0, 0, 0, 0, 0x48, 0x8d, 0x05, 0, 0, 0, 0, 0xc3]);
    let puts = o.undefined("puts");
    let data = o.data(&[0; 8]);
    let d = o.global("d", data, 0, 8);
    o.reloc(text, 1, puts, elf::R_X86_64_PLT32, -4);
    o.reloc(text, 8, d, elf::R_X86_64_PC32, -4 + 2);
    let bytes = o.bytes();
    let obj = parsed(&bytes);
    let text = &obj.sections[index_of(&obj, ".text")];
    let (rel, data) = (&text.relocs, text.data);
    assert_eq!(rel.len(), 2);
    assert_eq!(
        (rel[0].offset(), rel[0].kind(), rel[0].addend(data)),
        (1, elf::R_X86_64_PLT32, -4)
    );
    assert_eq!(obj.symbol_name(rel[0].sym()), "puts");
    assert_eq!((rel[1].offset(), rel[1].addend(data)), (8, -2));
    assert_eq!(obj.symbol_name(rel[1].sym()), "d");
    // The types seen, as a bit set.
    assert_eq!(
        obj.check_relocations().unwrap(),
        1 << elf::R_X86_64_PLT32.0 | 1 << elf::R_X86_64_PC32.0
    );
}

/// `.note.GNU-stack`: absent means executable, SHF_EXECINSTR means executable.
#[test]
fn stack_notes() {
    assert_eq!(parsed(&Obj::new().bytes()).stack, StackNote::NotExecutable);
    assert_eq!(parsed(&Obj::bare().bytes()).stack, StackNote::Missing);
    let mut o = Obj::bare();
    o.stack_note(true);
    assert_eq!(parsed(&o.bytes()).stack, StackNote::Executable);
}

/// COMDAT groups are read as (signature, member sections).
#[test]
fn comdat_groups() {
    let mut o = Obj::new();
    let t = o.section(".text.inline_f", object::SectionKind::Text, &[0xc3], 1);
    let f = o.func("inline_f", t, 0, 1);
    o.comdat(f, &[t]);
    let bytes = o.bytes();
    let obj = parsed(&bytes);
    assert_eq!(obj.groups.len(), 1);
    let (sig, members) = &obj.groups[0];
    assert_eq!(*sig, "inline_f");
    assert_eq!(members, &[index_of(&obj, ".text.inline_f") as u32]);
}

/// The header checks: length, magic, class, byte order, machine, file type.
#[test]
fn refuses_what_is_not_an_x86_64_relocatable() {
    let good = Obj::new().bytes();
    assert_eq!(
        refusal(&good[..10]),
        "t.o: malformed: 10 bytes is too short for an ELF header"
    );
    let mut b = good.clone();
    b[0] = 0;
    assert_eq!(refusal(&b), "t.o: malformed: not an ELF file (bad magic)");
    let mut b = good.clone();
    b[4] = elf::ELFCLASS32.0;
    assert!(refusal(&b).contains("ELF class 1 (only ELF64 is supported)"));
    let mut b = good.clone();
    b[5] = elf::ELFDATA2MSB.0;
    assert!(refusal(&b).contains("big-endian ELF"));
    let mut b = good.clone();
    b[18..20].copy_from_slice(&elf::EM_AARCH64.0.to_le_bytes());
    assert!(refusal(&b).contains("machine 183 (only x86-64"));
    let mut b = good.clone();
    b[16..18].copy_from_slice(&elf::ET_DYN.0.to_le_bytes());
    assert!(refusal(&b).contains("objdl loads relocatable objects (ET_REL"));
}

/// A symbol whose section index is past the section table is malformed.
#[test]
fn refuses_a_bad_symbol_section_index() {
    let mut o = Obj::new();
    let data = o.data(&[0; 8]);
    o.global("g", data, 0, 8);
    let mut b = o.bytes();
    // st_shndx is at offset 6 of an Elf64_Sym.
    let at = locate::symbol(&b, "g") + 6;
    b[at..at + 2].copy_from_slice(&500u16.to_le_bytes());
    assert_eq!(
        refusal(&b),
        "t.o: malformed: symbol g: section index 500 out of range"
    );
}

/// A symbol whose value lies past the end of its section is malformed.
#[test]
fn refuses_a_symbol_outside_its_section() {
    let mut o = Obj::new();
    let data = o.data(&[0; 8]);
    o.global("g", data, 0, 8);
    let mut b = o.bytes();
    let at = locate::symbol(&b, "g") + 8; // st_value
    b[at..at + 8].copy_from_slice(&9u64.to_le_bytes());
    assert_eq!(
        refusal(&b),
        "t.o: malformed: symbol g: value 0x9 lies outside its section .data (0x8 bytes)"
    );
}

/// A relocation whose field ends past its section is caught by `check_relocations`.
#[test]
fn refuses_a_relocation_outside_its_section() {
    let mut o = Obj::new();
    let text = o.text(&[0xe8, 0, 0, 0, 0]);
    let f = o.undefined("f");
    o.reloc(text, 2, f, elf::R_X86_64_PLT32, -4);
    let bytes = o.bytes();
    let obj = parsed(&bytes);
    let err = obj.check_relocations().unwrap_err().to_string();
    assert_eq!(
        err,
        "t.o: malformed: section .text: relocation at offset 0x2 (4 bytes) lies outside the section (0x10 bytes)"
            .replace("0x10", &format!("{:#x}", obj.sections[index_of(&obj, ".text")].size))
    );
    // A 64-bit field at the last byte: past the end too.
    let mut o = Obj::new();
    let data = o.data(&[0; 8]);
    let f = o.undefined("f");
    o.reloc(data, 4, f, elf::R_X86_64_64, 0);
    let bytes = o.bytes();
    assert!(parsed(&bytes)
        .check_relocations()
        .unwrap_err()
        .to_string()
        .contains("relocation at offset 0x4 (8 bytes) lies outside the section (0x8 bytes)"));
}

/// A relocation naming a symbol index past the symbol table is caught by `check_relocations`.
#[test]
fn refuses_a_relocation_symbol_index_out_of_range() {
    let mut o = Obj::new();
    let data = o.data(&[0; 8]);
    let f = o.undefined("f");
    o.reloc(data, 0, f, elf::R_X86_64_64, 0);
    let mut b = o.bytes();
    // r_info = (sym << 32) | type, at offset 8 of the one Elf64_Rela.
    let at = locate::contents(&b, ".rela.data") + 8;
    let info = (1000u64 << 32) | u64::from(elf::R_X86_64_64.0);
    b[at..at + 8].copy_from_slice(&info.to_le_bytes());
    let obj = parsed(&b);
    let n = obj.symbols.len();
    assert_eq!(
        obj.check_relocations().unwrap_err().to_string(),
        format!("t.o: malformed: section .data: relocation at offset 0x0 refers to symbol index 1000, but there are {n} symbols")
    );
}

/// Section alignments must be powers of two, at most 1 GiB.
#[test]
fn refuses_bad_alignments() {
    let mut o = Obj::new();
    o.data(&[0; 8]);
    let good = o.bytes();
    // sh_addralign at offset 48 of an Elf64_Shdr.
    let at = locate::section_header(&good, ".data") + 48;
    let mut b = good.clone();
    b[at..at + 8].copy_from_slice(&24u64.to_le_bytes());
    assert!(refusal(&b).contains("section .data (index 1): alignment 24 is not a power of two"));
    let mut b = good;
    b[at..at + 8].copy_from_slice(&(1u64 << 31).to_le_bytes());
    assert!(refusal(&b).contains("alignment 0x80000000 is larger than 0x40000000"));
}

/// A section whose contents lie past the end of the file is malformed.
#[test]
fn refuses_contents_outside_the_file() {
    let mut o = Obj::new();
    o.data(&[0; 8]);
    let mut b = o.bytes();
    let at = locate::section_header(&b, ".data") + 24; // sh_offset
    let len = b.len() as u64;
    b[at..at + 8].copy_from_slice(&(len - 4).to_le_bytes());
    assert!(refusal(&b).contains(&format!(
        "contents at offset {:#x} size 0x8 lie outside the file ({len:#x} bytes)",
        len - 4
    )));
}

/// Relocations applying to a NOBITS section are refused: nothing to patch.
#[test]
fn refuses_relocations_of_bss() {
    let mut o = Obj::new();
    let bss = o.bss(8, 8);
    let f = o.undefined("f");
    o.reloc(bss, 0, f, elf::R_X86_64_64, 0);
    assert!(
        refusal(&o.bytes()).contains("applies to section .bss, which has no contents (SHT_NOBITS)")
    );
}

/// Limits: an over-long name, a COMMON larger than a unit, more sections than allowed.
#[test]
fn refuses_what_exceeds_the_limits() {
    let long = "x".repeat(crate::limits::MAX_NAME + 1);
    let mut o = Obj::new();
    o.undefined(&long);
    let msg = refusal(&o.bytes());
    assert!(msg.starts_with("t.o: unsupported: symbol "), "{msg}");
    assert!(
        msg.ends_with(&format!("name of {} bytes is too long", long.len())),
        "{msg}"
    );

    let mut o = Obj::new();
    o.common("huge", crate::limits::MAX_UNIT_SIZE + 1, 8);
    assert_eq!(
        refusal(&o.bytes()),
        "t.o: unsupported: symbol huge: COMMON size 0x40000001 is larger than the unit limit"
    );

    // e_shnum 0 and section 0's sh_size: the extended section count.
    let mut b = Obj::new().bytes();
    let count = crate::limits::MAX_SECTIONS + 1;
    let table = b.len();
    b.resize(table + count * 64, 0);
    b[0x28..0x30].copy_from_slice(&(table as u64).to_le_bytes()); // e_shoff
    b[0x3c..0x3e].copy_from_slice(&0u16.to_le_bytes()); // e_shnum
    b[table + 32..table + 40].copy_from_slice(&(count as u64).to_le_bytes()); // sh_size
    assert_eq!(
        refusal(&b),
        format!("t.o: unsupported: {count} sections (the limit is 1048576)")
    );
}

/// A constructor table must hold whole 8-byte pointers.
#[test]
fn refuses_a_ragged_constructor_table() {
    let mut o = Obj::new();
    o.section(".ctors", object::SectionKind::Data, &[0; 12], 8);
    assert!(
        refusal(&o.bytes()).contains("constructor/destructor table size is not a multiple of 8")
    );
}

//! Reading the section headers and symbols of ELF64 little-endian objects
//! with `object` (never hand-written structures), to locate the fields
//! that tests damage, and patching them in place.

use object::elf::{FileHeader64, SectionHeader64, Sym64};
use object::read::elf::{FileHeader as _, SectionHeader as _, SectionTable, SymbolTable};
use object::{LittleEndian as LE, Pod, SectionIndex, SymbolIndex};

/// The file header type of the objects tests read.
pub type Elf = FileHeader64<LE>;
/// Their section header type.
pub type Shdr = SectionHeader64<LE>;

/// The section table of an ELF64 little-endian object.
pub fn sections(b: &[u8]) -> SectionTable<'_, Elf> {
    Elf::parse(b)
        .and_then(|h| h.sections(LE, b))
        .expect("an ELF64 object with section headers")
}

/// The index and header of the section named `name`.
pub fn section<'a>(b: &'a [u8], name: &str) -> (SectionIndex, &'a Shdr) {
    sections(b)
        .section_by_name(LE, name.as_bytes())
        .unwrap_or_else(|| panic!("no section {name}"))
}

/// The index of the section named `name`.
pub fn section_index(b: &[u8], name: &str) -> SectionIndex {
    section(b, name).0
}

/// The file offset of the header of section `index`.
pub fn section_header_at(b: &[u8], index: SectionIndex) -> usize {
    let h = Elf::parse(b).expect("an ELF64 object");
    h.e_shoff(LE) as usize + index.0 * usize::from(h.e_shentsize(LE))
}

/// The symbol table of `b` and the index in it of the symbol named `name`.
pub fn symbol<'a>(b: &'a [u8], name: &str) -> (SymbolTable<'a, Elf>, SymbolIndex) {
    let symbols = sections(b)
        .symbols(LE, b, object::elf::SHT_SYMTAB)
        .expect("a symbol table");
    let (index, _) = symbols
        .enumerate()
        .find(|(_, sym)| symbols.symbol_name(LE, sym) == Ok(name.as_bytes()))
        .unwrap_or_else(|| panic!("no symbol {name}"));
    (symbols, index)
}

/// The file offset of the symbol table entry named `name`.
pub fn symbol_entry(b: &[u8], name: &str) -> usize {
    let (symbols, index) = symbol(b, name);
    let symtab = sections(b)
        .section(symbols.section())
        .expect("the symbol table's header");
    symtab.sh_offset(LE) as usize + index.0 * size_of::<Sym64<LE>>()
}

/// The `T` at file offset `at` of `b`, to patch.
pub fn pod_mut<T: Pod>(b: &mut [u8], at: usize) -> &mut T {
    object::pod::from_bytes_mut(&mut b[at..])
        .expect("a structure inside the file")
        .0
}

/// The header of section `index` of `b`, to patch.
pub fn section_header_mut(b: &mut [u8], index: SectionIndex) -> &mut Shdr {
    let at = section_header_at(b, index);
    pod_mut(b, at)
}

//! Errors are contracts: a table of bad inputs and the exact message objdl
//! gives for each, the full `Display` text. Inputs are in-memory bytes with
//! fixed names (`Input::bytes("name.o", ...)`), so the texts are
//! deterministic; each input is small assembly, assembled at test time, and
//! damaged by patching fields that the `object` crate locates.
//!
//! Every case goes through [`Linker::check`] at a fixed address, so nothing
//! is mapped and nothing runs. The table is printed (`--nocapture`) so it
//! can be quoted.
//!
//! Overlapping sections: objdl copies each section's bytes out of the file
//! separately and relocates the copies, so two sections whose *file* ranges
//! overlap (a packer's trick, or a sloppy writer's) are no hazard to it: each
//! gets its own copy, and one's relocations never touch the other's. Such an
//! input loads, and the test checks that it does and that the copies are
//! independent.

use objdl_testkit as common;
use std::mem::offset_of;
use std::path::Path;

use objdl::{Input, Linker, OpenOptions, Placement, Report};
use object::elf::{self, Rela64, Sym64};
use object::read::elf::{Rela as _, SectionHeader as _};
use object::LittleEndian as LE;

/// Where every check pretends the unit lies.
const AT: u64 = 0x1000_0000;

/// The base object: a call (PLT32) and a RIP-relative load (PC32) in
/// `.text`; in `.data` a SIZE32 and an 8-bit absolute (R_X86_64_8) against
/// `byte_value`, which each test's linker defines; and a `.bss`.
const BASE_S: &str = r#"
        .text
        .globl  entry
        .type   entry, @function
entry:
        call    helper
        movl    counter(%rip), %eax
        ret
        .size   entry, .-entry
        .globl  helper
        .type   helper, @function
helper:
        ret
        .size   helper, .-helper

        .data
        .globl  counter
        .type   counter, @object
counter:
        .long   7
        .size   counter, 4
        .long   counter@SIZE
        .byte   byte_value

        .bss
        .globl  zeroes
zeroes:
        .zero   16

        .section .note.GNU-stack,"",@progbits
"#;

/// Calls a function that nothing defines.
const UNRESOLVED_S: &str = r#"
        .text
        .globl  caller
caller:
        call    nowhere_to_be_found
        ret
        .section .note.GNU-stack,"",@progbits
"#;

/// An IFUNC whose resolver lies in `.data`: code that is not code.
const IFUNC_IN_DATA_S: &str = r#"
        .data
        .type   not_code, @gnu_indirect_function
        .globl  not_code
not_code:
        .byte   0xc3
        .text
        .globl  caller
caller:
        call    not_code
        ret
        .section .note.GNU-stack,"",@progbits
"#;

/// An initialiser or finaliser table (`TABLE`) whose one entry (`ENTRY`)
/// is not code; `.data` and `.rodata` each hold a `ret` at `in_data` and
/// `in_rodata`.
const TABLE_NOT_CODE_S: &str = r#"
        .data
in_data:
        .byte   0xc3
        .section .rodata
in_rodata:
        .byte   0xc3
        .section TABLE
        .quad   ENTRY
        .text
        .globl  entry
entry:
        ret
        .section .note.GNU-stack,"",@progbits
"#;

/// Defines `dup`; two copies make a duplicate definition.
const DUP_S: &str = r#"
        .text
        .globl  dup
dup:
        ret
        .section .note.GNU-stack,"",@progbits
"#;

/// Assembles `src` with gcc into `dir/name.o` and returns the bytes.
fn assemble(dir: &Path, name: &str, src: &str) -> Vec<u8> {
    let object = dir.join(format!("{name}.o"));
    common::compile_to("gcc", &[], &dir.join(format!("{name}.s")), src, &object);
    std::fs::read(&object).expect("read the object")
}

// ---- Locating fields with `object`, and patching them. ----

use common::elf::{
    section, section_header_at, sections, symbol as elf_symbol, symbol_entry, Elf, Shdr,
};

/// The file offset of the `k`th relocation of the RELA section `name`.
fn rela_at(b: &[u8], name: &str, k: usize) -> usize {
    section(b, name).1.sh_offset(LE) as usize + k * size_of::<Rela64<LE>>()
}

/// The `k`th relocation of the RELA section `name`.
fn rela(b: &[u8], name: &str, k: usize) -> Rela64<LE> {
    *object::pod::from_bytes::<Rela64<LE>>(&b[rela_at(b, name, k)..])
        .expect("a relocation inside the file")
        .0
}

/// The number of symbols, and the index and file offset of the entry of
/// the symbol named `name`.
fn symbol(b: &[u8], name: &str) -> (usize, usize, usize) {
    let (symbols, index) = elf_symbol(b, name);
    (symbols.len(), index.0, symbol_entry(b, name))
}

fn put_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// Sets field `$field` (a `u32` or `u64` field of `SectionHeader64`) of
/// section `$index` of `$b` to `$v`.
macro_rules! set_shdr {
    ($b:expr, $index:expr, $field:ident, u32, $v:expr) => {{
        let at = section_header_at(&$b, $index) + offset_of!(Shdr, $field);
        put_u32(&mut $b, at, $v)
    }};
    ($b:expr, $index:expr, $field:ident, u64, $v:expr) => {{
        let at = section_header_at(&$b, $index) + offset_of!(Shdr, $field);
        put_u64(&mut $b, at, $v)
    }};
}

/// A static archive without a symbol index, in the GNU format, of
/// `members` (name, contents); each name must fit the header with its `/`.
fn archive(members: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut a = b"!<arch>\n".to_vec();
    for (name, data) in members {
        let mut header = name.to_vec();
        header.push(b'/');
        assert!(header.len() <= 16, "a member name of at most 15 bytes");
        header.resize(16, b' ');
        // mtime, uid, gid, mode, size, then the terminator.
        let fields = format!("{:<12}{:<6}{:<6}{:<8}{:<10}`\n", 0, 0, 0, 644, data.len());
        header.extend_from_slice(fields.as_bytes());
        a.extend_from_slice(&header);
        a.extend_from_slice(data);
        if data.len() % 2 == 1 {
            a.push(b'\n');
        }
    }
    a
}

/// A linker whose host defines `byte_value`.
fn linker_with_byte_value(v: usize) -> Linker {
    let l = Linker::new();
    l.define("byte_value", v as *const ());
    l
}

fn check(linker: &Linker, inputs: Vec<Input>) -> objdl::Result<Report> {
    let mut opts = OpenOptions::new();
    opts.placement(Placement::At(AT));
    linker.check(inputs, &opts)
}

/// One row of the table.
struct Case {
    what: &'static str,
    linker: Linker,
    inputs: Vec<Input>,
    /// The exact `Display` of the error.
    expected: String,
}

#[test]
fn every_bad_input_gets_its_exact_message() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let base = assemble(dir.path(), "base", BASE_S);
    let unresolved = assemble(dir.path(), "unresolved", UNRESOLVED_S);
    let dup = assemble(dir.path(), "dup", DUP_S);

    // The intact base object links.
    let good = linker_with_byte_value(7);
    check(&good, vec![Input::bytes("base.o", base.clone())]).expect("the intact base object");

    let mut cases = Vec::new();

    // Truncated headers: shorter than e_ident, and shorter than the header.
    cases.push(Case {
        what: "truncated before the ELF identification ends",
        linker: good.clone(),
        inputs: vec![Input::bytes("trunc10.o", base[..10].to_vec())],
        expected: "trunc10.o: malformed: 10 bytes is too short for an ELF header".into(),
    });
    cases.push(Case {
        what: "truncated inside the ELF header",
        linker: good.clone(),
        inputs: vec![Input::bytes("trunc40.o", base[..40].to_vec())],
        expected: "trunc40.o: malformed: ELF header: Invalid ELF header size or alignment".into(),
    });

    // Another machine.
    let mut b = base.clone();
    put_u16(&mut b, offset_of!(Elf, e_machine), elf::EM_AARCH64.0);
    cases.push(Case {
        what: "wrong machine (EM_AARCH64)",
        linker: good.clone(),
        inputs: vec![Input::bytes("aarch64.o", b)],
        expected: "aarch64.o: unsupported: machine 183 (only x86-64, machine 62, is supported)"
            .into(),
    });

    // SHT_REL where x86-64 has SHT_RELA.
    let mut b = base.clone();
    let (rela_text, _) = section(&base, ".rela.text");
    set_shdr!(b, rela_text, sh_type, u32, elf::SHT_REL.0);
    cases.push(Case {
        what: "SHT_REL instead of SHT_RELA",
        linker: good.clone(),
        inputs: vec![Input::bytes("rel.o", b)],
        expected: format!(
            "rel.o: unsupported: section .rela.text (index {}): relocations of type SHT_REL or SHT_RELR (x86-64 objects use SHT_RELA or SHT_CREL)",
            rela_text.0
        ),
    });

    // A relocation against a symbol index past the symbol table.
    let first = rela(&base, ".rela.text", 0);
    let first_offset = first.r_offset(LE);
    let first_type = first.r_type(LE, false);
    let (nsyms, _, _) = symbol(&base, "helper");
    let mut b = base.clone();
    let at = rela_at(&base, ".rela.text", 0) + offset_of!(Rela64<LE>, r_info);
    put_u64(&mut b, at, (1000u64 << 32) | u64::from(first_type.0));
    cases.push(Case {
        what: "relocation against a missing symbol index",
        linker: good.clone(),
        inputs: vec![Input::bytes("badsym.o", b)],
        expected: format!(
            "badsym.o: malformed: section .text: relocation at offset {first_offset:#x} refers to symbol index 1000, but there are {nsyms} symbols"
        ),
    });

    // An unknown relocation type.
    let first_sym = first.r_sym(LE, false);
    let mut b = base.clone();
    put_u64(&mut b, at, (u64::from(first_sym) << 32) | 200);
    cases.push(Case {
        what: "unknown relocation type (200)",
        linker: good.clone(),
        inputs: vec![Input::bytes("type200.o", b)],
        expected: format!(
            "type200.o:.text+{first_offset:#x}: unsupported relocation type 200 against `helper`"
        ),
    });

    // An 8-bit absolute whose value is 300: no placement changes it, so it
    // is refused before anything is placed, with the bytes around it.
    let r8 = rela(&base, ".rela.data", 1);
    assert_eq!(r8.r_type(LE, false), elf::R_X86_64_8);
    cases.push(Case {
        what: "R_X86_64_8 with the value 300",
        linker: linker_with_byte_value(300),
        inputs: vec![Input::bytes("byte300.o", base.clone())],
        expected: format!(
            "1 reference(s) to `byte_value` (1) cannot reach their targets from this placement: byte300.o:.data+{:#x} R_X86_64_8 against `byte_value` (0x12c): value 0x12c does not fit an 8-bit field [bytes 00 00 00 00]; recompile with -fPIC, so that data outside the unit is reached through the GOT",
            r8.r_offset(LE)
        ),
    });

    // A SIZE32 of a symbol whose size does not fit 32 bits: found while
    // relocating, and nothing is written.
    let size32 = rela(&base, ".rela.data", 0);
    assert_eq!(size32.r_type(LE, false), elf::R_X86_64_SIZE32);
    let (_, _, counter_at) = symbol(&base, "counter");
    let mut b = base.clone();
    put_u64(&mut b, counter_at + offset_of!(Sym64<LE>, st_size), 1 << 32);
    cases.push(Case {
        what: "R_X86_64_SIZE32 of a 4 GiB symbol",
        linker: good.clone(),
        inputs: vec![Input::bytes("size4g.o", b)],
        expected: format!(
            "size4g.o:.data+{:#x}: R_X86_64_SIZE32 against `counter`: value 0x100000000 does not fit an unsigned 32-bit field",
            size32.r_offset(LE)
        ),
    });

    // Unresolved and duplicate symbols.
    cases.push(Case {
        what: "unresolved symbol",
        linker: good.clone(),
        inputs: vec![Input::bytes("caller.o", unresolved)],
        expected: "unresolved symbols: `nowhere_to_be_found` (referenced from caller.o)".into(),
    });
    // Many: the first ten names, then how many more (every one is in the
    // error's list, and `objdl check` prints them all).
    let calls: String = (0..12).map(|i| format!("call missing_{i}\n")).collect();
    let many = assemble(
        dir.path(),
        "many",
        &format!(
            ".text\n.globl many\nmany:\n{calls}ret\n.section .note.GNU-stack,\"\",@progbits\n"
        ),
    );
    let first_ten: Vec<String> = (0..10)
        .map(|i| format!("`missing_{i}` (referenced from many.o)"))
        .collect();
    cases.push(Case {
        what: "twelve unresolved symbols",
        linker: good.clone(),
        inputs: vec![Input::bytes("many.o", many)],
        expected: format!("unresolved symbols: {}, and 2 more", first_ten.join(", ")),
    });
    cases.push(Case {
        what: "duplicate definition",
        linker: good.clone(),
        inputs: vec![
            Input::bytes("first.o", dup.clone()),
            Input::bytes("second.o", dup),
        ],
        expected: "duplicate definition of `dup`: first in first.o, again in second.o".into(),
    });

    // Relocations applied to a section without contents (SHT_NOBITS).
    let (rela_data, _) = section(&base, ".rela.data");
    let (bss, _) = section(&base, ".bss");
    let mut b = base.clone();
    set_shdr!(b, rela_data, sh_info, u32, bss.0 as u32);
    cases.push(Case {
        what: "relocations applied to .bss",
        linker: good.clone(),
        inputs: vec![Input::bytes("relbss.o", b)],
        expected: format!(
            "relbss.o: malformed: relocation section {}: applies to section .bss, which has no contents (SHT_NOBITS)",
            rela_data.0
        ),
    });

    // A symbol name with a newline in it: messages stay one line.
    let (_, helper_index, helper_at) = symbol(&base, "helper");
    let (strtab, _) = section(&base, ".strtab");
    let name_at = sections(&base)
        .section(strtab)
        .expect(".strtab")
        .sh_offset(LE) as usize
        + u32::from_le_bytes(
            base[helper_at + offset_of!(Sym64<LE>, st_name)..][..4]
                .try_into()
                .expect("4 bytes"),
        ) as usize;
    let mut b = base.clone();
    assert_eq!(&b[name_at..name_at + 7], b"helper\0");
    b[name_at + 3] = b'\n'; // "hel\ner"
    cases.push(Case {
        what: "symbol name with a newline",
        linker: good.clone(),
        inputs: vec![Input::bytes("newline.o", b)],
        expected: format!(
            "newline.o: malformed: symbol {helper_index}: name \"hel\\ner\" contains a control character"
        ),
    });

    // An archive member whose name holds a newline (a damaged header; the
    // `archive` fuzz target found one): messages stay one line.
    cases.push(Case {
        what: "archive member name with a newline",
        linker: good.clone(),
        inputs: vec![
            Input::bytes("base.o", base.clone()),
            Input::bytes("newline.a", archive(&[(b"tr\nunc.o", &base[..40])])),
        ],
        expected:
            "newline.a(tr\\nunc.o): malformed: ELF header: Invalid ELF header size or alignment"
                .into(),
    });

    // Code that is not code, refused before anything runs (it used to be
    // called: SIGSEGV, once the earlier initialisers had run).
    let ifunc = assemble(dir.path(), "ifunc_data", IFUNC_IN_DATA_S);
    cases.push(Case {
        what: "IFUNC resolver in .data",
        linker: good.clone(),
        inputs: vec![Input::bytes("ifunc.o", ifunc)],
        expected: "ifunc.o: malformed: symbol `not_code`: the resolver of an STT_GNU_IFUNC symbol lies in section .data, which is not executable".into(),
    });
    for (name, table, entry, expected) in [
        (
            "ctor.o",
            ".init_array,\"aw\"",
            "in_data",
            "ctor.o: malformed: section .init_array offset 0x0: an initialiser points into section .data of ctor.o, which is not executable",
        ),
        (
            "dtor.o",
            ".fini_array,\"aw\"",
            "in_rodata",
            "dtor.o: malformed: section .fini_array offset 0x0: a finaliser points into section .rodata of dtor.o, which is not executable",
        ),
        (
            "abs.o",
            ".ctors,\"aw\",@progbits",
            "0x1230",
            "abs.o: malformed: section .ctors offset 0x0: an initialiser at 0x1230 lies outside the unit, in no executable mapping",
        ),
    ] {
        let src = TABLE_NOT_CODE_S.replace("TABLE", table).replace("ENTRY", entry);
        let object = assemble(dir.path(), name.trim_end_matches(".o"), &src);
        cases.push(Case {
            what: "an initialiser or finaliser that is not code",
            linker: good.clone(),
            inputs: vec![Input::bytes(name, object)],
            expected: expected.into(),
        });
    }

    // A unit at an address its alignment does not allow.
    let (text, _) = section(&base, ".text");
    let mut b = base.clone();
    set_shdr!(b, text, sh_addralign, u64, 1 << 30);
    cases.push(Case {
        what: "placement that breaks a section's alignment",
        linker: good.clone(),
        inputs: vec![Input::bytes("align.o", b)],
        expected: "no place for the unit (0x3000 bytes): 0x10000000 is not aligned to 0x40000000, as the unit (align.o) needs".into(),
    });

    // The table, then the verdict.
    let mut mismatches = Vec::new();
    eprintln!("| case | exact error |");
    eprintln!("|---|---|");
    for c in &cases {
        let got = match check(&c.linker, c.inputs.clone()) {
            Ok(_) => "(loaded without error)".to_string(),
            Err(e) => e.to_string(),
        };
        eprintln!("| {} | `{}` |", c.what, got);
        assert!(!got.contains('\n'), "{}: not one line: {got:?}", c.what);
        if got != c.expected {
            mismatches.push(format!(
                "{}:\n  expected: {}\n  got:      {}",
                c.what, c.expected, got
            ));
        }
    }
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}

/// A base no unit can have is refused, with the reason and the range a
/// base of this unit must lie in: below `vm.mmap_min_addr` (and 64 KiB),
/// not canonical, in the kernel's half, or so high that the unit would
/// pass the top of user space. `Placement::At(0)` used to map a unit at
/// address 0 when run as root, and a check at 0xfffff...f000 wrapped past
/// 2^64 (a debug build panicked at an overflowing add; a release build
/// said a value that fits did not).
#[test]
fn impossible_bases_are_refused_with_the_valid_range() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let base = assemble(dir.path(), "base", BASE_S);
    let linker = linker_with_byte_value(7);
    let size = check(&linker, vec![Input::bytes("base.o", base.clone())])
        .expect("the intact base object")
        .stats
        .size;
    // What the unit reserves: its size, since it needs no GOT slot nor
    // trampoline (as the alignment case above shows: 0x3000 bytes).
    let upper = size;
    let min_addr = std::fs::read_to_string("/proc/sys/vm/mmap_min_addr")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let lowest = min_addr.max(0x10000).next_multiple_of(0x1000);
    let highest = 0x7fff_ffff_f000 - upper;
    let range = format!("a base of the unit (base.o) must lie in {lowest:#x}..={highest:#x}");
    let refusal = |why: String| format!("no place for the unit ({upper:#x} bytes): {why}; {range}");
    let cases = [
        (
            0,
            refusal(format!("base 0x0 is below {lowest:#x}, the lowest address objdl maps (vm.mmap_min_addr, and never below 64 KiB)")),
        ),
        (
            0x1000,
            refusal(format!("base 0x1000 is below {lowest:#x}, the lowest address objdl maps (vm.mmap_min_addr, and never below 64 KiB)")),
        ),
        (
            0x8000_0000_0000,
            refusal("base 0x800000000000 is not a canonical x86-64 address".into()),
        ),
        (
            0xffff_8000_0000_0000,
            refusal("base 0xffff800000000000 lies in the kernel's half of the address space".into()),
        ),
        (
            0xffff_ffff_ffff_f000,
            refusal("base 0xfffffffffffff000 lies in the kernel's half of the address space".into()),
        ),
        (
            0x7fff_ffff_e000,
            refusal(format!(
                "a unit at base 0x7fffffffe000 would end at {:#x}, above the top of user space (0x7ffffffff000)",
                0x7fff_ffff_e000 + upper
            )),
        ),
    ];
    for (at, expected) in cases {
        let mut opts = OpenOptions::new();
        opts.placement(Placement::At(at));
        let got = linker
            .check(vec![Input::bytes("base.o", base.clone())], &opts)
            .map(|_| "(loaded without error)".to_string())
            .unwrap_or_else(|e| e.to_string());
        assert_eq!(got, expected, "at {at:#x}");
        // The same for a real open, which maps nothing there.
        // SAFETY: refused before anything is mapped or run.
        let opened = unsafe { opts.open(&linker, [Input::bytes("base.o", base.clone())]) };
        assert_eq!(opened.map(|_| ()).unwrap_err().to_string(), expected);
    }
    // The lowest and the highest base are fine.
    for at in [lowest.max(AT), highest] {
        let mut opts = OpenOptions::new();
        opts.placement(Placement::At(at));
        let report = linker
            .check(vec![Input::bytes("base.o", base.clone())], &opts)
            .unwrap_or_else(|e| panic!("at {at:#x}: {e}"));
        assert_eq!(report.stats.base, at);
    }
}

/// Two sections whose file ranges overlap load, each from its own copy.
#[test]
fn overlapping_sections_load_from_separate_copies() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let base = assemble(dir.path(), "base", BASE_S);
    let linker = linker_with_byte_value(7);
    let (_, text_sh) = section(&base, ".text");
    let (data, data_sh) = section(&base, ".data");
    let text_off = text_sh.sh_offset(LE);
    let text_size = text_sh.sh_size(LE) as usize;
    let data_size = data_sh.sh_size(LE) as usize;
    assert!(data_size <= text_size, "the test lays .data over .text");

    // .data's contents are now the start of .text's, in the file.
    let mut b = base.clone();
    set_shdr!(b, data, sh_offset, u64, text_off);
    let intact = check(&linker, vec![Input::bytes("base.o", base.clone())]).expect("intact");
    let overlapped = check(&linker, vec![Input::bytes("overlap.o", b)]).unwrap_or_else(|e| {
        panic!("objdl refused sections that overlap in the file: {e}");
    });
    eprintln!("overlapping .text and .data in the file: loaded");

    let find = |r: &Report, name: &str| -> (usize, usize) {
        let s = r
            .sections
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} is loaded"));
        ((s.address - r.stats.base) as usize, s.size as usize)
    };
    // .text is relocated exactly as without the overlap: .data's
    // relocations went to .data's own copy.
    let (t0, tn) = find(&intact, ".text");
    let (t1, _) = find(&overlapped, ".text");
    assert_eq!(
        intact.image[t0..t0 + tn],
        overlapped.image[t1..t1 + tn],
        ".text differs"
    );
    // .data starts with the file's .text bytes, up to its first relocated field.
    let (d1, _) = find(&overlapped, ".data");
    let first_field = rela(&base, ".rela.data", 0).r_offset(LE) as usize;
    let text_file = &base[text_off as usize..][..first_field];
    assert_eq!(&overlapped.image[d1..d1 + first_field], text_file);
    // And .data's relocations were applied to it: SIZE32 of `counter` is 4.
    assert_eq!(
        overlapped.image[d1 + first_field..d1 + first_field + 4],
        4u32.to_le_bytes()
    );
}

/// An empty `.tdata` with a relocation (the `open` fuzz target found it):
/// a unit with no thread-local bytes may still have TLS initialiser
/// relocations, which only the planner's path checks. A real open (where
/// the unit would otherwise be relocated without planning) reports them.
const EMPTY_TDATA_S: &str = r#"
	.text
	.globl f
f:	ret
	.section .tdata,"awT",@progbits
	.reloc ., R_X86_64_64, f
"#;

#[test]
fn relocations_of_an_empty_tls_initialiser_are_checked_on_open() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let obj = assemble(dir.path(), "tdata", EMPTY_TDATA_S);
    let mut badsym = obj.clone();
    let at = rela_at(&obj, ".rela.tdata", 0) + offset_of!(Rela64<LE>, r_info);
    put_u64(
        &mut badsym,
        at,
        (1000u64 << 32) | u64::from(elf::R_X86_64_64.0),
    );
    let linker = Linker::new();
    for (name, bytes, expected) in [
        (
            "tdata.o",
            obj,
            "tdata.o: malformed: section .tdata: relocation at offset 0x0 (8 bytes) lies outside the section (0x0 bytes)",
        ),
        (
            "badsym.o",
            badsym,
            "badsym.o: malformed: section .tdata: relocation at offset 0x0 refers to symbol index 1000, but there are 2 symbols",
        ),
    ] {
        // SAFETY: `no_exec`: nothing of the unit runs; it is refused anyway.
        let got = unsafe { OpenOptions::new().no_exec(true).open(&linker, vec![Input::bytes(name, bytes)]) };
        match got {
            Ok(_) => panic!("{name}: opened"),
            Err(e) => assert_eq!(e.to_string(), expected),
        }
    }
}

//! One test per x86-64 relocation type objdl implements, plus the
//! out-of-range and unsupported cases that must be errors.
//!
//! Every object is real assembly, assembled at test time with the system
//! toolchain (`gcc -c x.s`), loaded with the public API and checked by
//! calling its functions or reading its data. Each test also checks that the
//! object really contains the relocation type it is about, so that a change
//! in the assembler cannot make a test silently test something else.

use objdl_testkit as common;

use std::ffi::CString;
use std::path::PathBuf;
use std::process::Command;

use objdl::{Error, Linker, OpenOptions, Placement, Unit};
use object::elf::{self, FileHeader64, Rela64, RelocationType};
use object::read::elf::{FileHeader as _, Rela as _, SectionHeader as _};
use object::LittleEndian as LE;

// ---------------------------------------------------------------------------
// Helpers.

/// An assembled object in its own temporary directory.
struct Obj {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Obj {
    fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).unwrap()
    }

    /// The path as objdl prints it in messages.
    fn name(&self) -> String {
        self.path.display().to_string()
    }
}

/// Assembles `src` with `gcc -c` (plus `extra` flags) and returns the object.
fn assemble_with(name: &str, src: &str, extra: &[&str]) -> Obj {
    let dir = tempfile::tempdir().expect("temporary directory");
    let s = dir.path().join(format!("{name}.s"));
    let o = dir.path().join(format!("{name}.o"));
    let text = format!("{src}\n\t.section .note.GNU-stack,\"\",@progbits\n");
    common::compile_to("gcc", extra, &s, &text, &o);
    Obj { _dir: dir, path: o }
}

fn assemble(name: &str, src: &str) -> Obj {
    assemble_with(name, src, &[])
}

/// One `SHT_RELA` entry of an object as `object` reads it, with the name of
/// the section it applies to and where it is in the file.
#[derive(Debug, Clone)]
struct Reloc {
    /// The section the relocation applies to.
    section: String,
    offset: u64,
    r_type: RelocationType,
    addend: i64,
    /// File offset of the entry, for patching.
    at: usize,
}

/// Every RELA relocation of an ELF64 little-endian relocatable object.
fn relas(b: &[u8]) -> Vec<Reloc> {
    let header = FileHeader64::<LE>::parse(b).expect("an ELF64 object");
    let sections = header.sections(LE, b).expect("section headers");
    let mut out = Vec::new();
    for rela in sections.iter() {
        let Some((entries, _)) = rela.rela(LE, b).expect("relocation entries") else {
            continue; // not SHT_RELA
        };
        let target = sections
            .section(rela.info_link(LE))
            .expect("the relocated section");
        let name = sections.section_name(LE, target).expect("a section name");
        let section = String::from_utf8_lossy(name).into_owned();
        let start = rela.sh_offset(LE) as usize;
        for (i, entry) in entries.iter().enumerate() {
            out.push(Reloc {
                section: section.clone(),
                offset: entry.r_offset(LE),
                r_type: entry.r_type(LE, false),
                addend: entry.r_addend(LE),
                at: start + i * size_of::<Rela64<LE>>(),
            });
        }
    }
    out
}

/// Asserts that `obj` has at least one relocation of type `r_type`, and
/// returns the first one.
fn expect_reloc(obj: &Obj, r_type: RelocationType) -> Reloc {
    let all = relas(&obj.bytes());
    all.iter()
        .find(|r| r.r_type == r_type)
        .cloned()
        .unwrap_or_else(|| panic!("the assembler emitted no type {r_type} relocation: {all:#?}"))
}

/// Asserts that `obj` has no relocation of type `r_type`.
fn expect_no_reloc(obj: &Obj, r_type: RelocationType) {
    let all = relas(&obj.bytes());
    assert!(
        all.iter().all(|r| r.r_type != r_type),
        "unexpected type {r_type} relocation: {all:#?}"
    );
}

fn open_at(obj: &Obj, placement: Placement) -> objdl::Result<Unit> {
    let linker = Linker::new();
    open_with(&linker, obj, placement)
}

fn open_with(linker: &Linker, obj: &Obj, placement: Placement) -> objdl::Result<Unit> {
    // SAFETY: the test objects have no initialisers.
    unsafe {
        OpenOptions::new()
            .placement(placement)
            .open(linker, [&obj.path])
    }
}

fn open(obj: &Obj, placement: Placement) -> Unit {
    open_at(obj, placement).unwrap_or_else(|e| panic!("open with {placement:?}: {e}"))
}

/// Opens `obj` expecting an error.
fn open_err(linker: &Linker, obj: &Obj, placement: Placement) -> Error {
    match open_with(linker, obj, placement) {
        Ok(u) => panic!(
            "open with {placement:?} succeeded ({}), expected an error",
            u.stats()
        ),
        Err(e) => e,
    }
}

/// The placements under which position-independent code must work.
const ANYWHERE: [Placement; 3] = [Placement::Auto, Placement::Far, Placement::Low];

fn addr(unit: &Unit, name: &str) -> u64 {
    unit.address(name)
        .unwrap_or_else(|| panic!("`{name}` is not exported"))
}

/// Calls `name` as `u64 name(void)`.
fn call0(unit: &Unit, name: &str) -> u64 {
    // SAFETY: every function the tests call this way takes no argument and
    // returns a 64-bit integer in %rax.
    let f: objdl::Symbol<extern "C" fn() -> u64> = unsafe { unit.get(name).unwrap() };
    f()
}

/// Calls `name` as `i64 name(i64)`.
fn call1(unit: &Unit, name: &str, x: i64) -> i64 {
    // SAFETY: as for `call0`, with one integer argument in %rdi.
    let f: objdl::Symbol<extern "C" fn(i64) -> i64> = unsafe { unit.get(name).unwrap() };
    f(x)
}

/// Reads a `T` at an address inside a loaded unit (or the host).
fn read<T: Copy>(at: u64) -> T {
    // SAFETY: the tests only read mapped, readable unit or host memory.
    unsafe { std::ptr::read_unaligned(at as *const T) }
}

fn read_bytes(at: u64, n: usize) -> Vec<u8> {
    // SAFETY: as for `read`.
    unsafe { std::slice::from_raw_parts(at as *const u8, n) }.to_vec()
}

/// The address of a symbol of the process, as `dlsym` finds it.
fn host(name: &str) -> u64 {
    let c = CString::new(name).unwrap();
    // SAFETY: `c` is a NUL-terminated string; RTLD_DEFAULT is always valid.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c.as_ptr()) };
    assert!(!p.is_null(), "dlsym({name}) failed");
    p as u64
}

/// The `FILE *` libc's `stdout` holds.
fn host_stdout() -> u64 {
    read::<u64>(host("stdout"))
}

/// Asserts that the error message names the site (file, section, offset)
/// and the relocation type.
fn assert_names_site(e: &Error, obj: &Obj, section: &str, offset: u64, r_type: &str) {
    let msg = e.to_string();
    let site = format!("{}:{}+{:#x}", obj.name(), section, offset);
    assert!(msg.contains(&site), "`{msg}` does not name the site {site}");
    assert!(
        msg.contains(r_type),
        "`{msg}` does not name the relocation type {r_type}"
    );
}

/// Asserts an out-of-range error: `Overflow`, or `Unreachable` (when a
/// placement could in principle have served it), naming the site and type.
fn assert_out_of_range(e: &Error, obj: &Obj, rela: &Reloc, r_type: &str, symbol: &str) {
    assert!(
        matches!(e, Error::Overflow { .. } | Error::Unreachable { .. }),
        "expected Overflow or Unreachable, got {e:?}: {e}"
    );
    assert_names_site(e, obj, &rela.section, rela.offset, r_type);
    let msg = e.to_string();
    assert!(msg.contains(symbol), "`{msg}` does not name `{symbol}`");
}

// A host function that reports %rax and %r11 as they were on entry: a
// trampoline must deliver a call with every register intact.
std::arch::global_asm!(
    ".text",
    ".globl objdl_reloc_test_rax_r11",
    "objdl_reloc_test_rax_r11:",
    "    shlq $32, %r11",
    "    orq %r11, %rax",
    "    ret",
    options(att_syntax)
);
extern "C" {
    fn objdl_reloc_test_rax_r11();
}

// ---------------------------------------------------------------------------
// One test per relocation type.

#[test]
fn r_x86_64_none() {
    let obj = assemble(
        "none",
        r#"
        .text
        .globl f
f:
        .reloc ., R_X86_64_NONE, f
        movl $42, %eax
        ret
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_NONE);
    for p in ANYWHERE {
        let unit = open(&obj, p);
        assert_eq!(call0(&unit, "f"), 42);
        // Nothing was written over the instruction.
        assert_eq!(
            read_bytes(addr(&unit, "f"), 6),
            [0xb8, 42, 0, 0, 0, 0xc3],
            "{p:?}"
        );
    }
}

#[test]
fn r_x86_64_64() {
    let obj = assemble(
        "r64",
        r#"
        .text
        .globl target, via_movabs, via_table
target:
        movl $7, %eax
        ret
via_movabs:                     # R_X86_64_64 in code (-mcmodel=large -fno-pic)
        movabsq $target, %rax
        jmp *%rax
via_table:
        movq tab(%rip), %rax
        jmp *%rax
        .data
        .globl tab
tab:
        .quad target            # internal
        .quad target+16         # internal with an addend
        .quad labs              # host
        .quad labs-8            # host with a negative addend
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_64);
    let labs = host("labs");
    for p in ANYWHERE {
        let unit = open(&obj, p);
        let target = addr(&unit, "target");
        let tab = addr(&unit, "tab");
        assert_eq!(read::<u64>(tab), target, "{p:?}");
        assert_eq!(read::<u64>(tab + 8), target + 16, "{p:?}");
        assert_eq!(read::<u64>(tab + 16), labs, "{p:?}");
        assert_eq!(read::<u64>(tab + 24), labs - 8, "{p:?}");
        assert_eq!(call0(&unit, "via_movabs"), 7);
        assert_eq!(call0(&unit, "via_table"), 7);
    }
}

#[test]
fn r_x86_64_pc32() {
    let obj = assemble(
        "pc32",
        r#"
        .text
        .globl addr_of_val, load_val, addr_past_val, store_val, addr_of_local, addr_of_labs
addr_of_val:
        leaq val(%rip), %rax
        ret
load_val:
        movq val(%rip), %rax
        ret
addr_past_val:
        leaq val+24(%rip), %rax
        ret
store_val:
        movq %rdi, val(%rip)
        movq val(%rip), %rax
        ret
addr_of_local:                  # a local symbol: PC32 against .data + offset
        leaq local(%rip), %rax
        ret
addr_of_labs:                   # a host function, possibly out of reach
        leaq labs(%rip), %rax
        ret
        .data
        .quad 0x1111
        .globl val, rel
val:
        .quad 0x1234567890
local:
        .quad 0x55
rel:
        .long addr_of_val - .   # PC32 in data, across sections
        "#,
    );
    let r = expect_reloc(&obj, elf::R_X86_64_PC32);
    assert_eq!(r.addend, -4);
    assert!(relas(&obj.bytes())
        .iter()
        .any(|r| r.r_type == elf::R_X86_64_PC32 && r.section == ".data"));
    let labs = host("labs");
    for p in ANYWHERE {
        let unit = open(&obj, p);
        let val = addr(&unit, "val");
        assert_eq!(call0(&unit, "addr_of_val"), val, "{p:?}");
        assert_eq!(call0(&unit, "load_val"), 0x12_3456_7890, "{p:?}");
        assert_eq!(call0(&unit, "addr_past_val"), val + 24, "{p:?}");
        assert_eq!(call1(&unit, "store_val", 99), 99, "{p:?}");
        assert_eq!(read::<u64>(val), 99, "{p:?}");
        assert_eq!(call0(&unit, "addr_of_local"), val + 8, "{p:?}");
        assert_eq!(read::<u64>(val + 8), 0x55);
        assert_eq!(call0(&unit, "addr_of_labs"), labs, "{p:?}");
        let rel = addr(&unit, "rel");
        let d = read::<i32>(rel) as i64;
        assert_eq!(
            rel.wrapping_add_signed(d),
            addr(&unit, "addr_of_val"),
            "{p:?}"
        );
    }
}

#[test]
fn r_x86_64_plt32() {
    let obj = assemble(
        "plt32",
        r#"
        .text
        .globl callee, call_callee, call_labs, tail_labs, cond_labs
callee:
        leaq 1(%rdi), %rax
        ret
call_callee:
        subq $8, %rsp
        call callee@PLT
        addq $8, %rsp
        ret
call_labs:                      # call rel32
        subq $8, %rsp
        call labs@PLT
        addq $8, %rsp
        ret
tail_labs:                      # jmp rel32
        jmp labs@PLT
cond_labs:                      # jcc rel32
        testq %rdi, %rdi
        jne labs@PLT
        movl $99, %eax
        ret
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_PLT32);
    for p in ANYWHERE {
        let unit = open(&obj, p);
        assert_eq!(call1(&unit, "call_callee", 5), 6, "{p:?}");
        assert_eq!(call1(&unit, "call_labs", -9), 9, "{p:?}");
        assert_eq!(call1(&unit, "tail_labs", -3), 3, "{p:?}");
        assert_eq!(call1(&unit, "cond_labs", -4), 4, "{p:?}");
        assert_eq!(call1(&unit, "cond_labs", 0), 99, "{p:?}");
        if p == Placement::Far {
            // Three sites, one destination: one trampoline.
            assert_eq!(unit.stats().trampolines, 1, "{}", unit.stats());
        }
    }
}

#[test]
fn r_x86_64_32() {
    // Against the unit itself: only in the low 2 GiB (-fno-pic code).
    let obj = assemble(
        "r32",
        r#"
        .text
        .globl addr_of_val, load_val
addr_of_val:
        movl $val, %eax
        ret
load_val:
        movl $val+8, %ecx
        movq (%rcx), %rax
        ret
        .data
        .globl val, word
val:
        .quad 1, 0x77
word:
        .long val+4
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_32);
    let unit = open(&obj, Placement::Low);
    let val = addr(&unit, "val");
    assert!(val < 1 << 31, "{}", unit.stats());
    assert_eq!(call0(&unit, "addr_of_val"), val);
    assert_eq!(call0(&unit, "load_val"), 0x77);
    assert_eq!(read::<u32>(addr(&unit, "word")) as u64, val + 4);

    // Against host values below 4 GiB, anywhere: zero-extended.
    let obj = assemble(
        "r32host",
        r#"
        .text
        .globl small_plus_one, big
small_plus_one:
        movl $small+1, %eax
        ret
big:
        movq $-1, %rax
        movl $big32, %eax
        ret
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_32);
    let linker = Linker::new();
    linker.define("small", 0x1234_5678 as *const ());
    linker.define("big32", 0xffff_fff0_usize as *const ());
    for p in ANYWHERE {
        let unit = open_with(&linker, &obj, p).unwrap();
        assert_eq!(call0(&unit, "small_plus_one"), 0x1234_5679, "{p:?}");
        assert_eq!(call0(&unit, "big"), 0xffff_fff0, "{p:?}");
    }
}

#[test]
fn r_x86_64_32s() {
    let obj = assemble(
        "r32s",
        r#"
        .text
        .globl addr_of_val, index
addr_of_val:
        movq $val, %rax
        ret
index:                          # a jump-table style load, as -fno-pic emits
        movq val(,%rdi,8), %rax
        ret
        .data
        .globl val
val:
        .quad 10, 20, 30
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_32S);
    let unit = open(&obj, Placement::Low);
    assert_eq!(call0(&unit, "addr_of_val"), addr(&unit, "val"));
    assert_eq!(call1(&unit, "index", 2), 30);

    // Host values: sign-extended, so small negative ones fit.
    let obj = assemble(
        "r32shost",
        r#"
        .text
        .globl pos, neg
pos:
        movq $hpos, %rax
        ret
neg:
        movq $hneg, %rax
        ret
        "#,
    );
    let linker = Linker::new();
    linker.define("hpos", 0x7fff_fff0 as *const ());
    linker.define("hneg", -16isize as *const ());
    for p in ANYWHERE {
        let unit = open_with(&linker, &obj, p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
        assert_eq!(call0(&unit, "pos"), 0x7fff_fff0, "{p:?}");
        assert_eq!(call0(&unit, "neg") as i64, -16, "{p:?}");
    }
}

#[test]
fn r_x86_64_16() {
    let obj = assemble(
        "r16",
        r#"
        .text
        .globl get16
get16:
        xorl %eax, %eax
        movw $v16, %ax
        ret
        .data
        .globl w
w:
        .word v16
        .word v16+1
        .word vneg
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_16);
    let linker = Linker::new();
    linker.define("v16", 0xbeef as *const ());
    linker.define("vneg", -2isize as *const ());
    for p in ANYWHERE {
        let unit = open_with(&linker, &obj, p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
        assert_eq!(call0(&unit, "get16"), 0xbeef);
        let w = addr(&unit, "w");
        assert_eq!(read::<u16>(w), 0xbeef);
        assert_eq!(read::<u16>(w + 2), 0xbef0);
        assert_eq!(read::<i16>(w + 4), -2);
    }
}

#[test]
fn r_x86_64_pc16() {
    let obj = assemble(
        "pc16",
        r#"
        .section .data.a,"aw",@progbits
        .globl field
field:
        .word target - .
        .word target + 2 - .
        .section .data.b,"aw",@progbits
        .skip 1000
        .globl target
target:
        .quad 0
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_PC16);
    for p in ANYWHERE {
        let unit = open(&obj, p);
        let field = addr(&unit, "field");
        let target = addr(&unit, "target");
        assert_eq!(read::<i16>(field) as i64, target as i64 - field as i64);
        assert_eq!(
            read::<i16>(field + 2) as i64,
            target as i64 + 2 - (field as i64 + 2)
        );
    }
}

#[test]
fn r_x86_64_8() {
    let obj = assemble(
        "r8",
        r#"
        .text
        .globl get8
get8:
        xorl %eax, %eax
        movb $v8, %al
        ret
        .data
        .globl b
b:
        .byte v8
        .byte v8+1
        .byte vneg
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_8);
    let linker = Linker::new();
    linker.define("v8", 0xab as *const ());
    linker.define("vneg", -3isize as *const ());
    for p in ANYWHERE {
        let unit = open_with(&linker, &obj, p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
        assert_eq!(call0(&unit, "get8"), 0xab);
        let b = addr(&unit, "b");
        assert_eq!(read::<[u8; 3]>(b), [0xab, 0xac, 0xfd]);
    }

    // The values from absolute symbols of another object of the unit.
    let consts = assemble(
        "r8consts",
        r#"
        .globl v8, vneg
        .set v8, 0x7f
        .set vneg, -128
        "#,
    );
    for p in ANYWHERE {
        // SAFETY: no initialisers.
        let unit = unsafe {
            OpenOptions::new()
                .placement(p)
                .open(&Linker::new(), [&obj.path, &consts.path])
        }
        .unwrap_or_else(|e| panic!("{p:?}: {e}"));
        assert_eq!(call0(&unit, "get8"), 0x7f);
        assert_eq!(read::<[u8; 3]>(addr(&unit, "b")), [0x7f, 0x80, 0x80]);
    }
}

#[test]
fn r_x86_64_pc8() {
    let obj = assemble(
        "pc8",
        r#"
        .section .text.a,"ax",@progbits
        .globl jump_if_zero
jump_if_zero:                   # jrcxz has only a rel8 form
        movq %rdi, %rcx
        movl $1, %eax
        jrcxz taken
        ret
        .section .text.b,"ax",@progbits
taken:
        movl $2, %eax
        ret
        .section .data.a,"aw",@progbits
        .globl field
field:
        .byte target - .
        .section .data.b,"aw",@progbits
        .skip 50
        .globl target
target:
        .byte 0
        "#,
    );
    let r = expect_reloc(&obj, elf::R_X86_64_PC8);
    assert_eq!(r.section, ".text.a");
    for p in ANYWHERE {
        let unit = open(&obj, p);
        assert_eq!(call1(&unit, "jump_if_zero", 0), 2, "{p:?}");
        assert_eq!(call1(&unit, "jump_if_zero", 5), 1, "{p:?}");
        let field = addr(&unit, "field");
        let target = addr(&unit, "target");
        assert_eq!(read::<i8>(field) as i64, target as i64 - field as i64);
    }
}

#[test]
fn r_x86_64_pc64() {
    let obj = assemble(
        "pc64",
        r#"
        .text
        .globl target
target:
        ret
        .data
        .globl d
d:
        .quad target - .
        .quad target + 3 - .
        .quad labs - .          # host: reaches anything
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_PC64);
    let labs = host("labs");
    for p in ANYWHERE {
        let unit = open(&obj, p);
        let d = addr(&unit, "d");
        let target = addr(&unit, "target");
        assert_eq!(d.wrapping_add(read::<u64>(d)), target, "{p:?}");
        assert_eq!((d + 8).wrapping_add(read::<u64>(d + 8)), target + 3);
        assert_eq!((d + 16).wrapping_add(read::<u64>(d + 16)), labs);
    }
}

/// 64-bit fields take their value modulo 2^64, as GNU ld and lld compute
/// them. A PC64 field against a symbol at or above 2^63 (the field, added
/// to its own address, gives the symbol) was refused: "value
/// 0x7fffffffefffe010 does not fit a 64-bit field". So were the same class
/// of R_X86_64_64 and GOTOFF64 values, whose sums pass 2^63 or 2^64.
#[test]
fn sixty_four_bit_fields_wrap_as_ld_computes_them() {
    let obj = assemble(
        "wrap64",
        r#"
        .text
        .globl got_base
got_base:
        leaq _GLOBAL_OFFSET_TABLE_(%rip), %rax
        ret
        .data
        .globl d
d:
        .quad high - .                  # R_X86_64_PC64, the symbol above 2^63
        .quad high - 0x40 - .           # the same with an addend
        .quad high - 0x20               # R_X86_64_64: S + A below 2^63
        .quad high + 0x7ff0000000000000 # R_X86_64_64: S + A past 2^64
        .quad high@GOTOFF               # R_X86_64_GOTOFF64: S - GOT
        "#,
    );
    for r_type in [elf::R_X86_64_PC64, elf::R_X86_64_64, elf::R_X86_64_GOTOFF64] {
        expect_reloc(&obj, r_type);
    }
    const HIGH: u64 = 0x8000_0000_0000_0010;
    let linker = Linker::new();
    linker.define("high", HIGH as *const ());
    for p in ANYWHERE {
        let unit = open_with(&linker, &obj, p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
        let d = addr(&unit, "d");
        assert_eq!(d.wrapping_add(read::<u64>(d)), HIGH, "{p:?}");
        assert_eq!((d + 8).wrapping_add(read::<u64>(d + 8)), HIGH - 0x40);
        assert_eq!(read::<u64>(d + 16), HIGH - 0x20);
        assert_eq!(
            read::<u64>(d + 24),
            HIGH.wrapping_add(0x7ff0_0000_0000_0000)
        );
        let got = call0(&unit, "got_base");
        assert_eq!(got.wrapping_add(read::<u64>(d + 32)), HIGH, "{p:?}");
    }
}

#[test]
fn r_x86_64_gotpcrel() {
    // Without relaxable relocations, as older assemblers emit them.
    let obj = assemble_with(
        "gotpcrel",
        r#"
        .text
        .globl get_stdout, addr_of_stdout, addr_of_val
get_stdout:
        movq stdout@GOTPCREL(%rip), %rax
        movq (%rax), %rax
        ret
addr_of_stdout:
        movq stdout@GOTPCREL(%rip), %rax
        ret
addr_of_val:
        movq val@GOTPCREL(%rip), %rax
        ret
        .data
        .globl val
val:
        .quad 5
        "#,
        &["-Wa,-mrelax-relocations=no"],
    );
    expect_reloc(&obj, elf::R_X86_64_GOTPCREL);
    expect_no_reloc(&obj, elf::R_X86_64_REX_GOTPCRELX);
    for p in ANYWHERE {
        let unit = open(&obj, p);
        assert_eq!(call0(&unit, "get_stdout"), host_stdout(), "{p:?}");
        assert_eq!(call0(&unit, "addr_of_stdout"), host("stdout"), "{p:?}");
        assert_eq!(call0(&unit, "addr_of_val"), addr(&unit, "val"), "{p:?}");
        // Not relaxable: both go through slots.
        let s = unit.stats();
        assert_eq!(s.relaxations, 0, "{s}");
        assert_eq!(s.got_slots, 2, "{s}");
        // The instruction is still a load.
        assert_eq!(
            read_bytes(addr(&unit, "addr_of_val"), 3),
            [0x48, 0x8b, 0x05]
        );
    }
}

#[test]
fn r_x86_64_gotpcrelx() {
    let obj = assemble(
        "gotpcrelx",
        r#"
        .text
        .globl callee, call_via_got, jmp_via_got, low32_via_got
callee:
        leaq 100(%rdi), %rax
        ret
call_via_got:
        subq $8, %rsp
        call *callee@GOTPCREL(%rip)
        addq $8, %rsp
        ret
jmp_via_got:
        jmp *callee@GOTPCREL(%rip)
low32_via_got:                  # mov without REX: the low 32 bits
        movl callee@GOTPCREL(%rip), %eax
        ret
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_GOTPCRELX);
    expect_no_reloc(&obj, elf::R_X86_64_REX_GOTPCRELX);
    for p in ANYWHERE {
        let unit = open(&obj, p);
        let s = unit.stats().clone();
        assert_eq!(s.relaxations, 3, "{p:?}: {s}");
        assert_eq!(s.got_slots, 0, "{p:?}: {s}");
        assert_eq!(call1(&unit, "call_via_got", 1), 101, "{p:?}");
        assert_eq!(call1(&unit, "jmp_via_got", 2), 102, "{p:?}");
        let callee = addr(&unit, "callee");
        assert_eq!(call0(&unit, "low32_via_got"), callee & 0xffff_ffff);
        // call *x(%rip) became addr32 call; jmp *x(%rip) became jmp; nop;
        // mov became lea.
        let c = addr(&unit, "call_via_got") + 4;
        assert_eq!(read_bytes(c, 2), [0x67, 0xe8]);
        assert_eq!(
            (c + 6).wrapping_add_signed(read::<i32>(c + 2) as i64),
            callee
        );
        let j = addr(&unit, "jmp_via_got");
        assert_eq!(read::<u8>(j), 0xe9);
        assert_eq!(read::<u8>(j + 5), 0x90);
        assert_eq!(
            (j + 5).wrapping_add_signed(read::<i32>(j + 1) as i64),
            callee
        );
        assert_eq!(read_bytes(addr(&unit, "low32_via_got"), 2), [0x8d, 0x05]);
    }

    // To the host: relaxed when in reach, through a slot when not.
    let obj = assemble(
        "gotpcrelx_host",
        r#"
        .text
        .globl call_labs, jmp_labs
call_labs:
        subq $8, %rsp
        call *labs@GOTPCREL(%rip)
        addq $8, %rsp
        ret
jmp_labs:
        jmp *labs@GOTPCREL(%rip)
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_GOTPCRELX);
    for p in ANYWHERE {
        let unit = open(&obj, p);
        assert_eq!(call1(&unit, "call_labs", -11), 11, "{p:?}");
        assert_eq!(call1(&unit, "jmp_labs", -12), 12, "{p:?}");
        let s = unit.stats();
        if p == Placement::Far {
            assert_eq!(s.relaxations, 0, "{s}");
            assert_eq!(s.got_slots, 1, "{s}");
            assert_eq!(read_bytes(addr(&unit, "jmp_labs"), 2), [0xff, 0x25]);
        }
    }
}

#[test]
fn r_x86_64_rex_gotpcrelx() {
    let obj = assemble(
        "rex_gotpcrelx",
        r#"
        .text
        .globl addr_of_val, addr_via_r12, load_val
addr_of_val:
        movq val@GOTPCREL(%rip), %rax
        ret
addr_via_r12:
        pushq %r12
        movq val@GOTPCREL(%rip), %r12
        movq %r12, %rax
        popq %r12
        ret
load_val:
        movq val@GOTPCREL(%rip), %rax
        movq (%rax), %rax
        ret
        .data
        .globl val
val:
        .quad 0xfeed
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_REX_GOTPCRELX);
    for p in ANYWHERE {
        let unit = open(&obj, p);
        let s = unit.stats().clone();
        assert_eq!(s.relaxations, 3, "{p:?}: {s}");
        assert_eq!(s.got_slots, 0, "{p:?}: {s}");
        let val = addr(&unit, "val");
        assert_eq!(call0(&unit, "addr_of_val"), val, "{p:?}");
        assert_eq!(call0(&unit, "addr_via_r12"), val, "{p:?}");
        assert_eq!(call0(&unit, "load_val"), 0xfeed, "{p:?}");
        assert_eq!(
            read_bytes(addr(&unit, "addr_of_val"), 3),
            [0x48, 0x8d, 0x05]
        );
        assert_eq!(
            read_bytes(addr(&unit, "addr_via_r12") + 2, 3),
            [0x4c, 0x8d, 0x25]
        );
    }

    // External data, and an instruction objdl does not relax (add).
    let obj = assemble(
        "rex_gotpcrelx_host",
        r#"
        .text
        .globl get_stdout, stdout_plus
get_stdout:
        movq stdout@GOTPCREL(%rip), %rax
        movq (%rax), %rax
        ret
stdout_plus:                    # %rdi + &stdout
        movq %rdi, %rax
        addq stdout@GOTPCREL(%rip), %rax
        ret
        "#,
    );
    let all = relas(&obj.bytes());
    assert_eq!(
        all.iter()
            .filter(|r| r.r_type == elf::R_X86_64_REX_GOTPCRELX)
            .count(),
        2,
        "{all:#?}"
    );
    for p in ANYWHERE {
        let unit = open(&obj, p);
        assert_eq!(call0(&unit, "get_stdout"), host_stdout(), "{p:?}");
        assert_eq!(
            call1(&unit, "stdout_plus", 3) as u64,
            host("stdout") + 3,
            "{p:?}"
        );
        assert!(unit.stats().got_slots >= 1, "{}", unit.stats());
        if p == Placement::Far {
            assert_eq!(unit.stats().relaxations, 0, "{}", unit.stats());
        }
    }
}

#[test]
fn r_x86_64_gotpcrel64() {
    let obj = assemble(
        "gotpcrel64",
        r#"
        .text
        .globl slot_of_stdout, slot_of_val, get_stdout
slot_of_stdout:                 # G = P + (G - P)
        leaq off_stdout(%rip), %rcx
        movq (%rcx), %rax
        addq %rcx, %rax
        ret
slot_of_val:
        leaq off_val(%rip), %rcx
        movq (%rcx), %rax
        addq %rcx, %rax
        ret
get_stdout:
        leaq off_stdout(%rip), %rcx
        movq (%rcx), %rax
        movq (%rcx,%rax), %rax
        movq (%rax), %rax
        ret
        .data
        .globl val
val:
        .quad 0x42
off_stdout:
        .reloc ., R_X86_64_GOTPCREL64, stdout
        .quad 0
off_val:
        .reloc ., R_X86_64_GOTPCREL64, val
        .quad 0
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_GOTPCREL64);
    for p in ANYWHERE {
        let unit = open(&obj, p);
        let s = unit.stats().clone();
        assert_eq!(s.got_slots, 2, "{p:?}: {s}");
        let slot = call0(&unit, "slot_of_stdout");
        assert_eq!(read::<u64>(slot), host("stdout"), "{p:?}");
        let slot = call0(&unit, "slot_of_val");
        assert_eq!(read::<u64>(slot), addr(&unit, "val"), "{p:?}");
        assert!(slot >= s.base && slot < s.base + s.size, "{p:?}: {s}");
        assert_eq!(call0(&unit, "get_stdout"), host_stdout(), "{p:?}");
    }
}

/// Functions in the style of `gcc -O2 -mcmodel=large -fPIC`: the GOT base
/// from GOTPC32 or GOTPC64, then GOTOFF64, GOT64 and PLTOFF64 relative to it.
const LARGE_PIC: &str = r#"
        .text
        .globl got32, got64, x_gotpc32, x_gotpc64, x8_gotoff, bss_gotoff
        .globl stdout_got64, val_got64, labs_pltoff, callee, callee_pltoff, callee_gotoff
got32:
        leaq _GLOBAL_OFFSET_TABLE_(%rip), %rax
        ret
got64:
.Lg64:
        movabsq $_GLOBAL_OFFSET_TABLE_-.Lg64, %r11
        leaq .Lg64(%rip), %rax
        addq %r11, %rax
        ret
x_gotpc32:
        leaq _GLOBAL_OFFSET_TABLE_(%rip), %rax
        movabsq $x@GOTOFF, %rdx
        addq %rdx, %rax
        ret
x_gotpc64:                      # gcc -O2 -mcmodel=large -fPIC, verbatim
.L2:
        movabsq $_GLOBAL_OFFSET_TABLE_-.L2, %r11
        leaq .L2(%rip), %rax
        movabsq $x@GOTOFF, %rdx
        addq %r11, %rax
        addq %rdx, %rax
        ret
x8_gotoff:
.L3:
        movabsq $_GLOBAL_OFFSET_TABLE_-.L3, %r11
        leaq .L3(%rip), %rax
        movabsq $x+8@GOTOFF, %rdx
        addq %r11, %rax
        addq %rdx, %rax
        ret
bss_gotoff:
        leaq _GLOBAL_OFFSET_TABLE_(%rip), %rax
        movabsq $zeroes@GOTOFF, %rdx
        addq %rdx, %rax
        ret
stdout_got64:                   # gcc's `return stdout;`
.L5:
        movabsq $_GLOBAL_OFFSET_TABLE_-.L5, %r11
        leaq .L5(%rip), %rax
        movabsq $stdout@GOT, %rdx
        addq %r11, %rax
        movq (%rax,%rdx), %rax
        movq (%rax), %rax
        ret
val_got64:                      # GOT64 against the unit's own data
        leaq _GLOBAL_OFFSET_TABLE_(%rip), %rax
        movabsq $x@GOT, %rdx
        movq (%rax,%rdx), %rax
        ret
labs_pltoff:                    # gcc's `return labs(n);`
.L7:
        movabsq $_GLOBAL_OFFSET_TABLE_-.L7, %r11
        pushq %r15
        leaq .L7(%rip), %r15
        movabsq $labs@PLTOFF, %rax
        addq %r11, %r15
        addq %r15, %rax
        popq %r15
        jmp *%rax
callee:
        leaq 1000(%rdi), %rax
        ret
callee_pltoff:
        leaq _GLOBAL_OFFSET_TABLE_(%rip), %rax
        movabsq $callee@PLTOFF, %rdx
        addq %rdx, %rax
        jmp *%rax
callee_gotoff:
        leaq _GLOBAL_OFFSET_TABLE_(%rip), %rax
        movabsq $callee@GOTOFF, %rdx
        addq %rdx, %rax
        jmp *%rax
        .data
        .globl x
x:
        .quad 1, 2
        .bss
        .globl zeroes
zeroes:
        .zero 64
"#;

fn large_pic() -> Obj {
    assemble("large_pic", LARGE_PIC)
}

/// The GOT base both ways, and a check that it lies in (or just after) the unit.
fn check_got_base(unit: &Unit) -> u64 {
    let s = unit.stats();
    let got = call0(unit, "got32");
    assert_eq!(call0(unit, "got64"), got, "{s}");
    assert!(got >= s.base && got <= s.base + s.size, "GOT {got:#x}: {s}");
    got
}

#[test]
fn r_x86_64_gotpc32() {
    let obj = large_pic();
    let r = expect_reloc(&obj, elf::R_X86_64_GOTPC32);
    assert_eq!(r.addend, -4);
    for p in ANYWHERE {
        let unit = open(&obj, p);
        check_got_base(&unit);
        assert_eq!(call0(&unit, "x_gotpc32"), addr(&unit, "x"), "{p:?}");
    }
}

#[test]
fn r_x86_64_gotpc64() {
    let obj = large_pic();
    let r = expect_reloc(&obj, elf::R_X86_64_GOTPC64);
    assert_eq!(r.addend, 2);
    for p in ANYWHERE {
        let unit = open(&obj, p);
        check_got_base(&unit);
        assert_eq!(call0(&unit, "x_gotpc64"), addr(&unit, "x"), "{p:?}");
    }
}

#[test]
fn r_x86_64_gotoff64() {
    let obj = large_pic();
    expect_reloc(&obj, elf::R_X86_64_GOTOFF64);
    for p in ANYWHERE {
        let unit = open(&obj, p);
        let x = addr(&unit, "x");
        assert_eq!(call0(&unit, "x_gotpc64"), x, "{p:?}");
        assert_eq!(call0(&unit, "x8_gotoff"), x + 8, "{p:?}");
        assert_eq!(read::<u64>(x + 8), 2);
        assert_eq!(call0(&unit, "bss_gotoff"), addr(&unit, "zeroes"), "{p:?}");
        assert_eq!(call1(&unit, "callee_gotoff", 1), 1001, "{p:?}");
    }
}

#[test]
fn r_x86_64_pltoff64() {
    let obj = large_pic();
    expect_reloc(&obj, elf::R_X86_64_PLTOFF64);
    for p in ANYWHERE {
        let unit = open(&obj, p);
        assert_eq!(call1(&unit, "labs_pltoff", -77), 77, "{p:?}");
        assert_eq!(call1(&unit, "callee_pltoff", 5), 1005, "{p:?}");
    }
}

#[test]
fn r_x86_64_got64() {
    let obj = large_pic();
    expect_reloc(&obj, elf::R_X86_64_GOT64);
    for p in ANYWHERE {
        let unit = open(&obj, p);
        check_got_base(&unit);
        assert_eq!(call0(&unit, "stdout_got64"), host_stdout(), "{p:?}");
        assert_eq!(call0(&unit, "val_got64"), addr(&unit, "x"), "{p:?}");
        // One slot for stdout, one for x.
        assert_eq!(unit.stats().got_slots, 2, "{}", unit.stats());
    }
}

const SIZES: &str = r#"
        .text
        .globl size32, size32_plus, size64, size_of_func, size_of_common, func
size32:
        movl $obj@SIZE, %eax
        ret
size32_plus:
        movl $obj@SIZE+5, %eax
        ret
size64:
        movabsq $obj@SIZE-4, %rax
        ret
size_of_common:
        movl $cobj@SIZE, %eax
        ret
func:
        nop
        nop
        ret
        .size func, .-func
size_of_func:
        movabsq $func@SIZE, %rax
        ret
        .data
        .globl obj, sizes
        .type obj, @object
obj:
        .zero 24
        .size obj, 24
sizes:
        .reloc ., R_X86_64_SIZE32, obj+1
        .long 0
        .reloc ., R_X86_64_SIZE64, obj+2
        .quad 0
        .reloc ., R_X86_64_SIZE64, stdout
        .quad 0
        .comm cobj, 40, 8
"#;

#[test]
fn r_x86_64_size32() {
    let obj = assemble("size32", SIZES);
    expect_reloc(&obj, elf::R_X86_64_SIZE32);
    for p in ANYWHERE {
        let unit = open(&obj, p);
        assert_eq!(call0(&unit, "size32"), 24, "{p:?}");
        assert_eq!(call0(&unit, "size32_plus"), 29, "{p:?}");
        assert_eq!(call0(&unit, "size_of_common"), 40, "{p:?}");
        assert_eq!(read::<u32>(addr(&unit, "sizes")), 25);
    }
}

#[test]
fn r_x86_64_size64() {
    let obj = assemble("size64", SIZES);
    expect_reloc(&obj, elf::R_X86_64_SIZE64);
    for p in ANYWHERE {
        let unit = open(&obj, p);
        assert_eq!(call0(&unit, "size64"), 20, "{p:?}");
        assert_eq!(call0(&unit, "size_of_func"), 3, "{p:?}");
        let sizes = addr(&unit, "sizes");
        assert_eq!(read::<u64>(sizes + 4), 26);
        // libc's `FILE *stdout`: its size comes from the host's symbol table.
        assert_eq!(read::<u64>(sizes + 12), 8);
    }
}

// ---------------------------------------------------------------------------
// Values out of range: errors that name the site, never a wrong value.

#[test]
fn r_x86_64_8_overflow() {
    let obj = assemble(
        "r8_over",
        r#"
        .data
        .globl d
d:
        .byte 0, 0, 0
        .byte v8
        "#,
    );
    let rela = expect_reloc(&obj, elf::R_X86_64_8);
    assert_eq!(rela.offset, 3);
    let linker = Linker::new();
    // 0x100 fits neither a signed nor an unsigned byte; -129 neither.
    for v in [0x100isize, -129, 0x7f00_0000_0000] {
        linker.define("v8", v as *const ());
        for p in ANYWHERE {
            let e = open_err(&linker, &obj, p);
            assert_out_of_range(&e, &obj, &rela, "R_X86_64_8", "v8");
        }
    }
    // The edges fit.
    for (v, byte) in [(0xffisize, 0xffu8), (-128, 0x80)] {
        linker.define("v8", v as *const ());
        let unit = open_with(&linker, &obj, Placement::Auto).unwrap();
        assert_eq!(read::<u8>(addr(&unit, "d") + 3), byte);
    }

    // Against the unit itself: no placement puts it below 256.
    let obj = assemble(
        "r8_internal",
        r#"
        .data
        .globl here
here:
        .byte 0
        .byte here
        "#,
    );
    let rela = expect_reloc(&obj, elf::R_X86_64_8);
    for p in ANYWHERE {
        let e = open_err(&Linker::new(), &obj, p);
        assert_out_of_range(&e, &obj, &rela, "R_X86_64_8", "here");
    }
}

#[test]
fn r_x86_64_16_overflow() {
    let obj = assemble(
        "r16_over",
        r#"
        .text
        ret
        movw $v16, %ax
        "#,
    );
    let rela = expect_reloc(&obj, elf::R_X86_64_16);
    assert_eq!((rela.section.as_str(), rela.offset), (".text", 3));
    let linker = Linker::new();
    for v in [0x1_0000isize, -0x8001, 0x7f00_0000_0000] {
        linker.define("v16", v as *const ());
        for p in ANYWHERE {
            let e = open_err(&linker, &obj, p);
            assert_out_of_range(&e, &obj, &rela, "R_X86_64_16", "v16");
        }
    }

    let obj = assemble(
        "r16_internal",
        r#"
        .data
        .globl here
here:
        .word here
        "#,
    );
    let rela = expect_reloc(&obj, elf::R_X86_64_16);
    for p in ANYWHERE {
        let e = open_err(&Linker::new(), &obj, p);
        assert_out_of_range(&e, &obj, &rela, "R_X86_64_16", "here");
    }
}

#[test]
fn r_x86_64_pc8_overflow() {
    // The distance is fixed by the layout: 200 bytes.
    let obj = assemble(
        "pc8_over",
        r#"
        .section .data.a,"aw",@progbits
        .byte 1
        .byte target - .
        .section .data.b,"aw",@progbits
        .skip 200
        .globl target
target:
        .byte 0
        "#,
    );
    let rela = expect_reloc(&obj, elf::R_X86_64_PC8);
    assert_eq!((rela.section.as_str(), rela.offset), (".data.a", 1));
    for p in ANYWHERE {
        let e = open_err(&Linker::new(), &obj, p);
        assert_out_of_range(&e, &obj, &rela, "R_X86_64_PC8", "target");
    }

    // A short branch to a far section.
    let obj = assemble(
        "pc8_jrcxz",
        r#"
        .section .text.a,"ax",@progbits
        .globl f
f:
        jrcxz away
        ret
        .section .text.b,"ax",@progbits
        .skip 300, 0xcc
away:
        ret
        "#,
    );
    let rela = expect_reloc(&obj, elf::R_X86_64_PC8);
    for p in ANYWHERE {
        let e = open_err(&Linker::new(), &obj, p);
        assert_out_of_range(&e, &obj, &rela, "R_X86_64_PC8", ".text.b");
    }

    // To the host: nothing can be placed within 127 bytes of libc.
    let obj = assemble(
        "pc8_host",
        r#"
        .data
        .byte labs - .
        "#,
    );
    let rela = expect_reloc(&obj, elf::R_X86_64_PC8);
    for p in ANYWHERE {
        let e = open_err(&Linker::new(), &obj, p);
        assert_out_of_range(&e, &obj, &rela, "R_X86_64_PC8", "labs");
    }
}

#[test]
fn r_x86_64_pc16_overflow() {
    let obj = assemble(
        "pc16_over",
        r#"
        .section .data.a,"aw",@progbits
        .word 0, 0
        .word target - .
        .section .data.b,"aw",@progbits
        .skip 40000
        .globl target
target:
        .byte 0
        "#,
    );
    let rela = expect_reloc(&obj, elf::R_X86_64_PC16);
    assert_eq!((rela.section.as_str(), rela.offset), (".data.a", 4));
    for p in ANYWHERE {
        let e = open_err(&Linker::new(), &obj, p);
        assert_out_of_range(&e, &obj, &rela, "R_X86_64_PC16", "target");
    }

    let obj = assemble(
        "pc16_host",
        r#"
        .data
        .word labs - .
        "#,
    );
    let rela = expect_reloc(&obj, elf::R_X86_64_PC16);
    for p in ANYWHERE {
        let e = open_err(&Linker::new(), &obj, p);
        assert_out_of_range(&e, &obj, &rela, "R_X86_64_PC16", "labs");
    }
}

#[test]
fn r_x86_64_size32_overflow() {
    let obj = assemble(
        "size32_over",
        r#"
        .text
        .globl f
f:
        movl $obj@SIZE-100, %eax
        ret
        .data
        .globl obj
        .type obj, @object
obj:
        .zero 24
        .size obj, 24
        "#,
    );
    let rela = expect_reloc(&obj, elf::R_X86_64_SIZE32);
    let e = open_err(&Linker::new(), &obj, Placement::Auto);
    assert!(matches!(e, Error::Overflow { .. }), "{e:?}");
    assert_names_site(&e, &obj, ".text", rela.offset, "R_X86_64_SIZE32");
    assert!(e.to_string().contains("obj"), "{e}");
}

#[test]
fn r_x86_64_32_against_host_above_4g() {
    const FORMS: [(&str, RelocationType, &str); 2] = [
        ("movl ${}, %eax", elf::R_X86_64_32, "R_X86_64_32"),
        ("movq ${}, %rax", elf::R_X86_64_32S, "R_X86_64_32S"),
    ];
    // Data: nothing can stand in for it. Always an error.
    assert!(host("stdout") > 1 << 32);
    for (form, r_type, name) in FORMS {
        let src = format!(
            "\t.text\n\t.globl f\nf:\n\t{}\n\tret\n",
            form.replace("{}", "stdout")
        );
        let obj = assemble("abs_stdout", &src);
        let rela = expect_reloc(&obj, r_type);
        for p in ANYWHERE {
            let e = open_err(&Linker::new(), &obj, p);
            assert!(matches!(e, Error::Unreachable { .. }), "{p:?}: {e:?}");
            assert_names_site(&e, &obj, ".text", rela.offset, name);
            let msg = e.to_string();
            assert!(msg.contains("`stdout`"), "{msg}");
            // The fix for a 32-bit absolute is not only -fPIC.
            assert!(msg.contains("-mcmodel=large"), "{msg}");
        }
    }

    // A function: an error that names the site, or (as ld's PLT entries do
    // for -fno-pic code) the address of a stand-in below the limit that
    // really reaches the function. Never a truncated address.
    assert!(host("atoi") > 1 << 32 && host("labs") > 1 << 32);
    for (form, r_type, name) in FORMS {
        for func in ["atoi", "labs"] {
            let src = format!(
                "\t.text\n\t.globl f\nf:\n\t{}\n\tret\n",
                form.replace("{}", func)
            );
            let obj = assemble("abs_func", &src);
            let rela = expect_reloc(&obj, r_type);
            for p in ANYWHERE {
                match open_at(&obj, p) {
                    Err(e) => {
                        assert!(matches!(e, Error::Unreachable { .. }), "{p:?}: {e:?}");
                        assert_names_site(&e, &obj, ".text", rela.offset, name);
                        let msg = e.to_string();
                        assert!(msg.contains(&format!("`{func}`")), "{msg}");
                    }
                    Ok(unit) => {
                        let v = call0(&unit, "f");
                        let limit = if r_type == elf::R_X86_64_32 {
                            1u64 << 32
                        } else {
                            1 << 31
                        };
                        assert!(v < limit, "{p:?} {func}: {v:#x}");
                        assert_ne!(v, host(func) & 0xffff_ffff, "{p:?}: truncated");
                        if func == "labs" {
                            // SAFETY: `v` stands for labs(long).
                            let f: extern "C" fn(i64) -> i64 =
                                unsafe { std::mem::transmute(v as usize) };
                            assert_eq!(f(-6), 6, "{p:?}");
                        } else {
                            // atoi, not puts: a test prints nothing of its own.
                            let digits = CString::new("4242").unwrap();
                            // SAFETY: `v` stands for atoi(const char *).
                            let f: extern "C" fn(*const libc::c_char) -> i32 =
                                unsafe { std::mem::transmute(v as usize) };
                            assert_eq!(f(digits.as_ptr()), 4242, "{p:?}");
                        }
                    }
                }
            }
            // Placed high on purpose: no stand-in can fit, so an error.
            let e = open_err(&Linker::new(), &obj, Placement::At(0x7e00_0000_0000));
            assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
            assert_names_site(&e, &obj, ".text", rela.offset, name);
            let msg = e.to_string();
            assert!(msg.contains(&format!("`{func}`")), "{msg}");
            assert!(msg.contains("-mcmodel=large"), "{msg}");
        }
    }
}

#[test]
fn r_x86_64_32_against_unit_outside_low_2g() {
    // Abs 32 to the unit's own data: the placement must be low, and Far
    // must not silently write a truncated address.
    let obj = assemble(
        "r32_far",
        r#"
        .text
        .globl f
f:
        movl $val, %eax
        ret
        .data
        .globl val
val:
        .quad 0
        "#,
    );
    let rela = expect_reloc(&obj, elf::R_X86_64_32);
    // Planned as if there (a check maps nothing, so no other test's
    // mapping can be in the way).
    let above = 0x7e00_0000_0000u64;
    let mut opts = OpenOptions::new();
    opts.placement(Placement::At(above));
    match Linker::new().check([&obj.path], &opts) {
        Ok(r) => panic!("would load at {:#x}", r.stats.base),
        Err(e) => {
            assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
            assert_names_site(&e, &obj, ".text", rela.offset, "R_X86_64_32");
        }
    }
    // Auto finds the low window by itself.
    let unit = open(&obj, Placement::Auto);
    assert_eq!(call0(&unit, "f"), addr(&unit, "val"));
    assert!(addr(&unit, "val") < 1 << 32);
}

#[test]
fn pc32_data_load_from_host() {
    let obj = assemble(
        "pc32_stdout",
        r#"
        .text
        .globl get_stdout
get_stdout:                     # the default (PIE) code model's external data load
        movq stdout(%rip), %rax
        ret
        "#,
    );
    let rela = expect_reloc(&obj, elf::R_X86_64_PC32);
    let e = open_err(&Linker::new(), &obj, Placement::Far);
    assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
    assert_names_site(&e, &obj, ".text", rela.offset, "R_X86_64_PC32");
    let msg = e.to_string();
    assert!(msg.contains("`stdout`"), "{msg}");
    assert!(msg.contains("-fPIC"), "{msg}");
    if let Error::Unreachable { sites, fix } = &e {
        assert_eq!(sites.len(), 1);
        assert_eq!(sites[0].symbol, "stdout");
        assert_eq!(sites[0].target, host("stdout"));
        assert_eq!(*fix, objdl::UnreachableFix::Pic);
    }

    let unit = open(&obj, Placement::Auto);
    assert_eq!(call0(&unit, "get_stdout"), host_stdout());
    assert_eq!(unit.stats().got_slots, 0);
}

#[test]
fn far_calls_go_through_trampolines() {
    let obj = assemble(
        "far_calls",
        r#"
        .text
        .globl call_atoi, call_labs, regs
call_atoi:
        subq $8, %rsp
        call atoi@PLT
        addq $8, %rsp
        ret
call_labs:
        subq $8, %rsp
        call labs
        addq $8, %rsp
        ret
regs:                           # %rax and %r11 must reach the callee intact
        movl $0x1234, %eax
        movl $0x5678, %r11d
        jmp hostfn
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_PLT32);
    let linker = Linker::new();
    linker.define("hostfn", objdl_reloc_test_rax_r11 as *const ());
    let unit = open_with(&linker, &obj, Placement::Far).unwrap();
    let s = unit.stats().clone();
    assert_eq!(s.trampolines, 3, "{s}");
    // Far: 4 GiB from every mapping.
    for t in [host("atoi"), host("labs")] {
        assert!(s.base.abs_diff(t) > 1 << 32, "{s}");
    }
    assert_eq!(call1(&unit, "call_labs", -31), 31);
    let digits = CString::new("-77").unwrap();
    // An int in %eax: the upper half of %rax is not part of it.
    assert_eq!(
        call1(&unit, "call_atoi", digits.as_ptr() as i64) as i32,
        -77
    );
    assert_eq!(call0(&unit, "regs"), 0x5678_0000_1234);
    // The call site points at a trampoline inside the unit.
    let site = addr(&unit, "call_labs") + 4;
    assert_eq!(read::<u8>(site), 0xe8);
    let dest = (site + 5).wrapping_add_signed(read::<i32>(site + 1) as i64);
    assert!(dest >= s.base && dest < s.base + s.size, "{dest:#x}: {s}");
    assert_eq!(read_bytes(dest, 6), [0xff, 0x25, 0, 0, 0, 0]);
    assert_eq!(read::<u64>(dest + 6), host("labs"));
}

#[test]
fn far_lea_to_host_function_becomes_a_got_load() {
    let obj = assemble(
        "far_lea",
        r#"
        .text
        .globl addr_of_labs, addr_past_labs, addr_of_stdout, near
addr_of_labs:
        leaq labs(%rip), %rax
        ret
addr_past_labs:
        leaq labs+16(%rip), %rax
        ret
addr_of_stdout:
        leaq stdout(%rip), %rax
        ret
near:                           # internal: stays a lea
        leaq addr_of_labs(%rip), %rax
        ret
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_PC32);
    let unit = open(&obj, Placement::Far);
    let s = unit.stats().clone();
    assert_eq!(s.address_rewrites, 3, "{s}");
    assert_eq!(s.got_slots, 3, "{s}");
    assert_eq!(call0(&unit, "addr_of_labs"), host("labs"));
    assert_eq!(call0(&unit, "addr_past_labs"), host("labs") + 16);
    assert_eq!(call0(&unit, "addr_of_stdout"), host("stdout"));
    assert_eq!(call0(&unit, "near"), addr(&unit, "addr_of_labs"));
    assert_eq!(
        read_bytes(addr(&unit, "addr_of_labs"), 3),
        [0x48, 0x8b, 0x05]
    );
    assert_eq!(read_bytes(addr(&unit, "near"), 3), [0x48, 0x8d, 0x05]);
}

// ---------------------------------------------------------------------------
// Relocation types objdl does not implement.

/// A static TLS form against a symbol that is not thread-local: refused
/// with the site and the fix.
fn assert_static_tls(e: &Error, obj: &Obj, rela: &Reloc, r_type: &str, symbol: &str) {
    assert!(
        matches!(e, Error::StaticTls { .. }),
        "expected StaticTls, got {e:?}: {e}"
    );
    assert_names_site(e, obj, &rela.section, rela.offset, r_type);
    let msg = e.to_string();
    assert!(msg.contains(&format!("`{symbol}`")), "{msg}");
    assert!(
        msg.contains("not a thread-local variable") && msg.contains("-fPIC"),
        "{msg}"
    );
}

fn assert_unsupported(e: &Error, obj: &Obj, rela: &Reloc, r_type: &str, symbol: &str) {
    assert!(
        matches!(e, Error::UnsupportedRelocation { .. }),
        "expected UnsupportedRelocation, got {e:?}: {e}"
    );
    assert_names_site(e, obj, &rela.section, rela.offset, r_type);
    let msg = e.to_string();
    assert!(msg.contains(&format!("`{symbol}`")), "{msg}");
}

#[test]
fn unknown_relocation_type() {
    let obj = assemble(
        "unknown",
        r#"
        .text
        .globl f
f:
        ret
        .reloc ., R_X86_64_COPY, f
        .quad 0
        "#,
    );
    let rela = expect_reloc(&obj, elf::R_X86_64_COPY);
    assert_eq!(rela.offset, 1);
    let e = open_err(&Linker::new(), &obj, Placement::Auto);
    assert_unsupported(&e, &obj, &rela, "R_X86_64_COPY", "f");

    // A number no one defined: patch the type to 200.
    let mut bytes = obj.bytes();
    let (entry, _) = object::pod::from_bytes_mut::<Rela64<LE>>(&mut bytes[rela.at..]).unwrap();
    let r_sym = entry.r_sym(LE, false);
    entry.set_r_info(LE, false, r_sym, RelocationType(200));
    // SAFETY: no initialisers.
    let e = unsafe { Linker::new().open_bytes("patched.o", &bytes) }.unwrap_err();
    assert!(matches!(e, Error::UnsupportedRelocation { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("patched.o:.text+0x1"), "{msg}");
    assert!(msg.contains("type 200"), "{msg}");
}

#[test]
fn static_tls_and_misused_tls_relocations_are_refused() {
    let obj = assemble(
        "tls_reloc",
        r#"
        .text
        .globl f
f:
        ret
        .reloc ., R_X86_64_TLSGD, f
        .quad 0
        "#,
    );
    let rela = expect_reloc(&obj, elf::R_X86_64_TLSGD);
    let e = open_err(&Linker::new(), &obj, Placement::Auto);
    assert_unsupported(&e, &obj, &rela, "R_X86_64_TLSGD", "f");

    let obj = assemble(
        "tpoff32",
        r#"
        .text
        .globl f
f:
        movl %fs:0, %eax
        .reloc .-4, R_X86_64_TPOFF32, var
        ret
        .data
        .globl var
var:
        .long 0
        "#,
    );
    let rela = expect_reloc(&obj, elf::R_X86_64_TPOFF32);
    let e = open_err(&Linker::new(), &obj, Placement::Auto);
    assert_static_tls(&e, &obj, &rela, "R_X86_64_TPOFF32", "var");
}

/// Initial-exec and local-exec TLS (TPOFF32, GOTTPOFF, TPOFF64): offsets
/// from the thread pointer into the unit's block, which lies in static TLS.
#[test]
fn static_tls_offsets() {
    let obj = assemble(
        "tls_static",
        r#"
        .text
        .globl get_le, set_le, get_ie, addr_tpoff64
get_le:
        movl %fs:tv@tpoff, %eax
        ret
set_le:
        movl %edi, %fs:tv@tpoff
        ret
get_ie:
        movq tv@gottpoff(%rip), %rax
        movl %fs:(%rax), %eax
        ret
addr_tpoff64:
        movq %fs:0, %rax
        addq off64(%rip), %rax
        ret
        .data
        .p2align 3
off64:
        .quad tv@tpoff
        .section .tdata,"awT",@progbits
        .p2align 2
tv:
        .long 7
        "#,
    );
    expect_reloc(&obj, elf::R_X86_64_TPOFF32);
    expect_reloc(&obj, elf::R_X86_64_GOTTPOFF);
    expect_reloc(&obj, elf::R_X86_64_TPOFF64);
    let unit = open(&obj, Placement::Auto);
    assert_eq!(call0(&unit, "get_le"), 7, "the initial image");
    call1(&unit, "set_le", 42);
    assert_eq!(
        call0(&unit, "get_ie"),
        42,
        "the same variable through the GOT"
    );
    let at = call0(&unit, "addr_tpoff64");
    assert_eq!(
        read_bytes(at, 4),
        42u32.to_le_bytes(),
        "TPOFF64 leads there too"
    );
    assert_eq!(unit.stats().got_slots, 1);
    // Another thread has its own copy, from the image.
    let get_le = addr(&unit, "get_le");
    let other = std::thread::spawn(move || {
        // SAFETY: `get_le` is `int (void)` in the unit, which outlives the thread.
        let f: extern "C" fn() -> u64 = unsafe { std::mem::transmute(get_le as usize) };
        f() as u32
    })
    .join()
    .unwrap();
    assert_eq!(other, 7);
}

#[test]
fn auto_placement_with_targets_far_apart() {
    // Calls into libc (0x7f...) and into the executable (0x55...): no base
    // reaches both, so Auto searches the gaps itself.
    let obj = assemble(
        "far_apart",
        r#"
        .text
        .globl call_labs, regs
call_labs:
        subq $8, %rsp
        call labs
        addq $8, %rsp
        ret
regs:
        movl $0x1234, %eax
        movl $0x5678, %r11d
        jmp hostfn
        "#,
    );
    let linker = Linker::new();
    linker.define("hostfn", objdl_reloc_test_rax_r11 as *const ());
    let exe = objdl_reloc_test_rax_r11 as *const () as u64;
    assert!(exe.abs_diff(host("labs")) > 1 << 32);
    let unit = open_with(&linker, &obj, Placement::Auto).unwrap();
    let s = unit.stats().clone();
    assert_eq!(s.base % 4096, 0, "{s}");
    assert_eq!(s.trampolines, 1, "{s}");
    assert_eq!(call1(&unit, "call_labs", -8), 8);
    assert_eq!(call0(&unit, "regs"), 0x5678_0000_1234);
}

#[test]
fn auto_placement_near_an_absolute_target_is_aligned() {
    // A call to an absolute address in free memory: Auto tries to place
    // the unit right next to it, and must still give a page-aligned base.
    let obj = assemble(
        "near_abs",
        r#"
        .text
        .globl call_labs, call_fixed
call_labs:
        subq $8, %rsp
        call labs
        addq $8, %rsp
        ret
call_fixed:                     # never called
        jmp fixed
        "#,
    );
    let linker = Linker::new();
    let fixed = 0x3456_7123u64;
    linker.define("fixed", fixed as *const ());
    let unit = open_with(&linker, &obj, Placement::Auto).unwrap();
    let s = unit.stats().clone();
    assert_eq!(s.base % 4096, 0, "{s}");
    assert_eq!(call1(&unit, "call_labs", -8), 8);
    // The jump reaches `fixed`, directly or through a trampoline.
    let j = addr(&unit, "call_fixed");
    assert_eq!(read::<u8>(j), 0xe9);
    let mut dest = (j + 5).wrapping_add_signed(read::<i32>(j + 1) as i64);
    if dest != fixed {
        assert_eq!(read_bytes(dest, 6), [0xff, 0x25, 0, 0, 0, 0]);
        dest = read::<u64>(dest + 6);
    }
    assert_eq!(dest, fixed);
}

// ---------------------------------------------------------------------------
// An oracle: GNU ld, linking the same object at the same address.

#[test]
fn byte_exact_against_ld() {
    // One section, so that ld and objdl lay it out identically; host
    // symbols are absolute addresses near it (never called).
    let obj = assemble(
        "oracle",
        r#"
        .text
        .globl f, g
f:
        movabsq $hostf, %rax            # R_X86_64_64
        movabsq $g+8, %rax
        leaq hostd(%rip), %rax          # R_X86_64_PC32
        movq hostd+8(%rip), %rax
        call hostf                      # R_X86_64_PLT32
        jmp hostf
        call g@PLT
        jne g@PLT
        call *g@GOTPCREL(%rip)          # R_X86_64_GOTPCRELX, relaxed
        jmp *g@GOTPCREL(%rip)
        movl $obj@SIZE, %eax            # R_X86_64_SIZE32
        movabsq $obj@SIZE+3, %rax       # R_X86_64_SIZE64
        movl $small, %eax               # R_X86_64_32
        movq $small, %rax               # R_X86_64_32S
        movw $small16, %ax              # R_X86_64_16
        movb $small8, %al               # R_X86_64_8
        .quad hostf - .                 # R_X86_64_PC64
        .long hostd - .                 # R_X86_64_PC32 in data
        .quad g
        ret
g:
        ret
        .type obj, @object
obj:
        .zero 24
        .size obj, 24
        "#,
    );
    let base: u64 = 0x7d12_3450_0000;
    let syms: [(&str, u64); 5] = [
        ("hostf", base + 0x10_0000),
        ("hostd", base + 0x20_0010),
        ("small", 0x12345),
        ("small16", 0xfedc),
        ("small8", 0x7e),
    ];
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("oracle");
    let bin = dir.path().join("oracle.text");
    let mut ld = Command::new("gcc");
    ld.args(["-nostdlib", "-static", "-no-pie", "-Wl,-e,f"])
        .arg(format!("-Wl,-Ttext={base:#x}"));
    for (name, value) in syms {
        ld.arg(format!("-Wl,--defsym={name}={value:#x}"));
    }
    let out = ld.arg(&obj.path).arg("-o").arg(&exe).output().unwrap();
    assert!(
        out.status.success(),
        "ld: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new("objcopy")
        .args(["-O", "binary", "--only-section=.text"])
        .arg(&exe)
        .arg(&bin)
        .output()
        .unwrap();
    assert!(out.status.success());
    let expected = std::fs::read(&bin).unwrap();
    assert!(expected.len() > 100);

    let linker = Linker::new();
    for (name, value) in syms {
        linker.define(name, value as *const ());
    }
    let unit = open_with(&linker, &obj, Placement::At(base)).unwrap();
    assert_eq!(addr(&unit, "f"), base);
    let got = read_bytes(base, expected.len());
    for (i, (a, b)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(a, b, "byte {i:#x}: objdl {got:02x?}\nld {expected:02x?}");
    }
    let s = unit.stats();
    assert_eq!(
        (s.trampolines, s.got_slots, s.relaxations),
        (0, 0, 2),
        "{s}"
    );
}

/// Compact relocations (`SHT_CREL`, `clang -Wa,--crel`) relocate to the same
/// bytes as the same object with `SHT_RELA`.
#[test]
fn crel_relocates_like_rela() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("crel.c");
    std::fs::write(
        &src,
        r#"
        #include <stdio.h>
        static int table[4] = {1, 2, 3, 4};
        int *ptrs[] = {&table[0], &table[3]};
        extern int helper(int);
        int main(void) { printf("%d %d %d\n", *ptrs[0], *ptrs[1], helper(20)); return 0; }
        int helper(int x) { return x + table[2]; }
        "#,
    )
    .unwrap();
    let clang = common::clang();
    let build = |out: &str, extra: &[&str]| {
        let obj = dir.path().join(out);
        common::run_ok(
            std::process::Command::new(&clang)
                .args(["-c", "-O1"])
                .arg(&src)
                .arg("-o")
                .arg(&obj)
                .args(extra),
        );
        obj
    };
    let crel = build("crel.o", &["-Wa,--crel,--allow-experimental-crel"]);
    let rela = build("rela.o", &[]);
    let mut opts = objdl::OpenOptions::new();
    opts.placement(Placement::At(0x4000_0000));
    let linker = Linker::new();
    let a = linker.check([&crel], &opts).unwrap();
    let b = linker.check([&rela], &opts).unwrap();
    assert_eq!(a.stats.relocations, b.stats.relocations);
    assert!(a.image == b.image, "CREL and RELA give different bytes");
}

//! Differential test: objdl's relocated bytes against GNU ld's.
//!
//! For every case of a corpus built at test time (the C sources in
//! `tests/diff/` compiled with gcc in seven flavours, and hand-written gas
//! files covering every relocation type objdl implements):
//!
//! 1. `objdl check --at BASE --dump out.bin` links the objects as if the unit
//!    were loaded at BASE and prints where each input section went;
//! 2. GNU ld links the same objects with a generated linker script that puts
//!    every one of those input sections in an output section of its own, at
//!    exactly the address objdl chose;
//! 3. every byte of every section is compared: objdl's image at
//!    `ADDR - BASE` against ld's output section.
//!
//! Each case is linked at two bases: 0x10000000, and a high one (the top of
//! objdl's placement window for position-dependent code, 0x7f0000000000
//! otherwise), so that 64-bit values, sign extension and 32-bit fields near
//! their limits are all exercised.
//!
//! What is compared byte for byte: everything objdl puts in a section,
//! including instructions rewritten by GOTPCRELX relaxation (ld and objdl
//! must relax the same sites the same way) and `.eh_frame` (ld parses it, but
//! with one input section per output section it leaves it as it is; if that
//! ever changes, the comparison says so rather than being skipped).
//!
//! What cannot be compared byte for byte, and what is checked instead:
//! - fields whose value depends on where the GOT is. ld builds its own
//!   `.got`/`.got.plt` (placed by the script after objdl's unit), objdl has
//!   its own GOT after the unit's data, so these fields differ by design.
//!   Each is checked for what it means instead:
//!   - GOTPC32/GOTPC64 (GOT + A − P) give each image's GOT address; all such
//!     fields of one image must agree on it;
//!   - GOTOFF64/PLTOFF64 (S + A − GOT): value + GOT must be equal in both;
//!   - GOTPCREL/GOTPCRELX/REX_GOTPCRELX left as loads, GOTPCREL64
//!     (G + A − P) and GOT32/GOT64 (G + A − GOT): the GOT slot each field
//!     designates must hold the same address in both images.
//! - one relaxation-policy difference: ld also relaxes `mov` through a plain
//!   R_X86_64_GOTPCREL (not only GOTPCRELX) into `lea`; objdl relaxes only
//!   the GOTPCRELX forms (with addend -4, as ld and lld do), as the psABI
//!   allows. There the check is that objdl's GOT slot holds the address
//!   ld's `lea` computes.
//! - the bytes between sections (objdl's stubs, its GOT and trampolines, the
//!   zero word after each `.eh_frame`): ld has nothing there.
//!
//! How ld is run, and why:
//! - cases whose objects need absolute 32-, 16- or 8-bit addresses (-fno-pic
//!   code, abs.s) are linked as position-dependent executables (`-no-pie`);
//!   they contain no GOTPCRELX, which a position-dependent ld would turn
//!   into `mov $imm32` forms that objdl, whose relaxations must work
//!   anywhere, never produces (the test checks that they contain none);
//! - every other case is linked with `-pie`, so that ld relaxes GOTPCRELX the
//!   PC-relative way (`mov`→`lea`, `call *`→`addr32 call`, `jmp *`→`jmp;
//!   nop`) as objdl does, and the rewritten instructions are compared.
//!   Relaxation stays on (no `--no-relax`): turning it off would make ld keep
//!   every GOT load while objdl relaxes, and leave nothing to compare.
//! - ld merges SHF_MERGE sections (`.rodata.str1.1`, `.rodata.cst8`: tail
//!   merging of strings, deduplication of constants) and so moves data;
//!   objdl never merges. ld gets copies of the objects with the
//!   SHF_MERGE/SHF_STRINGS flags cleared (nothing else changes), so both
//!   lay out the same bytes.
//! - `--orphan-handling=error`: every input section must be placed by the
//!   script, so a section objdl did not load but ld would is an error. Only
//!   `.comment`, `.note.GNU-stack` and `.note.gnu.property` are discarded
//!   (when objdl does not load them); the sections ld makes itself (`.got`,
//!   `.dynamic`, ...) go after the unit.
//!
//! A mismatch is reported with the section, the offset, objdl's bytes, ld's
//! bytes, the object's bytes and the relocations at that offset.
//!
//! Not covered, because GNU ld has no equivalent or objdl does not say
//! where it put them: references to the objdl process's own symbols (they
//! resolve at run time; only undefined weak symbols, 0 for both, are in the
//! corpus), trampolines, stand-ins and copies, COMMON symbols, TLS, IFUNC.
//!
//! Two more tests: [`fno_pic_sites_out_of_range`] checks that `-fno-pic`
//! code checked far above 4 GiB fails, listing exactly its 32-bit absolute
//! sites; [`field_limits_against_gnu_ld`] relocates values at the limits of
//! each narrow field with both linkers: whatever objdl accepts, ld accepts
//! and stores alike, and where objdl is stricter it is on a known list.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use object::elf;
use object::{
    LittleEndian as LE, Object as _, ObjectSection as _, ObjectSymbol as _, RelocationFlags,
    RelocationTarget, SymbolKind,
};

const OBJDL: &str = env!("CARGO_BIN_EXE_objdl");

/// The base every case is linked at first.
const BASE: u64 = 0x1000_0000;

/// The second base for cases ld links as a PIE.
const HIGH_BASE: u64 = 0x7f00_0000_0000;

/// How ld links a case (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LdMode {
    Pie,
    NoPie,
}

/// A way of compiling the C sources.
struct Flavour {
    name: &'static str,
    flags: &'static [&'static str],
    ld: LdMode,
}

const FLAVOURS: &[Flavour] = &[
    Flavour {
        name: "pie",
        flags: &[],
        ld: LdMode::Pie,
    },
    Flavour {
        name: "pic",
        flags: &["-fPIC"],
        ld: LdMode::Pie,
    },
    Flavour {
        name: "pic-noplt",
        flags: &["-fPIC", "-fno-plt"],
        ld: LdMode::Pie,
    },
    Flavour {
        name: "nopic",
        flags: &["-fno-pic", "-fno-pie"],
        ld: LdMode::NoPie,
    },
    Flavour {
        name: "medium",
        flags: &["-mcmodel=medium"],
        ld: LdMode::Pie,
    },
    Flavour {
        name: "large",
        flags: &["-mcmodel=large"],
        ld: LdMode::Pie,
    },
    Flavour {
        name: "large-nopic",
        flags: &["-mcmodel=large", "-fno-pic", "-fno-pie"],
        ld: LdMode::NoPie,
    },
];

/// C units, each linked as one unit in every flavour.
const C_UNITS: &[&[&str]] = &[&["kernels.c"], &["pair_a.c", "pair_b.c"], &["bigdata.c"]];

/// Assembly units and how ld links them.
const ASM_UNITS: &[(&[&str], LdMode)] = &[
    (&["abs.s", "abs_defs.s"], LdMode::NoPie),
    (&["pcrel.s"], LdMode::Pie),
    (&["got.s"], LdMode::Pie),
];

/// Relocation types the corpus must contain, so that it cannot silently
/// stop covering one (a new compiler, say).
const REQUIRED_TYPES: &[elf::RelocationType] = &[
    elf::R_X86_64_64,
    elf::R_X86_64_PC32,
    elf::R_X86_64_PLT32,
    elf::R_X86_64_32,
    elf::R_X86_64_32S,
    elf::R_X86_64_16,
    elf::R_X86_64_8,
    elf::R_X86_64_PC64,
    elf::R_X86_64_PC16,
    elf::R_X86_64_PC8,
    elf::R_X86_64_SIZE32,
    elf::R_X86_64_SIZE64,
    elf::R_X86_64_GOTPCREL,
    elf::R_X86_64_GOTPCRELX,
    elf::R_X86_64_REX_GOTPCRELX,
    elf::R_X86_64_GOTPCREL64,
    elf::R_X86_64_GOTPC32,
    elf::R_X86_64_GOTPC64,
    elf::R_X86_64_GOTOFF64,
    elf::R_X86_64_PLTOFF64,
    elf::R_X86_64_GOT32,
    elf::R_X86_64_GOT64,
];

fn diff_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/diff")
}

fn cc() -> String {
    std::env::var("CC").unwrap_or_else(|_| "gcc".to_string())
}

/// Fails the test unless `ld` is GNU ld: the script and the flags are its.
fn require_gnu_ld() {
    let out = run(Command::new("ld").arg("--version"));
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(
        version.starts_with("GNU ld"),
        "this test needs GNU ld as `ld`, found: {}",
        version.lines().next().unwrap_or("")
    );
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn succeed(cmd: &mut Command) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// One unit of the corpus: its objects (compiled into `dir`) and how ld links it.
struct Case {
    name: String,
    dir: tempfile::TempDir,
    /// Object file names, relative to `dir`.
    objects: Vec<String>,
    ld: LdMode,
}

/// Compiles (or assembles) `sources` with `flags` into a fresh directory.
fn build_case(name: String, sources: &[&str], flags: &[&str], ld: LdMode) -> Case {
    let dir = tempfile::Builder::new()
        .prefix("objdl-diff-")
        .tempdir()
        .expect("temporary directory");
    let mut objects = Vec::new();
    for src in sources {
        let stem = src.rsplit_once('.').expect("a source with an extension").0;
        let obj = format!("{stem}.o");
        succeed(
            Command::new(cc())
                .args(["-O2", "-c"])
                .args(flags)
                .arg(diff_dir().join(src))
                .arg("-o")
                .arg(dir.path().join(&obj)),
        );
        objects.push(obj);
    }
    Case {
        name,
        dir,
        objects,
        ld,
    }
}

fn corpus() -> Vec<Case> {
    let mut jobs: Vec<(String, &[&str], &[&str], LdMode)> = Vec::new();
    for unit in C_UNITS {
        for f in FLAVOURS {
            jobs.push((
                format!("{} [{}]", unit.join("+"), f.name),
                unit,
                f.flags,
                f.ld,
            ));
        }
    }
    for (unit, ld) in ASM_UNITS {
        jobs.push((unit.join("+"), unit, &[], *ld));
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|(name, srcs, flags, ld)| s.spawn(move || build_case(name, srcs, flags, ld)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("compile thread"))
            .collect()
    })
}

/// A section as `objdl check` placed it.
#[derive(Debug, Clone)]
struct Placed {
    file: String,
    name: String,
    addr: u64,
    size: u64,
}

/// What `objdl check --at` reported.
struct Checked {
    base: u64,
    window: (u64, u64),
    sections: Vec<Placed>,
    image: Vec<u8>,
}

fn hex(s: &str) -> u64 {
    let digits = s
        .strip_prefix("0x")
        .unwrap_or_else(|| panic!("`{s}` is not a hex number"));
    u64::from_str_radix(digits, 16).unwrap_or_else(|e| panic!("`{s}`: {e}"))
}

/// Runs `objdl check --at base --dump` on the case's objects.
fn objdl_check(case: &Case, base: u64) -> Checked {
    let dump = case.dir.path().join(format!("objdl-{base:x}.bin"));
    let out = run(Command::new(OBJDL)
        .current_dir(case.dir.path())
        .arg("check")
        .arg(format!("--at={base:#x}"))
        .arg("--dump")
        .arg(&dump)
        .args(&case.objects));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}: objdl check --at {base:#x} failed ({}):\n{stdout}{}",
        case.name,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut placement = None;
    let mut sections = Vec::new();
    for line in stdout.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["placement", "base", b, "size", size, "window", w] => {
                let (lo, hi) = w.split_once("..=").expect("a window lo..=hi");
                placement = Some((hex(b), hex(size), (hex(lo), hex(hi))));
            }
            ["section", file, name, addr, "size", size] => sections.push(Placed {
                file: file.to_string(),
                name: name.to_string(),
                addr: hex(addr),
                size: hex(size),
            }),
            _ => {}
        }
    }
    let (b, size, window) =
        placement.unwrap_or_else(|| panic!("{}: no placement line in:\n{stdout}", case.name));
    assert_eq!(b, base, "{}: objdl placed the unit elsewhere", case.name);
    let image = std::fs::read(&dump).expect("objdl's dump");
    assert_eq!(image.len() as u64, size, "{}: dump size", case.name);
    Checked {
        base,
        window,
        sections,
        image,
    }
}

/// A relocation of an input section.
#[derive(Debug, Clone)]
struct Reloc {
    offset: u64,
    r_type: elf::RelocationType,
    addend: i64,
    symbol: String,
}

/// An input section: its bytes in the object and its relocations.
struct InSection {
    data: Vec<u8>,
    relocs: Vec<Reloc>,
}

fn type_name(t: elf::RelocationType) -> String {
    elf::machine_names(elf::EM_X86_64)
        .r
        .name(t)
        .map_or_else(|| format!("type {}", t.0), str::to_string)
}

/// Reads the sections objdl placed, with their relocations, from the objects.
fn input_sections(case: &Case, placed: &[Placed]) -> BTreeMap<(String, String), InSection> {
    let mut out = BTreeMap::new();
    for file in &case.objects {
        let bytes = std::fs::read(case.dir.path().join(file)).expect("object");
        let obj = object::File::parse(&*bytes).expect("parse object");
        for p in placed.iter().filter(|p| &p.file == file) {
            let mut matching = obj.sections().filter(|s| s.name() == Ok(p.name.as_str()));
            let sec = matching
                .next()
                .unwrap_or_else(|| panic!("{}: {file} has no section {}", case.name, p.name));
            // The linker script names input sections by name: it must be unique.
            assert!(
                matching.next().is_none(),
                "{}: {file} has two sections named {}; the script cannot tell them apart",
                case.name,
                p.name
            );
            let mut relocs = Vec::new();
            for (offset, r) in sec.relocations() {
                let RelocationFlags::Elf { r_type } = r.flags() else {
                    panic!("not an ELF relocation");
                };
                let symbol = match r.target() {
                    RelocationTarget::Symbol(i) => {
                        let sym = obj.symbol_by_index(i).expect("relocation symbol");
                        match sym.name() {
                            Ok(n) if !n.is_empty() => n.to_string(),
                            _ if sym.kind() == SymbolKind::Section => sym
                                .section_index()
                                .and_then(|si| obj.section_by_index(si).ok())
                                .and_then(|s| s.name().ok().map(str::to_string))
                                .unwrap_or_default(),
                            _ => String::new(),
                        }
                    }
                    _ => "*ABS*".to_string(),
                };
                relocs.push(Reloc {
                    offset,
                    r_type,
                    addend: r.addend(),
                    symbol,
                });
            }
            relocs.sort_by_key(|r| r.offset);
            let data = if sec.kind() == object::SectionKind::UninitializedData {
                Vec::new()
            } else {
                sec.data().expect("section data").to_vec()
            };
            out.insert((file.clone(), p.name.clone()), InSection { data, relocs });
        }
    }
    out
}

/// A copy of an object with SHF_MERGE and SHF_STRINGS cleared on every
/// section, so that ld does not merge (and move) strings and constants.
fn unmerged(bytes: &[u8]) -> Vec<u8> {
    let clear = elf::SHF_MERGE.0 | elf::SHF_STRINGS.0;
    let mut out = bytes.to_vec();
    for i in 0..objdl_testkit::elf::sections(bytes).len() {
        let sh = objdl_testkit::elf::section_header_mut(&mut out, object::SectionIndex(i));
        let flags = sh.sh_flags.get(LE).0;
        sh.sh_flags.set(LE, elf::SectionFlags(flags & !clear));
    }
    out
}

/// The output section ld gets for `placed[i]`.
fn out_name(i: usize) -> String {
    format!(".objdl{i}")
}

/// Links the case with ld, every input section where objdl put it; returns
/// the executable's bytes.
fn ld_link(case: &Case, checked: &Checked) -> Vec<u8> {
    ld_try(case, checked).unwrap_or_else(|e| panic!("{e}"))
}

/// [`ld_link`], or ld's complaint.
fn ld_try(case: &Case, checked: &Checked) -> Result<Vec<u8>, String> {
    let dir = case.dir.path().join(format!("ld-{:x}", checked.base));
    std::fs::create_dir_all(&dir).expect("ld directory");
    for obj in &case.objects {
        let bytes = std::fs::read(case.dir.path().join(obj)).expect("object");
        std::fs::write(dir.join(obj), unmerged(&bytes)).expect("write object copy");
    }
    let mut order: Vec<usize> = (0..checked.sections.len()).collect();
    order.sort_by_key(|&i| (checked.sections[i].addr, i));
    let mut script = String::from("SECTIONS\n{\n");
    for i in order {
        let p = &checked.sections[i];
        writeln!(
            script,
            "  {} {:#x} : {{ {}({}) }}",
            out_name(i),
            p.addr,
            p.file,
            p.name
        )
        .unwrap();
    }
    // What ld makes itself goes well after objdl's unit.
    let gen =
        (checked.base + checked.image.len() as u64).div_ceil(0x10_0000) * 0x10_0000 + 0x10_0000;
    // Each in an output section of its own name: ld and readers of its
    // output expect .dynsym, .dynamic and the like as whole sections.
    let extra = [
        (".got", "*(.got) *(.igot)"),
        (".got.plt", "*(.got.plt) *(.igot.plt)"),
        (".plt", "*(.plt) *(.plt.*) *(.iplt)"),
        (".interp", "*(.interp)"),
        (".dynsym", "*(.dynsym)"),
        (".dynstr", "*(.dynstr)"),
        (".hash", "*(.hash)"),
        (".gnu.hash", "*(.gnu.hash)"),
        (".gnu.version", "*(.gnu.version)"),
        (".gnu.version_r", "*(.gnu.version_r)"),
        (".gnu.version_d", "*(.gnu.version_d)"),
        (".dynamic", "*(.dynamic)"),
        (".rela.dyn", "*(.rela.*)"),
        // Sections ld creates, attributed to the first object, that share
        // names with input sections (the rules above claimed the real ones).
        (
            ".ld_generated",
            "*(.dynbss) *(.data.rel.ro) *(.eh_frame) *(.sframe)",
        ),
    ];
    for (k, (name, inputs)) in extra.iter().enumerate() {
        writeln!(
            script,
            "  {name} {:#x} : {{ {inputs} }}",
            gen + k as u64 * 0x1_0000
        )
        .unwrap();
    }
    // Not loaded by objdl (non-allocated, or notes), not part of the image.
    script.push_str("  /DISCARD/ : { *(.comment) *(.note.GNU-stack) *(.note.gnu.property) }\n}\n");
    std::fs::write(dir.join("unit.ld"), &script).expect("write linker script");
    let mut cmd = Command::new("ld");
    cmd.current_dir(&dir);
    match case.ld {
        LdMode::Pie => cmd.args(["-pie", "--no-dynamic-linker"]),
        LdMode::NoPie => cmd.arg("-no-pie"),
    };
    cmd.args([
        "-nostdlib",
        "-e",
        "0",
        "-z",
        "noexecstack",
        "--no-warn-rwx-segments",
        "--orphan-handling=error",
        "-T",
        "unit.ld",
        "-o",
        "unit.elf",
    ])
    .args(&case.objects);
    let out = run(&mut cmd);
    if !out.status.success() {
        return Err(format!(
            "{}: ld failed at {:#x}:\n{}\nscript:\n{script}",
            case.name,
            checked.base,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(std::fs::read(dir.join("unit.elf")).expect("ld's output"))
}

/// An allocated section of ld's output.
struct OutSection {
    name: String,
    addr: u64,
    size: u64,
    /// Empty for NOBITS.
    data: Vec<u8>,
}

fn ld_sections(elf_bytes: &[u8]) -> (Vec<OutSection>, Option<u64>) {
    let file = object::File::parse(elf_bytes).expect("parse ld's output");
    let sections = file
        .sections()
        .filter(|s| s.address() != 0 || s.size() != 0)
        .map(|s| OutSection {
            name: s.name().unwrap_or("").to_string(),
            addr: s.address(),
            size: s.size(),
            data: if s.kind() == object::SectionKind::UninitializedData {
                Vec::new()
            } else {
                s.data().expect("section data").to_vec()
            },
        })
        .collect();
    let got = file
        .symbols()
        .find(|s| s.name() == Ok("_GLOBAL_OFFSET_TABLE_"))
        .map(|s| s.address());
    (sections, got)
}

/// Reads `width` bytes at `addr` of ld's output.
fn ld_read(sections: &[OutSection], addr: u64, width: usize) -> Option<Vec<u8>> {
    let s = sections
        .iter()
        .find(|s| addr >= s.addr && addr + width as u64 <= s.addr + s.size)?;
    let off = (addr - s.addr) as usize;
    Some(if s.data.is_empty() {
        vec![0; width]
    } else {
        s.data[off..off + width].to_vec()
    })
}

/// Reads `width` bytes at `addr` of objdl's image.
fn objdl_read(checked: &Checked, addr: u64, width: usize) -> Option<Vec<u8>> {
    let off = addr.checked_sub(checked.base)? as usize;
    checked.image.get(off..off + width).map(<[u8]>::to_vec)
}

/// Little-endian, sign-extended.
fn signed(bytes: &[u8]) -> i128 {
    match bytes.len() {
        1 => bytes[0] as i8 as i128,
        2 => i16::from_le_bytes(bytes.try_into().unwrap()) as i128,
        4 => i32::from_le_bytes(bytes.try_into().unwrap()) as i128,
        8 => i64::from_le_bytes(bytes.try_into().unwrap()) as i128,
        n => panic!("no {n}-byte fields"),
    }
}

fn word(bytes: Option<Vec<u8>>) -> Option<u64> {
    bytes.map(|b| u64::from_le_bytes(b.try_into().unwrap()))
}

/// How a relocated field relates to the GOT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// R_X86_64_NONE.
    Nothing,
    /// Independent of the GOT: compared byte for byte.
    Plain,
    /// GOT + A − P.
    GotPc,
    /// S + A − GOT.
    GotOff,
    /// G + A − P (a load through the GOT, unless relaxed).
    SlotPcRel,
    /// G + A − GOT.
    SlotGotRel,
}

/// The field width and class of a relocation type.
fn classify(t: elf::RelocationType) -> (usize, Class) {
    use Class::*;
    match t {
        elf::R_X86_64_NONE => (0, Nothing),
        elf::R_X86_64_64 | elf::R_X86_64_PC64 | elf::R_X86_64_SIZE64 => (8, Plain),
        elf::R_X86_64_PC32
        | elf::R_X86_64_PLT32
        | elf::R_X86_64_32
        | elf::R_X86_64_32S
        | elf::R_X86_64_SIZE32 => (4, Plain),
        elf::R_X86_64_16 | elf::R_X86_64_PC16 => (2, Plain),
        elf::R_X86_64_8 | elf::R_X86_64_PC8 => (1, Plain),
        elf::R_X86_64_GOTPC32 => (4, GotPc),
        elf::R_X86_64_GOTPC64 => (8, GotPc),
        elf::R_X86_64_GOTOFF64 | elf::R_X86_64_PLTOFF64 => (8, GotOff),
        elf::R_X86_64_GOTPCREL | elf::R_X86_64_GOTPCRELX | elf::R_X86_64_REX_GOTPCRELX => {
            (4, SlotPcRel)
        }
        elf::R_X86_64_GOTPCREL64 => (8, SlotPcRel),
        elf::R_X86_64_GOT32 => (4, SlotGotRel),
        elf::R_X86_64_GOT64 => (8, SlotGotRel),
        t => panic!(
            "the corpus uses {}, which this test does not know",
            type_name(t)
        ),
    }
}

/// What one comparison found.
#[derive(Default)]
struct Tally {
    sections: usize,
    bytes: u64,
    relocations: usize,
    /// GOT-dependent fields whose bytes were nevertheless identical.
    got_fields_identical: usize,
    /// GOTPCRELX sites both relaxed, byte for byte alike, by instruction.
    relaxed_alike: BTreeMap<&'static str, usize>,
    /// GOT-dependent fields checked for what they mean, by relocation type.
    got_fields_by_meaning: BTreeMap<String, usize>,
    /// Plain GOTPCREL loads that ld relaxed and objdl did not.
    policy: usize,
    types: BTreeSet<u32>,
    mismatches: Vec<String>,
}

fn bytes_hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Everything needed to look at one section in both images.
struct View<'a> {
    case: &'a str,
    placed: &'a Placed,
    input: &'a InSection,
    objdl: &'a [u8],
    ld: &'a [u8],
}

impl View<'_> {
    fn describe_reloc(&self, r: &Reloc) -> String {
        format!(
            "{}+{:#x} {} {}{:+}",
            self.placed.name,
            r.offset,
            type_name(r.r_type),
            r.symbol,
            r.addend
        )
    }

    /// A report for bytes `lo..hi` of the section.
    fn mismatch(&self, lo: usize, hi: usize, why: &str) -> String {
        let from = lo.saturating_sub(8);
        let to = (hi + 8).min(self.objdl.len());
        let orig = if self.input.data.is_empty() {
            "(no bytes: NOBITS)".to_string()
        } else {
            bytes_hex(&self.input.data[from..to])
        };
        let mut s = format!(
            "{}: {} {} at {:#x}: bytes +{lo:#x}..+{hi:#x} differ: {why}\n    \
             shown from +{from:#x} (address {:#x})\n    objdl:  {}\n    ld:     {}\n    object: {orig}\n",
            self.case,
            self.placed.file,
            self.placed.name,
            self.placed.addr,
            self.placed.addr + from as u64,
            bytes_hex(&self.objdl[from..to]),
            bytes_hex(&self.ld[from..to]),
        );
        let near: Vec<String> = self
            .input
            .relocs
            .iter()
            .filter(|r| {
                let w = classify(r.r_type).0.max(1) as u64;
                r.offset < to as u64 && r.offset + w > from as u64
            })
            .map(|r| self.describe_reloc(r))
            .collect();
        if near.is_empty() {
            s.push_str("    relocations: none here\n");
        } else {
            writeln!(s, "    relocations: {}", near.join("; ")).unwrap();
        }
        s
    }
}

/// Each image's GOT address, as its GOTPC fields say.
struct GotBases {
    objdl: Option<u64>,
    ld: Option<u64>,
}

/// Compares one case linked at one base.
fn compare(case: &Case, checked: &Checked, ld_elf: &[u8], tally: &mut Tally) {
    let inputs = input_sections(case, &checked.sections);
    let (outs, ld_got_symbol) = ld_sections(ld_elf);
    let what = format!("{} at {:#x}", case.name, checked.base);

    // Every section at objdl's address, with objdl's size, in both images.
    let mut views = Vec::new();
    let zeros: Vec<Vec<u8>> = checked
        .sections
        .iter()
        .map(|p| vec![0; p.size as usize])
        .collect();
    for (i, p) in checked.sections.iter().enumerate() {
        let input = &inputs[&(p.file.clone(), p.name.clone())];
        let objdl = checked
            .image
            .get((p.addr - checked.base) as usize..(p.addr - checked.base + p.size) as usize)
            .unwrap_or_else(|| panic!("{what}: {} {} lies outside the dump", p.file, p.name));
        let ld: &[u8] = if p.size == 0 {
            &[]
        } else {
            let name = out_name(i);
            let Some(o) = outs.iter().find(|o| o.name == name) else {
                tally.mismatches.push(format!(
                    "{what}: ld's output has no section for {} {}",
                    p.file, p.name
                ));
                continue;
            };
            if o.addr != p.addr || o.size != p.size {
                tally.mismatches.push(format!(
                    "{what}: {} {}: objdl placed {:#x} bytes at {:#x}, ld {:#x} bytes at {:#x}",
                    p.file, p.name, p.size, p.addr, o.size, o.addr
                ));
                continue;
            }
            if o.data.is_empty() {
                &zeros[i]
            } else {
                &o.data
            }
        };
        views.push(View {
            case: &what,
            placed: p,
            input,
            objdl,
            ld,
        });
    }

    // A position-dependent ld would relax GOTPCRELX to absolute forms.
    if case.ld == LdMode::NoPie {
        for v in &views {
            for r in &v.input.relocs {
                assert!(
                    !matches!(
                        r.r_type,
                        elf::R_X86_64_GOTPCRELX | elf::R_X86_64_REX_GOTPCRELX
                    ),
                    "{what}: {} is linked -no-pie but has {}; link it as a PIE",
                    v.describe_reloc(r),
                    type_name(r.r_type)
                );
            }
        }
    }

    // The GOT address of each image, from its GOTPC fields.
    let mut got_o = BTreeSet::new();
    let mut got_l = BTreeSet::new();
    for v in &views {
        for r in &v.input.relocs {
            let (w, class) = classify(r.r_type);
            if class != Class::GotPc {
                continue;
            }
            let off = r.offset as usize;
            let p = (v.placed.addr + r.offset) as i128;
            got_o.insert((signed(&v.objdl[off..off + w]) + p - r.addend as i128) as u64);
            got_l.insert((signed(&v.ld[off..off + w]) + p - r.addend as i128) as u64);
        }
    }
    for (who, set) in [("objdl", &got_o), ("ld", &got_l)] {
        if set.len() > 1 {
            tally.mismatches.push(format!(
                "{what}: {who}'s GOTPC fields disagree on the GOT's address: {set:x?}"
            ));
        }
    }
    let got = GotBases {
        objdl: got_o.first().copied(),
        ld: got_l.first().copied().or(ld_got_symbol),
    };

    for v in &views {
        compare_section(v, checked, &outs, &got, tally);
    }
}

fn compare_section(
    v: &View<'_>,
    checked: &Checked,
    outs: &[OutSection],
    got: &GotBases,
    tally: &mut Tally,
) {
    let n = v.objdl.len();
    tally.sections += 1;
    tally.bytes += n as u64;
    tally.relocations += v.input.relocs.len();
    let differs: Vec<bool> = (0..n).map(|k| v.objdl[k] != v.ld[k]).collect();
    let mut explained = vec![false; n];
    for r in &v.input.relocs {
        tally.types.insert(r.r_type.0);
        let (w, class) = classify(r.r_type);
        if matches!(class, Class::Nothing | Class::Plain) {
            continue;
        }
        let off = r.offset as usize;
        // A GOT load may be relaxed: its opcode and ModRM bytes belong to it.
        let lo = if class == Class::SlotPcRel && load_site(&v.input.data, off) {
            off - 2
        } else {
            off
        };
        let hi = off + w;
        if !differs[lo..hi].iter().any(|&d| d) {
            tally.got_fields_identical += 1;
            if lo + 2 == off && v.objdl[lo..off] != v.input.data[lo..off] {
                let kind = match v.objdl[lo..off] {
                    [0x8d, _] => "mov -> lea",
                    [0x67, 0xe8] => "call * -> addr32 call",
                    [0xe9, _] => "jmp * -> jmp; nop",
                    _ => "other",
                };
                *tally.relaxed_alike.entry(kind).or_default() += 1;
            }
            continue;
        }
        match by_meaning(v, checked, outs, got, r, class, w) {
            Ok(policy) => {
                let key = if policy {
                    tally.policy += 1;
                    format!("{} (relaxed by ld only)", type_name(r.r_type))
                } else {
                    type_name(r.r_type)
                };
                *tally.got_fields_by_meaning.entry(key).or_default() += 1;
            }
            Err(why) => tally.mismatches.push(v.mismatch(lo, hi, &why)),
        }
        explained[lo..hi].fill(true);
    }
    // Every other difference is a mismatch; report runs of them.
    let mut k = 0;
    while k < n {
        if differs[k] && !explained[k] {
            let start = k;
            while k < n && differs[k] && !explained[k] {
                k += 1;
            }
            tally
                .mismatches
                .push(v.mismatch(start, k, "the relocated bytes differ"));
        } else {
            k += 1;
        }
    }
}

/// Is the 32-bit field at `off` the displacement of a `mov`, `call *` or
/// `jmp *` through RIP (the instructions either linker may relax)?
fn load_site(section: &[u8], off: usize) -> bool {
    off >= 2
        && match section[off - 2..off] {
            [0x8b, modrm] => modrm & 0xc7 == 0x05,
            [0xff, modrm] => modrm == 0x15 || modrm == 0x25,
            _ => false,
        }
}

/// Checks a GOT-dependent field whose bytes differ for what it means.
/// `Ok(true)` for the accepted relaxation-policy difference.
fn by_meaning(
    v: &View<'_>,
    checked: &Checked,
    outs: &[OutSection],
    got: &GotBases,
    r: &Reloc,
    class: Class,
    w: usize,
) -> Result<bool, String> {
    let off = r.offset as usize;
    let p = (v.placed.addr + r.offset) as i128;
    let a = r.addend as i128;
    let val_o = signed(&v.objdl[off..off + w]);
    let val_l = signed(&v.ld[off..off + w]);
    let need = |g: Option<u64>, who: &str| {
        g.map(|g| g as i128)
            .ok_or_else(|| format!("no GOTPC field tells {who}'s GOT address"))
    };
    let slot_o = |addr: i128| {
        word(objdl_read(checked, addr as u64, 8))
            .ok_or_else(|| format!("objdl's GOT slot {addr:#x} lies outside its image"))
    };
    let slot_l = |addr: i128| {
        word(ld_read(outs, addr as u64, 8))
            .ok_or_else(|| format!("ld's GOT slot {addr:#x} lies outside its sections"))
    };
    match class {
        Class::GotPc => Ok(false), // the consistency check is in `compare`
        Class::GotOff => {
            let s_o = val_o + need(got.objdl, "objdl")?;
            let s_l = val_l + need(got.ld, "ld")?;
            if s_o == s_l {
                Ok(false)
            } else {
                Err(format!(
                    "S + A: objdl {s_o:#x} (its GOT at {:#x}), ld {s_l:#x} (its GOT at {:#x})",
                    s_o - val_o,
                    s_l - val_l
                ))
            }
        }
        Class::SlotGotRel => {
            let g_o = val_o - a + need(got.objdl, "objdl")?;
            let g_l = val_l - a + need(got.ld, "ld")?;
            let (c_o, c_l) = (slot_o(g_o)?, slot_l(g_l)?);
            if c_o == c_l {
                Ok(false)
            } else {
                Err(format!(
                    "the GOT slots hold different addresses: objdl {g_o:#x} = {c_o:#x}, ld {g_l:#x} = {c_l:#x}"
                ))
            }
        }
        Class::SlotPcRel => {
            if w == 4 && load_site(&v.input.data, off) {
                let orig = &v.input.data[off - 2..off];
                let op_o = &v.objdl[off - 2..off];
                let op_l = &v.ld[off - 2..off];
                if op_o == op_l && op_o != orig {
                    return Err("both relaxed the instruction, but the bytes differ".into());
                }
                if op_o != orig || op_l != orig {
                    // The one relaxation ld makes and objdl does not (by
                    // design): `mov foo@GOTPCREL(%rip)` with a plain GOTPCREL.
                    let ld_only = r.r_type == elf::R_X86_64_GOTPCREL
                        && orig[0] == 0x8b
                        && op_o == orig
                        && op_l == [0x8d, orig[1]];
                    if !ld_only {
                        return Err(format!(
                            "the instruction was rewritten differently: object {}, objdl {}, ld {}",
                            bytes_hex(orig),
                            bytes_hex(op_o),
                            bytes_hex(op_l)
                        ));
                    }
                    // ld's `lea` computes S + A − P + P − A = S; objdl's
                    // slot must hold S.
                    let s_l = val_l + p - a;
                    let g_o = val_o + p - a;
                    let c_o = slot_o(g_o)?;
                    return if c_o as i128 == s_l {
                        Ok(true)
                    } else {
                        Err(format!(
                            "ld relaxed to lea {s_l:#x}; objdl's GOT slot {g_o:#x} holds {c_o:#x}"
                        ))
                    };
                }
            }
            let g_o = val_o + p - a;
            let g_l = val_l + p - a;
            let (c_o, c_l) = (slot_o(g_o)?, slot_l(g_l)?);
            if c_o == c_l {
                Ok(false)
            } else {
                Err(format!(
                    "the GOT slots hold different addresses: objdl {g_o:#x} = {c_o:#x}, ld {g_l:#x} = {c_l:#x}"
                ))
            }
        }
        Class::Nothing | Class::Plain => unreachable!("not GOT-dependent"),
    }
}

/// The second base for a case: high in the address space, but where objdl
/// says the unit may go.
fn high_base(case: &Case, first: &Checked) -> u64 {
    match case.ld {
        LdMode::Pie => HIGH_BASE,
        LdMode::NoPie => first.window.1.min(HIGH_BASE) & !0xfff,
    }
}

#[test]
fn relocated_bytes_match_gnu_ld() {
    require_gnu_ld();
    let cases = corpus();
    let results: Vec<(String, Tally)> = std::thread::scope(|s| {
        let handles: Vec<_> = cases
            .iter()
            .map(|case| {
                s.spawn(move || {
                    let mut tally = Tally::default();
                    let first = objdl_check(case, BASE);
                    let mut bases = vec![first];
                    let high = high_base(case, &bases[0]);
                    if high != BASE {
                        bases.push(objdl_check(case, high));
                    }
                    for checked in &bases {
                        let elf = ld_link(case, checked);
                        compare(case, checked, &elf, &mut tally);
                    }
                    let list: Vec<String> =
                        bases.iter().map(|c| format!("{:#x}", c.base)).collect();
                    (format!("{} at {}", case.name, list.join(", ")), tally)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("case thread"))
            .collect()
    });

    let mut report = String::new();
    let mut mismatches = Vec::new();
    let mut total = Tally::default();
    for (name, t) in results {
        writeln!(
            report,
            "{name}: {} sections, {} bytes, {} relocations; relaxed alike {:?}; GOT-dependent fields checked by meaning {:?}",
            t.sections, t.bytes, t.relocations, t.relaxed_alike, t.got_fields_by_meaning
        )
        .unwrap();
        total.bytes += t.bytes;
        total.policy += t.policy;
        for (k, n) in t.relaxed_alike {
            *total.relaxed_alike.entry(k).or_default() += n;
        }
        for (k, n) in t.got_fields_by_meaning {
            *total.got_fields_by_meaning.entry(k).or_default() += n;
        }
        total.types.extend(t.types);
        mismatches.extend(t.mismatches);
    }
    println!("{report}");
    println!(
        "{} bytes compared; relaxed alike: {:?}; by meaning: {:?}",
        total.bytes, total.relaxed_alike, total.got_fields_by_meaning
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatch(es) between objdl and GNU ld:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    let missing: Vec<String> = REQUIRED_TYPES
        .iter()
        .filter(|t| !total.types.contains(&t.0))
        .map(|&t| type_name(t))
        .collect();
    assert!(
        missing.is_empty(),
        "the corpus no longer contains {missing:?}"
    );
    // The relaxations must really have been compared, each kind of them.
    for kind in ["mov -> lea", "call * -> addr32 call", "jmp * -> jmp; nop"] {
        assert!(
            total.relaxed_alike.contains_key(kind),
            "no GOTPCRELX site was relaxed {kind} by both objdl and ld: {:?}",
            total.relaxed_alike
        );
    }
}

/// `-fno-pic` code holds 32-bit absolute addresses of the unit
/// (R_X86_64_32S, R_X86_64_32): it loads low, and far above 4 GiB every one
/// of those sites is listed, each on an `unreachable` line.
#[test]
fn fno_pic_sites_out_of_range() {
    const FAR: u64 = 0x1000_0000_0000;
    for sources in [&["kernels.c"][..], &["pair_a.c", "pair_b.c"]] {
        let case = build_case(
            format!("{} [nopic]", sources.join("+")),
            sources,
            &["-fno-pic", "-fno-pie"],
            LdMode::NoPie,
        );
        // Loads at BASE (objdl_check asserts exit status 0).
        let low = objdl_check(&case, BASE);
        let expected: BTreeSet<String> = input_sections(&case, &low.sections)
            .iter()
            .flat_map(|((file, section), input)| {
                input
                    .relocs
                    .iter()
                    .filter(|r| matches!(r.r_type, elf::R_X86_64_32 | elf::R_X86_64_32S))
                    .map(move |r| {
                        format!("{file}:{section}+{:#x} {}", r.offset, type_name(r.r_type))
                    })
            })
            .collect();
        assert!(
            expected.iter().any(|s| s.ends_with(" R_X86_64_32S")),
            "{}: no R_X86_64_32S in the objects",
            case.name
        );

        let out = run(Command::new(OBJDL)
            .current_dir(case.dir.path())
            .arg("check")
            .arg(format!("--at={FAR:#x}"))
            .args(&case.objects));
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}: objdl check --at {FAR:#x} must fail with status 1\n{stdout}{stderr}",
            case.name
        );
        assert!(
            !stdout.contains("ok: the inputs would load"),
            "{}: {stdout}",
            case.name
        );
        assert_eq!(
            stderr
                .lines()
                .filter(|l| l.starts_with("objdl: error: "))
                .count(),
            1,
            "{}: one error line expected:\n{stderr}",
            case.name
        );
        // `unreachable FILE:SECTION+0xOFF TYPE against `SYMBOL` ...`
        let mut listed = BTreeSet::new();
        for line in stdout.lines() {
            let Some(rest) = line.strip_prefix("unreachable ") else {
                continue;
            };
            let mut words = rest.split_whitespace();
            let (site, r_type) = (words.next().unwrap(), words.next().unwrap());
            assert!(
                listed.insert(format!("{site} {r_type}")),
                "{}: site listed twice: {line}",
                case.name
            );
        }
        assert_eq!(
            listed, expected,
            "{}: the unreachable sites at {FAR:#x} are not exactly the 32-bit absolutes\n{stdout}",
            case.name
        );
    }
}

/// One data field relocated to a value at a limit of its field, by objdl and
/// by ld. Whatever objdl accepts, ld must accept and store alike (objdl
/// must never be the more permissive one, or it would truncate). Where ld
/// accepts and objdl refuses, the site must be in [`STRICTER`].
const LIMITS: &[(&str, &[i64])] = &[
    (
        "R_X86_64_8",
        &[0xff, 0x100, 0, -0x80, -0x81, -0x100, -0x101],
    ),
    ("R_X86_64_PC8", &[0x7f, 0x80, -0x80, -0x81]),
    (
        "R_X86_64_16",
        &[0xffff, 0x1_0000, -0x8000, -0x8001, -0x1_0000, -0x1_0001],
    ),
    (
        "R_X86_64_PC16",
        &[
            0x7fff, 0x8000, 0xffff, 0x1_0000, -0x8000, -0x8001, -0x1_0000, -0x1_0001,
        ],
    ),
    ("R_X86_64_32", &[0xffff_ffff, 0x1_0000_0000, 0, -1]),
    (
        "R_X86_64_32S",
        &[0x7fff_ffff, 0x8000_0000, -0x8000_0000, -0x8000_0001],
    ),
    (
        "R_X86_64_PC32",
        &[0x7fff_ffff, 0x8000_0000, -0x8000_0000, -0x8000_0001],
    ),
    ("R_X86_64_SIZE32", &[0xffff_ffff, 0x1_0000_0000, 0, -1]),
];

/// Values GNU ld stores and objdl refuses, on purpose: objdl checks the
/// narrow fields as lld does (R_X86_64_8/16: a signed or unsigned n-bit
/// value; PC16: signed), while GNU ld's "bitfield" check also lets an
/// n-bit field wrap, accepting -2^n..2^n-1 (and uses it for PC16 too).
const STRICTER: &[(&str, i64)] = &[
    ("R_X86_64_8", -0x81),
    ("R_X86_64_8", -0x100),
    ("R_X86_64_16", -0x8001),
    ("R_X86_64_16", -0x1_0000),
    ("R_X86_64_PC16", 0x8000),
    ("R_X86_64_PC16", 0xffff),
    ("R_X86_64_PC16", -0x8001),
    ("R_X86_64_PC16", -0x1_0000),
];

/// An object whose .data field gets `value` through a relocation of `r_type`
/// (a PC-relative one relative to the field itself, a size one from an
/// 8-byte symbol), assembled into a case of its own.
fn limit_case(r_type: &str, value: i64) -> Case {
    let target = if r_type.contains("_PC") {
        format!("probe + ({value})")
    } else if r_type.contains("SIZE") {
        format!("probe + ({value} - 8)")
    } else {
        format!("{value}")
    };
    let source = format!(
        "\t.data\n\t.globl probe\nprobe:\n\t.reloc ., {r_type}, {target}\n\t.zero 8\n\
         \t.size probe, 8\n\t.section .note.GNU-stack,\"\",@progbits\n"
    );
    let dir = tempfile::Builder::new()
        .prefix("objdl-diff-")
        .tempdir()
        .expect("temporary directory");
    std::fs::write(dir.path().join("probe.s"), source).expect("write probe.s");
    succeed(
        Command::new(cc())
            .current_dir(dir.path())
            .args(["-c", "probe.s", "-o", "probe.o"]),
    );
    Case {
        name: format!("{r_type} = {value:#x}"),
        dir,
        objects: vec!["probe.o".to_string()],
        ld: LdMode::NoPie,
    }
}

#[test]
fn field_limits_against_gnu_ld() {
    require_gnu_ld();
    // The layout does not depend on the value: learn it from one that fits.
    let reference = objdl_check(&limit_case("R_X86_64_64", 0), BASE);
    let probes: Vec<(&str, i64)> = LIMITS
        .iter()
        .flat_map(|(t, values)| values.iter().map(move |&v| (*t, v)))
        .collect();
    let outcomes: Vec<Result<(bool, bool), String>> = std::thread::scope(|s| {
        let handles: Vec<_> = probes
            .iter()
            .map(|&(r_type, value)| {
                let reference = &reference;
                s.spawn(move || {
                    let case = limit_case(r_type, value);
                    let out = run(Command::new(OBJDL)
                        .current_dir(case.dir.path())
                        .arg("check")
                        .arg(format!("--at={BASE:#x}"))
                        .args(&case.objects));
                    let objdl_ok = match out.status.code() {
                        Some(0) => true,
                        Some(1) => false,
                        _ => {
                            return Err(format!(
                                "{}: objdl check: {}\n{}",
                                case.name,
                                out.status,
                                String::from_utf8_lossy(&out.stderr)
                            ))
                        }
                    };
                    let ld = ld_try(&case, reference);
                    if let Err(e) = &ld {
                        if !e.contains("relocation truncated to fit") {
                            return Err(e.clone());
                        }
                    }
                    if objdl_ok {
                        let Ok(elf) = &ld else {
                            return Err(format!(
                                "{}: objdl accepts what GNU ld refuses:\n{}",
                                case.name,
                                ld.unwrap_err()
                            ));
                        };
                        let mut tally = Tally::default();
                        compare(&case, &objdl_check(&case, BASE), elf, &mut tally);
                        if !tally.mismatches.is_empty() {
                            return Err(tally.mismatches.join("\n"));
                        }
                    }
                    Ok((objdl_ok, ld.is_ok()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("probe thread"))
            .collect()
    });
    let mut errors = Vec::new();
    let mut stricter = BTreeSet::new();
    for (&(r_type, value), outcome) in probes.iter().zip(outcomes) {
        match outcome {
            Err(e) => errors.push(e),
            Ok((false, true)) => {
                stricter.insert((r_type, value));
            }
            Ok(_) => {}
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let known: BTreeSet<(&str, i64)> = STRICTER.iter().copied().collect();
    assert_eq!(
        stricter, known,
        "the values GNU ld accepts and objdl refuses are not the known ones"
    );
}

//! What the fuzz targets share: a [`Linker::check`] at a fixed address, with
//! the contracts every outcome must keep, and the small object that the
//! `archive` target links against the archive it is given.
//!
//! Nothing here runs loaded code: [`Linker::check`] with [`Placement::At`]
//! parses, resolves, lays out, plans and relocates into a buffer, as if the
//! unit sat at [`AT`], and maps nothing. Each call uses a new [`Linker`], so
//! no state (the `dlsym` cache, stand-ins) carries from one input to the
//! next and every crash reproduces from its input alone.

use objdl::{Input, Linker, OpenOptions, Placement, Report};
use object::write::{Object, Relocation, StandardSection, Symbol, SymbolSection};
use object::{
    elf, Architecture, BinaryFormat, Endianness, RelocationFlags, SymbolFlags, SymbolKind,
    SymbolScope,
};

/// Where every check pretends the unit lies: below 2 GiB, so that 32-bit
/// absolute references to the unit itself fit too (as in `tests/mutation.rs`).
pub const AT: u64 = 0x1000_0000;

/// A new linker with the host definitions `tests/mutation.rs` gives: its
/// objects (seeds of the `link` and `link_pair` targets) refer to them.
pub fn linker() -> Linker {
    let linker = Linker::new();
    linker.define("small_value", 7usize as *const ());
    linker.define("maybe_there", std::ptr::null());
    linker
}

/// Where [`define_missing`] puts a name that nothing defines: most names
/// near the unit (within reach of every 32-bit field of a unit at [`AT`]),
/// one in four far away (beyond 4 GiB: trampolines, GOT slots, `lea`
/// rewrites, stand-ins, and the errors of references that cannot reach).
pub fn stand_in_address(name: &str) -> u64 {
    // FNV-1a: the same address for the same name in every run.
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    if h % 4 == 0 {
        0x7f12_0000_0000 + (h >> 8 & 0xffff_fff0)
    } else {
        0x5000_0000 + (h >> 8 & 0x0fff_fff0)
    }
}

/// Defines, in `linker`, every strong undefined symbol of the objects in
/// `inputs` that the process does not define ([`Linker::lookup`]), at
/// [`stand_in_address`]. Objects from the tests refer to each other and to
/// libraries the fuzzer does not load; without this, most inputs would
/// stop at "unresolved symbols" and never reach the plan and the
/// relocations. (Weak references stay undefined, and resolve to 0.)
pub fn define_missing(linker: &Linker, inputs: &[Input]) {
    for input in inputs {
        let Input::Bytes { name, bytes } = input else {
            continue;
        };
        let Ok(info) = objdl::inspect::inspect(name, bytes) else {
            continue;
        };
        for s in &info.symbols {
            if s.section == "UND"
                && s.binding != "weak"
                && !s.name.is_empty()
                && linker.lookup(&s.name).is_none()
            {
                linker.define(&s.name, stand_in_address(&s.name) as *const ());
            }
        }
    }
}

/// Links `inputs` with [`Linker::check`] at [`AT`] and checks the outcome:
/// an error is one line that names an input; a report describes a unit at
/// [`AT`] whose image holds every trampoline and GOT slot it lists. With
/// `define`, names nothing defines are defined first ([`define_missing`]).
pub fn check(inputs: Vec<Input>, define: bool) {
    check_at(inputs, define, AT);
}

/// [`check`] with the unit at `at`, any address at all: a base no unit can
/// have must be an error that names an input, and a unit checked there
/// must lie in user space (64 KiB to the top of the 47-bit space).
pub fn check_at(inputs: Vec<Input>, define: bool, at: u64) {
    let names: Vec<String> = inputs.iter().map(Input::name).collect();
    check_outcome_at(&names, at, outcome_at(inputs, define, at));
}

/// Opens `inputs` for real with a new [`linker`] (names nothing defines
/// defined first, [`define_missing`]), placed by `Auto`, with `no_exec`:
/// mapped and relocated, nothing of theirs run, closed at once. Units whose
/// relocations do not constrain their base take the path that relocates
/// where the kernel maps them, checking each relocation as it applies it.
/// An error must be one line that names an input.
pub fn open(inputs: Vec<Input>) {
    let names: Vec<String> = inputs.iter().map(Input::name).collect();
    let linker = linker();
    define_missing(&linker, &inputs);
    // SAFETY: `no_exec`: no initialiser, IFUNC resolver or other code of
    // the unit runs; it is closed (unmapped) right away.
    let outcome = unsafe { OpenOptions::new().no_exec(true).open(&linker, inputs) };
    if let Err(e) = outcome {
        let msg = e.to_string();
        assert!(!msg.contains('\n'), "an error of several lines: {msg:?}");
        assert!(
            names.iter().any(|n| msg.contains(n.as_str())),
            "an error that names no input ({names:?}): {msg:?}"
        );
    }
}

/// Opens `first` as a reloadable unit for real (`no_exec`: nothing of it
/// runs), then reloads it with `second` as the new version of the same
/// input: the entries, the data kept or reset, the reload's link. An error
/// is one line that names the input; a reload that fails leaves the unit
/// as it was (it is closed right after either way).
pub fn reload(first: &[u8], second: &[u8]) {
    let linker = linker();
    define_missing(&linker, &[Input::bytes("fuzz.o", first)]);
    define_missing(&linker, &[Input::bytes("fuzz.o", second)]);
    // SAFETY: `no_exec`: no code of the unit runs, before or after the reload.
    let Ok(unit) = (unsafe {
        OpenOptions::new()
            .no_exec(true)
            .reloadable(true)
            .open(&linker, [Input::bytes("fuzz.o", first)])
    }) else {
        return;
    };
    // SAFETY: as above.
    if let Err(e) = unsafe { unit.reload_input(Input::bytes("fuzz.o", second)) } {
        let msg = e.to_string();
        assert!(!msg.contains('\n'), "an error of several lines: {msg:?}");
        assert!(
            msg.contains("fuzz.o"),
            "an error that names no input: {msg:?}"
        );
    }
}

/// What [`Linker::check`] at [`AT`] makes of `inputs`, with a new
/// [`linker`] (and, with `define`, [`define_missing`]).
pub fn outcome(inputs: Vec<Input>, define: bool) -> objdl::Result<Report> {
    outcome_at(inputs, define, AT)
}

/// [`outcome`] with the unit at `at`.
pub fn outcome_at(inputs: Vec<Input>, define: bool, at: u64) -> objdl::Result<Report> {
    let linker = linker();
    if define {
        define_missing(&linker, &inputs);
    }
    let mut opts = OpenOptions::new();
    opts.placement(Placement::At(at));
    linker.check(inputs, &opts)
}

/// Checks the contracts of an outcome of the inputs named `names` (see [`check`]).
pub fn check_outcome(names: &[String], outcome: objdl::Result<Report>) {
    check_outcome_at(names, AT, outcome);
}

/// [`check_outcome`] for a unit checked at `at` (see [`check_at`]).
pub fn check_outcome_at(names: &[String], at: u64, outcome: objdl::Result<Report>) {
    match outcome {
        Ok(report) => check_report(&report, at),
        Err(e) => {
            let msg = e.to_string();
            assert!(!msg.contains('\n'), "an error of several lines: {msg:?}");
            assert!(
                names.iter().any(|n| msg.contains(n.as_str())),
                "an error that names no input ({names:?}): {msg:?}"
            );
        }
    }
}

/// The invariants of a successful check of a unit at `base`.
fn check_report(r: &Report, base: u64) {
    let size = r.stats.size;
    assert_eq!(
        r.stats.base, base,
        "the unit is not where it was asked to be"
    );
    assert!(
        base >= LOWEST_BASE && base.checked_add(size).is_some_and(|end| end <= USER_TOP),
        "a unit checked at {base:#x} ({size:#x} bytes), outside user space"
    );
    assert_eq!(
        r.image.len() as u64,
        size,
        "the image is not the unit's size"
    );
    let at = |addr: u64, len: u64, what: &str| -> usize {
        assert!(
            addr >= base && addr - base + len <= size,
            "{what} at {addr:#x} is outside the unit ({base:#x}, {size:#x} bytes)"
        );
        (addr - base) as usize
    };
    for t in &r.trampolines {
        let i = at(t.address, 14, "a trampoline");
        assert_eq!(
            r.image[i..i + 6],
            [0xff, 0x25, 0, 0, 0, 0],
            "a trampoline that is not `jmp *0(%rip)` at {:#x}",
            t.address
        );
        assert_eq!(
            r.image[i + 6..i + 14],
            t.target.to_le_bytes(),
            "a trampoline at {:#x} that does not jump to {:#x}",
            t.address,
            t.target
        );
    }
    for g in &r.got_slots {
        let i = at(g.address, 8, "a GOT slot");
        assert_eq!(
            r.image[i..i + 8],
            g.value.to_le_bytes(),
            "a GOT slot at {:#x} that does not hold {:#x}",
            g.address,
            g.value
        );
    }
}

/// The symbols [`driver_object`] references. The seed archives
/// (`scripts/fuzz-seeds.sh`) are built from `crates/objdl-cli/tests/c/multi_a.c`
/// and `multi_b.c`, which define them; the fuzzer mutates from there.
pub const DRIVER_REFS: &[&str] = &["b_compute", "b_table", "b_name", "b_bss", "a_square"];

/// A small relocatable object, made once with `object::write`, that refers
/// to [`DRIVER_REFS`] as calls, GOT loads, `lea`, RIP-relative loads and
/// 64-bit pointers, so that the `archive` target pulls members and links them.
pub fn driver_object() -> Vec<u8> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    let text = obj.section_id(StandardSection::Text);
    let data = obj.section_id(StandardSection::Data);
    // call b_compute; mov b_table@GOTPCREL(%rip),%rax; lea b_name(%rip),%rax;
    // mov b_bss(%rip),%eax; call *a_square@GOTPCREL(%rip); ret
    let code: &[u8] = &[
        0xe8, 0, 0, 0, 0, // call rel32
        0x48, 0x8b, 0x05, 0, 0, 0, 0, // mov disp32(%rip), %rax
        0x48, 0x8d, 0x05, 0, 0, 0, 0, // lea disp32(%rip), %rax
        0x8b, 0x05, 0, 0, 0, 0, // mov disp32(%rip), %eax
        0xff, 0x15, 0, 0, 0, 0,    // call *disp32(%rip)
        0xc3, // ret
    ];
    let code_at = obj.append_section_data(text, code, 16);
    obj.add_symbol(Symbol {
        name: b"driver".to_vec(),
        value: code_at,
        size: code.len() as u64,
        kind: SymbolKind::Text,
        scope: SymbolScope::Linkage,
        weak: false,
        section: SymbolSection::Section(text),
        flags: SymbolFlags::None,
    });
    let mut sym = |name: &str| {
        obj.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value: 0,
            size: 0,
            kind: SymbolKind::Unknown,
            scope: SymbolScope::Linkage,
            weak: false,
            section: SymbolSection::Undefined,
            flags: SymbolFlags::None,
        })
    };
    let [compute, table, name, bss, square] = [
        sym(DRIVER_REFS[0]),
        sym(DRIVER_REFS[1]),
        sym(DRIVER_REFS[2]),
        sym(DRIVER_REFS[3]),
        sym(DRIVER_REFS[4]),
    ];
    let text_relocs = [
        (1, compute, elf::R_X86_64_PLT32),
        (8, table, elf::R_X86_64_REX_GOTPCRELX),
        (15, name, elf::R_X86_64_PC32),
        (21, bss, elf::R_X86_64_PC32),
        (27, square, elf::R_X86_64_GOTPCRELX),
    ];
    for (off, symbol, r_type) in text_relocs {
        obj.add_relocation(
            text,
            Relocation {
                offset: code_at + off,
                symbol,
                addend: -4,
                flags: RelocationFlags::Elf { r_type },
            },
        )
        .expect("a relocation of the driver's code");
    }
    // .quad a_square; .quad b_table + 8
    let data_at = obj.append_section_data(data, &[0; 16], 8);
    for (off, symbol, addend) in [(0, square, 0), (8, table, 8)] {
        obj.add_relocation(
            data,
            Relocation {
                offset: data_at + off,
                symbol,
                addend,
                flags: RelocationFlags::Elf {
                    r_type: elf::R_X86_64_64,
                },
            },
        )
        .expect("a relocation of the driver's data");
    }
    obj.write().expect("the driver object")
}

/// The lowest base objdl ever takes (64 KiB: `vm.mmap_min_addr` may only
/// raise it).
pub const LOWEST_BASE: u64 = 0x1_0000;

/// The top of the 47-bit user address space: every unit ends at or below it.
pub const USER_TOP: u64 = 0x7fff_ffff_f000;

/// Splits the `place` target's input: the placement address, from the
/// first eight bytes ([`placement_address`]), and the object (the rest).
pub fn split_place(data: &[u8]) -> (u64, &[u8]) {
    match data.split_first_chunk::<8>() {
        Some((address, object)) => (placement_address(*address), object),
        None => (AT, data),
    }
}

/// A placement address from eight bytes, read as a little-endian `u64`. The
/// low three bits pick where it lies, so that the fuzzer meets the edges
/// (and not only the 1 in 131,072 random values that are user space):
/// `n` is bits 8 to 23, a count of pages, signed where it says ±.
///
/// | bits 0-2 | address |
/// |---|---|
/// | 0 | the eight bytes as they are: anything |
/// | 1 | `n` pages from 0: below and above the lowest base |
/// | 2 | [`USER_TOP`] − `n` pages: units that end at the top, or past it |
/// | 3 | 2 GiB ± `n` pages: where 32-bit signed absolutes stop reaching |
/// | 4 | 4 GiB ± `n` pages: where 32-bit unsigned absolutes stop reaching |
/// | 5 | 2^47 ± `n` pages: the end of user space, non-canonical beyond |
/// | 6 | 2^64 − `n` pages: the kernel's half, and sums that wrap |
/// | 7 | page-aligned anywhere in the 47 bits |
pub fn placement_address(bytes: [u8; 8]) -> u64 {
    const PAGE: u64 = 0x1000;
    let raw = u64::from_le_bytes(bytes);
    let pages = (raw >> 8) & 0xffff;
    let around = |centre: u64| {
        let offset = (pages as i64 - 0x8000) * PAGE as i64;
        centre.wrapping_add_signed(offset)
    };
    match raw & 7 {
        0 => raw,
        1 => pages * PAGE,
        2 => USER_TOP.wrapping_sub(pages * PAGE),
        3 => around(1 << 31),
        4 => around(1 << 32),
        5 => around(1 << 47),
        6 => 0u64.wrapping_sub(pages * PAGE),
        _ => (raw >> 3 << 12) & ((1 << 47) - 1),
    }
}

/// Splits `data` into two objects: a little-endian `u32` length, the first
/// object (that many bytes, or what there is), then the second.
pub fn split_pair(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<4>() else {
        return (data, &[]);
    };
    let n = (u32::from_le_bytes(*len) as usize).min(rest.len());
    rest.split_at(n)
}

//! `plan`: the classification of each relocation — fixed (checked now),
//! irreducible (narrows the placement window), redirectable (trampoline,
//! GOT slot, relaxation) — the window that results, and `decide`, the rule
//! the relocation pass applies once the base is known.

use super::build::Obj;
use super::{demands, unit_with};
use crate::arch::{Field, Formula, Relax};
use crate::error::Error;
use crate::link::plan::{decide, At, Decision, Demands, USER_HI, USER_LO};
use crate::scope::host::Host;
use object::elf;

/// Far from any low base: where the host "functions" and "data" below are.
const FAR: u64 = 0x7000_0000_0000;

/// The demands of one object whose `.text` holds `code` with one relocation
/// of `r_type` at `offset` against `sym` (`"ext"`, defined by the host at
/// [`FAR`], or `"d"`, 8 bytes in the object's `.data`, at its offset 0x10), + `addend`.
fn demands_of(
    code: &[u8],
    offset: u64,
    r_type: elf::RelocationType,
    sym: &str,
    addend: i64,
) -> Result<Demands, Error> {
    let host = Host::default();
    host.define("ext", FAR);
    let mut o = Obj::new();
    let text = o.text(code);
    let data = o.data(&[0; 0x20]);
    let s = match sym {
        "ext" => o.undefined("ext"),
        "d" => o.global("d", data, 0x10, 8),
        _ => unreachable!(),
    };
    o.reloc(text, offset, s, r_type, addend);
    let inputs = [o.bytes()];
    let mut u = unit_with(&host, &inputs)?;
    demands(&mut u)
}

const CALL: [u8; 5] = [0xe8, 0, 0, 0, 0];
const LEA: [u8; 7] = [0x48, 0x8d, 0x05, 0, 0, 0, 0];
const LOAD: [u8; 7] = [0x48, 0x8b, 0x05, 0, 0, 0, 0];
const MOV_IMM: [u8; 5] = [0xb8, 0, 0, 0, 0];
const CALL_GOT: [u8; 6] = [0xff, 0x15, 0, 0, 0, 0];

/// Internal PC-relative references are fixed: no window, nothing to redirect.
#[test]
fn internal_pc32_is_fixed() {
    let d = demands_of(&LOAD, 3, elf::R_X86_64_PC32, "d", -4).unwrap();
    assert_eq!((d.lo, d.hi), (USER_LO, USER_HI));
    assert!(d.constraints.is_empty() && d.redirectable.is_empty());
    assert_eq!((d.max_trampolines, d.max_slots), (0, 0));
    assert_eq!(d.relocation_count, 1);
}

/// A call to the host is redirectable through a trampoline, and prefers its target.
#[test]
fn external_call_is_redirectable() {
    let d = demands_of(&CALL, 1, elf::R_X86_64_PLT32, "ext", -4).unwrap();
    assert_eq!((d.lo, d.hi), (USER_LO, USER_HI));
    assert_eq!((d.max_trampolines, d.max_slots), (1, 0));
    assert_eq!(d.redirectable, [(0, 1, 0)]);
    assert_eq!(d.preferred, [FAR]);
}

/// A `lea` of a host address is redirectable through a GOT slot (lea → mov).
#[test]
fn external_lea_needs_a_slot() {
    let d = demands_of(&LEA, 3, elf::R_X86_64_PC32, "ext", -4).unwrap();
    assert_eq!((d.max_trampolines, d.max_slots), (0, 1));
    assert_eq!(d.redirectable.len(), 1);
    assert!(d.constraints.is_empty());
}

/// A RIP-relative load of host data is irreducible: base ∈ [S+A−off−(2^31−1), S+A−off+2^31].
#[test]
fn external_load_narrows_the_window() {
    let d = demands_of(&LOAD, 3, elf::R_X86_64_PC32, "ext", -4).unwrap();
    let c = FAR as i128 - 4 - 3;
    assert_eq!(d.constraints.len(), 1);
    assert_eq!((d.lo, d.hi), (c - i32::MAX as i128, c - i32::MIN as i128));
    assert!(d.redirectable.is_empty());
}

/// A 32-bit absolute of the unit's own data bounds the base from above.
#[test]
fn internal_abs32_bounds_the_base() {
    let d = demands_of(&MOV_IMM, 1, elf::R_X86_64_32, "d", 0).unwrap();
    // .data is at 0x2000 in the unit, `d` 0x10 into it.
    assert_eq!((d.lo, d.hi), (USER_LO, 0xffff_ffff - 0x2010));
    let d = demands_of(&MOV_IMM, 1, elf::R_X86_64_32S, "d", 8).unwrap();
    assert_eq!((d.lo, d.hi), (USER_LO, 0x7fff_ffff - 0x2018));
}

/// A 32-bit absolute of a fixed address that does not fit is refused before placement.
#[test]
fn abs32_of_a_high_address_is_unreachable() {
    let host = Host::default();
    let mut o = Obj::new();
    let text = o.text(&MOV_IMM);
    let high = o.absolute("high", 0x1_0000_0000);
    o.reloc(text, 1, high, elf::R_X86_64_32, 0);
    let inputs = [o.bytes()];
    let mut u = unit_with(&host, &inputs).unwrap();
    let Err(Error::Unreachable { sites, fix }) = demands(&mut u) else {
        panic!("expected Unreachable");
    };
    assert_eq!(sites.len(), 1);
    assert_eq!(sites[0].site.to_string(), "a.o:.text+0x1");
    assert_eq!(sites[0].r_type, "R_X86_64_32");
    assert_eq!(sites[0].symbol, "high");
    assert_eq!(
        sites[0].why,
        crate::error::OutOfReach::Value {
            value: 0x1_0000_0000,
            field: "an unsigned 32-bit field"
        }
    );
    assert_eq!(
        sites[0].why.to_string(),
        "value 0x100000000 does not fit an unsigned 32-bit field"
    );
    assert_eq!(sites[0].bytes, [0xb8, 0, 0, 0, 0]);
    assert_eq!(fix, crate::error::UnreachableFix::PicOrLow);
}

/// GOTPCRELX of an internal symbol relaxes whatever the base: no slot.
#[test]
fn internal_gotpcrelx_relaxes_without_a_slot() {
    let d = demands_of(&LOAD, 3, elf::R_X86_64_REX_GOTPCRELX, "d", -4).unwrap();
    assert_eq!((d.relaxations, d.max_slots), (1, 0));
    assert!(d.redirectable.is_empty());
    // Addend 0 (the slot's high half) cannot relax: it keeps a slot.
    let d = demands_of(&LOAD, 3, elf::R_X86_64_REX_GOTPCRELX, "d", 0).unwrap();
    assert_eq!((d.relaxations, d.max_slots), (0, 1));
    assert_eq!(d.redirectable.len(), 1);
}

/// A GOT load of a host symbol needs a slot and prefers its target.
#[test]
fn external_got_load_needs_a_slot() {
    let d = demands_of(&CALL_GOT, 2, elf::R_X86_64_GOTPCRELX, "ext", -4).unwrap();
    assert_eq!((d.max_slots, d.relaxations), (1, 0));
    assert_eq!(d.preferred, [FAR]);
    assert_eq!((d.lo, d.hi), (USER_LO, USER_HI));
}

/// 64-bit fields fit anywhere: no demand at all.
#[test]
fn abs64_demands_nothing() {
    let d = demands_of(&[0; 8], 0, elf::R_X86_64_64, "ext", 0).unwrap();
    assert_eq!((d.lo, d.hi), (USER_LO, USER_HI));
    assert!(d.constraints.is_empty() && d.redirectable.is_empty() && d.preferred.is_empty());
}

/// A type objdl does not implement is refused with its site and symbol.
#[test]
fn unsupported_type_names_the_site() {
    let err = demands_of(&[0; 8], 0, elf::R_X86_64_COPY, "d", 0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a.o:.text+0x0: unsupported relocation R_X86_64_COPY against `d`"
    );
}

/// Two irreducible references that cannot both reach give an empty window.
#[test]
fn conflicting_constraints_empty_the_window() {
    let host = Host::default();
    host.define("ext", FAR);
    let mut o = Obj::new();
    let mut code = LOAD.to_vec();
    code.extend_from_slice(&MOV_IMM);
    let text = o.text(&code);
    let ext = o.undefined("ext");
    let me = o.section_symbol(text);
    o.reloc(text, 3, ext, elf::R_X86_64_PC32, -4);
    o.reloc(text, 8, me, elf::R_X86_64_32, 0);
    let inputs = [o.bytes()];
    let mut u = unit_with(&host, &inputs).unwrap();
    let d = demands(&mut u).unwrap();
    assert_eq!(d.constraints.len(), 2);
    assert!(d.lo > d.hi, "window {:#x}..={:#x}", d.lo, d.hi);
    assert_eq!(d.hi, 0xffff_ffff);
}

fn at(s: u64, p: u64) -> At {
    At {
        s,
        z: 0,
        p,
        got: 0,
        code: false,
    }
}

/// decide: an in-reach PC32 is written directly as S + A − P.
#[test]
fn decide_direct_in_reach() {
    let d = decide(Formula::Pc(Field::S32), &CALL, 1, -4, &at(0x5000, 0x1001));
    assert_eq!(
        d,
        Decision::Direct {
            f: Field::S32,
            value: 0x5000 - 4 - 0x1001
        }
    );
}

/// decide: an out-of-reach PC32 goes by the instruction — branch, lea, or data.
#[test]
fn decide_out_of_reach_by_site() {
    let far = at(FAR, 0x1001);
    assert_eq!(
        decide(Formula::Pc(Field::S32), &CALL, 1, -4, &far),
        Decision::Trampoline { dest: FAR }
    );
    assert_eq!(
        decide(Formula::Pc(Field::S32), &LEA, 3, -4, &far),
        Decision::Slot {
            f: Field::S32,
            content: FAR,
            addend: -4,
            address_to_load: true
        }
    );
    assert_eq!(
        decide(Formula::Pc(Field::S32), &LOAD, 3, -4, &far),
        Decision::Data {
            value: FAR as i128 - 4 - 0x1001,
            target: FAR
        }
    );
    // A narrower PC field is never redirected: its value is written (and range-checked later).
    assert_eq!(
        decide(Formula::Pc(Field::S16), &CALL, 1, 0, &far),
        Decision::Direct {
            f: Field::S16,
            value: FAR as i128 - 0x1001
        }
    );
}

/// decide: GOTPCRELX relaxes only when the direct displacement fits.
#[test]
fn decide_relaxation_only_in_reach() {
    let rex = Formula::GotPcRel {
        field: Field::S32,
        relaxable: true,
    };
    assert_eq!(
        decide(rex, &LOAD, 3, -4, &at(0x5000, 0x1003)),
        Decision::Relax {
            relax: Relax::MovToLea,
            value: 0x5000 - 4 - 0x1003
        }
    );
    assert_eq!(
        decide(rex, &LOAD, 3, -4, &at(FAR, 0x1003)),
        Decision::Slot {
            f: Field::S32,
            content: FAR,
            addend: -4,
            address_to_load: false
        }
    );
}

/// decide: a host function's address as an out-of-range 32-bit absolute
/// gets a low stand-in; data, or an addend, does not.
#[test]
fn decide_abs32_stand_in() {
    let mut a = at(FAR, 0x1001);
    a.code = true;
    assert_eq!(
        decide(Formula::Abs(Field::U32), &MOV_IMM, 1, 0, &a),
        Decision::AbsTrampoline {
            f: Field::U32,
            dest: FAR
        }
    );
    assert_eq!(
        decide(Formula::Abs(Field::U32), &MOV_IMM, 1, 8, &a),
        Decision::Direct {
            f: Field::U32,
            value: FAR as i128 + 8
        }
    );
    a.code = false;
    assert_eq!(
        decide(Formula::Abs(Field::U32), &MOV_IMM, 1, 0, &a),
        Decision::Direct {
            f: Field::U32,
            value: FAR as i128
        }
    );
}

/// decide: the GOT-relative and size forms compute from GOT and Z.
#[test]
fn decide_got_and_size_forms() {
    let a = At {
        s: 0x5000,
        z: 24,
        p: 0x1000,
        got: 0x8000,
        code: false,
    };
    assert_eq!(
        decide(Formula::GotOff(Field::W64), &[0; 8], 0, 2, &a),
        Decision::Direct {
            f: Field::W64,
            value: 0x5002 - 0x8000
        }
    );
    assert_eq!(
        decide(Formula::GotPc(Field::S32), &[0; 8], 0, 2, &a),
        Decision::Direct {
            f: Field::S32,
            value: 0x8002 - 0x1000
        }
    );
    assert_eq!(
        decide(Formula::Size(Field::U32), &[0; 8], 0, 2, &a),
        Decision::Direct {
            f: Field::U32,
            value: 26
        }
    );
    assert_eq!(decide(Formula::None, &[0; 8], 0, 0, &a), Decision::Skip);
}

//! Stage 5, relocate: copy the sections into the (still read-write)
//! reservation, patch every relocation, and fill in the GOT and the
//! trampolines.
//!
//! Symbols were resolved once, to per-object address arrays; the loop over
//! relocations does no allocation and no hashing, except a lookup in the
//! plan's trampoline/slot tables for the (rare) sites that need one.
//! Every value is range-checked before it is written.

use crate::arch::{self, Field, Formula, Quick};
use crate::error::{Error, Result};
use crate::input::{ObjectFile, Reloc, RelocFields, SectionKind, SymbolDef};
use crate::link::plan::{self, At, Decision, Plan};
use crate::link::resolution::{Resolution, Target};
use crate::link::unit_layout::{Layout, MappedSection, NOT_LOADED};

/// Where the variable-sized parts of the unit went.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tail {
    /// The GOT's offset in the unit.
    pub got: u64,
    /// The trampolines' offset in the unit.
    pub trampolines: u64,
}

impl Tail {
    /// The offset in the unit of trampoline `i`.
    pub fn trampoline(&self, i: u32) -> u64 {
        self.trampolines + u64::from(i) * arch::TRAMPOLINE_SIZE as u64
    }

    /// The offset in the unit of GOT slot `i`.
    pub fn slot(&self, i: u32) -> u64 {
        self.got + u64::from(i) * arch::GOT_SLOT_SIZE as u64
    }
}

/// Counts for `--stats`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Counts {
    pub relocations: u64,
    /// GOT loads the fast path relaxed.
    pub relaxed: u64,
    /// The pass stopped at a relocation that needs planning (see [`Slow::Defer`]).
    pub stopped: bool,
    /// Relocations applied, by the type's dense index ([`arch::count_index`]).
    pub by_type: [u64; arch::KINDS],
}

impl Counts {
    /// Adds what `other` counted.
    pub fn add(&mut self, other: &Counts) {
        self.relocations += other.relocations;
        self.relaxed += other.relaxed;
        for (a, b) in self.by_type.iter_mut().zip(&other.by_type) {
            *a += b;
        }
    }
}

impl Default for Counts {
    fn default() -> Counts {
        Counts {
            relocations: 0,
            relaxed: 0,
            stopped: false,
            by_type: [0; arch::KINDS],
        }
    }
}

/// A PC-relative field the relocation pass wrote to reach `target` itself
/// (not through the unit's trampolines or GOT slots): what a cached unit
/// must move when `target` lies in a library that moved apart from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PcWrite {
    /// The field's address.
    pub at: u64,
    pub field: Field,
    /// What it reaches: an address outside the unit or in it, or a constant.
    pub target: u64,
}

/// What the relocation pass does with a relocation its fast path (a value
/// that fits, written as [`plan::decide`] would) does not settle.
pub(crate) enum Slow<'p> {
    /// Apply it by the plan.
    Apply,
    /// Set it aside, as (object, section, index): the unit sits where the
    /// kernel put it before any planning, and the caller plans these few
    /// afterwards (see [`apply_deferred`]).
    Defer(&'p mut Vec<(u32, u32, u32)>),
}

/// Fills `mem` (the unit, mapped at `base`). When `mapped`, the pages of
/// [`Layout::mapped`] already hold their sections' contents. With
/// `record`, every PC-relative field written to reach its target itself
/// goes there too (for the cache; nothing is recorded otherwise).
#[allow(clippy::too_many_arguments)]
pub(crate) fn relocate(
    mem: &mut [u8],
    base: u64,
    objects: &[ObjectFile<'_>],
    res: &Resolution<'_>,
    layout: &Layout,
    plan: &Plan,
    tail: Tail,
    mapped: bool,
    mut slow: Slow<'_>,
    mut record: Option<&mut Vec<PcWrite>>,
) -> Result<Counts> {
    let got = base + tail.got;
    let mut counts = Counts::default();

    copy_sections(mem, objects, layout, mapped);

    let cx = PlacedUnit {
        base,
        got,
        objects,
        res,
        layout,
        plan,
        tail,
    };
    let mut addrs: Vec<u64> = Vec::new();
    for (oi, obj) in objects.iter().enumerate() {
        let has_discarded = obj.sections.iter().any(|s| s.discarded);
        // Each symbol's address, once.
        addrs.clear();
        symbol_addresses(&mut addrs, obj, oi, res, layout, base);
        for (si, sec) in obj.sections.iter().enumerate() {
            if sec.kind == (SectionKind::Tls { zero: false }) && !sec.relocs.is_empty() {
                // Only a planned unit has checked these relocations: one
                // relocated where the kernel put it goes to the planner.
                if matches!(slow, Slow::Defer(_)) {
                    counts.stopped = true;
                    return Ok(counts);
                }
                continue; // the template's: see `tls_template`
            }
            let sec_off = layout.sec_offsets[oi][si];
            if sec_off == NOT_LOADED || sec.relocs.is_empty() {
                continue;
            }
            let start = sec_off as usize;
            let end = start + sec.size as usize;
            let bytes = &mut mem[start..end];
            let sec_addr = base + sec_off;
            counts.relocations += sec.relocs.len() as u64;
            // Slow-path cases: .eh_frame entries of discarded COMDAT members.
            let quick = sec.kind != SectionKind::EhFrame || !has_discarded;
            let mut ri = 0;
            loop {
                if quick {
                    let planned = matches!(slow, Slow::Apply);
                    let at = (sec_addr, got, planned);
                    let (relocs, data) = (&sec.relocs, sec.data);
                    ri = match record.as_deref_mut() {
                        Some(w) => {
                            apply_fast::<true>(bytes, relocs, data, ri, &addrs, at, &mut counts, w)
                        }
                        None => {
                            let none = &mut Vec::new();
                            apply_fast::<false>(
                                bytes,
                                relocs,
                                data,
                                ri,
                                &addrs,
                                at,
                                &mut counts,
                                none,
                            )
                        }
                    };
                }
                let Some(r) = sec.relocs.get(ri) else {
                    break;
                };
                let kind = r.kind();
                if !quick {
                    counts.by_type[arch::count_index(kind)] += 1;
                }
                match &mut slow {
                    Slow::Apply => {
                        let s = addrs[r.sym() as usize];
                        let Some(formula) = arch::formula(kind) else {
                            return Err(plan::unsupported(obj, si, r));
                        };
                        let w = record.as_deref_mut();
                        relocate_one(&cx, bytes, (obj, oi, si), sec_addr, r, (s, formula), w)?;
                    }
                    // Not yet checked: the caller checks what it set aside.
                    // A type that constrains the base ends the pass at once:
                    // the unit goes to the planner.
                    Slow::Defer(later) => {
                        if !arch::placement_free(kind) {
                            counts.stopped = true;
                            return Ok(counts);
                        }
                        later.push((oi as u32, si as u32, ri as u32));
                    }
                }
                ri += 1;
            }
        }
    }

    write_tables(mem, base, plan, tail);
    Ok(counts)
}

/// Copies each loaded section's contents into `mem` (the unit). When
/// `mapped`, the pages of [`Layout::mapped`] already hold theirs: only
/// the partial pages at either end are copied.
fn copy_sections(mem: &mut [u8], objects: &[ObjectFile<'_>], layout: &Layout, mapped: bool) {
    // The mapped sections, in input order, are met by a cursor
    // (`layout.mapped` is in layout order).
    let mut already: Vec<&MappedSection> = Vec::new();
    if mapped {
        already.extend(&layout.mapped);
        already.sort_unstable_by_key(|m| (m.obj, m.sec));
    }
    let mut already = already.into_iter().peekable();
    for (oi, obj) in objects.iter().enumerate() {
        for (si, sec) in obj.sections.iter().enumerate() {
            let here = (oi as u32, si as u32);
            let done = already.next_if(|m| (m.obj, m.sec) == here);
            let off = layout.sec_offsets[oi][si] as usize;
            if off == NOT_LOADED as usize || sec.kind == SectionKind::Bss {
                continue;
            }
            let dest = &mut mem[off..off + sec.data.len()];
            match done {
                // Only the partial pages at either end.
                Some(m) => {
                    let (head, rest) = (m.offset as usize - off, m.len as usize);
                    dest[..head].copy_from_slice(&sec.data[..head]);
                    dest[head + rest..].copy_from_slice(&sec.data[head + rest..]);
                }
                None => dest.copy_from_slice(sec.data),
            }
        }
    }
}

/// The unit's thread-local template, `.tdata` then zeros up to the
/// block's size, with the relocations of its `.tdata` sections applied
/// for the unit at `base` (its TLS module is `module`): what each thread's
/// block starts as, such as a `__thread` pointer to a static, or a Rust
/// `thread_local!` holding a `&'static str`. The counts of what was applied
/// go to `counts`. `None` when the unit has no thread-locals.
pub(crate) fn tls_template(
    objects: &[ObjectFile<'_>],
    res: &Resolution<'_>,
    layout: &Layout,
    base: u64,
    module: u64,
    counts: &mut Counts,
) -> Result<Option<TlsTemplate>> {
    if layout.tls.offsets.is_empty() {
        return Ok(None);
    }
    let mut template = TlsTemplate {
        image: layout.tls.image.clone(),
        holds_module: false,
    };
    let mut addrs: Vec<u64> = Vec::new();
    for (oi, obj) in objects.iter().enumerate() {
        let mut have_addresses = false;
        for (si, sec) in obj.sections.iter().enumerate() {
            if sec.kind != (SectionKind::Tls { zero: false }) || sec.relocs.is_empty() {
                continue;
            }
            let Some(&start) = layout.tls.offsets.get(&(oi as u32, si as u32)) else {
                continue;
            };
            if !have_addresses {
                addrs.clear();
                symbol_addresses(&mut addrs, obj, oi, res, layout, base);
                have_addresses = true;
            }
            relocate_tls_initialiser(
                &mut template,
                start,
                (obj, oi, si),
                &addrs,
                res,
                layout,
                module,
                counts,
            )?;
        }
    }
    Ok(Some(template))
}

/// The initial image of a unit's thread-local block.
pub(crate) struct TlsTemplate {
    pub image: Vec<u8>,
    /// Some of it is the unit's own TLS module id (DTPMOD64).
    pub holds_module: bool,
}

/// Each symbol's address with the unit at `base`, into `addrs` (0 for a
/// target in a section that is not loaded, or another module's
/// thread-local): most are local symbols in a loaded section, computed
/// straight from the symbol.
#[inline(never)]
fn symbol_addresses(
    addrs: &mut Vec<u64>,
    obj: &ObjectFile<'_>,
    oi: usize,
    res: &Resolution<'_>,
    layout: &Layout,
    base: u64,
) {
    // Each section's address, or NOT_LOADED.
    let sec_addrs: Vec<u64> = layout.sec_offsets[oi]
        .iter()
        .map(|&off| {
            if off == NOT_LOADED {
                NOT_LOADED
            } else {
                base + off
            }
        })
        .collect();
    let entries = res.targets.entries(oi);
    addrs.reserve(obj.symbols.len());
    for (si, (sym, &slot)) in obj.symbols.iter().zip(res.targets.slots(oi)).enumerate() {
        let addr = if let Some(&t) = entries.get(slot as usize) {
            layout.address(t, res, base)
        } else {
            match sym.def {
                SymbolDef::Section { index, value } => match sec_addrs.get(index as usize) {
                    Some(&addr) if addr != NOT_LOADED => addr + value,
                    _ => layout.address(res.targets.get(obj, oi, si), res, base),
                },
                SymbolDef::Absolute(addr) => addr,
                _ => 0,
            }
        };
        addrs.push(addr);
    }
}

/// Applies relocations of `relocs` from `from` on while they are the common
/// cases, a PC-relative, 64-bit or GOT-relative value or a relaxable GOT
/// load that fits (`got` is the GOT's address), and once the unit is
/// `planned`, a 32-bit absolute that fits,
/// written as [`plan::decide`] would (it redirects only what does not fit);
/// returns the index of the first that is not (or `relocs.len()`), which
/// has been counted. `addrs` holds each symbol's address; `data` is the
/// section's contents in the input (where an implicit addend is read).
/// When `RECORD`, PC-relative fields go to `written` (see [`PcWrite`]).
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn apply_fast<const RECORD: bool>(
    bytes: &mut [u8],
    relocs: &[Reloc],
    data: &[u8],
    from: usize,
    addrs: &[u64],
    (sec_addr, got, planned): (u64, u64, bool),
    counts: &mut Counts,
    written: &mut Vec<PcWrite>,
) -> usize {
    for (i, r) in relocs.iter().enumerate().skip(from) {
        let kind = r.kind();
        counts.by_type[arch::count_index(kind)] += 1;
        // Relocations may not have been checked yet (see `Slow::Defer`): a
        // bad symbol index or field goes to the slow path, which checks.
        let Some(&s) = addrs.get(r.sym() as usize) else {
            return i;
        };
        let off = r.offset() as usize;
        let quick = arch::quick_class(kind);
        // By far the most common: kept apart, in registers.
        if quick == Quick::Pc32 {
            let p = sec_addr.wrapping_add(r.offset());
            let value = (s as i64)
                .checked_sub(p as i64)
                .and_then(|v| v.checked_add(r.addend(data)))
                .and_then(|v| i32::try_from(v).ok());
            match (value, bytes.get_mut(off..off.wrapping_add(4))) {
                (Some(v), Some(field)) => field.copy_from_slice(&v.to_le_bytes()),
                _ => return i,
            }
            if RECORD {
                written.push(PcWrite {
                    at: p,
                    field: Field::S32,
                    target: s,
                });
            }
            continue;
        }
        if quick == Quick::Abs64 || quick == Quick::GotOff64 {
            // S + A, or S + A − GOT.
            let minus = if quick == Quick::GotOff64 { got } else { 0 };
            match (
                (s as i64)
                    .checked_add(r.addend(data))
                    .and_then(|v| v.checked_sub(minus as i64)),
                bytes.get_mut(off..off.wrapping_add(8)),
            ) {
                (Some(v), Some(field)) => field.copy_from_slice(&v.to_le_bytes()),
                _ => return i,
            }
            continue;
        }
        let at = (s, sec_addr.wrapping_add(r.offset()), got);
        if !apply_other::<RECORD>(bytes, r, data, quick, at, (planned, counts, written)) {
            return i;
        }
    }
    relocs.len()
}

/// The rest of [`apply_fast`]: a 64-bit, wide or (once `planned`) 32-bit
/// absolute value, or a relaxable GOT load, that fits. `(s, p, got)` are
/// the symbol's, the field's and the GOT's addresses. Returns whether it
/// applied the relocation.
#[inline(never)]
fn apply_other<const RECORD: bool>(
    bytes: &mut [u8],
    r: &Reloc,
    data: &[u8],
    quick: Quick,
    (s, p, got): (u64, u64, u64),
    (planned, counts, written): (bool, &mut Counts, &mut Vec<PcWrite>),
) -> bool {
    let kind = r.kind();
    let off = r.offset() as usize;
    let (target, field_at) = (s, p);
    let (s, a, p) = (
        i128::from(s as i64),
        i128::from(r.addend(data)),
        i128::from(p),
    );
    let fits_at = |width: usize| off.checked_add(width).is_some_and(|end| end <= bytes.len());
    match quick {
        Quick::Abs64 => {
            let value = s + a;
            if !Field::W64.fits(value) || !fits_at(8) {
                return false;
            }
            Field::W64.write(&mut bytes[off..], value);
        }
        // Only once the unit is planned: it constrains the base.
        Quick::Abs32 if planned => {
            let value = s + a;
            match arch::formula(kind) {
                Some(Formula::Abs(f)) if f.fits(value) && fits_at(4) => {
                    f.write(&mut bytes[off..], value)
                }
                _ => return false,
            }
        }
        Quick::GotPcRelx => {
            if !fits_at(4) {
                return false;
            }
            let Some(relax) = arch::relaxation(bytes, off, r.addend(data)) else {
                return false;
            };
            let value = arch::relaxed_value(relax, s + a - p);
            if !arch::REDIRECT_FIELD.fits(value) {
                return false;
            }
            let (shift, _) = arch::apply_relax(bytes, off, relax);
            arch::REDIRECT_FIELD.write(&mut bytes[off.wrapping_add_signed(shift)..], value);
            counts.relaxed += 1;
            if RECORD {
                written.push(PcWrite {
                    at: field_at.wrapping_add_signed(shift as i64),
                    field: arch::REDIRECT_FIELD,
                    target,
                });
            }
        }
        Quick::Wide => {
            let (f, value) = match arch::formula(kind) {
                Some(Formula::Pc(f)) => (f, s + a - p),
                Some(Formula::GotOff(f)) => (f, s + a - i128::from(got)),
                Some(Formula::GotPc(f)) => (f, i128::from(got) + a - p),
                _ => return false,
            };
            if !f.fits(value) || !fits_at(f.width()) {
                return false;
            }
            f.write(&mut bytes[off..], value);
            if RECORD && matches!(arch::formula(kind), Some(Formula::Pc(_))) {
                written.push(PcWrite {
                    at: field_at,
                    field: f,
                    target,
                });
            }
        }
        _ => return false,
    }
    true
}

/// Applies the relocations [`relocate`] set aside (see [`Slow::Defer`]) by
/// `plan`, then writes its GOT slots.
#[allow(clippy::too_many_arguments)]
pub(crate) fn apply_deferred(
    mem: &mut [u8],
    base: u64,
    objects: &[ObjectFile<'_>],
    res: &Resolution<'_>,
    layout: &Layout,
    plan: &Plan,
    tail: Tail,
    deferred: &[(u32, u32, u32)],
    mut record: Option<&mut Vec<PcWrite>>,
) -> Result<()> {
    let cx = PlacedUnit {
        base,
        got: base + tail.got,
        objects,
        res,
        layout,
        plan,
        tail,
    };
    for &(oi, si, ri) in deferred {
        let (oi, si) = (oi as usize, si as usize);
        let obj = &objects[oi];
        let sec = &obj.sections[si];
        let r = &sec.relocs[ri as usize];
        let sec_off = layout.sec_offsets[oi][si];
        let bytes = &mut mem[sec_off as usize..(sec_off + sec.size) as usize];
        let s = layout.address(
            res.targets.get(&objects[oi], oi, r.sym() as usize),
            res,
            base,
        );
        let formula = arch::formula(r.kind()).ok_or_else(|| plan::unsupported(obj, si, r))?;
        let w = record.as_deref_mut();
        relocate_one(
            &cx,
            bytes,
            (obj, oi, si),
            base + sec_off,
            r,
            (s, formula),
            w,
        )?;
    }
    write_tables(mem, base, plan, tail);
    Ok(())
}

/// Writes the GOT slots, `tls_index` pairs, TLS descriptors and
/// trampolines of `plan`, for the unit at `base`.
fn write_tables(mem: &mut [u8], base: u64, plan: &Plan, tail: Tail) {
    for (&content, &i) in &plan.slots {
        let at = tail.slot(i) as usize;
        mem[at..at + 8].copy_from_slice(&content.to_le_bytes());
    }
    for (&(module, offset), &i) in &plan.tls_pairs {
        let at = (tail.got + plan::tls_pair_offset(plan, i)) as usize;
        mem[at..at + 8].copy_from_slice(&module.to_le_bytes());
        mem[at + 8..at + 16].copy_from_slice(&offset.to_le_bytes());
    }
    if !plan.tls_descs.is_empty() {
        // The GOT's address: `mem` is the unit (or stands for it) at `base`.
        let resolver = arch::tlsdesc_resolver(crate::load::tls::tls_get_addr_entry()).unwrap_or(0);
        for (key, &i) in &plan.tls_descs {
            let at = (tail.got + plan::tls_desc_offset(plan, i)) as usize;
            // A variable of the unit's own block in static TLS: its offset
            // from the thread pointer is fixed, and the descriptor holds it.
            let (function, argument) = match plan.tp.block {
                Some(block) if key.0 == plan.tls_module => (
                    arch::tlsdesc_static_resolver(),
                    block.wrapping_add(key.1 as i64) as u64,
                ),
                _ => (
                    resolver,
                    base + tail.got + plan::tls_pair_offset(plan, plan.tls_pairs[key]),
                ),
            };
            mem[at..at + 8].copy_from_slice(&function.to_le_bytes());
            mem[at + 8..at + 16].copy_from_slice(&argument.to_le_bytes());
        }
    }
    for (&dest, &i) in &plan.trampolines {
        let at = tail.trampoline(i) as usize;
        arch::write_trampoline(&mut mem[at..at + arch::TRAMPOLINE_SIZE], dest);
    }
}

/// What [`relocate_one`] needs besides the relocation.
struct PlacedUnit<'a, 'd> {
    base: u64,
    got: u64,
    objects: &'a [ObjectFile<'d>],
    res: &'a Resolution<'d>,
    layout: &'a Layout,
    plan: &'a Plan,
    tail: Tail,
}

/// Applies one relocation that the fast path of [`relocate`] did not:
/// trampolines, GOT slots, rewrites, TLS, and everything that overflows.
#[inline(never)]
fn relocate_one(
    cx: &PlacedUnit<'_, '_>,
    bytes: &mut [u8],
    (obj, oi, si): (&ObjectFile<'_>, usize, usize),
    sec_addr: u64,
    r: &Reloc,
    (s, formula): (u64, Formula),
    record: Option<&mut Vec<PcWrite>>,
) -> Result<()> {
    let PlacedUnit {
        got,
        objects,
        res,
        layout,
        plan,
        ..
    } = *cx;
    let sec = &obj.sections[si];
    let off = r.offset() as usize;
    let target = res.targets.get(&objects[oi], oi, r.sym() as usize);
    let z = symbol_size(res, target, formula);
    // Initial-exec and local-exec: S is the offset from the thread pointer.
    let s = match formula {
        Formula::StaticTls { .. } => {
            let key = (oi as u32, r.sym());
            match plan::tp_offset(layout, res, &plan.tp, target, key) {
                Some(off) => off as u64,
                None => return Err(internal(obj, si, r, "no offset in static TLS")),
            }
        }
        _ => s,
    };
    let at = At {
        s,
        z,
        code: matches!(target, Target::Absolute { code: true, .. }),
        p: sec_addr + r.offset(),
        got,
    };
    // An FDE of a function whose COMDAT group was discarded (and
    // its LSDA pointer): ld deletes the FDE; objdl cannot shrink
    // .eh_frame, so it gives the FDE the address 0, which libgcc
    // skips ("link-once functions that were removed"; it masks
    // the address to the encoding's width). Pointing it at the
    // kept copy would make this object's FDEs overlap the kept
    // object's, and libgcc's search of registered objects stops
    // at the first whose range begins below the PC, so the FDEs
    // of the other were never found and exceptions terminated.
    if sec.kind == SectionKind::EhFrame
        && crate::link::resolve::in_discarded_section(objects, target)
    {
        match formula {
            Formula::Pc(f) => {
                f.write(&mut bytes[off..], -(at.p as i128));
                if let Some(w) = record {
                    w.push(PcWrite {
                        at: at.p,
                        field: f,
                        target: 0,
                    });
                }
                return Ok(());
            }
            Formula::Abs(f) => {
                f.write(&mut bytes[off..], 0);
                return Ok(());
            }
            _ => {}
        }
    }
    let decision = match formula {
        // Thread-local forms: from the TLS layout (demands has
        // checked that the target is the unit's own TLS).
        // The GOT pair (TLSGD/TLSLD) or descriptor (TLSDESC) of the variable.
        Formula::TlsIndex { field, .. } | Formula::TlsDesc(field) => {
            let key = plan::tls_key(layout, Some(formula), target, plan.tls_module);
            let entry = if matches!(formula, Formula::TlsDesc(_)) {
                plan::tls_desc_offset(plan, lookup(&plan.tls_descs, key, obj, si, r)?)
            } else {
                plan::tls_pair_offset(plan, lookup(&plan.tls_pairs, key, obj, si, r)?)
            };
            Decision::Direct {
                f: field,
                value: (got + entry) as i128 + i128::from(r.addend(sec.data)) - at.p as i128,
            }
        }
        Formula::DtpOff(f) => Decision::Direct {
            f,
            value: layout.tls_place(target, plan.tls_module).map_or(0, |p| p.1) as i128
                + i128::from(r.addend(sec.data)),
        },
        Formula::DtpMod => Decision::Direct {
            f: Field::W64,
            value: i128::from(
                layout
                    .tls_place(target, plan.tls_module)
                    .map_or(plan.tls_module, |p| p.0),
            ),
        },
        _ => plan::decide(formula, bytes, off, r.addend(sec.data), &at),
    };
    // The decisions that reach S itself, PC-relatively.
    let reaches_s = matches!(
        (formula, &decision),
        (Formula::Pc(_), Decision::Direct { .. })
            | (Formula::GotPcRel { .. }, Decision::Relax { .. })
    );
    let (f, field_at) = apply(cx, bytes, (obj, si), off, r, &at, decision)?;
    if let (Some(w), true) = (record, reaches_s) {
        w.push(PcWrite {
            at: sec_addr + field_at as u64,
            field: f,
            target: at.s,
        });
    }
    Ok(())
}

/// Applies `decision` for relocation `r` at `off` in the section's bytes:
/// the value its trampoline, GOT slot, copy or relaxation gives, range
/// checked, then written (an instruction rewritten first where asked);
/// returns the field written and where (`Skip`: nothing, at `off`).
fn apply(
    cx: &PlacedUnit<'_, '_>,
    bytes: &mut [u8],
    (obj, si): (&ObjectFile<'_>, usize),
    off: usize,
    r: &Reloc,
    at: &At,
    decision: Decision,
) -> Result<(Field, usize)> {
    let PlacedUnit {
        base,
        got,
        plan,
        tail,
        ..
    } = *cx;
    let (f, value, field_at) = match decision {
        Decision::Skip => return Ok((Field::W64, off)),
        Decision::Data { value, target } => match plan.copies.get(&target) {
            Some(&copy) => (
                arch::REDIRECT_FIELD,
                copy as i128 + i128::from(r.addend(obj.sections[si].data)) - at.p as i128,
                off,
            ),
            None => (arch::REDIRECT_FIELD, value, off),
        },
        Decision::Direct { f, value } => (f, value, off),
        Decision::Trampoline { dest } => {
            let t = lookup(&plan.trampolines, dest, obj, si, r)?;
            let addr = base + tail.trampoline(t);
            let bias = i128::from(arch::PC_BIAS);
            (
                arch::REDIRECT_FIELD,
                addr as i128 - bias - at.p as i128,
                off,
            )
        }
        Decision::AbsTrampoline { f, dest } => match plan.shared_stand_ins.get(&dest) {
            Some(&shared) => (f, shared as i128, off),
            None => {
                let t = lookup(&plan.trampolines, dest, obj, si, r)?;
                let addr = base + tail.trampoline(t);
                (f, addr as i128, off)
            }
        },
        Decision::Slot {
            f,
            content,
            addend,
            address_to_load,
        } => {
            let g = base + tail.slot(lookup(&plan.slots, content, obj, si, r)?);
            let value = g as i128 + addend - at.p as i128;
            if address_to_load && arch::REDIRECT_FIELD.fits(value) {
                arch::address_to_load(bytes, off);
            }
            (f, value, off)
        }
        Decision::SlotOffset { f, content, addend } => {
            let g = base + tail.slot(lookup(&plan.slots, content, obj, si, r)?);
            (f, (g - got) as i128 + addend, off)
        }
        Decision::Relax { relax, value } => {
            let (shift, _) = arch::apply_relax(bytes, off, relax);
            (arch::REDIRECT_FIELD, value, off.wrapping_add_signed(shift))
        }
    };
    if !f.fits(value) {
        return Err(overflow(obj, si, r, value, f));
    }
    f.write(&mut bytes[field_at..], value);
    Ok((f, field_at))
}

/// The size of the symbol `target` (for `SIZE` relocations), looking up a
/// host symbol's only when the formula needs it and no pass has yet.
fn symbol_size(res: &Resolution<'_>, target: Target, formula: Formula) -> u64 {
    match target {
        // The size of a host symbol, if no pass looked it up yet.
        Target::Absolute { addr, size: 0, .. }
            if matches!(formula, Formula::Size(_)) && addr != 0 =>
        {
            crate::scope::host::host_symbol(addr).map_or(0, |(size, _)| size)
        }
        Target::Section { size, .. } | Target::Absolute { size, .. } => size,
        Target::Common(i) => res.commons[i as usize].size,
        Target::Synthetic(_) => 8,
        Target::Ifunc(_)
        | Target::Bound { .. }
        | Target::ExternalTls { .. }
        | Target::DeferredTls => 0,
    }
}

/// Applies the relocations of TLS initialiser section `si` of object `oi`
/// (at `start` in the TLS template) to the template `image`: what a thread's
/// block starts as, such as a `__thread` pointer to a static, or a Rust
/// `thread_local!` holding a `&'static str`. The field has no fixed address
/// (each thread has its own copy), so only absolute forms make sense.
#[allow(clippy::too_many_arguments)]
fn relocate_tls_initialiser(
    template: &mut TlsTemplate,
    start: u64,
    (obj, oi, si): (&ObjectFile<'_>, usize, usize),
    addrs: &[u64],
    res: &Resolution<'_>,
    layout: &Layout,
    module: u64,
    counts: &mut Counts,
) -> Result<()> {
    let sec = &obj.sections[si];
    let bytes = &mut template.image[start as usize..(start + sec.size) as usize];
    counts.relocations += sec.relocs.len() as u64;
    for r in sec.relocs.iter() {
        counts.by_type[arch::count_index(r.kind())] += 1;
        let target = res.targets.get(obj, oi, r.sym() as usize);
        let a = i128::from(r.addend(sec.data));
        let (f, value) = match arch::formula(r.kind()) {
            Some(Formula::None) => continue,
            Some(Formula::Abs(f)) => (f, addrs[r.sym() as usize] as i64 as i128 + a),
            Some(Formula::DtpOff(f)) => (
                f,
                layout.tls_place(target, module).map_or(0, |p| p.1) as i128 + a,
            ),
            Some(Formula::DtpMod) => {
                let m = layout.tls_place(target, module).map_or(module, |p| p.0);
                template.holds_module |= m == module;
                (Field::W64, i128::from(m))
            }
            _ => return Err(plan::unsupported(obj, si, r)),
        };
        if !f.fits(value) {
            return Err(overflow(obj, si, r, value, f));
        }
        f.write(&mut bytes[r.offset() as usize..], value);
    }
    Ok(())
}

/// The error for a value that does not fit its field (nothing is written).
fn overflow(
    obj: &ObjectFile<'_>,
    si: usize,
    r: &crate::input::Reloc,
    value: i128,
    f: Field,
) -> Error {
    Error::Overflow {
        site: Box::new(plan::site(obj, si, r.offset())),
        r_type: arch::reloc_name(r.kind()).into_owned(),
        symbol: plan::symbol_name(obj, r.sym()),
        value: value as i64,
        detail: f.describe(),
    }
}

fn lookup<K: std::hash::Hash + Eq>(
    table: &crate::hash::KeyedMap<K, u32>,
    key: K,
    obj: &ObjectFile<'_>,
    si: usize,
    r: &crate::input::Reloc,
) -> Result<u32> {
    table
        .get(&key)
        .copied()
        .ok_or_else(|| internal(obj, si, r, "no trampoline or GOT slot was planned"))
}

/// An invariant of the plan broken at relocation `r` of section `si`.
#[cold]
fn internal(obj: &ObjectFile<'_>, si: usize, r: &crate::input::Reloc, what: &'static str) -> Error {
    Error::Internal {
        file: obj.name.clone(),
        what,
        at: Some(Box::new(plan::site(obj, si, r.offset()))),
    }
}

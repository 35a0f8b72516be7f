//! Stage 3b, plan: what every relocation needs in order to reach its target.
//!
//! [`demands`] runs before the unit has an address. It sorts each reference:
//! - *fixed*: its value does not depend on where the unit goes (internal
//!   PC-relative, or an absolute to the host): checked now;
//! - *irreducible*: a RIP-relative load/store to the host, or a 32-bit
//!   absolute to the unit itself: it constrains the unit's base address to an
//!   interval, and the intersection of those is the placement window;
//! - *redirectable*: a call or jump (trampoline), an address computation
//!   (becomes a load from a GOT slot) or a GOT load: it works anywhere,
//!   better when near.
//!
//! [`finish`] runs once the base is chosen and decides, per site, the
//! trampolines and GOT slots that are really needed, by the same rule
//! ([`decide`]) that the relocation pass applies.

use crate::arch::{self, Field, Formula, Quick, Relax};
use crate::error::{
    Error, Malformed, OutOfReach, Result, Site, StaticTlsRefusal, UnreachableFix, UnreachableSite,
    Unsupported,
};
use crate::hash::{KeyedMap, KeyedSet};
use crate::input::{ObjectFile, Reloc, RelocFields, SectionKind};
use crate::link::resolution::{Resolution, Target};
use crate::link::unit_layout::{Layout, EXTERNAL, NOT_LOADED, UNLOADED};

/// One constraint on the unit's base address: `lo <= base <= hi`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Constraint {
    pub obj: u32,
    pub sec: u32,
    pub reloc: u32,
    pub lo: i128,
    pub hi: i128,
    /// A read of a [`crate::link::resolution::COPYABLE`] host variable: it may be
    /// served from the unit's copy (index into `Resolution::copyable`).
    pub copy: Option<u32>,
}

/// What the unit needs before it has an address.
#[derive(Debug, Default)]
pub(crate) struct Demands {
    /// The window for the base: the intersection of all constraints.
    pub lo: i128,
    pub hi: i128,
    /// The window when the reads of copyable host variables use copies.
    pub lo_without_copies: i128,
    pub hi_without_copies: i128,
    pub constraints: Vec<Constraint>,
    /// Targets of redirectable references, with a weight each (for `Auto`).
    pub preferred: Vec<u64>,
    /// Upper bounds on the trampolines and GOT slots the unit may need.
    pub max_trampolines: u64,
    pub max_slots: u64,
    /// Redirectable or GOT-using relocations: (obj, section, reloc index).
    pub redirectable: Vec<(u32, u32, u32)>,
    pub relocation_count: u64,
    /// The highest value a trampoline's address may take, when 32-bit
    /// absolutes refer to trampolines.
    pub abs_limit: Option<i128>,
    /// GOT loads of internal symbols relaxed whatever the base (not in `redirectable`).
    pub relaxations: u64,
    /// TLSGD/TLSLD sites, which need a `tls_index` pair in the GOT, and
    /// TLSDESC sites, which need a descriptor too: (obj, section, reloc).
    pub tls_sites: Vec<(u32, u32, u32)>,
    /// Initial-exec or local-exec code reaches the unit's own thread-locals:
    /// its block must lie in static TLS.
    pub static_block: bool,
}

impl Demands {
    /// Narrows the window for the base to `c`'s, and records `c` (for the
    /// message if no base fits, and for the copies a base needs).
    #[inline]
    fn constrain(&mut self, c: Constraint) {
        self.lo = self.lo.max(c.lo);
        self.hi = self.hi.min(c.hi);
        if c.copy.is_none() {
            self.lo_without_copies = self.lo_without_copies.max(c.lo);
            self.hi_without_copies = self.hi_without_copies.min(c.hi);
        }
        self.constraints.push(c);
    }
}

/// Lowest and highest base addresses objdl ever considers: 64 KiB, and the
/// top of user space ([`arch::USER_ADDRESS_END`]: 47 bits on x86-64).
pub(crate) const USER_LO: i128 = 0x10000;
/// See [`USER_LO`].
pub(crate) const USER_HI: i128 = arch::USER_ADDRESS_END as i128;

/// Builds the error for a relocation type objdl does not handle.
pub(crate) fn unsupported(obj: &ObjectFile<'_>, sec: usize, r: &crate::input::Reloc) -> Error {
    Error::UnsupportedRelocation {
        site: Box::new(site(obj, sec, r.offset())),
        r_type: arch::reloc_name(r.kind()).into_owned(),
        symbol: symbol_name(obj, r.sym()),
    }
}

pub(crate) fn site(obj: &ObjectFile<'_>, sec: usize, offset: u64) -> Site {
    Site {
        file: obj.name.clone(),
        section: obj.sections[sec].name.to_string(),
        offset,
    }
}

/// A symbol's name for messages; section symbols are named after their section.
pub(crate) fn symbol_name(obj: &ObjectFile<'_>, sym: u32) -> String {
    let name = obj.symbol_name(sym);
    if name.is_empty() {
        if let crate::input::SymbolDef::Section { index, .. } = obj.symbols[sym as usize].def {
            return obj.sections[index as usize].name.to_string();
        }
    }
    name
}

/// Collects the unit's demands. `got_base` is the GOT's offset in the unit.
pub(crate) fn demands(
    objects: &[ObjectFile<'_>],
    res: &Resolution<'_>,
    layout: &Layout,
) -> Result<Demands> {
    let mut d = Demands {
        lo: USER_LO,
        hi: USER_HI,
        lo_without_copies: USER_LO,
        hi_without_copies: USER_HI,
        ..Default::default()
    };
    let mut irreducible = Unreachable::default();
    let table = layout.symbol_table(objects, res);
    for (oi, obj) in objects.iter().enumerate() {
        let offsets = &table.offsets[oi];
        for (si, sec) in obj.sections.iter().enumerate() {
            let sec_off = layout.sec_offsets[oi][si];
            if sec_off == NOT_LOADED {
                continue;
            }
            d.relocation_count += sec.relocs.len() as u64;
            let addresses = &table.addresses[oi];
            let mut ri = 0;
            loop {
                let at = Settle {
                    oi: oi as u32,
                    si: si as u32,
                    sec_off,
                    offsets,
                    addresses,
                    data: sec.data,
                };
                ri = settle(&mut d, &sec.relocs, ri, &at);
                let Some(r) = sec.relocs.get(ri) else {
                    break;
                };
                let sym_off = offsets[r.sym() as usize];
                let formula = arch::formula(r.kind()).ok_or_else(|| unsupported(obj, si, r))?;
                let at = Where {
                    objects,
                    obj,
                    oi,
                    si,
                    sec_off,
                    ri,
                    sym_off,
                };
                demand(&mut d, &mut irreducible, res, layout, at, r, formula)?;
                ri += 1;
            }
        }
    }
    if !irreducible.is_empty() {
        return Err(irreducible.into_error());
    }
    Ok(d)
}

/// What [`settle`] knows of a section.
struct Settle<'a> {
    oi: u32,
    si: u32,
    sec_off: u64,
    /// The section's object's [`crate::link::unit_layout::SymbolTable`] rows.
    offsets: &'a [u64],
    addresses: &'a [u64],
    data: &'a [u8],
}

/// Settles the relocations of `relocs` from `from` on, until one that
/// [`demand`] must look at; returns its index (or `relocs.len()`). Most
/// need nothing before the unit has an address: an internal target, whose
/// PC-relative value does not depend on the base, or a 64-bit absolute,
/// which fits wherever the unit goes; and forms that only need the final
/// address. Calls and jumps out of the unit are recorded as redirectable,
/// and 32-bit absolutes of internal targets add their window for the base.
#[inline(never)]
fn settle(d: &mut Demands, relocs: &[Reloc], from: usize, at: &Settle<'_>) -> usize {
    for (i, r) in relocs.iter().enumerate().skip(from) {
        let sym_off = at.offsets[r.sym() as usize];
        let settled = match arch::quick_class(r.kind()) {
            // Both in the unit: the distance does not depend on the base.
            Quick::Pc32 if sym_off < UNLOADED => {
                arch::pc_relative_fits(sym_off, at.sec_off + r.offset(), r.addend(at.data))
            }
            Quick::Pc32 if sym_off == EXTERNAL => {
                let branch =
                    arch::site_kind(at.data, r.offset() as usize) == arch::SiteKind::Branch;
                if branch {
                    d.max_trampolines += 1;
                    d.preferred.push(at.addresses[r.sym() as usize]);
                    d.redirectable.push((at.oi, at.si, i as u32));
                }
                branch
            }
            Quick::Abs64 => sym_off < UNLOADED,
            // A 32-bit absolute of an internal target (-fno-pic): the value
            // is the base plus a constant, so it asks for a window for the
            // base, as in `demand`.
            Quick::Abs32 if sym_off < UNLOADED => {
                let Some(Formula::Abs(f)) = arch::formula(r.kind()) else {
                    return i;
                };
                let c = i128::from(sym_off) + i128::from(r.addend(at.data));
                let (flo, fhi) = f.range();
                d.constrain(Constraint {
                    obj: at.oi,
                    sec: at.si,
                    reloc: i as u32,
                    lo: flo - c,
                    hi: fhi - c,
                    copy: None,
                });
                true
            }
            Quick::Nothing | Quick::Wide | Quick::GotOff64 => sym_off != UNLOADED,
            // A GOT load of an internal symbol that becomes an address computation or a
            // direct call (the distance does not depend on the base).
            Quick::GotPcRelx if sym_off < UNLOADED => {
                let off = r.offset() as usize;
                let field = i128::from(at.sec_off + r.offset());
                let relaxed = arch::relaxation(at.data, off, r.addend(at.data)).filter(|&relax| {
                    let value = i128::from(sym_off) + i128::from(r.addend(at.data)) - field;
                    arch::REDIRECT_FIELD.fits(arch::relaxed_value(relax, value))
                });
                d.relaxations += relaxed.is_some() as u64;
                relaxed.is_some()
            }
            _ => false,
        };
        if !settled {
            return i;
        }
    }
    relocs.len()
}

/// Where a relocation is, for [`demand`].
#[derive(Clone, Copy)]
struct Where<'a, 'd> {
    objects: &'a [ObjectFile<'d>],
    obj: &'a ObjectFile<'d>,
    oi: usize,
    si: usize,
    sec_off: u64,
    ri: usize,
    /// The target's offset in the unit, or [`EXTERNAL`] or [`UNLOADED`].
    sym_off: u64,
}

/// Sorts one relocation that the fast path of [`demands`] did not settle.
#[inline(never)]
fn demand(
    d: &mut Demands,
    irreducible: &mut Unreachable,
    res: &Resolution<'_>,
    layout: &Layout,
    at: Where<'_, '_>,
    r: &Reloc,
    formula: Formula,
) -> Result<()> {
    let Where {
        objects,
        obj,
        oi,
        si,
        sec_off,
        ri,
        sym_off,
    } = at;
    let sec = &obj.sections[si];
    let target = res.targets.get(obj, oi, r.sym() as usize);
    // Initial-exec and local-exec: the unit's own block, in static TLS, or
    // another module's thread-local that `ld.so` puts there.
    if let Formula::StaticTls { got, .. } = formula {
        return demand_static_tls(d, res, layout, at, r, target, got);
    }
    // The general- and local-dynamic forms: the unit's own block, or
    // another module's.
    if let Formula::TlsIndex { .. }
    | Formula::TlsDesc(_)
    | Formula::TlsDescCall
    | Formula::DtpOff(_)
    | Formula::DtpMod = formula
    {
        return demand_dynamic_tls(d, layout, at, r, target, formula);
    }
    let internal = (sym_off < UNLOADED).then_some(sym_off);
    // An FDE (or its LSDA pointer) of a function whose COMDAT group was
    // discarded: the relocation pass writes 0 there, as ld drops the FDE.
    if sym_off == UNLOADED
        && sec.kind == SectionKind::EhFrame
        && crate::link::resolve::in_discarded_section(objects, target)
    {
        return Ok(());
    }
    if sym_off == UNLOADED {
        return Err(Error::Malformed {
            file: obj.name.clone(),
            what: Malformed::TargetNotLoaded {
                section: sec.name.to_string(),
                offset: r.offset(),
                symbol: symbol_name(obj, r.sym()),
            },
        });
    }
    let field = sec_off + r.offset();
    let a = r.addend(sec.data) as i128;
    // Addresses are 64-bit two's complement: an absolute symbol
    // at 0xffff_ffff_ffff_fff0 is -16 to a sign-extended field.
    let ext = match target {
        Target::Absolute { addr, .. } => addr as i64 as i128,
        _ => 0,
    };
    // value = c + k * base, and it must fit `f`.
    let (f, c, k): (Field, i128, i128) = match formula {
        Formula::None
        | Formula::Size(_)
        | Formula::GotOff(_)
        | Formula::GotPc(_)
        | Formula::TlsIndex { .. }
        | Formula::TlsDesc(_)
        | Formula::TlsDescCall
        | Formula::DtpOff(_)
        | Formula::DtpMod
        | Formula::StaticTls { .. } => return Ok(()),
        Formula::Got(_) | Formula::GotPcRel { .. } => {
            let relaxed = matches!(
                formula,
                Formula::GotPcRel {
                    relaxable: true,
                    ..
                }
            ) && arch::relaxation(sec.data, r.offset() as usize, r.addend(sec.data))
                .is_some();
            if internal.is_none() || !relaxed {
                d.max_slots += 1;
            }
            if internal.is_none() {
                d.preferred.push(ext as u64);
            }
            d.redirectable.push((oi as u32, si as u32, ri as u32));
            return Ok(());
        }
        Formula::Abs(f) => match internal {
            Some(t) => (f, t as i128 + a, 1),
            None => (f, ext + a, 0),
        },
        Formula::Pc(f) => match internal {
            Some(t) => (f, t as i128 + a - field as i128, 0),
            None => {
                if f == arch::REDIRECT_FIELD {
                    match arch::site_kind(sec.data, r.offset() as usize) {
                        arch::SiteKind::Branch => {
                            d.max_trampolines += 1;
                            d.preferred.push(ext as u64);
                            d.redirectable.push((oi as u32, si as u32, ri as u32));
                            return Ok(());
                        }
                        arch::SiteKind::Address => {
                            d.max_slots += 1;
                            d.preferred.push(ext as u64);
                            d.redirectable.push((oi as u32, si as u32, ri as u32));
                            return Ok(());
                        }
                        arch::SiteKind::Other => {}
                    }
                }
                (f, ext + a - field as i128, -1)
            }
        },
    };
    if f == Field::W64 {
        return Ok(()); // any value fits, modulo 2^64, wherever the unit goes
    }
    let value = Value { field: f, c, k };
    demand_value(d, irreducible, res, at, r, target, value);
    Ok(())
}

/// An initial- or local-exec reference ([`Formula::StaticTls`]; `got`:
/// through a GOT slot): to the unit's own block, which then goes in static
/// TLS, or to another module's thread-local that `ld.so` put there.
fn demand_static_tls(
    d: &mut Demands,
    res: &Resolution<'_>,
    layout: &Layout,
    at: Where<'_, '_>,
    r: &Reloc,
    target: Target,
    got: bool,
) -> Result<()> {
    let Where {
        obj, oi, si, ri, ..
    } = at;
    if layout.tls_offset(target).is_some() {
        d.static_block = true;
    } else if !res.initial_exec.contains_key(&(oi as u32, r.sym())) {
        return Err(Error::StaticTls {
            site: Box::new(site(obj, si, r.offset())),
            r_type: arch::reloc_name(r.kind()).into_owned(),
            symbol: symbol_name(obj, r.sym()),
            why: StaticTlsRefusal::NotThreadLocal,
        });
    }
    if got {
        d.max_slots += 1;
        d.redirectable.push((oi as u32, si as u32, ri as u32));
    }
    Ok(())
}

/// A general- or local-dynamic reference: to the unit's own block, or to
/// another module's thread-local.
fn demand_dynamic_tls(
    d: &mut Demands,
    layout: &Layout,
    at: Where<'_, '_>,
    r: &Reloc,
    target: Target,
    formula: Formula,
) -> Result<()> {
    let Where {
        obj, oi, si, ri, ..
    } = at;
    let sec = &obj.sections[si];
    if layout.tls_place(target, 0).is_none() && target.is_internal() {
        // A TLS form against a symbol that is not thread-local.
        return Err(unsupported(obj, si, r));
    }
    if layout.tls_place(target, 0).is_none() {
        return Err(Error::Unsupported {
            file: obj.name.clone(),
            what: Unsupported::ThreadLocalNowhere {
                section: sec.name.to_string(),
                offset: r.offset(),
                r_type: arch::reloc_name(r.kind()).into_owned(),
                symbol: symbol_name(obj, r.sym()),
            },
        });
    }
    if matches!(formula, Formula::TlsDesc(_)) && !arch::tlsdesc_supported() {
        return Err(Error::Unsupported {
            file: obj.name.clone(),
            what: Unsupported::TlsDescriptorWithoutXsave {
                section: sec.name.to_string(),
                offset: r.offset(),
            },
        });
    }
    if let Formula::TlsIndex { .. } | Formula::TlsDesc(_) = formula {
        d.tls_sites.push((oi as u32, si as u32, ri as u32));
    }
    Ok(())
}

/// A value `c + k * base` that must fit `field`: with `k` = 0 it is known
/// now (fixed, or irreducible, or a low stand-in for a host function's
/// address); otherwise it constrains the base to a window.
#[derive(Clone, Copy)]
struct Value {
    field: Field,
    c: i128,
    k: i128,
}

/// Sorts a reference whose value is [`Value`]: checked now, served by a
/// low trampoline, or a constraint on the base (with a copy of a host
/// variable as the fallback where the site only reads it).
fn demand_value(
    d: &mut Demands,
    irreducible: &mut Unreachable,
    res: &Resolution<'_>,
    at: Where<'_, '_>,
    r: &Reloc,
    target: Target,
    value: Value,
) {
    let Where {
        obj, oi, si, ri, ..
    } = at;
    let sec = &obj.sections[si];
    let a = r.addend(sec.data) as i128;
    let Value { field: f, c, k } = value;
    let (flo, fhi) = f.range();
    match k {
        0 => {
            let code = matches!(target, Target::Absolute { code: true, .. });
            if !f.fits(c) && code && a == 0 && matches!(f, Field::S32 | Field::U32) {
                // The address of a host function as a 32-bit
                // absolute (-fno-pic): served by a trampoline in
                // the unit, which must then sit low enough.
                d.max_trampolines += 1;
                d.redirectable.push((oi as u32, si as u32, ri as u32));
                // Below 2 GiB whatever the field, so that any unit
                // (32 or 32S) can share the stand-in.
                let limit = Field::S32.range().1;
                d.abs_limit = Some(d.abs_limit.map_or(limit, |l: i128| l.min(limit)));
            } else if !f.fits(c) {
                irreducible.push(
                    unreachable_site(obj, si, r, formula_name(r.kind()), c as u64, c, f),
                    r,
                );
            }
        }
        _ => {
            let (lo, hi) = if k == 1 {
                (flo - c, fhi - c)
            } else {
                (c - fhi, c - flo)
            };
            let copy = match target {
                Target::Absolute { addr, .. } if k == -1 && f == arch::REDIRECT_FIELD => res
                    .copyable
                    .iter()
                    .position(|c| c.addr == addr)
                    .filter(|_| arch::reads_only(sec.data, r.offset() as usize))
                    .map(|i| i as u32),
                _ => None,
            };
            d.constrain(Constraint {
                obj: oi as u32,
                sec: si as u32,
                reloc: ri as u32,
                lo,
                hi,
                copy,
            });
        }
    }
}

fn formula_name(r_type: object::elf::RelocationType) -> String {
    arch::reloc_name(r_type).into_owned()
}

fn unreachable_site(
    obj: &ObjectFile<'_>,
    si: usize,
    r: &crate::input::Reloc,
    r_type: String,
    target: u64,
    value: i128,
    f: Field,
) -> UnreachableSite {
    let sec = &obj.sections[si];
    let start = (r.offset() as usize).saturating_sub(3);
    let end = (r.offset() as usize + f.width()).min(sec.data.len());
    UnreachableSite {
        site: site(obj, si, r.offset()),
        r_type,
        symbol: symbol_name(obj, r.sym()),
        target,
        bytes: sec
            .data
            .get(start..end)
            .map(<[u8]>::to_vec)
            .unwrap_or_default(),
        why: OutOfReach::Value {
            value,
            field: f.describe(),
        },
    }
}

/// Sites that cannot reach their targets, for [`Error::Unreachable`].
#[derive(Debug, Default)]
pub(crate) struct Unreachable {
    pub sites: Vec<UnreachableSite>,
    /// Some site is a 32-bit absolute ([`Quick::Abs32`]): the fix to
    /// suggest is another code model or a low base, not only `-fPIC`.
    low_absolute: bool,
}

impl Unreachable {
    /// Adds `site`, which is relocation `r`'s.
    fn push(&mut self, site: UnreachableSite, r: &Reloc) {
        self.low_absolute |= arch::quick_class(r.kind()) == Quick::Abs32;
        self.sites.push(site);
    }

    /// Adds the sites of `other`.
    pub fn extend(&mut self, other: Unreachable) {
        self.low_absolute |= other.low_absolute;
        self.sites.extend(other.sites);
    }

    /// No site is unreachable.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty()
    }

    /// The error for these sites, with the fix to suggest.
    pub fn into_error(self) -> Error {
        Error::Unreachable {
            fix: fix_for(self.low_absolute),
            sites: self.sites,
        }
    }
}

/// The fix to suggest for unreachable sites, some of them 32-bit
/// absolutes when `low_absolute`.
fn fix_for(low_absolute: bool) -> UnreachableFix {
    if low_absolute {
        UnreachableFix::PicOrLow
    } else {
        UnreachableFix::Pic
    }
}

/// Lists every constraint the base `base` violates, for the error message.
pub(crate) fn violations(
    objects: &[ObjectFile<'_>],
    res: &Resolution<'_>,
    layout: &Layout,
    d: &Demands,
    base: u64,
    copies_allowed: bool,
) -> (Unreachable, Vec<u32>) {
    let mut out = Unreachable::default();
    let mut copies = Vec::new();
    for c in &d.constraints {
        let b = base as i128;
        if b >= c.lo && b <= c.hi {
            continue;
        }
        if let (Some(i), true) = (c.copy, copies_allowed) {
            if !copies.contains(&i) {
                copies.push(i);
            }
            continue;
        }
        let obj = &objects[c.obj as usize];
        let r = &obj.sections[c.sec as usize].relocs[c.reloc as usize];
        let target = res
            .targets
            .get(&objects[c.obj as usize], c.obj as usize, r.sym() as usize);
        let sec_off = layout.sec_offsets[c.obj as usize][c.sec as usize];
        let field = base as i128 + (sec_off + r.offset()) as i128;
        let (tval, f) = match arch::formula(r.kind()) {
            Some(Formula::Abs(f)) => (
                base as i128
                    + layout
                        .internal_offset(target, res, layout.got_offset)
                        .unwrap_or(0) as i128,
                f,
            ),
            Some(Formula::Pc(f)) => (abs_addr(target) as i128, f),
            _ => (abs_addr(target) as i128, Field::S32),
        };
        let mut site = unreachable_site(
            obj,
            c.sec as usize,
            r,
            formula_name(r.kind()),
            tval as u64,
            0,
            f,
        );
        site.why = match arch::formula(r.kind()) {
            Some(Formula::Abs(_)) => OutOfReach::Placed {
                base,
                at: tval,
                field: f.describe(),
            },
            _ => OutOfReach::Distance {
                distance: tval + r.addend(obj.sections[c.sec as usize].data) as i128 - field,
                from: field,
                field: f.describe(),
            },
        };
        out.push(site, r);
    }
    (out, copies)
}

/// The 32-bit absolutes of host functions that trampolines stand in for
/// (see [`Demands::abs_limit`]) and that the unit at `base`, `size` bytes
/// with its trampolines last, cannot serve: its end lies above the field's range.
pub(crate) fn stand_in_violations(
    objects: &[ObjectFile<'_>],
    res: &Resolution<'_>,
    d: &Demands,
    base: u64,
    size: u64,
) -> Unreachable {
    let end = base as i128 + size as i128 - 1;
    let mut out = Unreachable::default();
    if d.abs_limit.is_none_or(|limit| end <= limit) {
        return out;
    }
    for &(oi, si, ri) in &d.redirectable {
        let obj = &objects[oi as usize];
        let r = &obj.sections[si as usize].relocs[ri as usize];
        // The only absolutes that are redirectable are these.
        let Some(Formula::Abs(f)) = arch::formula(r.kind()) else {
            continue;
        };
        if end <= f.range().1 {
            continue;
        }
        let target = abs_addr(res.targets.get(
            &objects[oi as usize],
            oi as usize,
            r.sym() as usize,
        ));
        let mut site = unreachable_site(obj, si as usize, r, formula_name(r.kind()), target, 0, f);
        site.why = OutOfReach::StandIn {
            base,
            field: f.describe(),
        };
        out.push(site, r);
    }
    out
}

fn abs_addr(t: Target) -> u64 {
    match t {
        Target::Absolute { addr, .. } => addr,
        _ => 0,
    }
}

/// What one relocation becomes, at a known address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Write `value` into the field.
    Direct { f: Field, value: i128 },
    /// Call or jump through the trampoline to `dest`.
    Trampoline { dest: u64 },
    /// Load from the GOT slot holding `content`, as `G + addend − P`; an
    /// instruction that computed the address is first rewritten to load it
    /// (see [`arch::address_to_load`]) when `address_to_load`.
    Slot {
        f: Field,
        content: u64,
        addend: i128,
        address_to_load: bool,
    },
    /// `G − GOT + A` for the slot holding `content`.
    SlotOffset {
        f: Field,
        content: u64,
        addend: i128,
    },
    /// Rewrite the instruction, then write `value` (relative to the original field).
    Relax { relax: Relax, value: i128 },
    /// Write the address of the trampoline to `dest` as an absolute: the
    /// unit's own stand-in for a host function whose address does not fit.
    AbsTrampoline { f: Field, dest: u64 },
    /// A RIP-relative data access out of reach: served from the unit's copy
    /// of `target` if the plan made one, else an overflow.
    Data { value: i128, target: u64 },
    /// Nothing to do.
    Skip,
}

/// Addresses a relocation needs.
pub(crate) struct At {
    /// S: the symbol's address.
    pub s: u64,
    /// Z: the symbol's size.
    pub z: u64,
    /// P: the field's address.
    pub p: u64,
    /// GOT: the GOT's address.
    pub got: u64,
    /// The symbol is a host function (see [`Target::Absolute`]).
    pub code: bool,
}

/// Decides what a relocation becomes. `bytes`/`off` are the section's
/// contents and the field's offset in them (for the instruction bytes).
#[inline]
pub(crate) fn decide(formula: Formula, bytes: &[u8], off: usize, a: i64, at: &At) -> Decision {
    let a = a as i128;
    // S as two's complement, as in `demands`: sign-extended fields accept
    // absolute symbols just below 2^64.
    let (s, p) = (at.s as i64 as i128, at.p as i128);
    match formula {
        // Thread-local forms are computed by the relocation pass from the
        // TLS layout; they never reach here.
        Formula::None
        | Formula::TlsIndex { .. }
        | Formula::TlsDesc(_)
        | Formula::TlsDescCall
        | Formula::DtpOff(_)
        | Formula::DtpMod => Decision::Skip,
        // S is the offset from the thread pointer (see `tp_offset`).
        Formula::StaticTls { got: true, field } => Decision::Slot {
            f: field,
            content: at.s,
            addend: a,
            address_to_load: false,
        },
        Formula::StaticTls { got: false, field } => Decision::Direct {
            f: field,
            value: s + a,
        },
        Formula::Abs(f) => {
            let value = s + a;
            if !f.fits(value) && at.code && a == 0 && matches!(f, Field::S32 | Field::U32) {
                return Decision::AbsTrampoline { f, dest: at.s };
            }
            Decision::Direct { f, value }
        }
        Formula::Size(f) => Decision::Direct {
            f,
            value: at.z as i128 + a,
        },
        Formula::GotPc(f) => Decision::Direct {
            f,
            value: at.got as i128 + a - p,
        },
        Formula::GotOff(f) => Decision::Direct {
            f,
            value: s + a - at.got as i128,
        },
        Formula::Got(f) => Decision::SlotOffset {
            f,
            content: at.s,
            addend: a,
        },
        Formula::Pc(f) => {
            let value = s + a - p;
            if f.fits(value) || f != arch::REDIRECT_FIELD {
                return Decision::Direct { f, value };
            }
            match arch::site_kind(bytes, off) {
                // The branch lands on S + A + the bias (see `arch::PC_BIAS`).
                arch::SiteKind::Branch => Decision::Trampoline {
                    dest: (s + a + i128::from(arch::PC_BIAS)) as u64,
                },
                arch::SiteKind::Address => Decision::Slot {
                    f,
                    content: (s + a + i128::from(arch::PC_BIAS)) as u64,
                    addend: -i128::from(arch::PC_BIAS),
                    address_to_load: true,
                },
                arch::SiteKind::Other => Decision::Data {
                    value,
                    target: at.s,
                },
            }
        }
        Formula::GotPcRel { field, relaxable } => {
            if relaxable {
                if let Some(relax) = arch::relaxation(bytes, off, a as i64) {
                    // Relax only when the displacement itself fits.
                    let value = arch::relaxed_value(relax, s + a - p);
                    if arch::REDIRECT_FIELD.fits(value) {
                        return Decision::Relax { relax, value };
                    }
                }
            }
            Decision::Slot {
                f: field,
                content: at.s,
                addend: a,
                address_to_load: false,
            }
        }
    }
}

/// The trampolines and GOT slots of a unit at a known base.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Trampoline destination → index.
    pub trampolines: KeyedMap<u64, u32>,
    /// GOT slot content → index.
    pub slots: KeyedMap<u64, u32>,
    pub relaxations: u64,
    /// Instructions that computed an address rewritten to load it from a
    /// GOT slot.
    pub address_rewrites: u64,
    /// Host variable address → the address of the unit's read-only copy.
    pub copies: KeyedMap<u64, u64>,
    /// Host function → the stand-in another unit already made for it: its
    /// canonical address for every unit (see [`crate::scope::namespace`]).
    pub shared_stand_ins: KeyedMap<u64, u64>,
    /// Host functions this unit makes the stand-in for.
    pub own_stand_ins: Vec<u64>,
    /// The unit's TLS module id (0 when it has no TLS).
    pub tls_module: u64,
    /// `tls_index` pairs, (module, offset) → index; they follow the slots.
    pub tls_pairs: KeyedMap<(u64, u64), u32>,
    /// TLS descriptors, (module, offset) → index; they follow the pairs.
    pub tls_descs: KeyedMap<(u64, u64), u32>,
    /// Offsets from the thread pointer, for initial-exec and local-exec code.
    pub tp: ThreadPointerOffsets,
}

/// Offsets from the thread pointer into static TLS, which `ld.so` gave
/// (see [`crate::load::shim`]).
#[derive(Debug, Default, Clone)]
pub(crate) struct ThreadPointerOffsets {
    /// The unit's own block, when it lies in static TLS.
    pub block: Option<i64>,
    /// Each of [`Resolution::initial_exec_names`], in order.
    pub external: Vec<i64>,
}

/// The offset from the thread pointer of thread-local `target`, symbol
/// `sym` of object `oi`: in the unit's own block, or another module's.
pub(crate) fn tp_offset(
    layout: &Layout,
    res: &Resolution<'_>,
    tp: &ThreadPointerOffsets,
    target: Target,
    (oi, sym): (u32, u32),
) -> Option<i64> {
    match layout.tls_offset(target) {
        Some(off) => tp.block?.checked_add(i64::try_from(off).ok()?),
        None => tp
            .external
            .get(*res.initial_exec.get(&(oi, sym))? as usize)
            .copied(),
    }
}

/// The host functions whose 32-bit absolute address the unit takes (their
/// stand-ins may be shared with other units).
pub(crate) fn stand_in_targets(
    objects: &[ObjectFile<'_>],
    res: &Resolution<'_>,
    d: &Demands,
) -> Vec<u64> {
    let mut out = Vec::new();
    if d.abs_limit.is_none() {
        return out; // no 32-bit absolute of a host function
    }
    let mut seen = KeyedSet::default();
    for &(oi, si, ri) in &d.redirectable {
        let r = &objects[oi as usize].sections[si as usize].relocs[ri as usize];
        if let (
            Some(Formula::Abs(_)),
            Target::Absolute {
                addr, code: true, ..
            },
        ) = (
            arch::formula(r.kind()),
            res.targets
                .get(&objects[oi as usize], oi as usize, r.sym() as usize),
        ) {
            if seen.insert(addr) {
                out.push(addr);
            }
        }
    }
    out
}

/// Decides the trampolines and GOT slots for the unit at `base`.
pub(crate) fn finish(
    objects: &[ObjectFile<'_>],
    res: &Resolution<'_>,
    layout: &Layout,
    d: &Demands,
    base: u64,
    shared_stand_ins: KeyedMap<u64, u64>,
    tp: ThreadPointerOffsets,
) -> Plan {
    let mut plan = Plan {
        shared_stand_ins,
        relaxations: d.relaxations,
        tp,
        ..Plan::default()
    };
    let table = layout.symbol_table(objects, res);
    for &(oi, si, ri) in &d.redirectable {
        let obj = &objects[oi as usize];
        let r = &obj.sections[si as usize].relocs[ri as usize];
        let si = si as usize;
        let sec_off = layout.sec_offsets[oi as usize][si];
        // Most: a call out of the unit that reaches its target directly.
        if arch::quick_class(r.kind()) == Quick::Pc32
            && table.offsets[oi as usize][r.sym() as usize] == EXTERNAL
        {
            let s = table.addresses[oi as usize][r.sym() as usize];
            if arch::pc_relative_fits(
                s,
                base + sec_off + r.offset(),
                r.addend(obj.sections[si].data),
            ) {
                continue;
            }
        }
        let Some(decision) =
            site_decision(objects, res, layout, base, &plan.tp, (oi, si as u32, ri))
        else {
            continue;
        };
        match decision {
            Decision::Trampoline { dest } => {
                let n = plan.trampolines.len() as u32;
                plan.trampolines.entry(dest).or_insert(n);
            }
            Decision::Slot {
                content,
                address_to_load,
                ..
            } => {
                let n = plan.slots.len() as u32;
                plan.slots.entry(content).or_insert(n);
                plan.address_rewrites += address_to_load as u64;
            }
            Decision::SlotOffset { content, .. } => {
                let n = plan.slots.len() as u32;
                plan.slots.entry(content).or_insert(n);
            }
            Decision::AbsTrampoline { dest, .. } if !plan.shared_stand_ins.contains_key(&dest) => {
                let n = plan.trampolines.len() as u32;
                plan.trampolines.entry(dest).or_insert(n);
                plan.own_stand_ins.push(dest);
            }
            Decision::AbsTrampoline { .. } => {}
            Decision::Relax { .. } => plan.relaxations += 1,
            Decision::Direct { .. } | Decision::Data { .. } | Decision::Skip => {}
        }
    }
    // One per host function (a site each was pushed).
    plan.own_stand_ins.sort_unstable();
    plan.own_stand_ins.dedup();
    plan
}

/// What relocation `(object, section, index)` becomes with the unit at
/// `base` (`None` for a type objdl does not handle, reported elsewhere).
fn site_decision(
    objects: &[ObjectFile<'_>],
    res: &Resolution<'_>,
    layout: &Layout,
    base: u64,
    tp: &ThreadPointerOffsets,
    (oi, si, ri): (u32, u32, u32),
) -> Option<Decision> {
    let obj = &objects[oi as usize];
    let sec = &obj.sections[si as usize];
    let r = &sec.relocs[ri as usize];
    let formula = arch::formula(r.kind())?;
    let target = res
        .targets
        .get(&objects[oi as usize], oi as usize, r.sym() as usize);
    let s = match formula {
        Formula::StaticTls { .. } => tp_offset(layout, res, tp, target, (oi, r.sym()))? as u64,
        _ => match layout.internal_offset(target, res, layout.got_offset) {
            Some(off) => base + off,
            None => abs_addr(target),
        },
    };
    let at = At {
        s,
        z: 0,
        code: matches!(target, Target::Absolute { code: true, .. }),
        p: base + layout.sec_offsets[oi as usize][si as usize] + r.offset(),
        got: base + layout.got_offset,
    };
    Some(decide(
        formula,
        sec.data,
        r.offset() as usize,
        r.addend(sec.data),
        &at,
    ))
}

/// Plans the relocations that a pass at the kernel's placement set aside
/// (see `relocate::Slow::Defer`), for the unit at `base`: GOT
/// slots for loads that stay loads. `relaxed` GOT loads were already
/// rewritten. `None` when one needs what only the full planner gives (a
/// trampoline, a copy of a host variable, another placement): the caller
/// then plans the unit from the start.
pub(crate) fn plan_deferred(
    objects: &[ObjectFile<'_>],
    res: &Resolution<'_>,
    layout: &Layout,
    deferred: &[(u32, u32, u32)],
    base: u64,
    relaxed: u64,
) -> Option<Plan> {
    let mut plan = Plan {
        relaxations: relaxed,
        ..Plan::default()
    };
    for &site in deferred {
        match site_decision(objects, res, layout, base, &plan.tp, site) {
            Some(Decision::Slot {
                content,
                address_to_load,
                ..
            }) => {
                let n = plan.slots.len() as u32;
                plan.slots.entry(content).or_insert(n);
                plan.address_rewrites += address_to_load as u64;
            }
            Some(Decision::SlotOffset { content, .. }) => {
                let n = plan.slots.len() as u32;
                plan.slots.entry(content).or_insert(n);
            }
            Some(Decision::Relax { .. }) => plan.relaxations += 1,
            Some(Decision::Direct { .. } | Decision::Skip) => {}
            Some(
                Decision::Trampoline { .. }
                | Decision::AbsTrampoline { .. }
                | Decision::Data { .. },
            )
            | None => return None,
        }
    }
    Some(plan)
}

/// Plans the `tls_index` pairs of the TLSGD/TLSLD sites for module `module`.
pub(crate) fn plan_tls_pairs(
    objects: &[ObjectFile<'_>],
    res: &Resolution<'_>,
    layout: &Layout,
    d: &Demands,
    module: u64,
    plan: &mut Plan,
) {
    plan.tls_module = module;
    for &(oi, si, ri) in &d.tls_sites {
        let obj = &objects[oi as usize];
        let r = &obj.sections[si as usize].relocs[ri as usize];
        let formula = arch::formula(r.kind());
        let target = res.targets.get(obj, oi as usize, r.sym() as usize);
        let key = tls_key(layout, formula, target, module);
        let n = plan.tls_pairs.len() as u32;
        plan.tls_pairs.entry(key).or_insert(n);
        if matches!(formula, Some(Formula::TlsDesc(_))) {
            let n = plan.tls_descs.len() as u32;
            plan.tls_descs.entry(key).or_insert(n);
        }
    }
}

/// The (module, offset) a TLSGD/TLSLD/TLSDESC site's GOT pair holds, for
/// `target` in a unit whose TLS module is `module`: the module alone for
/// TLSLD (and for `_TLS_MODULE_BASE_`, at offset 0).
pub(crate) fn tls_key(
    layout: &Layout,
    formula: Option<Formula>,
    target: Target,
    module: u64,
) -> (u64, u64) {
    match formula {
        Some(Formula::TlsIndex { local: true, .. }) => (module, 0),
        _ => layout.tls_place(target, module).unwrap_or((module, 0)),
    }
}

/// Where `tls_index` pair `i` lies, relative to the GOT: after the slots.
pub(crate) fn tls_pair_offset(plan: &Plan, i: u32) -> u64 {
    plan.slots.len() as u64 * arch::GOT_SLOT_SIZE as u64 + u64::from(i) * 16
}

/// Where TLS descriptor `i` lies, relative to the GOT: after the pairs.
/// A descriptor is the resolver's address and its argument, the address
/// of the `tls_index` pair of the same variable.
pub(crate) fn tls_desc_offset(plan: &Plan, i: u32) -> u64 {
    tls_pair_offset(plan, plan.tls_pairs.len() as u32) + u64::from(i) * 16
}

/// The end of the GOT, relative to its start: slots, pairs, descriptors.
pub(crate) fn got_size(plan: &Plan) -> u64 {
    tls_desc_offset(plan, plan.tls_descs.len() as u32)
}

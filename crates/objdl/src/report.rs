//! What a check reports ([`Report`]) and what a unit keeps of its
//! relocation ([`RelocationSummary`]), named from the plan.

use crate::arch;
use crate::error::Unresolved;
use crate::input;
use crate::link::plan;
use crate::link::relocate::{self, Tail};
use crate::link::resolution::{Resolution, Target};
use crate::link::unit_layout::{Layout, NOT_LOADED};
use crate::load::unit::{LoadStats, RelocationSummary};
#[cfg(doc)]
use crate::{Linker, Unit};

/// What relocation did, kept with the unit for [`Unit::relocation_summary`].
pub(crate) fn summary(
    counts: &relocate::Counts,
    plan: &plan::Plan,
    tail: Tail,
    base: u64,
) -> RelocationSummary {
    let by_type = counts
        .by_type
        .iter()
        .enumerate()
        .filter(|&(_, &n)| n > 0)
        .map(|(t, &n)| (arch::reloc_name(arch::kind_of_index(t)).into_owned(), n))
        .collect();
    let mut trampolines: Vec<(u64, u64)> = plan
        .trampolines
        .iter()
        .map(|(&dest, &i)| (base + tail.trampoline(i), dest))
        .collect();
    trampolines.sort_unstable();
    let mut got_slots: Vec<(u64, u64)> = plan
        .slots
        .iter()
        .map(|(&v, &i)| (base + tail.slot(i), v))
        .collect();
    got_slots.sort_unstable();
    RelocationSummary {
        by_type,
        trampolines,
        got_slots,
    }
}

/// The final address of a target.
pub(crate) fn address_of(
    t: Target,
    layout: &Layout,
    res: &Resolution<'_>,
    tail: Tail,
    base: u64,
) -> u64 {
    match layout.internal_offset(t, res, tail.got) {
        Some(off) => base + off,
        None => match t {
            Target::Absolute { addr, .. } => addr,
            _ => 0,
        },
    }
}

/// Builds the report of a check: sections, trampolines and GOT slots, named.
pub(crate) fn report(
    objects: &[input::ObjectFile<'_>],
    res: &Resolution<'_>,
    layout: &Layout,
    plan: &plan::Plan,
    tail: Tail,
    base: u64,
) -> Report {
    let mut names: crate::hash::KeyedMap<u64, String> = Default::default();
    let mut sections = Vec::new();
    for (oi, obj) in objects.iter().enumerate() {
        for (si, sec) in obj.sections.iter().enumerate() {
            let off = layout.sec_offsets[oi][si];
            if off != NOT_LOADED {
                sections.push(LoadedSection {
                    file: obj.name.clone(),
                    name: sec.name.to_string(),
                    address: base + off,
                    size: sec.size,
                });
            }
        }
        for i in 0..obj.symbols.len() {
            let name = obj.symbol_name(i as u32);
            if !name.is_empty() {
                let addr = address_of(
                    res.targets.get(&objects[oi], oi, i),
                    layout,
                    res,
                    tail,
                    base,
                );
                names.entry(addr).or_insert(name);
            }
        }
    }
    let name_of = |addr: u64| {
        names
            .get(&addr)
            .cloned()
            .unwrap_or_else(|| format!("{addr:#x}"))
    };
    let mut trampolines: Vec<Trampoline> = plan
        .trampolines
        .iter()
        .map(|(&target, &i)| Trampoline {
            address: base + tail.trampoline(i),
            target,
            symbol: name_of(target),
        })
        .collect();
    trampolines.sort_by_key(|t| t.address);
    let mut got_slots: Vec<GotSlot> = plan
        .slots
        .iter()
        .map(|(&value, &i)| GotSlot {
            address: base + tail.slot(i),
            value,
            symbol: name_of(value),
        })
        .collect();
    got_slots.sort_by_key(|g| g.address);
    Report {
        stats: LoadStats::default(),
        sections,
        trampolines,
        got_slots,
        image: Vec::new(),
        lazy: Vec::new(),
    }
}

/// What [`Linker::check`] found: everything a load would do, without doing it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Report {
    /// The same figures a load reports (`load_time` covers linking only).
    pub stats: LoadStats,
    /// Every loaded section, with its address.
    pub sections: Vec<LoadedSection>,
    /// The trampolines the unit needs.
    pub trampolines: Vec<Trampoline>,
    /// The GOT slots the unit needs.
    pub got_slots: Vec<GotSlot>,
    /// The relocated unit, `stats.size` bytes from `stats.base`.
    pub image: Vec<u8>,
    /// With [`OpenOptions::lazy`]: the names that would be bound at their
    /// first call, each with the first input that calls it.
    ///
    /// [`OpenOptions::lazy`]: crate::OpenOptions::lazy
    pub lazy: Vec<Unresolved>,
}

/// A section of an input, where the unit puts it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LoadedSection {
    /// The input's name.
    pub file: String,
    /// The section's name.
    pub name: String,
    /// Its address.
    pub address: u64,
    /// Its size.
    pub size: u64,
}

/// A trampoline, `jmp *0(%rip); .quad target`, for calls and jumps that
/// cannot reach `target` directly.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Trampoline {
    /// Where the trampoline is.
    pub address: u64,
    /// Where it jumps.
    pub target: u64,
    /// The symbol at `target`.
    pub symbol: String,
}

/// A GOT slot: an 8-byte word holding an address, within reach of the unit's code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct GotSlot {
    /// Where the slot is.
    pub address: u64,
    /// The address it holds.
    pub value: u64,
    /// The symbol at `value`.
    pub symbol: String,
}

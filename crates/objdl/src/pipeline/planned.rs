//! Stages 4 to 7 the planned way: plan every relocation, choose a base the
//! demands allow, map, relocate. Every unit that the placement-free way
//! does not take comes here (and every check).

use crate::arch;
use crate::error::{Error, PlacementRefusal, Result};
use crate::input;
use crate::link::layout::{align_up, PAGE};
use crate::link::placement;
use crate::link::plan;
use crate::link::relocate::{self, Tail};
use crate::link::resolution::Resolution;
use crate::link::resolve;
use crate::options::OpenOptions;

use super::context::Context;
use super::inputs::{map_sections, unit_name};
use super::stage_data::{Image, Parts, Placed};
use super::thread_locals::{initial_exec_offsets, thread_locals, InitialExec};

/// What the planner needs besides the layout: every relocation checked,
/// the facts about external targets that only a full pass finds, and the
/// other modules' thread-locals that initial-exec code reaches, in static
/// TLS before anything looks them up.
pub(super) fn prepare<'d>(
    cx: &Context<'_>,
    objects: &[input::ObjectFile<'d>],
    res: &mut Resolution<'d>,
    check: bool,
) -> Result<InitialExec> {
    let kinds = objects
        .iter()
        .map(input::ObjectFile::check_relocations)
        .collect::<Result<Vec<u64>>>()?;
    resolve::external_facts(objects, res, &kinds);
    let initial_exec = initial_exec_offsets(objects, res, check)?;
    resolve::dynamic_thread_locals(objects, res, cx.host)?;
    Ok(initial_exec)
}

/// Stages 4 to 7 the full way: plan every relocation, choose a base the
/// demands allow, map, relocate.
pub(super) fn place(
    cx: &Context<'_>,
    unit: &Parts<'_, '_>,
    opts: &OpenOptions,
    check: bool,
    initial_exec: InitialExec,
) -> Result<Placed> {
    let Parts {
        objects,
        res,
        layout,
        files,
        ..
    } = *unit;
    let demands = plan::demands(objects, res, layout)?;
    let (upper, copies_allowed) = bounds(unit, &demands, opts)?;
    let mut image = reserve(unit, &demands, opts, check, upper, copies_allowed)?;
    let base = image.base();
    let (mut bad, mut copies) =
        plan::violations(objects, res, layout, &demands, base, copies_allowed);
    // Copies are made only of what really is a small variable.
    let copy_sizes: Option<Vec<u64>> = copies
        .iter()
        .map(|&i| res.copyable[i as usize].size())
        .collect();
    let copy_sizes = match copy_sizes {
        Some(sizes) => sizes,
        None => {
            (bad, copies) = plan::violations(objects, res, layout, &demands, base, false);
            Vec::new()
        }
    };
    bad.extend(plan::stand_in_violations(
        objects, res, &demands, base, upper,
    ));
    if !bad.is_empty() {
        return Err(bad.into_error());
    }
    // Stand-ins other units already made are canonical: use theirs
    // (and keep their units loaded).
    let mut shared = crate::hash::KeyedMap::default();
    let mut stand_in_deps = Vec::new();
    for target in plan::stand_in_targets(objects, res, &demands) {
        if let Some((addr, unit)) = cx.namespace.stand_in(target) {
            if addr < 1 << 31 {
                shared.insert(target, addr);
                stand_in_deps.push(unit);
            }
        }
    }
    // The unit's thread-locals: a TLS module of objdl's, or, when
    // initial-exec or local-exec code reaches them, a block in static
    // TLS that ld.so allocates (as for other modules' thread-locals
    // such code reaches).
    let mut template_counts = relocate::Counts::default();
    let tls = thread_locals(
        unit,
        &demands,
        base,
        check,
        initial_exec,
        &mut template_counts,
    )?;
    let mut plan = plan::finish(objects, res, layout, &demands, base, shared, tls.tp.clone());
    for &i in &copies {
        plan.copies.insert(
            res.copyable[i as usize].addr,
            base + layout.synthetic.copies[i as usize],
        );
    }
    // tls_index pairs, for the unit's block and other modules' variables.
    plan::plan_tls_pairs(objects, res, layout, &demands, tls.module_id, &mut plan);
    let got_size = plan::got_size(&plan);
    let tail = Tail {
        got: layout.got_offset,
        trampolines: align_up(layout.got_offset + got_size, PAGE),
    };
    let tramp_size = plan.trampolines.len() as u64 * arch::TRAMPOLINE_SIZE as u64;
    let size = align_up(tail.trampolines + tramp_size, PAGE);
    debug_assert!(size <= upper);

    // 5. Relocate (the reservation is still read-write).
    let mapped = match &image {
        Image::Mapped(m) => map_sections(m, &layout.mapped, files),
        Image::Virtual { .. } => false,
    };
    let bytes = image.bytes_mut();
    let mut pc_writes = Vec::new();
    let mut counts = relocate::relocate(
        bytes,
        base,
        objects,
        res,
        layout,
        &plan,
        tail,
        mapped,
        relocate::Slow::Apply,
        (opts.cache.is_some() && !check).then_some(&mut pc_writes),
    )?;
    counts.add(&template_counts);
    for (&i, &size) in copies.iter().zip(&copy_sizes) {
        let c = res.copyable[i as usize];
        let at = layout.synthetic.copies[i as usize] as usize;
        // SAFETY: `c.addr` is a variable of `size` (<= 8) bytes in a
        // loaded module, as its ELF symbol (dladdr1) says.
        let value = unsafe { std::slice::from_raw_parts(c.addr as *const u8, size as usize) };
        bytes[at..at + value.len()].copy_from_slice(value);
    }
    Ok(Placed {
        image,
        plan,
        tail,
        size,
        counts,
        copies: copies.len(),
        stand_in_deps,
        tls_ids: (tls.module_id, tls.tp.block),
        tls: tls.keep,
        window: (demands.lo, demands.hi),
        pc_writes,
    })
}

/// The most the unit may take (a GOT slot and a trampoline for every site
/// that may need one), within the size limit; and whether host variables
/// may be copied into the unit ([`crate::link::resolution::COPYABLE`] reads that no
/// placement reaches; never under `Far`, the test mode for references that
/// must really reach).
fn bounds(
    unit: &Parts<'_, '_>,
    demands: &plan::Demands,
    opts: &OpenOptions,
) -> Result<(u64, bool)> {
    let max_got = align_up(
        // A TLS site needs a pair and, for TLSDESC, a descriptor.
        demands.max_slots * arch::GOT_SLOT_SIZE as u64 + demands.tls_sites.len() as u64 * 32,
        PAGE,
    );
    let max_tramp = align_up(demands.max_trampolines * arch::TRAMPOLINE_SIZE as u64, PAGE);
    let upper = unit.layout.got_offset + max_got + max_tramp;
    let limit = opts.size_limit.unwrap_or(crate::limits::MAX_UNIT_SIZE);
    if upper > limit {
        return Err(Error::NoPlacement {
            size: upper,
            why: PlacementRefusal::OverSizeLimit {
                unit: unit_name(unit.objects),
                limit,
            },
        });
    }
    let copies_allowed = opts.placement.allows_copies() && !unit.res.copyable.is_empty();
    Ok((upper, copies_allowed))
}

/// Stage 5, place and map: `upper` bytes where the demands allow (or, for
/// a check at a given address, a buffer that stands for memory there).
fn reserve(
    unit: &Parts<'_, '_>,
    demands: &plan::Demands,
    opts: &OpenOptions,
    check: bool,
    upper: u64,
    copies_allowed: bool,
) -> Result<Image> {
    let admitted = opts.placement.admits(demands.lo, demands.hi);
    let (lo, hi) = if !admitted && copies_allowed {
        (demands.lo_without_copies, demands.hi_without_copies)
    } else {
        (demands.lo, demands.hi)
    };
    // Trampolines standing in for host functions in 32-bit absolutes
    // must lie below the limit, and they come last in the unit.
    let hi = match demands.abs_limit {
        Some(limit) => hi.min(limit + 1 - upper as i128),
        None => hi,
    };
    let req = placement::Request {
        size: upper,
        align: unit.max_align,
        lo,
        hi,
        preferred: &demands.preferred,
    };
    let fixed = opts.placement.fixed_base();
    if let Some(base) = fixed {
        placement::check_base(base, upper, &unit_name(unit.objects))?;
    }
    Ok(match (check, fixed) {
        (true, Some(base)) => {
            let max_align = unit.max_align;
            if base % max_align != 0 {
                return Err(Error::NoPlacement {
                    size: upper,
                    why: PlacementRefusal::Misaligned {
                        base,
                        align: max_align,
                        unit: Some(unit_name(unit.objects)),
                    },
                });
            }
            Image::Virtual {
                base,
                bytes: vec![0; upper as usize],
            }
        }
        _ => Image::Mapped(placement::reserve(opts.placement, &req)?),
    })
}

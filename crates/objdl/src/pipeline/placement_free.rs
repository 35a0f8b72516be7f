//! Stages 4 to 7 without planning, when the unit may go anywhere: no
//! relocation of it constrains its base.

use crate::arch;
use crate::error::Result;
use crate::input;
use crate::link::layout::{align_up, PAGE};
use crate::link::plan;
use crate::link::relocate::{self, Tail};
use crate::load::memory::{Memory, Reservation};
use crate::load::tls::ThreadLocals;
use crate::options::OpenOptions;

use super::inputs::map_sections;
use super::stage_data::{Image, Parts, Placed};

/// Stages 4 and 5 without planning, when the unit may go anywhere: no
/// relocation type constrains the base (see
/// [`arch::placement_free`]). The unit is mapped where the kernel
/// likes and relocated there in one pass, which also checks each
/// relocation it applies; the few sites that do not fit as they are get
/// GOT slots. `None` (and nothing stays mapped) when a site needs more,
/// a trampoline or a copy, or is of another type or malformed: then
/// [`super::planned::place`] checks and plans the unit from the start.
pub(super) fn place(
    unit: &Parts<'_, '_>,
    opts: &OpenOptions,
    check: bool,
) -> Result<Option<Placed>> {
    let Parts {
        objects,
        res,
        layout,
        files,
        max_align,
        ..
    } = *unit;
    // A TLS section (even an empty `.tdata`) sends the unit to the planner.
    if check || !opts.placement.kernel_may_choose() || !layout.tls.offsets.is_empty() {
        return Ok(None);
    }
    // A first look at a few relocations of each section: code that
    // constrains its base (-fno-pic's 32-bit absolutes) shows it at
    // once, and goes straight to the planner rather than after a pass.
    let free = |r: &input::Reloc| arch::placement_free(input::RelocFields::kind(r));
    if objects
        .iter()
        .flat_map(|o| &o.sections)
        .any(|s| !s.relocs.iter().take(16).all(free))
    {
        return Ok(None);
    }
    // Room for a GOT slot per relocation at most (address space only).
    let relocations: u64 = objects
        .iter()
        .flat_map(|o| o.sections.iter().map(|s| s.relocs.len() as u64))
        .sum();
    let upper = layout.got_offset + align_up(relocations * arch::GOT_SLOT_SIZE as u64, PAGE);
    if upper > opts.size_limit.unwrap_or(crate::limits::MAX_UNIT_SIZE) {
        return Ok(None);
    }
    let image = Reservation::reserve(None, upper)?;
    let base = image.base();
    if base % max_align != 0 {
        return Ok(None);
    }
    let mapped = map_sections(&image, &layout.mapped, files);
    let mut image = Image::Mapped(image);
    let mut deferred = Vec::new();
    let mut pc_writes = Vec::new();
    let record = opts.cache.is_some();
    let first_tail = Tail {
        got: layout.got_offset,
        trampolines: align_up(layout.got_offset, PAGE),
    };
    let counts = relocate::relocate(
        image.bytes_mut(),
        base,
        objects,
        res,
        layout,
        &plan::Plan::default(),
        first_tail,
        mapped,
        relocate::Slow::Defer(&mut deferred),
        record.then_some(&mut pc_writes),
    )?;
    // What was set aside has not been checked; a relocation that is not
    // well formed, or of a type that constrains the base (the fast path
    // takes only types that do not), sends the unit to the planner,
    // which reports or plans it.
    if counts.stopped {
        return Ok(None);
    }
    for &(oi, si, ri) in &deferred {
        let obj = &objects[oi as usize];
        let sec = &obj.sections[si as usize];
        let r = &sec.relocs[ri as usize];
        if !free(r) || obj.check_relocation(sec, r).is_err() {
            return Ok(None);
        }
    }
    let Some(plan) = plan::plan_deferred(objects, res, layout, &deferred, base, counts.relaxed)
    else {
        return Ok(None);
    };
    let got_size = plan::got_size(&plan);
    let tail = Tail {
        got: layout.got_offset,
        trampolines: align_up(layout.got_offset + got_size, PAGE),
    };
    relocate::apply_deferred(
        image.bytes_mut(),
        base,
        objects,
        res,
        layout,
        &plan,
        tail,
        &deferred,
        record.then_some(&mut pc_writes),
    )?;
    Ok(Some(Placed {
        image,
        plan,
        tail,
        size: tail.trampolines,
        counts,
        copies: 0,
        stand_in_deps: Vec::new(),
        tls: ThreadLocals::default(),
        tls_ids: (0, None),
        window: (plan::USER_LO, plan::USER_HI),
        pc_writes,
    }))
}

//! After relocation: objdl's synthetic code and data (the unit's
//! `__dso_handle`, `atexit`-family and IFUNC stubs), the life cycle, the
//! exports, the figures, and the debugger and profiler entries.

use std::time::Instant;

use crate::arch;
use crate::error::Result;
use crate::input;
use crate::link::entries;
use crate::link::layout::{align_up, PAGE};
use crate::link::lifecycle;
use crate::link::plan;
use crate::link::relocate::Tail;
use crate::link::resolution::{Resolution, Synthetic, Target};
use crate::link::unit_layout::{Layout, Table, NOT_LOADED};
use crate::load::debug;
use crate::load::runtime;
use crate::load::unit::{Exports, LoadStats};
use crate::options::OpenOptions;
use crate::report::{address_of, report, summary};

use super::context::Context;
use super::stage_data::{HotLinked, Linked, Placed};

/// What linking produced, from the unit placed and relocated: objdl's own
/// code and data written in, what the unit will run (refusing what is not
/// code), its exports and figures, and (for a check) the report.
#[allow(clippy::too_many_arguments)]
pub(super) fn linked(
    cx: &Context<'_>,
    objects: &[input::ObjectFile<'_>],
    res: Resolution<'_>,
    layout: &Layout,
    placed: Placed,
    opts: &OpenOptions,
    (check, bound): (bool, Option<entries::Bound>),
    started: Instant,
) -> Result<Linked> {
    let Placed {
        mut image,
        plan,
        tail,
        size,
        counts,
        copies,
        stand_in_deps,
        tls,
        tls_ids,
        window,
        pc_writes,
    } = placed;
    let base = image.base();
    let bytes = image.bytes_mut();
    let entry = runtime::Entry::lookup(cx.host);
    let dso_offset = layout.synthetic.dso_handle;
    write_synthetics(bytes, base, &res, layout, &entry);
    let lifecycle = unit_lifecycle(bytes, base, layout, bound.as_ref());
    let code = [
        (layout.text.offset, layout.text.offset + layout.text.size),
        (tail.trampolines, size),
    ];
    lifecycle::refuse_what_is_not_code(
        objects,
        &res,
        layout,
        &bytes[..size as usize],
        base,
        &code,
    )?;

    let hot = bound.map(|bound| hot_linked(objects, &res, layout, (tail, base, tls_ids), bound));
    let name_bytes = res.exports.iter().map(|(name, _)| name.len()).sum();
    let mut exports = Exports::with_capacity(res.exports.len(), name_bytes);
    for &(name, t) in &res.exports {
        // A symbol defined in a section that is not loaded (a note, a
        // debug section...) has no address: it is not exported.
        if matches!(t, Target::Absolute { .. })
            || layout.internal_offset(t, &res, tail.got).is_some()
        {
            exports.insert_unique(name, address_of(t, layout, &res, tail, base));
        }
    }
    for (name, t) in &res.versioned_exports {
        exports.insert_unique(name, address_of(*t, layout, &res, tail, base));
    }
    let stats = LoadStats {
        objects: objects.len(),
        sections: layout.section_count,
        relocations: counts.relocations,
        trampolines: plan.trampolines.len(),
        got_slots: plan.slots.len(),
        relaxations: plan.relaxations,
        address_rewrites: plan.address_rewrites,
        copies,
        lazy_stubs: 0,
        base,
        size,
        window: (window.0.max(0) as u64, window.1.max(0) as u64),
        load_time: started.elapsed(),
        cached: false,
    };
    let report = check.then(|| report(objects, &res, layout, &plan, tail, base));
    let cache = (opts.cache.is_some() && !check).then(|| {
        let stand_ins = !plan.own_stand_ins.is_empty() || !stand_in_deps.is_empty();
        super::cache::capture(objects, &res, layout, (opts, copies, stand_ins), pc_writes)
    });
    // 7b. Debuggers and profilers (only for a real load).
    let (gdb, perf) = match check {
        true => (Vec::new(), None),
        false => tools(objects, layout, &plan, tail, base, opts),
    };
    let ifuncs = res
        .ifuncs
        .iter()
        .zip(&layout.synthetic.ifunc_slots)
        .map(|(&t, &slot)| (address_of(t, layout, &res, tail, base), slot))
        .collect();
    // An entry in a section that is not loaded has no address.
    let entry_point = res
        .entry
        .filter(|&t| {
            matches!(t, Target::Absolute { .. })
                || layout.internal_offset(t, &res, tail.got).is_some()
        })
        .map(|t| address_of(t, layout, &res, tail, base));
    Ok(Linked {
        image,
        tail,
        size,
        layout_text_end: align_up(layout.text.offset + layout.text.size, PAGE),
        rodata: (
            layout.rodata.offset,
            align_up(layout.rodata.offset + layout.rodata.size, PAGE),
        ),
        exports,
        stats,
        dso_handle: base + dso_offset,
        lifecycle,
        deps: res.deps.into_iter().chain(stand_in_deps).collect(),
        lazy: None,
        summary: summary(&counts, &plan, tail, base),
        ifuncs,
        tls,
        entry,
        entry_point,
        gdb,
        perf,
        groups: res.groups,
        stand_ins: plan
            .own_stand_ins
            .iter()
            .map(|dest| (*dest, base + tail.trampoline(plan.trampolines[dest])))
            .collect(),
        report,
        hot,
        cache,
    })
}

/// What the unit will run: its initialisers and finalisers (on a reload,
/// only those of the objects whose data is all new) and unwind tables.
fn unit_lifecycle(
    bytes: &[u8],
    base: u64,
    layout: &Layout,
    bound: Option<&entries::Bound>,
) -> runtime::Lifecycle {
    match bound {
        Some(b) if b.reload => {
            let tables: Vec<Table> = layout
                .tables
                .iter()
                .filter(|t| b.initialise.contains(&t.obj))
                .copied()
                .collect();
            lifecycle::lifecycle(bytes, base, &tables, &layout.eh_frames)
        }
        _ => lifecycle::lifecycle(bytes, base, &layout.tables, &layout.eh_frames),
    }
}

/// A reloadable unit's link: where each entry leads now, and the data.
fn hot_linked(
    objects: &[input::ObjectFile<'_>],
    res: &Resolution<'_>,
    layout: &Layout,
    (tail, base, tls): (Tail, u64, (u64, Option<i64>)),
    bound: entries::Bound,
) -> HotLinked {
    HotLinked {
        slots: bound
            .functions
            .iter()
            .map(|&(entry, t)| (entry, address_of(t, layout, res, tail, base)))
            .collect(),
        data: entries::record(objects, res, layout, (base, tls), &bound),
        kept: bound.kept,
    }
}

/// Registers the unit with a debugger and the perf map, as `opts` and the
/// environment ask.
fn tools(
    objects: &[input::ObjectFile<'_>],
    layout: &Layout,
    plan: &plan::Plan,
    tail: Tail,
    base: u64,
    opts: &OpenOptions,
) -> (Vec<debug::GdbEntry>, Option<(u64, u64, String)>) {
    let mut gdb = Vec::new();
    if opts.debugger.unwrap_or_else(debug::debugger_wanted) {
        for (oi, obj) in objects.iter().enumerate() {
            let addresses: Vec<u64> = layout.sec_offsets[oi]
                .iter()
                .map(|&off| if off == NOT_LOADED { 0 } else { base + off })
                .collect();
            gdb.extend(debug::register(obj.data, &addresses));
        }
    }
    let mut perf = None;
    if opts.perf_map.unwrap_or_else(debug::perf_map_wanted) {
        let mut lines = Vec::new();
        for (oi, obj) in objects.iter().enumerate() {
            for (i, sym) in obj.symbols.iter().enumerate() {
                if let input::SymbolDef::Section { index, value } = sym.def {
                    let off = layout.sec_offsets[oi][index as usize];
                    if sym.kind == input::SymbolKind::Function && off != NOT_LOADED {
                        let name = obj.symbol_name(i as u32);
                        if !name.is_empty() {
                            lines.push((base + off + value, sym.size.max(1), name));
                        }
                    }
                }
            }
        }
        for (&dest, &i) in &plan.trampolines {
            let at = base + tail.trampoline(i);
            lines.push((
                at,
                arch::TRAMPOLINE_SIZE as u64,
                format!("objdl trampoline to {dest:#x}"),
            ));
        }
        debug::perf_map_write(&lines);
        let names: Vec<&str> = objects.iter().map(|o| o.name.as_str()).collect();
        perf = Some((base, 0, names.join(",")));
    }
    (gdb, perf)
}

/// Fills in what objdl supplies: the handle, the `atexit`-family stubs and their slots.
fn write_synthetics(
    bytes: &mut [u8],
    base: u64,
    res: &Resolution<'_>,
    layout: &Layout,
    entry: &runtime::Entry,
) {
    let syn = &layout.synthetic;
    for (&stub, &slot) in syn.ifunc_stubs.iter().zip(&syn.ifunc_slots) {
        arch::write_ifunc_stub(
            &mut bytes[stub as usize..][..arch::IFUNC_STUB_SIZE],
            base + stub,
            base + slot,
        );
    }
    let dso = base + syn.dso_handle;
    bytes[syn.dso_handle as usize..][..8].copy_from_slice(&dso.to_le_bytes());
    let kinds = [
        (Synthetic::Atexit, entry.cxa_atexit),
        (Synthetic::AtQuickExit, entry.cxa_at_quick_exit),
        (Synthetic::PthreadAtfork, entry.register_atfork),
        (Synthetic::OnExit, runtime::on_exit_entry()),
    ];
    for (i, (kind, target)) in kinds.into_iter().enumerate() {
        if !res.synthetics_used.contains(&(kind as u8)) {
            continue;
        }
        let slot = syn.stub_slots[i];
        bytes[slot as usize..][..8].copy_from_slice(&target.to_le_bytes());
        let stub = syn.stubs[i];
        let reg = match kind {
            Synthetic::Atexit => arch::HandleArg::Third { zero_second: true },
            Synthetic::OnExit => arch::HandleArg::Third { zero_second: false },
            Synthetic::AtQuickExit => arch::HandleArg::Second,
            _ => arch::HandleArg::Fourth,
        };
        arch::write_handle_stub(
            &mut bytes[stub as usize..][..arch::ATEXIT_STUB_SIZE],
            base + stub,
            dso,
            base + slot,
            reg,
        );
    }
}

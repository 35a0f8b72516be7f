//! The pipeline on one screen. A load runs every stage; a check stops
//! before protect, with the image in a buffer when it is at a given
//! address.
//!
//! | stage | where |
//! |---|---|
//! | 1 parse | [`inputs::parse`]: `input::parse`, `input::archive` |
//! | 2 resolve | `link::resolve`; with lazy binding, `link::lazy` gives the names nothing defines stubs |
//! | 3 lay out | `link::layout` |
//! | 4-7 plan, place, map, relocate | [`placement_free::place`] when no relocation constrains the base, else [`planned::place`] (`link::plan`, `link::placement`, `load::memory`, `link::relocate`) |
//! | after relocation | [`finish::linked`]: synthetics, `link::lifecycle`, exports, figures |
//! | 8 protect | [`protect()`] (and the IFUNC resolvers, once code is executable) |
//! | 9, 10 register, initialise | `load::unit` (`load::runtime`, `load::debug`, `load::tls`) |
//!
//! Each stage takes what the ones before it made, by value or reference:
//! the objects (parse), the [`Resolution`] (resolve), the
//! [`Layout`](crate::link::unit_layout::Layout) (lay out), a
//! [`Placed`](stage_data::Placed) unit (plan to relocate), a [`Linked`] one (after).

mod cache;
mod context;
mod finish;
mod inputs;
mod placement_free;
mod planned;
mod protect;
mod reload;
mod reloadable;
mod stage_data;
mod thread_locals;

pub(crate) use context::Context;
pub use reloadable::ReloadReport;

use std::sync::Arc;
use std::time::Instant;

use crate::error::{Error, Result};
use crate::input;
use crate::link::entries;
use crate::link::layout::{self, PAGE};
use crate::link::lazy;
use crate::link::relocate::Tail;
use crate::link::resolution::Resolution;
use crate::link::resolve;
use crate::load::entries::HotContext;
use crate::load::memory::Memory;
use crate::load::memory::{Protection, Reservation};
use crate::load::unit::{Unit, UnitInner, UnitParts};
use crate::options::{Input, OpenOptions};
use crate::report::Report;
use crate::scope::implicit;
use crate::scope::namespace::Held;

use inputs::FileBytes;
use protect::protect;
use stage_data::{HotLinked, Image, Linked, Parts};

/// Every stage, for a load: link, protect, run the IFUNC resolvers, then
/// register and initialise. The unit's stand-ins join the global scope.
///
/// # Safety
/// The unit's initialisers run (see `OpenOptions::open`).
pub(crate) unsafe fn load(
    cx: &Context<'_>,
    inputs: Vec<Input>,
    opts: &OpenOptions,
) -> Result<Unit> {
    let started = Instant::now();
    // A unit from the cache, if its entry is good here.
    let uncached;
    // SAFETY: forwarded from the caller.
    let (opts, cache_key) = match unsafe { cache::look_up(cx, &inputs, opts)? } {
        cache::Lookup::Hit(unit) => return Ok(unit),
        cache::Lookup::Link => (opts, None),
        cache::Lookup::Miss(key) => match opts.cache_in_background {
            // A detached copy of this process links the inputs again and
            // writes the entry, none of it on this load's path; this load
            // links without the cache.
            true => match crate::load::cache::detached(|| fill(cx, key.clone(), &inputs, opts)) {
                None => {
                    uncached = OpenOptions {
                        cache: None,
                        ..opts.clone()
                    };
                    (&uncached, None)
                }
                Some(_) => (opts, Some(key)),
            },
            false => (opts, Some(key)),
        },
    };
    let (inputs, reload_state) = if opts.reloadable {
        let (inputs, state) = reloadable::prepare(inputs)?;
        (inputs, Some(state))
    } else {
        (inputs, None)
    };
    let hot_context = reload_state
        .as_ref()
        .map(|_| Arc::new(HotContext::default()));
    let linked = link(cx, inputs, opts, false, hot_context.as_deref())?;
    let Protected {
        mem,
        mut parts,
        stand_ins,
        hot,
        shape,
        cache: capture,
    } = protected(linked, opts.no_exec)?;
    if let (Some(dir), Some(key), Some(capture)) = (&opts.cache, cache_key, &capture) {
        cache::store(dir, key, capture, &mem, &parts, shape);
    }
    parts.reloadable = match (hot, reload_state, hot_context) {
        (Some(hot), Some(state), Some(ctx)) => Some(reloadable::first(cx, hot, state, ctx, opts)),
        _ => None,
    };
    let inner = UnitInner::new(mem, parts);
    // 7, 8. Register and initialise.
    // SAFETY: the unit is mapped with final protections; it stays mapped
    // until `UnitInner` drops, which first runs `stop` and deregisters.
    let inner = unsafe { Unit::start(inner, started) };
    let held: Held = inner.clone();
    cx.namespace.add_stand_ins(&held, &stand_ins);
    Ok(Unit::new(inner, cx.namespace.clone()))
}

/// Links `inputs` as a load would, without running any of their code,
/// and writes the entry of `key`: the work of a detached copy of the
/// process after a miss ([`OpenOptions::cache_in_background`]).
fn fill(cx: &Context<'_>, key: Vec<u8>, inputs: &[Input], opts: &OpenOptions) {
    let (Some(dir), Ok(linked)) = (&opts.cache, link(cx, inputs.to_vec(), opts, false, None))
    else {
        return;
    };
    if let Ok(Protected {
        mem,
        parts,
        shape,
        cache: Some(capture),
        ..
    }) = protected(linked, true)
    {
        cache::store(dir, key, &capture, &mem, &parts, shape);
    }
}

/// A linked unit protected: its memory, and what the unit is made of.
struct Protected {
    mem: Reservation,
    parts: UnitParts,
    /// (host function, address) of the stand-ins this unit made.
    stand_ins: Vec<(u64, u64)>,
    /// A reloadable unit's entries to fill and data.
    hot: Option<HotLinked>,
    /// The GOT and trampolines, the size, the text's end, the read-only data.
    shape: (Tail, u64, u64, (u64, u64)),
    /// What the cache needs, when there is one.
    cache: Option<cache::Capture>,
}

/// Stage 8 for a load or a reload: the linked unit protected, its IFUNC
/// resolvers run (unless `no_exec`), taken apart into its memory and parts
/// (not reloadable: the caller says).
fn protected(linked: Linked, no_exec: bool) -> Result<Protected> {
    let Linked {
        image,
        tail,
        size,
        layout_text_end,
        rodata,
        exports,
        stats,
        dso_handle,
        lifecycle,
        deps,
        lazy,
        stand_ins,
        summary,
        groups,
        ifuncs,
        tls,
        entry,
        entry_point,
        gdb,
        perf,
        hot,
        cache,
        ..
    } = linked;
    let Image::Mapped(mem) = image else {
        unreachable!("a load always maps")
    };
    let mut mem = protect(mem, tail, size, layout_text_end, rodata)?;
    // Not in no-exec mode: IFUNC resolvers are code.
    if !no_exec {
        run_ifunc_resolvers(&mut mem, &ifuncs, rodata)?;
    }
    let parts = UnitParts {
        exports,
        stats,
        entry,
        dso_handle,
        lifecycle,
        no_exec,
        deps,
        lazy,
        summary,
        groups,
        tls,
        gdb,
        perf,
        entry_point,
        data: (mem.base() + rodata.1, mem.base() + tail.got),
        reloadable: None,
    };
    Ok(Protected {
        mem,
        parts,
        stand_ins,
        hot,
        shape: (tail, size, layout_text_end, rodata),
        cache,
    })
}

/// Runs the IFUNC resolvers, (resolver address, slot offset), now that the
/// code is executable, and puts their answers into their read-only slots
/// (made writable, never executable, for the moment it takes).
fn run_ifunc_resolvers(
    mem: &mut Reservation,
    ifuncs: &[(u64, u64)],
    rodata: (u64, u64),
) -> Result<()> {
    if ifuncs.is_empty() {
        return Ok(());
    }
    let answers: Vec<u64> = ifuncs
        .iter()
        .map(|&(resolver, _)| {
            // SAFETY: an indirect (IFUNC) symbol's value is its resolver,
            // `void *(void)` on x86-64, relocated and executable now.
            let f: unsafe extern "C" fn() -> u64 =
                unsafe { std::mem::transmute::<usize, _>(resolver as usize) };
            // SAFETY: running the unit's resolver is part of loading it.
            unsafe { f() }
        })
        .collect();
    mem.protect(rodata.0, rodata.1 - rodata.0, Protection::RW)?;
    // SAFETY: the read-only segment is writable again just now, and only
    // objdl's slots in it are written.
    let bytes = unsafe { mem.bytes_mut() };
    for (&(_, slot), answer) in ifuncs.iter().zip(answers) {
        bytes[slot as usize..][..8].copy_from_slice(&answer.to_le_bytes());
    }
    mem.protect(rodata.0, rodata.1 - rodata.0, Protection::R)
}

/// Every stage up to relocation, for a check: the report, with the image.
pub(crate) fn check(cx: &Context<'_>, inputs: Vec<Input>, opts: &OpenOptions) -> Result<Report> {
    let linked = link(cx, inputs, opts, true, None)?;
    let Linked {
        image,
        stats,
        report,
        ..
    } = linked;
    let mut report = report.expect("check builds a report");
    report.stats = stats;
    let bytes = match &image {
        Image::Virtual { bytes, .. } => bytes.clone(),
        // SAFETY: nothing was protected and the reservation is dropped below.
        Image::Mapped(m) => m.bytes().to_vec(),
    };
    report.image = bytes;
    report.image.truncate(report.stats.size as usize);
    Ok(report)
}

/// Stages 1 to 7: read, parse, resolve, lay out, plan, place, map, relocate.
/// What stays unresolved is looked for in the libraries the gcc driver
/// adds (see [`crate::scope::implicit`]), one stage at a time, relinking after
/// each.
/// With `hot`, the unit is reloadable: its functions are reached through
/// its entries, and its data kept from its last link (`link::entries`).
fn link(
    cx: &Context<'_>,
    inputs: Vec<Input>,
    opts: &OpenOptions,
    check: bool,
    hot: Option<&HotContext>,
) -> Result<Linked> {
    let started = Instant::now();
    let mut files: Vec<(String, FileBytes)> = Vec::with_capacity(inputs.len());
    for input in inputs {
        files.push(match input {
            Input::Path(p) => {
                let bytes = FileBytes::map(&p).map_err(|source| Error::Io {
                    path: p.clone(),
                    source,
                })?;
                (p.display().to_string(), bytes)
            }
            Input::Bytes { name, bytes } => (name, FileBytes::Owned(bytes)),
        });
    }
    let user_inputs = files.len();
    let mut tried = 0;
    // Lazy binding is for what the implicit libraries leave unresolved
    // too: until they have all been searched, attempts bind immediately.
    let mut lazy_now = opts.no_implicit_libraries;
    loop {
        let lazy = opts.lazy && lazy_now;
        let linked = link_files(cx, &files, user_inputs, started, opts, (lazy, check, hot));
        // The implicit libraries are looked for only when needed.
        let Err(Error::Unresolved(_)) = &linked else {
            return linked;
        };
        let stage = match implicit::stages().get(tried) {
            Some(stage) if !opts.no_implicit_libraries => stage,
            // Every library searched: a last attempt, lazily.
            _ if opts.lazy && !lazy_now => {
                lazy_now = true;
                continue;
            }
            _ => return linked,
        };
        tried += 1;
        match stage {
            implicit::Stage::Archives(paths) => {
                for p in paths {
                    if let Ok(bytes) = FileBytes::map(p) {
                        files.push((p.display().to_string(), bytes));
                    }
                }
            }
            // A library that cannot be loaded leaves the names unresolved.
            implicit::Stage::Shared(p) => {
                let _ = cx.host.load_library(&p.to_string_lossy(), &[]);
            }
        }
    }
}

/// [`link`] of `files`, of which those from `user_inputs` on are archives
/// of the libraries the gcc driver adds; with `lazy`, calls to what
/// nothing defines are bound at their first call.
fn link_files(
    cx: &Context<'_>,
    files: &[(String, FileBytes)],
    user_inputs: usize,
    started: Instant,
    opts: &OpenOptions,
    (lazy, check, hot): (bool, bool, Option<&HotContext>),
) -> Result<Linked> {
    let mut objects = inputs::parse(cx, files, user_inputs, opts, check)?;
    let entry = opts.entry.as_deref();
    let mut res = resolve::resolve(&mut objects, cx.host, cx.namespace, entry, lazy)
        .map_err(|err| inputs::malformed_first(&objects, err))?;
    let lazy_area = lazy::prepare(&objects, &mut res, cx.host, cx.namespace)
        .map_err(|err| inputs::malformed_first(&objects, err))?;
    let bound = match hot {
        Some(hot) if !check => {
            let mut table = hot.table.lock().unwrap_or_else(|e| e.into_inner());
            let data = hot.data.lock().unwrap_or_else(|e| e.into_inner());
            Some(entries::bind(&mut objects, &mut res, &mut table, &data)?)
        }
        _ => None,
    };
    let layout =
        layout::layout(&objects, &res).map_err(|err| inputs::malformed_first(&objects, err))?;
    let max_align = max_align(&objects, &res);
    let kept_tls = bound.as_ref().and_then(|b| b.kept_tls);
    let parts = Parts {
        objects: &objects,
        res: &res,
        layout: &layout,
        files,
        max_align,
        kept_tls,
    };
    let placed = match placement_free::place(&parts, opts, check)? {
        Some(placed) => placed,
        None => {
            let initial_exec = planned::prepare(cx, &objects, &mut res, check)?;
            let parts = Parts {
                objects: &objects,
                res: &res,
                layout: &layout,
                files,
                max_align,
                kept_tls,
            };
            planned::place(cx, &parts, opts, check, initial_exec)?
        }
    };
    let linked = finish::linked(
        cx,
        &objects,
        res,
        &layout,
        placed,
        opts,
        (check, bound),
        started,
    )?;
    Ok(linked.with_lazy(lazy_area))
}

/// The strictest alignment any loaded section or COMMON symbol needs (a
/// page at least).
fn max_align(objects: &[input::ObjectFile<'_>], res: &Resolution<'_>) -> u64 {
    objects
        .iter()
        .flat_map(|o| {
            o.sections
                .iter()
                .filter(|s| s.kind != input::SectionKind::Skip)
                .map(|s| s.align)
        })
        .chain(res.commons.iter().map(|c| c.align))
        .fold(PAGE, u64::max)
}

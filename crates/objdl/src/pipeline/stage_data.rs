//! What the stages hand each other: the unit's memory while it is linked
//! ([`Image`]), the parsed, resolved and laid out unit ([`Parts`]), the
//! placed one ([`Placed`]) and the linked one ([`Linked`]). Plain data, in
//! a module of its own, so that each stage takes what the one before made
//! without importing the pipeline that runs them.

use crate::input;
use crate::link::entries;
use crate::link::plan;
use crate::link::relocate::{self, Tail};
use crate::link::resolution::Resolution;
use crate::link::unit_layout::Layout;
use crate::load::debug;
use crate::load::lazy::LazyArea;
use crate::load::memory::Memory;
use crate::load::memory::Reservation;
use crate::load::runtime;
use crate::load::tls::ThreadLocals;
use crate::load::unit::{Exports, LoadStats, RelocationSummary};
use crate::report::Report;
use crate::scope::namespace::Held;

use super::cache;
use super::inputs::FileBytes;

/// A unit's memory while it is being linked.
pub(crate) enum Image {
    /// A real reservation.
    Mapped(Reservation),
    /// A buffer standing in for memory at `base` (a check at a given address).
    Virtual { base: u64, bytes: Vec<u8> },
}

impl Image {
    pub(super) fn base(&self) -> u64 {
        match self {
            Image::Mapped(m) => m.base(),
            Image::Virtual { base, .. } => *base,
        }
    }

    pub(super) fn bytes_mut(&mut self) -> &mut [u8] {
        match self {
            // SAFETY: the reservation is still read-write: nothing is
            // protected before linking ends.
            Image::Mapped(m) => unsafe { m.bytes_mut() },
            Image::Virtual { bytes, .. } => bytes,
        }
    }
}

/// The parsed, resolved and laid out unit, for `planned::place` and
/// `placement_free::place`.
#[derive(Clone, Copy)]
pub(super) struct Parts<'a, 'd> {
    pub objects: &'a [input::ObjectFile<'d>],
    pub res: &'a Resolution<'d>,
    pub layout: &'a Layout,
    pub files: &'a [(String, FileBytes)],
    /// The strictest alignment any section or COMMON symbol needs.
    pub max_align: u64,
    /// For a reload, the thread-local block to use again: (module id,
    /// static offset) (see `link::entries::Bound::kept_tls`).
    pub kept_tls: Option<(u64, Option<i64>)>,
}

/// A unit placed, mapped and relocated.
pub(super) struct Placed {
    pub image: Image,
    pub plan: plan::Plan,
    pub tail: Tail,
    pub size: u64,
    pub counts: relocate::Counts,
    /// How many host variables the unit reads from its own copies.
    pub copies: usize,
    /// Units whose stand-ins this one uses.
    pub stand_in_deps: Vec<Held>,
    pub tls: ThreadLocals,
    /// The unit's TLS module id and static offset (0 and none without a block).
    pub tls_ids: (u64, Option<i64>),
    /// The base addresses the demands allowed.
    pub window: (i128, i128),
    /// The PC-relative fields that reach their targets themselves, when
    /// the cache wants them (see [`relocate::PcWrite`]).
    pub pc_writes: Vec<relocate::PcWrite>,
}

/// What linking produced, for a load or a check.
pub(super) struct Linked {
    pub image: Image,
    pub tail: Tail,
    pub size: u64,
    pub layout_text_end: u64,
    pub rodata: (u64, u64),
    pub exports: Exports,
    pub stats: LoadStats,
    pub dso_handle: u64,
    pub lifecycle: runtime::Lifecycle,
    pub deps: Vec<Held>,
    /// The stubs and slots of the names bound at their first call.
    pub lazy: Option<LazyArea>,
    /// (host function, address) of the stand-ins this unit made.
    pub stand_ins: Vec<(u64, u64)>,
    pub summary: RelocationSummary,
    pub groups: Vec<String>,
    /// (resolver address, slot offset) of each IFUNC.
    pub ifuncs: Vec<(u64, u64)>,
    /// The unit's thread-local blocks, freed when the unit's memory goes.
    pub tls: ThreadLocals,
    /// The libc and libgcc entry points the unit's life cycle uses.
    pub entry: runtime::Entry,
    /// The address of the entry point asked for ([`crate::OpenOptions::entry`]).
    pub entry_point: Option<u64>,
    /// The unit's entries in GDB's list.
    pub gdb: Vec<debug::GdbEntry>,
    /// The unit's range and name, when its functions went to the perf map.
    pub perf: Option<(u64, u64, String)>,
    pub report: Option<Report>,
    /// A reloadable unit's entries to fill and data, once linked.
    pub hot: Option<HotLinked>,
    /// What the cache needs, when there is one.
    pub cache: Option<cache::Capture>,
}

/// What linking a reloadable unit adds.
pub(super) struct HotLinked {
    /// (entry, the function's address in this link).
    pub slots: Vec<(u32, u64)>,
    /// The unit's data as linked, for the next reload.
    pub data: crate::load::entries::DataMap,
    /// What a reload kept, made and reset.
    pub kept: entries::Kept,
}

impl Linked {
    /// The unit with the stubs of its names bound at their first call:
    /// counted in its figures, listed in its report.
    pub(super) fn with_lazy(mut self, lazy: Option<LazyArea>) -> Linked {
        if let Some(area) = &lazy {
            self.stats.lazy_stubs = area.len();
            if let Some(report) = &mut self.report {
                report.lazy = area.names().collect();
            }
        }
        self.lazy = lazy;
        self
    }
}

//! What stage 3a, layout (`layout.rs`), produces and every later stage
//! reads: the unit's [`Layout`], where each section, COMMON symbol, table,
//! synthetic and segment lies in the unit's reservation, the template of
//! its thread-local block ([`TlsLayout`]), and, made on first use, where
//! each symbol's target is ([`SymbolTable`]). Plain data and its
//! accessors (a [`Target`]'s offset, address or TLS place); the logic that
//! lays the unit out stays in `layout.rs`.

use crate::input::{ObjectFile, TableKind};
use crate::link::resolution::{Resolution, Synthetic, Target};

/// Offset meaning "not loaded".
pub(crate) const NOT_LOADED: u64 = u64::MAX;

/// In [`SymbolTable::offsets`]: the symbol is a fixed address outside the unit.
pub(crate) const EXTERNAL: u64 = u64::MAX;

/// In [`SymbolTable::offsets`]: the symbol is inside the unit, in a section
/// that is not loaded (a TLS section, a note...), so it has no offset.
pub(crate) const UNLOADED: u64 = u64::MAX - 1;

/// The whole pages of a large section, which come straight from its input
/// file: mapped private at the same offset modulo the page size, so the
/// kernel copies them (a page fault's worth of work each, and none of it
/// in objdl) and later writes stay private.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MappedSection {
    /// The object and section.
    pub obj: u32,
    pub sec: u32,
    /// Index of the input file.
    pub file: u32,
    /// Page-aligned offset in the unit.
    pub offset: u64,
    /// Page-aligned offset in the file.
    pub file_offset: u64,
    /// A multiple of the page size.
    pub len: u64,
}

/// A page-aligned range of the unit with one protection.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SegmentRange {
    pub offset: u64,
    pub size: u64,
}

/// A constructor or destructor table, in the unit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Table {
    /// The object and section it comes from.
    pub obj: u32,
    pub sec: u32,
    pub kind: TableKind,
    pub priority: u32,
    pub offset: u64,
    pub len: u64,
}

/// The offsets of what objdl supplies to the unit.
#[derive(Debug, Clone, Default)]
pub(crate) struct SyntheticOffsets {
    /// `__dso_handle`, an 8-byte word in the data segment.
    pub dso_handle: u64,
    /// The stubs for `atexit`, `at_quick_exit`, `pthread_atfork`,
    /// `on_exit`, in text.
    pub stubs: [u64; 4],
    /// Words holding `__cxa_atexit`, `__cxa_at_quick_exit`,
    /// `__register_atfork` and objdl's `on_exit`.
    pub stub_slots: [u64; 4],
    /// Room for a copy of each [`crate::link::resolution::CopyCandidate`], read-only.
    pub copies: Vec<u64>,
    /// The stub (`jmp *slot(%rip)`) of each IFUNC, in text: its canonical address.
    pub ifunc_stubs: Vec<u64>,
    /// The slot of each IFUNC, in read-only data: the resolver's answer.
    pub ifunc_slots: Vec<u64>,
}

/// Where everything goes.
#[derive(Debug)]
pub(crate) struct Layout {
    /// Per object, per section index: the offset in the unit, or [`NOT_LOADED`].
    pub sec_offsets: Vec<Vec<u64>>,
    pub common_offsets: Vec<u64>,
    pub synthetic: SyntheticOffsets,
    pub text: SegmentRange,
    pub rodata: SegmentRange,
    /// Each object's `.eh_frame`, followed by a 4-byte zero terminator.
    pub eh_frames: Vec<u64>,
    pub tables: Vec<Table>,
    /// Where the GOT starts; everything before it is fixed.
    pub got_offset: u64,
    /// Number of loaded sections.
    pub section_count: usize,
    /// `[__start_NAME, __stop_NAME)` for each of `Resolution::bounds`.
    pub bounds: Vec<(u64, u64)>,
    /// The unit's TLS block: where each TLS section lies in it.
    pub tls: TlsLayout,
    /// The parts of large sections that can be mapped from their files.
    pub mapped: Vec<MappedSection>,
    /// Made on first use (see [`Layout::symbol_table`]); `layout` leaves it empty.
    pub(super) symbol_table: std::cell::OnceCell<SymbolTable>,
}

/// Where each symbol's target is, found once, so that the planner's passes
/// over relocations index arrays instead of matching a [`Target`].
#[derive(Debug)]
pub(crate) struct SymbolTable {
    /// Per object, per symbol: the offset in the unit of its target, or
    /// [`EXTERNAL`] or [`UNLOADED`].
    pub offsets: Vec<Vec<u64>>,
    /// Per object, per symbol: the address of a target outside the unit
    /// ([`EXTERNAL`] in `offsets`), else 0.
    pub addresses: Vec<Vec<u64>>,
}

/// The template of the unit's thread-local block: `.tdata` then `.tbss`.
#[derive(Debug, Default)]
pub(crate) struct TlsLayout {
    /// (obj, sec) → offset in the block.
    pub offsets: rustc_hash::FxHashMap<(u32, u32), u64>,
    pub size: u64,
    pub align: u64,
    /// The initialised part (`.tdata`); the rest is zero.
    pub image: Vec<u8>,
}

impl Layout {
    /// Where each symbol's target is (made on first use: a unit relocated
    /// where the kernel put it never needs it).
    pub fn symbol_table(&self, objects: &[ObjectFile<'_>], res: &Resolution<'_>) -> &SymbolTable {
        self.symbol_table.get_or_init(|| {
            let mut table = SymbolTable {
                offsets: Vec::with_capacity(res.targets.len()),
                addresses: Vec::with_capacity(res.targets.len()),
            };
            for (oi, obj) in objects.iter().enumerate() {
                let mut offsets = Vec::with_capacity(obj.symbols.len());
                let mut addresses = Vec::with_capacity(obj.symbols.len());
                for si in 0..obj.symbols.len() {
                    let t = res.targets.get(obj, oi, si);
                    let off = match self.internal_offset(t, res, self.got_offset) {
                        Some(off) => off,
                        None if t.is_internal() => UNLOADED,
                        None => EXTERNAL,
                    };
                    offsets.push(off);
                    addresses.push(match t {
                        Target::Absolute { addr, .. } => addr,
                        _ => 0,
                    });
                }
                table.offsets.push(offsets);
                table.addresses.push(addresses);
            }
            table
        })
    }

    /// The address of `t` with the unit at `base` (0 for a target in a
    /// section that is not loaded, or another module's thread-local).
    #[inline]
    pub fn address(&self, t: Target, res: &Resolution<'_>, base: u64) -> u64 {
        match t {
            Target::Absolute { addr, .. } => addr,
            _ => self
                .internal_offset(t, res, self.got_offset)
                .map_or(0, |off| base + off),
        }
    }

    /// The TLS module and offset of a thread-local target: the unit's own
    /// block (module `unit_module`), or another module's.
    pub fn tls_place(&self, t: Target, unit_module: u64) -> Option<(u64, u64)> {
        match t {
            Target::ExternalTls { module, offset } => Some((module, offset)),
            _ => self.tls_offset(t).map(|o| (unit_module, o)),
        }
    }

    /// The offset in the unit's TLS block of a thread-local target.
    pub fn tls_offset(&self, t: Target) -> Option<u64> {
        match t {
            Target::Section {
                obj, sec, value, ..
            } => self.tls.offsets.get(&(obj, sec)).map(|o| o + value),
            Target::Synthetic(Synthetic::TlsModuleBase) if self.tls.size > 0 => Some(0),
            _ => None,
        }
    }

    /// The offset of an internal target (relative to the unit's base), or
    /// `None` for an absolute one (or a reference into a section that is not loaded).
    #[inline]
    pub fn internal_offset(&self, t: Target, res: &Resolution<'_>, got_base: u64) -> Option<u64> {
        // Most targets: in a loaded section.
        if let Target::Section {
            obj, sec, value, ..
        } = t
        {
            let off = self.sec_offsets[obj as usize][sec as usize];
            if off != NOT_LOADED {
                return Some(off + value);
            }
        }
        self.other_offset(t, res, got_base)
    }

    /// [`Layout::internal_offset`] for the rest: sections not loaded (a
    /// discarded COMDAT member's twin), COMMON storage, what objdl supplies.
    #[inline(never)]
    fn other_offset(&self, t: Target, res: &Resolution<'_>, got_base: u64) -> Option<u64> {
        match t {
            Target::Section {
                obj, sec, value, ..
            } => {
                let mut off = self.sec_offsets[obj as usize][sec as usize];
                if off == NOT_LOADED {
                    let &(kobj, ksec) = res.section_redirects.get(&(obj, sec))?;
                    off = self.sec_offsets[kobj as usize][ksec as usize];
                    if off == NOT_LOADED {
                        return None;
                    }
                }
                Some(off + value)
            }
            Target::Common(i) => Some(self.common_offsets[i as usize]),
            Target::Synthetic(s) => Some(match s {
                Synthetic::DsoHandle => self.synthetic.dso_handle,
                Synthetic::Atexit => self.synthetic.stubs[0],
                Synthetic::AtQuickExit => self.synthetic.stubs[1],
                Synthetic::PthreadAtfork => self.synthetic.stubs[2],
                Synthetic::OnExit => self.synthetic.stubs[3],
                Synthetic::GlobalOffsetTable => got_base,
                // An offset in the TLS block, not an address (`tls_offset`).
                Synthetic::TlsModuleBase => return None,
            }),
            Target::Ifunc(i) => Some(self.synthetic.ifunc_stubs[i as usize]),
            Target::Bound { index, stop } => {
                let (start, end) = self.bounds[index as usize];
                Some(if stop { end } else { start })
            }
            Target::Absolute { .. } | Target::ExternalTls { .. } | Target::DeferredTls => None,
        }
    }
}

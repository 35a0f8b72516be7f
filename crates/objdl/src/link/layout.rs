//! Stage 3a, layout: give every loaded section an offset in the unit's one
//! contiguous reservation, grouped by permission into page-aligned segments:
//!
//! ```text
//! | text (RX) | read-only data, .eh_frame (R) | data, tables, bss (RW) | GOT (R) | trampolines (RX) |
//! ```
//!
//! The GOT and the trampolines come last, so their sizes (known only once
//! the unit has an address) never move a section. What it makes, the
//! [`Layout`] and its parts, is defined in `unit_layout.rs`.

use crate::arch;
use crate::error::{Error, PlacementRefusal, Result};
use crate::input::{ObjectFile, SectionKind};
use crate::link::resolution::Resolution;
use crate::link::unit_layout::{
    Layout, MappedSection, SegmentRange, SyntheticOffsets, Table, TlsLayout, NOT_LOADED,
};

pub(crate) use crate::load::memory::{align_up, PAGE};

/// Sections at least this large are placed so that their whole pages can be
/// mapped from their input file (see [`MappedSection`]).
const MAP_MIN: u64 = 2 * PAGE;

impl TlsLayout {
    /// Lays the block out, then makes its template: the block (which each
    /// thread allocates at its first access) is bounded as the unit is,
    /// by [`crate::limits::MAX_UNIT_SIZE`], before any of it is allocated.
    fn new(objects: &[ObjectFile<'_>]) -> Result<TlsLayout> {
        let mut t = TlsLayout {
            align: 1,
            ..TlsLayout::default()
        };
        // Where `.tdata` ends: the template's length.
        let mut initialised = 0;
        for zero in [false, true] {
            for (oi, obj) in objects.iter().enumerate() {
                for (si, sec) in obj.sections.iter().enumerate() {
                    if sec.discarded || sec.kind != (SectionKind::Tls { zero }) {
                        continue;
                    }
                    let at = align_up(t.size, sec.align);
                    t.align = t.align.max(sec.align);
                    t.offsets.insert((oi as u32, si as u32), at);
                    // Each section is at most the limit, and so is `at`.
                    t.size = at + sec.size;
                    if t.size > crate::limits::MAX_UNIT_SIZE {
                        let names: Vec<&str> = objects.iter().map(|o| o.name.as_str()).collect();
                        return Err(Error::NoPlacement {
                            size: t.size,
                            why: PlacementRefusal::TlsTooLarge {
                                unit: names.join(", "),
                                limit: crate::limits::MAX_UNIT_SIZE,
                            },
                        });
                    }
                    if !zero {
                        initialised = t.size;
                    }
                }
            }
        }
        t.image = vec![0; initialised as usize];
        for (&(oi, si), &at) in &t.offsets {
            let sec = &objects[oi as usize].sections[si as usize];
            if sec.kind == (SectionKind::Tls { zero: false }) {
                t.image[at as usize..][..sec.data.len()].copy_from_slice(sec.data);
            }
        }
        Ok(t)
    }
}

/// Lays the unit out: text and objdl's stubs, read-only data and the
/// stubs' slots, then data, the handle, bss and COMMON storage, each
/// segment from a page boundary; the GOT and trampolines follow (see
/// [`Layout::got_offset`]).
pub(crate) fn layout(objects: &[ObjectFile<'_>], res: &Resolution<'_>) -> Result<Layout> {
    let mut synthetic = SyntheticOffsets::default();
    let mut cursor = Placer::new(objects, &res.bounds);

    // Text, then objdl's stubs.
    let text_start = cursor.at;
    cursor.place(|k| k == SectionKind::Text);
    for _ in &res.ifuncs {
        synthetic
            .ifunc_stubs
            .push(cursor.take(8, arch::IFUNC_STUB_SIZE as u64));
    }
    for stub in &mut synthetic.stubs {
        *stub = cursor.take(16, arch::ATEXIT_STUB_SIZE as u64);
    }
    let text = cursor.range_from(text_start);

    // Read-only data and unwind tables, then the stubs' slots.
    cursor.align(PAGE);
    let ro_start = cursor.at;
    cursor.place(|k| k == SectionKind::ReadOnly || k == SectionKind::EhFrame);
    for slot in &mut synthetic.stub_slots {
        *slot = cursor.take(8, 8);
    }
    for _ in &res.copyable {
        synthetic.copies.push(cursor.take(8, 8));
    }
    for _ in &res.ifuncs {
        synthetic.ifunc_slots.push(cursor.take(8, 8));
    }
    let rodata = cursor.range_from(ro_start);

    // Data, tables, the handle, then bss and COMMON storage.
    cursor.align(PAGE);
    cursor.place(|k| matches!(k, SectionKind::Data | SectionKind::Table(_)));
    synthetic.dso_handle = cursor.take(8, 8);
    cursor.place(|k| k == SectionKind::Bss);
    let mut common_offsets = Vec::with_capacity(res.commons.len());
    for c in &res.commons {
        cursor.align(c.align);
        common_offsets.push(cursor.at);
        cursor.at = cursor
            .at
            .checked_add(c.size)
            .ok_or_else(|| too_big(objects, u64::MAX))?;
    }

    let got_offset = align_up(cursor.at, PAGE);
    if got_offset > crate::limits::MAX_UNIT_SIZE {
        return Err(too_big(objects, got_offset));
    }
    let bounds = cursor.bound_spans(&res.bounds);
    let Placer {
        sec_offsets,
        eh_frames,
        tables,
        section_count,
        mapped,
        ..
    } = cursor;
    Ok(Layout {
        tls: TlsLayout::new(objects)?,
        bounds,
        sec_offsets,
        common_offsets,
        synthetic,
        text,
        rodata,
        eh_frames,
        tables,
        got_offset,
        section_count,
        mapped,
        symbol_table: std::cell::OnceCell::new(),
    })
}

/// The layout being built: where the next byte goes, and where each
/// section went.
struct Placer<'o, 'd> {
    objects: &'o [ObjectFile<'d>],
    /// The sections of each `__start_`/`__stop_` name, found in one pass.
    bound_sections: crate::hash::KeyedMap<&'o str, Vec<(u32, u32)>>,
    /// The next free offset.
    at: u64,
    sec_offsets: Vec<Vec<u64>>,
    eh_frames: Vec<u64>,
    tables: Vec<Table>,
    section_count: usize,
    mapped: Vec<MappedSection>,
}

impl<'o, 'd> Placer<'o, 'd> {
    fn new(objects: &'o [ObjectFile<'d>], bounds: &'o [String]) -> Self {
        Placer {
            objects,
            bound_sections: sections_by_bound(objects, bounds),
            at: 0,
            sec_offsets: objects
                .iter()
                .map(|o| vec![NOT_LOADED; o.sections.len()])
                .collect(),
            eh_frames: Vec::new(),
            tables: Vec::new(),
            section_count: 0,
            mapped: Vec::new(),
        }
    }

    fn align(&mut self, align: u64) {
        self.at = align_up(self.at, align);
    }

    /// `size` bytes aligned to `align`: their offset.
    fn take(&mut self, align: u64, size: u64) -> u64 {
        self.align(align);
        let at = self.at;
        self.at += size;
        at
    }

    fn range_from(&self, start: u64) -> SegmentRange {
        SegmentRange {
            offset: start,
            size: self.at - start,
        }
    }

    /// Places every loaded section of the kinds `pick` accepts, in input
    /// order, except that all sections with a `__start_`/`__stop_` name go
    /// together where the first of them is, so that the bounds enclose them.
    fn place(&mut self, pick: impl Fn(SectionKind) -> bool) {
        let objects = self.objects;
        for (oi, obj) in objects.iter().enumerate() {
            for (si, sec) in obj.sections.iter().enumerate() {
                if sec.discarded || !pick(sec.kind) || self.sec_offsets[oi][si] != NOT_LOADED {
                    continue;
                }
                let bound = (!self.bound_sections.is_empty())
                    .then(|| self.bound_sections.get(sec.name))
                    .flatten();
                match bound {
                    Some(all) => {
                        let group: Vec<(usize, usize)> = all
                            .iter()
                            .map(|&(oj, sj)| (oj as usize, sj as usize))
                            .filter(|&(oj, sj)| pick(objects[oj].sections[sj].kind))
                            .collect();
                        for (oj, sj) in group {
                            self.place_section(oj, sj);
                        }
                    }
                    None => self.place_section(oi, si),
                }
            }
        }
    }

    /// Places section `sj` of object `oj` at the next offset its alignment
    /// allows; a large one that can be mapped from its file gets the
    /// file's offset modulo the page (see [`MappedSection`]).
    fn place_section(&mut self, oj: usize, sj: usize) {
        let sec = &self.objects[oj].sections[sj];
        self.align(sec.align);
        if let Some((file, file_offset)) = self.objects[oj].file_offset(sj) {
            let len = sec.data.len() as u64;
            if len >= MAP_MIN && sec.align <= PAGE && file_offset % sec.align == 0 {
                // Same offset modulo the page: the padding keeps the alignment.
                self.at += file_offset.wrapping_sub(self.at) % PAGE;
                let first = align_up(self.at, PAGE);
                let end = (self.at + len) & !(PAGE - 1);
                self.mapped.push(MappedSection {
                    obj: oj as u32,
                    sec: sj as u32,
                    file,
                    offset: first,
                    file_offset: file_offset + (first - self.at),
                    len: end - first,
                });
            }
        }
        self.sec_offsets[oj][sj] = self.at;
        self.section_count += 1;
        if sec.kind == SectionKind::EhFrame {
            self.eh_frames.push(self.at);
            self.at += 4; // room for the zero terminator, after the section
        }
        if let SectionKind::Table(kind) = sec.kind {
            self.tables.push(Table {
                obj: oj as u32,
                sec: sj as u32,
                kind,
                priority: sec.priority,
                offset: self.at,
                len: sec.size / 8,
            });
        }
        self.at += sec.size;
    }

    /// The span of each `__start_`/`__stop_` section name in `bounds`:
    /// from its first section's offset to its last one's end.
    fn bound_spans(&self, bounds: &[String]) -> Vec<(u64, u64)> {
        bounds
            .iter()
            .map(|name| {
                let mut span = (u64::MAX, 0);
                for &(oi, si) in self.bound_sections.get(name.as_str()).into_iter().flatten() {
                    let off = self.sec_offsets[oi as usize][si as usize];
                    if off != NOT_LOADED {
                        let size = self.objects[oi as usize].sections[si as usize].size;
                        span = (span.0.min(off), span.1.max(off + size));
                    }
                }
                span
            })
            .collect()
    }
}

/// For each name in `bounds` (section names with `__start_`/`__stop_`
/// symbols), its sections that are not discarded: (object, section), in
/// input order.
fn sections_by_bound<'a>(
    objects: &[ObjectFile<'a>],
    bounds: &'a [String],
) -> crate::hash::KeyedMap<&'a str, Vec<(u32, u32)>> {
    let mut by_name: crate::hash::KeyedMap<&str, Vec<(u32, u32)>> =
        bounds.iter().map(|b| (b.as_str(), Vec::new())).collect();
    if by_name.is_empty() {
        return by_name;
    }
    for (oi, obj) in objects.iter().enumerate() {
        for (si, sec) in obj.sections.iter().enumerate() {
            if let Some(list) = by_name.get_mut(sec.name).filter(|_| !sec.discarded) {
                list.push((oi as u32, si as u32));
            }
        }
    }
    by_name
}

fn too_big(objects: &[ObjectFile<'_>], size: u64) -> Error {
    let names: Vec<&str> = objects.iter().map(|o| o.name.as_str()).collect();
    Error::NoPlacement {
        size,
        why: PlacementRefusal::TooLarge {
            unit: names.join(", "),
            limit: crate::limits::MAX_UNIT_SIZE,
        },
    }
}

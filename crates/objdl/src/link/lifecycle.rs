//! What a unit runs, and refuses to run, from its layout and image: the
//! initialisers and finalisers, in order, and the `.eh_frame`s to register
//! (a [`Lifecycle`]); every IFUNC resolver, initialiser and finaliser
//! checked to be code before anything runs.

use crate::error::{Error, Malformed, NotCode, Result};
use crate::input::{ObjectFile, SectionKind, SymbolDef, SymbolKind, TableKind};
use crate::link::resolution::{Resolution, Target};
use crate::link::unit_layout::{Layout, Table, NOT_LOADED};
use crate::load::runtime::Lifecycle;

/// Reads the unit's tables (after relocation) into call order.
///
/// Priorities sort first (lower runs earlier at init, later at fini); at
/// equal priority, input order. `.init_array` runs forwards and `.ctors`
/// backwards; finalisers are the mirror image.
pub(crate) fn lifecycle(mem: &[u8], base: u64, tables: &[Table], eh_frames: &[u64]) -> Lifecycle {
    let entries = |t: &Table| -> Vec<u64> {
        (0..t.len)
            .map(|i| {
                let at = (t.offset + i * 8) as usize;
                u64::from_le_bytes(mem[at..at + 8].try_into().expect("8 bytes"))
            })
            // 0 and -1 are the terminators/placeholders .ctors may hold.
            .filter(|&p| p != 0 && p != u64::MAX)
            .collect()
    };
    let mut lc = Lifecycle {
        eh_frames: eh_frames.iter().map(|o| base + o).collect(),
        ..Default::default()
    };
    let mut sorted: Vec<&Table> = tables.iter().collect();
    sorted.sort_by_key(|t| (t.kind != TableKind::PreinitArray, t.priority)); // stable: input order kept
    for t in &sorted {
        let mut e = entries(t);
        match t.kind {
            TableKind::PreinitArray | TableKind::InitArray => lc.init.extend(e),
            TableKind::Ctors => {
                e.reverse();
                lc.init.extend(e)
            }
            _ => {}
        }
    }
    for t in sorted.iter().rev() {
        let mut e = entries(t);
        match t.kind {
            TableKind::FiniArray => {
                e.reverse();
                lc.fini.extend(e)
            }
            TableKind::Dtors => lc.fini.extend(e),
            _ => {}
        }
    }
    lc
}

/// Refuses, before anything of the unit runs, code that is not code: an
/// indirect (IFUNC) symbol's resolver outside an executable section, and an
/// initialiser or finaliser (`.preinit_array`, `.init_array`, `.ctors`,
/// `.fini_array`, `.dtors`) that points neither into the unit's code nor
/// into an executable mapping of the process. Calling either would jump
/// into data: a SIGSEGV (pages are never writable and executable), after
/// the initialisers before it had run. `image` is the relocated unit at
/// `base`; `code` its executable ranges (offsets: text, trampolines).
pub(crate) fn refuse_what_is_not_code(
    objects: &[ObjectFile<'_>],
    res: &Resolution<'_>,
    layout: &Layout,
    image: &[u8],
    base: u64,
    code: &[(u64, u64)],
) -> Result<()> {
    for &t in &res.ifuncs {
        let Target::Section {
            obj, sec, value, ..
        } = t
        else {
            continue;
        };
        let o = &objects[obj as usize];
        let section = &o.sections[sec as usize];
        if section.kind != SectionKind::Text {
            // The symbol's name, found only for the message.
            let name = (0..o.symbols.len())
                .find(|&i| {
                    let s = &o.symbols[i];
                    s.kind == SymbolKind::Indirect
                        && s.def == SymbolDef::Section { index: sec, value }
                })
                .map_or_else(String::new, |i| o.symbol_name(i as u32));
            return Err(Error::Malformed {
                file: o.name.clone(),
                what: Malformed::ResolverNotCode {
                    symbol: name,
                    section: section.name.to_string(),
                },
            });
        }
    }
    // The process's executable mappings, read only if an entry points
    // outside the unit.
    let mut host_code: Option<Vec<(u64, u64)>> = None;
    let size = image.len() as u64;
    for t in &layout.tables {
        for k in 0..t.len {
            let at = (t.offset + k * 8) as usize;
            let entry = u64::from_le_bytes(image[at..at + 8].try_into().expect("8 bytes"));
            // 0 and -1 are the terminators/placeholders .ctors may hold.
            if entry == 0 || entry == u64::MAX {
                continue;
            }
            let inside = entry.checked_sub(base).filter(|&off| off < size);
            let is_code = match inside {
                Some(off) => code.iter().any(|&(lo, hi)| (lo..hi).contains(&off)),
                None => host_code
                    .get_or_insert_with(crate::scope::host::executable_ranges)
                    .iter()
                    .any(|&(lo, hi)| (lo..hi).contains(&entry)),
            };
            if is_code {
                continue;
            }
            let o = &objects[t.obj as usize];
            let finaliser = matches!(t.kind, TableKind::FiniArray | TableKind::Dtors);
            let lies = match inside.and_then(|off| section_at(objects, layout, off)) {
                Some((file, section)) => NotCode::Section {
                    file: file.to_string(),
                    section: section.to_string(),
                },
                None if inside.is_some() => NotCode::UnitData { address: entry },
                None => NotCode::Outside { address: entry },
            };
            return Err(Error::Malformed {
                file: o.name.clone(),
                what: Malformed::EntryNotCode {
                    table: o.sections[t.sec as usize].name.to_string(),
                    offset: k * 8,
                    finaliser,
                    lies,
                },
            });
        }
    }
    Ok(())
}

/// The input and section that offset `off` of the unit lies in, if any.
fn section_at<'a>(
    objects: &'a [ObjectFile<'_>],
    layout: &Layout,
    off: u64,
) -> Option<(&'a str, &'a str)> {
    objects.iter().enumerate().find_map(|(oi, o)| {
        o.sections.iter().enumerate().find_map(|(si, s)| {
            let start = layout.sec_offsets[oi][si];
            (start != NOT_LOADED && (start..start + s.size.max(1)).contains(&off))
                .then_some((o.name.as_str(), s.name))
        })
    })
}

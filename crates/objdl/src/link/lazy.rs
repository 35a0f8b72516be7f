//! Lazy binding at link time ([`crate::OpenOptions::lazy`]): which names
//! get stubs. Resolution lists the names nothing defines
//! ([`Resolution::lazy`]); [`prepare`] checks that every reference to
//! them is a call or a jump (anything that takes the address or reads the
//! memory stays an error, as it is without lazy binding), maps their
//! stubs ([`LazyArea`]) and makes each stub its name's target. Call sites
//! then reach a stub like any host function: directly, through a
//! trampoline, or through a GOT slot. Names defined at open time bind at
//! once, as without lazy binding, so nothing else changes.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::arch;
use crate::error::{Error, Result, Unresolved, Unsupported};
use crate::input::{ObjectFile, RelocFields, SectionKind};
use crate::link::resolution::{Resolution, Target};
use crate::load::lazy::LazyArea;
use crate::scope::host::Host;
use crate::scope::namespace::Namespace;

/// In a per-object symbol map: not a lazy name.
const NONE: u32 = u32::MAX;

/// Gives each name of [`Resolution::lazy`] a stub, and makes it the
/// name's target. Every reference to such a name must be a call or a jump
/// ([`arch::call_only`]); the others are reported as unresolved, each
/// name once. `None` when there is no lazy name.
pub(crate) fn prepare(
    objects: &[ObjectFile<'_>],
    res: &mut Resolution<'_>,
    host: &Arc<Host>,
    namespace: &Arc<Namespace>,
) -> Result<Option<LazyArea>> {
    if res.lazy.is_empty() {
        return Ok(None);
    }
    // One index per name, in the order resolution met them; per object
    // with lazy names, each symbol's index (or NONE).
    let mut index_of: FxHashMap<u32, u32> = FxHashMap::default();
    let mut first: Vec<(u32, u32)> = Vec::new();
    let mut marks: Vec<Vec<u32>> = vec![Vec::new(); objects.len()];
    for &(oi, si, id) in &res.lazy {
        let next = u32::try_from(first.len()).map_err(|_| Error::Unsupported {
            file: objects[oi as usize].name.clone(),
            what: Unsupported::LazyNames,
        })?;
        let i = *index_of.entry(id).or_insert(next);
        if i == next {
            first.push((oi, si));
        }
        let m = &mut marks[oi as usize];
        if m.is_empty() {
            m.resize(objects[oi as usize].symbols.len(), NONE);
        }
        m[si as usize] = i;
    }
    refuse_what_is_not_called(objects, &marks, first.len())?;

    let names = first
        .iter()
        .map(|&(oi, si)| (objects[oi as usize].symbols[si as usize].name.into(), oi))
        .collect();
    let files = objects.iter().map(|o| o.name.clone()).collect();
    let area = LazyArea::new(names, files, host, namespace)?;
    for &(oi, si, id) in &res.lazy {
        let stub = area.stub(index_of[&id]);
        res.targets.set(
            oi as usize,
            si as usize,
            Target::Absolute {
                addr: stub,
                size: 0,
                code: true,
            },
        );
    }
    Ok(Some(area))
}

/// Every reference to a lazy name (`marks`: per object, each symbol's
/// name index or [`NONE`]) must be a call: one pass over the relocations
/// of the objects that have lazy names, an array lookup each. The names
/// referred to otherwise are unresolved, each once.
fn refuse_what_is_not_called(
    objects: &[ObjectFile<'_>],
    marks: &[Vec<u32>],
    names: usize,
) -> Result<()> {
    let mut refused = vec![false; names];
    let mut unresolved = Vec::new();
    for (obj, m) in objects.iter().zip(marks) {
        if m.is_empty() {
            continue;
        }
        for sec in obj.sections.iter() {
            if sec.kind == SectionKind::Skip || sec.discarded {
                continue;
            }
            for r in sec.relocs.iter() {
                let i = match m.get(r.sym() as usize) {
                    Some(&i) if i != NONE => i as usize,
                    _ => continue,
                };
                // An out-of-bounds field is the relocation pass's to report.
                let call = arch::call_only(r.kind(), r.addend(sec.data), sec.data, r.offset());
                if call == Some(false) && !std::mem::replace(&mut refused[i], true) {
                    unresolved.push(Unresolved {
                        symbol: obj.symbols[r.sym() as usize].name.to_string(),
                        file: obj.name.clone(),
                    });
                }
            }
        }
    }
    match unresolved.is_empty() {
        true => Ok(()),
        false => Err(Error::Unresolved(unresolved)),
    }
}

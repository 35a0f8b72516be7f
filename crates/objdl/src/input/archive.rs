//! Stage 1b, select: the members of static archives (`.a`) that the unit
//! needs, as GNU ld picks them: a member is pulled in when it defines a
//! symbol that is still undefined (and not weak), repeating over all the
//! archives until nothing new is pulled.
//!
//! The archive's symbol index (`/`, written by `ar s`) finds candidates
//! without parsing every member; without an index, each member's symbol
//! table is read once.

use crate::hash::{KeyedMap, KeyedSet};
use object::read::archive::{ArchiveFile, ArchiveOffset};

use crate::error::{Error, Malformed, Part, Result, Unsupported};
use crate::input::{self, ObjectFile, SymbolDef};

/// Does `bytes` look like a static archive?
pub(crate) fn is_archive(bytes: &[u8]) -> bool {
    bytes.starts_with(b"!<arch>\n") || bytes.starts_with(b"!<thin>\n")
}

/// One archive: where each global symbol is defined, and what was pulled.
struct Archive<'d> {
    name: &'d str,
    bytes: &'d [u8],
    file: ArchiveFile<'d>,
    /// Global symbol → the defining member's header offset, or
    /// `UNINDEXED | i` for `direct[i]`.
    index: KeyedMap<&'d [u8], u64>,
    /// Members of an archive without a symbol index: (name, contents).
    direct: Vec<(String, &'d [u8])>,
    pulled: KeyedSet<u64>,
    /// One of the libraries the gcc driver adds (libgcc.a...): a member is
    /// pulled only for a name nothing outside the unit defines.
    implicit: bool,
    /// How many of the undefined names (see [`select`]) this archive has
    /// looked up: each only once, since its index never changes and a name
    /// defined stays defined (and one defined outside the unit stays so).
    seen: usize,
}

fn open<'d>(name: &'d str, bytes: &'d [u8]) -> Result<Archive<'d>> {
    let malformed = |part| move |e| bad_read(name, part, e);
    let file = ArchiveFile::parse(bytes).map_err(malformed(Part::Archive))?;
    if file.is_thin() {
        return Err(Error::Unsupported {
            file: name.to_string(),
            what: Unsupported::ThinArchive,
        });
    }
    let mut index: KeyedMap<&'d [u8], u64> = KeyedMap::default();
    let mut direct = Vec::new();
    match file
        .symbols()
        .map_err(malformed(Part::ArchiveSymbolIndex))?
    {
        Some(symbols) => {
            for sym in symbols {
                let sym = sym.map_err(malformed(Part::ArchiveSymbolIndex))?;
                let ArchiveOffset(off) = sym.offset();
                index.entry(sym.name()).or_insert(off);
                // A default version `name@@VER` defines `name`.
                if let Some(base) = default_version_base(sym.name()) {
                    index.entry(base).or_insert(off);
                }
            }
        }
        None => {
            // No index: read each member's definitions once, and keep the
            // members found that way by their position.
            for member in file.members() {
                let member = member.map_err(malformed(Part::ArchiveMember))?;
                let data = member.data(bytes).map_err(malformed(Part::ArchiveMember))?;
                if !input::recognise(data) {
                    continue;
                }
                let mname = member_name(name, member.name());
                let obj = input::parse(&mname, data)?;
                let key = UNINDEXED | direct.len() as u64;
                for s in obj
                    .symbols
                    .iter()
                    .filter(|s| !s.is_local() && s.def != SymbolDef::Undefined)
                {
                    index.entry(s.name.as_bytes()).or_insert(key);
                    if let Some(base) = default_version_base(s.name.as_bytes()) {
                        index.entry(base).or_insert(key);
                    }
                }
                direct.push((mname, data));
            }
        }
    }
    Ok(Archive {
        name,
        bytes,
        file,
        index,
        direct,
        pulled: KeyedSet::default(),
        implicit: false,
        seen: 0,
    })
}

/// A part of archive `name` could not be read: the `object` crate says why.
#[cold]
fn bad_read(name: &str, part: Part, e: object::read::Error) -> Error {
    Error::Malformed {
        file: name.to_string(),
        what: Malformed::Read {
            part,
            reason: e.to_string(),
        },
    }
}

/// `name` of a default version `name@@VER`.
fn default_version_base(name: &[u8]) -> Option<&[u8]> {
    let at = name.windows(2).position(|w| w == b"@@")?;
    (at > 0).then(|| &name[..at])
}

/// How messages name a member: `archive(member)`, with any control
/// character of the member's name (a damaged header can hold a newline)
/// escaped, so that errors quoting it stay on one line.
fn member_name(archive: &str, member: &[u8]) -> String {
    let mut name = format!("{archive}(");
    for c in String::from_utf8_lossy(member).chars() {
        if c.is_control() {
            name.extend(c.escape_default());
        } else {
            name.push(c);
        }
    }
    name.push(')');
    name
}

/// Marks an index value as a position in `Archive::direct`.
const UNINDEXED: u64 = 1 << 63;

impl<'d> Archive<'d> {
    /// The member at `off` (see `Archive::index`), parsed.
    fn member(&self, off: u64) -> Result<ObjectFile<'d>> {
        if off & UNINDEXED != 0 {
            let (mname, data) = &self.direct[(off & !UNINDEXED) as usize];
            return input::parse(mname, data);
        }
        let malformed = |e| bad_read(self.name, Part::ArchiveMemberAt(off), e);
        let member = self.file.member(ArchiveOffset(off)).map_err(malformed)?;
        let data = member.data(self.bytes).map_err(malformed)?;
        let mname = member_name(self.name, member.name());
        input::parse(&mname, data)
    }
}

/// Adds to `objects` the members of `archives` (name, bytes) that they
/// need, and those of the `implicit` archives (the libraries the gcc
/// driver adds after the user's inputs) that define a name for which
/// `outside` (does the process or the global scope define it?) is false.
pub(crate) fn select<'d>(
    objects: &mut Vec<ObjectFile<'d>>,
    archives: &[(&'d str, &'d [u8])],
    implicit: &[(&'d str, &'d [u8])],
    outside: &dyn Fn(&str) -> bool,
) -> Result<()> {
    if archives.is_empty() && implicit.is_empty() {
        return Ok(());
    }
    let mut archives: Vec<Archive<'d>> = archives
        .iter()
        .map(|&(n, b)| open(n, b))
        .chain(implicit.iter().map(|&(n, b)| {
            open(n, b).map(|a| Archive {
                implicit: true,
                ..a
            })
        }))
        .collect::<Result<_>>()?;
    let mut defined: KeyedSet<&'d str> = KeyedSet::default();
    let mut undefined: Vec<&'d str> = Vec::new();
    let note =
        |obj: &ObjectFile<'d>, defined: &mut KeyedSet<&'d str>, undefined: &mut Vec<&'d str>| {
            for s in obj.symbols.iter().skip(1).filter(|s| !s.is_local()) {
                if s.def != SymbolDef::Undefined {
                    defined.insert(s.name);
                    if let Some(base) = default_version_base(s.name.as_bytes()) {
                        defined.insert(&s.name[..base.len()]);
                    }
                } else if !s.is_weak() && !s.name.is_empty() {
                    undefined.push(s.name);
                }
            }
        };
    for obj in objects.iter() {
        note(obj, &mut defined, &mut undefined);
    }
    // Passes over the archives until none pulls a member; each archive
    // looks up only the names added since it last looked.
    loop {
        let mut pulled_any = false;
        for archive in &mut archives {
            while archive.seen < undefined.len() {
                let name = undefined[archive.seen];
                archive.seen += 1;
                if defined.contains(name) {
                    continue;
                }
                let Some(&off) = archive.index.get(name.as_bytes()) else {
                    continue;
                };
                if archive.implicit && outside(name) {
                    continue;
                }
                if !archive.pulled.insert(off) {
                    continue;
                }
                let obj = archive.member(off)?;
                note(&obj, &mut defined, &mut undefined);
                objects.push(obj);
                pulled_any = true;
            }
        }
        if !pulled_any {
            return Ok(());
        }
    }
}

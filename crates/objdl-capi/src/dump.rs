//! The text of `objdl_dump_exports` and `objdl_dump_relocations`, and
//! printing it through C's `stdout`.

use std::collections::HashMap;
use std::ffi::{c_void, CStr, CString};
use std::fmt::Write as _;

use objdl::RelocationSummary;

use crate::state::{self, Handle};

/// The exports listing of `h`, sorted by name, and how many there are.
pub(crate) fn exports(h: &Handle) -> (String, usize) {
    let mut list: Vec<(&str, u64)> = h.unit.exports().collect();
    list.sort_unstable();
    let mut text = format!("exports of {}: {}\n", h.name, list.len());
    for (name, addr) in &list {
        let _ = writeln!(text, "  {name} {addr:#018x}");
    }
    (text, list.len())
}

/// What `objdl_dump_relocations` prints, gathered under the registry's
/// lock; [`Relocations::render`] names what is left with the dynamic
/// loader, after the lock is released.
pub(crate) struct Relocations {
    name: String,
    summary: RelocationSummary,
    /// Target or slot value → its name, where known.
    names: HashMap<u64, Option<String>>,
}

/// Gathers the relocation summary of `h`, naming the addresses it mentions
/// from the exports of every live handle (`h`'s first) and the defined
/// symbols.
pub(crate) fn collect_relocations(h: &Handle, all: &[Box<Handle>]) -> Relocations {
    let summary = h.unit.relocation_summary().clone();
    let mut names: HashMap<u64, Option<String>> = summary
        .trampolines
        .iter()
        .chain(&summary.got_slots)
        .map(|&(_, target)| (target, None))
        .collect();
    let others = all.iter().map(|b| &**b).filter(|o| !std::ptr::eq(*o, h));
    for unit in std::iter::once(h).chain(others).map(|o| &o.unit) {
        for (name, addr) in unit.exports() {
            if let Some(slot @ None) = names.get_mut(&addr) {
                *slot = Some(name.to_string());
            }
        }
    }
    state::defined_names(&mut names);
    Relocations {
        name: h.name.clone(),
        summary,
        names,
    }
}

impl Relocations {
    /// The listing: counts by type, trampolines with targets, GOT slots.
    pub(crate) fn render(mut self) -> String {
        for (&addr, slot) in self.names.iter_mut() {
            if slot.is_none() {
                *slot = dynamic_name(addr);
            }
        }
        let label = |addr: u64| match self.names.get(&addr) {
            Some(Some(n)) => format!(" {n}"),
            _ => String::new(),
        };
        let s = &self.summary;
        let total: u64 = s.by_type.iter().map(|(_, n)| n).sum();
        let mut text = format!("relocations of {}: {total}\n", self.name);
        for (ty, n) in &s.by_type {
            let _ = writeln!(text, "  {ty} {n}");
        }
        let _ = writeln!(text, "trampolines: {}", s.trampolines.len());
        for &(at, target) in &s.trampolines {
            let _ = writeln!(text, "  {at:#018x} -> {target:#018x}{}", label(target));
        }
        let _ = writeln!(text, "got slots: {}", s.got_slots.len());
        for &(at, value) in &s.got_slots {
            let _ = writeln!(text, "  {at:#018x} = {value:#018x}{}", label(value));
        }
        text
    }
}

/// The dynamic symbol that starts exactly at `addr`, if the loader knows one.
fn dynamic_name(addr: u64) -> Option<String> {
    // SAFETY: Dl_info is plain data, for which all zeroes is a valid value.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    // SAFETY: dladdr only reads its address argument as a number and fills
    // `info`, which is valid for writes.
    let found = unsafe { libc::dladdr(addr as usize as *const c_void, &mut info) };
    if found == 0 || info.dli_sname.is_null() || info.dli_saddr as usize as u64 != addr {
        return None;
    }
    // SAFETY: dladdr set dli_sname to a NUL-terminated string in the loaded
    // object's string table, which stays while the object is loaded.
    Some(
        unsafe { CStr::from_ptr(info.dli_sname) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// Writes `text` to C's `stdout`, so that it is ordered with the program's
/// own `printf` output (which Rust's buffered stdout would not be).
pub(crate) fn print(text: &str) -> Result<(), String> {
    let c = CString::new(text).map_err(|_| "output contains a NUL byte".to_string())?;
    // SAFETY: the format is a literal "%s" and its one argument a
    // NUL-terminated string that outlives the call.
    let n = unsafe { libc::printf(c"%s".as_ptr(), c.as_ptr()) };
    if n < 0 {
        return Err("printing to stdout failed".into());
    }
    Ok(())
}

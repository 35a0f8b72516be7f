//! The process's mappings as `/proc/self/maps` lists them, for tools that
//! show where units land among the executable, the libraries, the heap and
//! the stack (`objdl check --map`, `objdl run --map`). Self-contained: the
//! placement reads the same file for its own purposes (`placement.rs`).

use crate::error::{Error, Result};

/// One mapping of the process: a line of `/proc/self/maps`.
///
/// ```
/// let line = "7f1c2a000000-7f1c2a028000 r--p 00000000 08:01 1234 /usr/lib/x86_64-linux-gnu/libc.so.6";
/// let m = objdl::Mapping::parse(line).unwrap();
/// assert_eq!((m.start, m.end), (0x7f1c_2a00_0000, 0x7f1c_2a02_8000));
/// assert_eq!(m.perms, "r--p");
/// assert_eq!(m.name, "/usr/lib/x86_64-linux-gnu/libc.so.6");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Mapping {
    /// The first address.
    pub start: u64,
    /// One past the last address.
    pub end: u64,
    /// Permissions as the kernel prints them: `r`, `w`, `x` or `-`, then
    /// `p` (private) or `s` (shared), e.g. `r-xp`.
    pub perms: String,
    /// The file mapped, a pseudo-name such as `[heap]`, `[stack]` or
    /// `[vdso]`, or empty for anonymous memory (which is where units live,
    /// except for large sections mapped from their input files).
    pub name: String,
}

impl Mapping {
    /// Parses one line of `/proc/PID/maps`; `None` if it is not one.
    pub fn parse(line: &str) -> Option<Mapping> {
        let mut fields = line.splitn(6, ' ');
        let (start, end) = fields.next()?.split_once('-')?;
        let start = u64::from_str_radix(start, 16).ok()?;
        let end = u64::from_str_radix(end, 16).ok()?;
        let perms = fields.next()?.to_string();
        // Offset, device and inode; the name follows, padded with spaces.
        let name = fields.nth(3).unwrap_or("").trim_start().to_string();
        (start <= end).then_some(Mapping {
            start,
            end,
            perms,
            name,
        })
    }
}

/// The process's mappings, sorted by address, read from `/proc/self/maps`.
///
/// ```
/// let maps = objdl::process_map()?;
/// assert!(maps.iter().any(|m| m.name == "[stack]"));
/// assert!(maps.windows(2).all(|w| w[0].start <= w[1].start));
/// # Ok::<(), objdl::Error>(())
/// ```
pub fn process_map() -> Result<Vec<Mapping>> {
    let text = std::fs::read_to_string("/proc/self/maps").map_err(|source| Error::Io {
        path: "/proc/self/maps".into(),
        source,
    })?;
    let mut maps: Vec<Mapping> = text.lines().filter_map(Mapping::parse).collect();
    maps.sort_by_key(|m| m.start);
    Ok(maps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymous_and_named_lines() {
        let m = Mapping::parse(
            "7ffd1000-7ffd3000 rw-p 00000000 00:00 0                          [stack]",
        )
        .unwrap();
        assert_eq!(m.name, "[stack]");
        let m = Mapping::parse("7f00000000-7f00001000 ---p 00000000 00:00 0 ").unwrap();
        assert_eq!(m.name, "");
        let m = Mapping::parse("1000-2000 r--p 00000000 08:01 42 /tmp/a file (deleted)").unwrap();
        assert_eq!(m.name, "/tmp/a file (deleted)");
        assert_eq!(Mapping::parse("garbage"), None);
        assert_eq!(Mapping::parse("2000-1000 r--p 0 0:0 0"), None);
    }
}

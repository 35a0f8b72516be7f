//! Names in NUL-terminated string tables (symbols', sections'), checked
//! as every later message needs them: in bounds, UTF-8, no control
//! character; and shown escaped when they are not.

use crate::error::{Malformed, Part};

/// Why a name cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadName {
    /// The offset is outside the string table, or the name has no NUL.
    Range,
    Utf8,
    /// It holds a control character.
    Control,
}

/// The NUL-terminated name at `offset` in `strtab`. Almost every name is
/// printable ASCII, found and checked in one pass; anything else must be
/// UTF-8 without control characters (which would break one-line messages).
pub(crate) fn name_at(strtab: &[u8], offset: u32) -> std::result::Result<&str, BadName> {
    scan_name(strtab, offset).map(|(name, _)| name)
}

/// [`name_at`], and whether the name holds an `@`: a symbol version
/// (`memcpy@GLIBC_2.2.5`), found in the same pass.
pub(crate) fn scan_name(strtab: &[u8], offset: u32) -> std::result::Result<(&str, bool), BadName> {
    let tail = strtab.get(offset as usize..).ok_or(BadName::Range)?;
    let plain = plain_prefix(tail);
    if tail.get(plain) == Some(&0) {
        // SAFETY: printable ASCII is valid UTF-8.
        return Ok((
            unsafe { std::str::from_utf8_unchecked(&tail[..plain]) },
            false,
        ));
    }
    let end = tail.iter().position(|&b| b == 0).ok_or(BadName::Range)?;
    let name = std::str::from_utf8(&tail[..end]).map_err(|_| BadName::Utf8)?;
    if has_control(name) {
        return Err(BadName::Control);
    }
    Ok((name, name.contains('@')))
}

/// How many bytes at the start of `bytes` are printable ASCII (0x20 to
/// 0x7e) other than `@`: eight at a time while they all are, then one by
/// one.
fn plain_prefix(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut n = 0;
    for chunk in bytes.chunks_exact(8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // A byte below 0x20, or whose low seven bits are all set (0x7f,
        // 0xff), or with its top bit set: not printable ASCII.
        let below = x.wrapping_sub(0x20 * ONES) & !x & HIGH;
        let at_7f = (x & !HIGH).wrapping_add(ONES) & HIGH;
        // A byte equal to `@`.
        let at = x ^ (b'@' as u64 * ONES);
        let at_sign = at.wrapping_sub(ONES) & !at & HIGH;
        let bad = below | at_7f | (x & HIGH) | at_sign;
        if bad != 0 {
            // The subtractions' borrows can mark a byte after the first
            // bad one, never one before it: the lowest mark is the first.
            return n + (bad.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + bytes[n..]
        .iter()
        .position(|&b| !(0x20..0x7f).contains(&b) || b == b'@')
        .unwrap_or(bytes.len() - n)
}

/// The name at `offset`, unchecked and cut at its NUL (or the table's
/// end), as text with invalid UTF-8 replaced.
pub(crate) fn lossy_str(strtab: &[u8], offset: u32) -> String {
    let tail = strtab.get(offset as usize..).unwrap_or(&[]);
    let end = tail.iter().position(|&b| b == 0).unwrap_or(tail.len());
    String::from_utf8_lossy(&tail[..end.min(crate::limits::MAX_NAME)]).into_owned()
}

/// The name at `offset` for a message, whatever it holds: escaped, never
/// more than one line.
pub(crate) fn lossy_name(strtab: &[u8], offset: u32) -> String {
    lossy_str(strtab, offset).escape_debug().to_string()
}

/// Does a name hold a control character (a newline, an escape...)? Such a
/// name would break the one-line messages that quote it.
fn has_control(name: &str) -> bool {
    name.chars().any(char::is_control)
}

/// What is wrong with the name at `offset` of `strtab`, the name of `part`.
#[cold]
pub(crate) fn bad_name(part: Part, bad: BadName, strtab: &[u8], offset: u32) -> Malformed {
    match bad {
        BadName::Range => Malformed::NameOffset {
            part,
            offset,
            len: strtab.len(),
        },
        BadName::Utf8 => Malformed::NameNotUtf8 { part },
        BadName::Control => Malformed::NameControl {
            part,
            name: lossy_str(strtab, offset),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_prefixes() {
        for (bytes, n) in [
            (&b"abcdefgh\0"[..], 8),
            (b"sqlite3_free\0x", 12),
            (b"", 0),
            (b"0123456789abcdef~", 17),
            (b"01234567\x7f", 8),
            (b"0123456\x1f89", 7),
            (b"012345678\xff", 9),
            (b"\x20\x7e\x7f", 2),
            (b"abc\0\x01\x1f\xffh", 3),
            (b"\0\0\0\0\0\0\0\0", 0),
            (b"abcdefg\x80", 7),
            (b"memcpy@GLIBC_2.2.5\0", 6),
            (b"foo@@V2\0", 3),
            (b"abcdefghij@k", 10),
        ] {
            assert_eq!(plain_prefix(bytes), n, "{bytes:?}");
        }
        // Every byte value, at every position of a chunk.
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut chunk = *b"abcdefgh";
                chunk[at] = b;
                let want = if (0x20..0x7f).contains(&b) && b != b'@' {
                    8
                } else {
                    at
                };
                assert_eq!(plain_prefix(&chunk), want, "{b:#x} at {at}");
            }
        }
    }
}

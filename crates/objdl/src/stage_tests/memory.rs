//! `memory`: the provider behind the [`Memory`] trait, exercised through
//! the trait alone (as the stages use it): a reservation is read-write,
//! `finalise` gives each segment its protection and never makes a page
//! writable and executable, an exact address never replaces a mapping, and
//! `truncate` releases what it should.

use crate::error::Error;
use crate::load::memory::{Memory, Protection, Reservation, PAGE};
use crate::process_map;

/// The permissions (`r-xp`...) of the mapping holding `addr`, if any.
fn perms_at(addr: u64) -> Option<String> {
    process_map()
        .unwrap()
        .into_iter()
        .find(|m| m.start <= addr && addr < m.end)
        .map(|m| m.perms)
}

/// Reserves three pages anywhere, writes them, finalises them as text,
/// read-only data and data, and reads them back.
fn finalised<M: Memory>() -> M {
    let mut mem = M::reserve(None, 3 * PAGE).unwrap();
    assert_eq!(mem.len(), 3 * PAGE);
    assert_eq!(mem.base() % PAGE, 0);
    // SAFETY: just reserved, read-write, ours alone.
    let bytes = unsafe { mem.bytes_mut() };
    bytes[0] = 0xc3;
    bytes[PAGE as usize] = 1;
    bytes[2 * PAGE as usize] = 2;
    mem.finalise(&[
        (0, PAGE, Protection::RX),
        (PAGE, PAGE, Protection::R),
        (2 * PAGE, 0, Protection::R),
    ])
    .unwrap();
    assert_eq!(mem.bytes()[..1], [0xc3]);
    assert_eq!(mem.bytes()[PAGE as usize], 1);
    assert_eq!(mem.bytes()[2 * PAGE as usize], 2);
    mem
}

/// Each segment ends with its protection; an empty one changes nothing;
/// no page is writable and executable.
#[test]
fn finalise_protects_each_segment() {
    let mem: Reservation = finalised();
    let base = mem.base();
    assert_eq!(perms_at(base).unwrap(), "r-xp");
    assert_eq!(perms_at(base + PAGE).unwrap(), "r--p");
    assert_eq!(perms_at(base + 2 * PAGE).unwrap(), "rw-p");
    for page in 0..3 {
        let p = perms_at(base + page * PAGE).unwrap();
        assert!(!(p.contains('w') && p.contains('x')), "{p} at page {page}");
    }
}

/// An exact address that is taken is refused with `EEXIST` (what
/// placement retries on), and nothing there is replaced.
#[test]
fn an_exact_address_never_replaces_a_mapping() {
    let mem: Reservation = finalised();
    let Err(Error::Memory { source, addr, .. }) = Reservation::reserve(Some(mem.base()), PAGE)
    else {
        panic!("a taken address was reserved again");
    };
    assert_eq!(
        (source.raw_os_error(), addr),
        (Some(libc::EEXIST), mem.base())
    );
    assert_eq!(mem.bytes()[..1], [0xc3]);
    assert_eq!(perms_at(mem.base()).unwrap(), "r-xp");
}

/// `truncate` releases the tail, which may then be reserved exactly
/// (unless another test's mapping took it meanwhile), and keeps the rest.
#[test]
fn truncate_releases_the_tail() {
    let mem: Reservation = finalised();
    let base = mem.base();
    let mem = mem.truncate(PAGE);
    assert_eq!(mem.len(), PAGE);
    assert_eq!(mem.bytes()[..1], [0xc3]);
    assert_eq!(perms_at(base).unwrap(), "r-xp");
    match Reservation::reserve(Some(base + PAGE), 2 * PAGE) {
        Ok(tail) => assert_eq!(tail.base(), base + PAGE),
        Err(Error::Memory { source, .. }) => assert_eq!(source.raw_os_error(), Some(libc::EEXIST)),
        Err(e) => panic!("{e}"),
    }
}

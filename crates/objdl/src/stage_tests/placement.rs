//! `placement`: which bases a unit may have at all (`check_base`), and the
//! window arithmetic of the choices — in a gap, in the window, aligned,
//! near the preferred targets, 4 GiB from every mapping, or low.

use crate::error::Error;
use crate::link::placement::{
    check_base, choose_auto, choose_far, choose_low, closest_in_gap, gaps, lowest_base, Occupied,
    Request, FAR,
};
use crate::link::plan::{USER_HI, USER_LO};

fn request(size: u64, align: u64, lo: i128, hi: i128, preferred: &[u64]) -> Request<'_> {
    Request {
        size,
        align,
        lo,
        hi,
        preferred,
    }
}

/// A base is possible from `lowest_base` up to where the unit ends at the top of user space.
#[test]
fn check_base_accepts_the_user_range() {
    let size = 0x4000;
    assert!(check_base(lowest_base(), size, "a.o").is_ok());
    assert!(check_base(USER_HI as u64 - size, size, "a.o").is_ok());
    let Err(Error::NoPlacement { size: s, why }) =
        check_base(USER_HI as u64 - size + 1, size, "a.o")
    else {
        panic!("accepted a unit past the top");
    };
    assert_eq!(s, size);
    let why = why.to_string();
    assert!(why.starts_with(&format!(
        "a unit at base {:#x} would end at {:#x}, above the top of user space",
        USER_HI as u64 - size + 1,
        USER_HI as u64 + 1
    )));
    assert!(why.ends_with(&format!(
        "a base of the unit (a.o) must lie in {:#x}..={:#x}",
        lowest_base(),
        USER_HI as u64 - size
    )));
}

/// Bases below the lowest address, non-canonical or in the kernel's half say which.
#[test]
fn check_base_names_the_reason() {
    let why = |base| match check_base(base, 0x1000, "a.o") {
        Err(Error::NoPlacement { why, .. }) => why.to_string(),
        other => panic!("{base:#x}: {other:?}"),
    };
    assert!(why(0x1000).contains("is below"));
    assert!(why(1 << 47).contains("is not a canonical x86-64 address"));
    assert!(why(0xffff_8000_0000_0000).contains("lies in the kernel's half"));
}

/// The gaps between mappings start at the lowest base and end at the top of user space.
#[test]
fn gaps_are_clipped_to_user_space() {
    let low = lowest_base();
    let maps = [Occupied {
        start: low,
        end: low + 0x1000,
    }];
    assert_eq!(gaps(&maps), [(low + 0x1000, USER_HI as u64)]);
    assert_eq!(gaps(&[]), [(low, USER_HI as u64)]);
}

/// closest_in_gap works in i128: windows from addends may lie anywhere.
#[test]
fn closest_in_gap_with_extreme_windows() {
    // A window reaching below zero is cut at the gap's start.
    assert_eq!(
        closest_in_gap(
            (0x10000, 0x100000),
            0x1000,
            0x1000,
            -(1 << 100),
            1 << 100,
            0
        ),
        Some(0x10000)
    );
    // Entirely above the gap: nothing.
    assert_eq!(
        closest_in_gap((0x10000, 0x100000), 0x1000, 0x1000, 0x200000, 0x300000, 0),
        None
    );
    // The last base that leaves room for the unit, aligned down.
    assert_eq!(
        closest_in_gap((0x10000, 0x100000), 0x1800, 0x1000, 0, i128::MAX, i128::MAX),
        Some(0xfe000)
    );
    // A strict alignment rounds the first base up.
    assert_eq!(
        closest_in_gap((0x10001, 0x100000), 0x1000, 0x10000, 0, i128::MAX, 0),
        Some(0x20000)
    );
    // A window of one unaligned address admits no base.
    assert_eq!(
        closest_in_gap((0x10000, 0x100000), 0x1000, 0x1000, 0x12345, 0x12345, 0),
        None
    );
}

/// Far: the highest base at least 4 GiB from every mapping, in the window.
#[test]
fn far_keeps_four_gib_away() {
    let m = Occupied {
        start: 0x5000_0000_0000,
        end: 0x5000_0001_0000,
    };
    let size = 0x10000;
    let any = request(size, 0x1000, USER_LO, USER_HI, &[]);
    let b = choose_far(std::slice::from_ref(&m), &any).unwrap();
    assert_eq!(b, USER_HI as u64 - size);
    // A window just above the mapping: the base keeps FAR from its end.
    let near = request(
        size,
        0x1000,
        m.end as i128,
        m.end as i128 + 2 * FAR as i128,
        &[],
    );
    let b = choose_far(std::slice::from_ref(&m), &near).unwrap();
    assert_eq!(b, m.end + 2 * FAR);
    assert!(b >= m.end + FAR);
    let below = request(size, 0x1000, 0, (m.start - FAR) as i128, &[]);
    let b = choose_far(std::slice::from_ref(&m), &below).unwrap();
    assert!(b + size <= m.start - FAR, "{b:#x}");
}

/// Low: below 2 GiB minus the unit's size, and not below 1 MiB.
#[test]
fn low_stays_below_two_gib() {
    let size = 0x20000;
    let b = choose_low(&[], &request(size, 0x1000, USER_LO, USER_HI, &[])).unwrap();
    assert_eq!(b, (1 << 31) - size);
    let b = choose_low(&[], &request(size, 0x1000, USER_LO, 0x20_0000, &[])).unwrap();
    assert_eq!(b, 0x20_0000);
    // A window wholly below 1 MiB is given up for any low place.
    let b = choose_low(&[], &request(size, 0x1000, 0, 0x8_0000, &[])).unwrap();
    assert_eq!(b, (1 << 31) - size);
}

/// Auto: next to the preferred target, within reach of it.
#[test]
fn auto_goes_near_the_targets() {
    let target = 0x6000_0000_0000u64;
    let size = 0x10000;
    let preferred = [target];
    let req = request(size, 0x1000, USER_LO, USER_HI, &preferred);
    let b = choose_auto(&gaps(&[]), &req).unwrap();
    assert_eq!(b, target - size);
    assert_eq!(req.score(b), 1);
    // Without targets: the top of the mmap area, as the kernel would.
    let b = choose_auto(&gaps(&[]), &request(size, 0x1000, USER_LO, USER_HI, &[])).unwrap();
    assert_eq!(b as i128, USER_HI - (1 << 32));
}

/// Auto: the target's own range taken, the base goes next to it, still in reach.
#[test]
fn auto_goes_around_a_mapping() {
    let target = 0x6000_0000_0000u64;
    let size = 0x10000;
    let preferred = [target];
    let maps = [Occupied {
        start: target - 0x100_0000,
        end: target + 0x100_0000,
    }];
    let req = request(size, 0x1000, USER_LO, USER_HI, &preferred);
    let b = choose_auto(&gaps(&maps), &req).unwrap();
    // Both sides are as close; the first found (below) is kept.
    assert_eq!(b, target - 0x100_0000 - size);
    assert_eq!(req.score(b), 1);
}

/// Auto: a window no gap can hold is an error quoting the window.
#[test]
fn auto_reports_an_impossible_window() {
    let low = lowest_base();
    let maps = [Occupied {
        start: low,
        end: 0x1_0000_0000,
    }];
    let req = request(0x10000, 0x1000, 0x2000_0000, 0x3000_0000, &[]);
    let Err(Error::NoPlacement { why, .. }) = choose_auto(&gaps(&maps), &req) else {
        panic!("placed inside a mapping");
    };
    assert_eq!(
        why.to_string(),
        "no free range of that size lies inside the placement window (window 0x20000000..=0x30000000)"
    );
}

/// score counts the sorted targets every byte of the unit reaches.
#[test]
fn score_counts_targets_in_reach() {
    let base = 0x4000_0000_0000u64;
    let size = 0x1000u64;
    let preferred = [
        base + size - (1 << 31) + 1, // just in reach of the unit's last byte
        base + size - (1 << 31),     // just out of it
        base + 0x10,
        base + (1 << 31) - 1, // just in reach of its first byte
        base + (1 << 31),     // just out of it
    ];
    let mut sorted = preferred.to_vec();
    sorted.sort_unstable();
    let req = request(size, 0x1000, USER_LO, USER_HI, &sorted);
    assert_eq!(req.score(base), 3);
}

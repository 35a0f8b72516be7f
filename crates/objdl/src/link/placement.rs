//! Stage 3c, place: choose the unit's base address and reserve it.
//!
//! The plan gives a window (the bases at which every irreducible reference
//! reaches) and the targets of redirectable references. The policy picks a
//! base inside the window and outside every existing mapping of the process
//! (read from `/proc/self/maps`), and the reservation is made there with
//! `MAP_FIXED_NOREPLACE`.

use crate::arch;
use crate::error::{BaseProblem, Error, PlacementRefusal, PlacementSearch, Result};
use crate::link::layout::{align_up, PAGE};
use crate::link::plan::{USER_HI, USER_LO};
use crate::load::memory::{Memory, Reservation};

/// Where a unit may be placed.
///
/// ```
/// use objdl::Placement;
/// let p: Placement = "far".parse().unwrap();
/// assert_eq!(p, Placement::Far);
/// assert_eq!("0x40000000".parse::<Placement>().unwrap(), Placement::At(0x4000_0000));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Placement {
    /// Inside the window that every irreducible reference allows, as near as
    /// possible to the unit's most-used targets, so that few trampolines and
    /// GOT slots are needed. The default.
    #[default]
    Auto,
    /// More than 4 GiB away from every existing mapping: the executable,
    /// every shared library and every other unit. Every call out of the unit
    /// then goes through a trampoline. The test mode for far targets.
    Far,
    /// In the low 2 GiB of the address space, where 32-bit absolute
    /// references (`-fno-pic` code) to the unit's own code and data fit.
    Low,
    /// Exactly at this (page-aligned) address. It must leave the unit in
    /// user space: at or above `vm.mmap_min_addr` (and 64 KiB), and below
    /// the top of the user address space (47 bits on x86-64); any other
    /// base is refused with the range a base of the unit must lie in.
    At(u64),
}

/// What each policy allows, asked by the pipeline (which never reads the
/// policy itself).
impl Placement {
    /// Whether a unit whose relocations never constrain its base may go
    /// where the kernel first maps it (only `Auto` lets the kernel choose).
    pub(crate) fn kernel_may_choose(self) -> bool {
        self == Placement::Auto
    }

    /// Whether host variables out of reach may be read from copies in the
    /// unit: not under `Far`, the test mode for references that must
    /// really reach.
    pub(crate) fn allows_copies(self) -> bool {
        self != Placement::Far
    }

    /// Whether the bases from `lo` to `hi` are a window this policy can
    /// use: not empty, and under `Low` starting in the low 2 GiB.
    pub(crate) fn admits(self, lo: i128, hi: i128) -> bool {
        lo <= hi && (self != Placement::Low || lo < 1 << 31)
    }

    /// The base asked for, under `At`.
    pub(crate) fn fixed_base(self) -> Option<u64> {
        match self {
            Placement::At(base) => Some(base),
            _ => None,
        }
    }
}

impl std::str::FromStr for Placement {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Placement::Auto),
            "far" => Ok(Placement::Far),
            "low" => Ok(Placement::Low),
            _ => {
                let hex = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X"));
                let v = match hex {
                    Some(h) => u64::from_str_radix(h, 16),
                    None => s.parse::<u64>(),
                };
                v.map(Placement::At)
                    .map_err(|_| format!("`{s}` is not auto, far, low or an address"))
            }
        }
    }
}

/// One line of `/proc/self/maps`.
#[derive(Debug, Clone)]
pub(crate) struct Occupied {
    pub start: u64,
    pub end: u64,
}

/// Reads the process's mappings, sorted by address. Room for the heap to
/// grow and for the stack's guard gap is counted as taken.
pub(crate) fn read_maps() -> Result<Vec<Occupied>> {
    let text = std::fs::read_to_string("/proc/self/maps").map_err(|source| Error::Io {
        path: "/proc/self/maps".into(),
        source,
    })?;
    let mut maps = Vec::new();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        let Some(range) = parts.next() else { continue };
        let Some((a, b)) = range.split_once('-') else {
            continue;
        };
        let (Ok(mut start), Ok(mut end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16))
        else {
            continue;
        };
        let name = parts.nth(4).unwrap_or("");
        if name == "[heap]" {
            end = end.saturating_add(HEAP_ROOM);
        } else if name == "[stack]" {
            start = start.saturating_sub(STACK_ROOM);
        }
        maps.push(Occupied { start, end });
    }
    maps.sort_by_key(|m| m.start);
    Ok(maps)
}

/// Room left above `[heap]` for `brk` to grow into.
const HEAP_ROOM: u64 = 256 << 20;
/// Room left below `[stack]` for the stack to grow into.
const STACK_ROOM: u64 = 256 << 20;
/// Distance `Far` keeps from every mapping.
pub(crate) const FAR: u64 = 4 << 30;
/// Reach of a signed 32-bit displacement.
const REACH: i128 = 1 << 31;

/// The lowest address objdl maps a unit at: `vm.mmap_min_addr` (which the
/// kernel waives for root, who may map even address 0), and never below
/// [`USER_LO`] (64 KiB). Read once.
pub(crate) fn lowest_base() -> u64 {
    static LOWEST: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *LOWEST.get_or_init(|| {
        let min_addr = std::fs::read_to_string("/proc/sys/vm/mmap_min_addr")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(0);
        align_up(min_addr.clamp(USER_LO as u64, USER_HI as u64), PAGE)
    })
}

/// Checks that a unit of `size` bytes (made of the inputs `names`) can have
/// the base `base` at all: at or above [`lowest_base`], and ending at or
/// below the top of user space ([`USER_HI`], [`arch::USER_ADDRESS_END`]). The
/// error names the reason and the range a base of this unit must lie in.
pub(crate) fn check_base(base: u64, size: u64, names: &str) -> Result<()> {
    let lowest = lowest_base();
    let top = USER_HI as u64;
    let highest = top.saturating_sub(size);
    if base >= lowest && base <= highest {
        return Ok(());
    }
    let problem = if base < lowest {
        BaseProblem::BelowLowest
    } else if base >= u64::MAX << arch::USER_ADDRESS_BITS {
        BaseProblem::KernelHalf
    } else if base >= 1 << arch::USER_ADDRESS_BITS {
        BaseProblem::NotCanonical { arch: arch::NAME }
    } else {
        BaseProblem::AboveTop {
            end: u128::from(base) + u128::from(size),
            top,
        }
    };
    Err(Error::NoPlacement {
        size,
        why: PlacementRefusal::BadBase {
            base,
            problem,
            unit: names.to_string(),
            lowest,
            highest,
        },
    })
}

/// Free ranges `[start, end)` between mappings, inside user space (from
/// [`lowest_base`]).
pub(crate) fn gaps(maps: &[Occupied]) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let mut cursor = lowest_base();
    for m in maps {
        let start = m.start.min(USER_HI as u64);
        if start > cursor {
            out.push((cursor, start));
        }
        cursor = cursor.max(m.end);
    }
    if (USER_HI as u64) > cursor {
        out.push((cursor, USER_HI as u64));
    }
    out
}

/// What the placement is asked to satisfy.
pub(crate) struct Request<'a> {
    /// Bytes to reserve (an upper bound on the unit's final size).
    pub size: u64,
    /// Required alignment of the base.
    pub align: u64,
    /// Inclusive bounds on the base from irreducible references.
    pub lo: i128,
    pub hi: i128,
    /// Targets of redirectable references, one per reference (sorted only
    /// when the kernel's choice does not do).
    pub preferred: &'a [u64],
}

impl Request<'_> {
    fn in_window(&self, base: u64) -> bool {
        (base as i128) >= self.lo && (base as i128) <= self.hi && base % self.align == 0
    }

    /// Does every byte of the unit at `base` reach every preferred target?
    fn reaches_all(&self, base: u64) -> bool {
        let lo = (base + self.size) as i128 - REACH + 1;
        let hi = base as i128 + REACH - 1;
        self.preferred
            .iter()
            .all(|&t| (t as i128) >= lo && (t as i128) <= hi)
    }

    /// How many preferred targets every byte of the unit at `base` reaches
    /// (`preferred` sorted).
    pub(crate) fn score(&self, base: u64) -> usize {
        let lo = (base + self.size) as i128 - REACH + 1;
        let hi = base as i128 + REACH - 1;
        let from = self.preferred.partition_point(|&t| (t as i128) < lo);
        let to = self.preferred.partition_point(|&t| (t as i128) <= hi);
        to.saturating_sub(from)
    }
}

/// Reserves memory for the unit according to `policy`. Returns the
/// reservation; it may lie outside the window only when no base inside it
/// is possible, and the caller then reports the violated references.
pub(crate) fn reserve(policy: Placement, req: &Request<'_>) -> Result<Reservation> {
    if policy == Placement::Auto {
        // Fast path: the kernel's own choice is usually next to the
        // shared libraries, which is where most targets are.
        let r = Reservation::reserve(None, req.size)?;
        if req.in_window(r.base()) && req.reaches_all(r.base()) {
            return Ok(r);
        }
    }
    let mut sorted = req.preferred.to_vec();
    sorted.sort_unstable();
    let req = &Request {
        preferred: &sorted,
        ..*req
    };
    match policy {
        Placement::At(addr) => {
            if addr % PAGE != 0 || addr % req.align != 0 {
                return Err(Error::NoPlacement {
                    size: req.size,
                    why: PlacementRefusal::Misaligned {
                        base: addr,
                        align: req.align.max(PAGE),
                        unit: None,
                    },
                });
            }
            Reservation::reserve(Some(addr), req.size)
        }
        Placement::Auto => {
            map_chosen(req.size, |maps| {
                let gaps = gaps(maps);
                // When no base inside the window is free, place the unit
                // anyway: the caller then reports the references that
                // cannot reach, as for `Far` and `Low`.
                choose_auto(&gaps, req).or_else(|_| {
                    let anywhere = Request {
                        lo: USER_LO,
                        hi: USER_HI,
                        ..*req
                    };
                    choose_auto(&gaps, &anywhere)
                })
            })
        }
        Placement::Far | Placement::Low => map_chosen(req.size, |maps| {
            if policy == Placement::Far {
                choose_far(maps, req)
            } else {
                choose_low(maps, req)
            }
        }),
    }
}

/// How often [`map_chosen`] chooses again after losing a race.
const RACE_RETRIES: u32 = 64;

/// Maps `size` bytes at the base `choose` picks from the current mappings.
/// Another thread may map that range between the read of `/proc/self/maps`
/// and the `mmap` (which then fails with `EEXIST`, never replacing it): the
/// maps are read again and a new base is chosen.
fn map_chosen(size: u64, choose: impl Fn(&[Occupied]) -> Result<u64>) -> Result<Reservation> {
    let mut attempts = 0;
    loop {
        let base = choose(&read_maps()?)?;
        match Reservation::reserve(Some(base), size) {
            Err(Error::Memory { ref source, .. })
                if source.raw_os_error() == Some(libc::EEXIST) && attempts < RACE_RETRIES =>
            {
                attempts += 1;
            }
            r => return r,
        }
    }
}

/// The free base in the gap `[start, end)` (room for `size`) and in the
/// window `lo..=hi` closest to `want`, aligned. In `i128`: the window's
/// bounds come from the inputs' addends and may lie anywhere.
pub(crate) fn closest_in_gap(
    gap: (u64, u64),
    size: u64,
    align: u64,
    lo: i128,
    hi: i128,
    want: i128,
) -> Option<u64> {
    let align = i128::from(align);
    let up = |v: i128| (v + align - 1) & !(align - 1);
    let first = up(i128::from(gap.0)).max(up(lo.max(0)));
    let last = i128::from(gap.1.checked_sub(size)?).min(hi) & !(align - 1);
    if first > last {
        return None;
    }
    // `first` is aligned, so aligning down stays inside `first..=last`.
    Some((want.clamp(first, last) & !(align - 1)) as u64)
}

pub(crate) fn choose_auto(gaps: &[(u64, u64)], req: &Request<'_>) -> Result<u64> {
    // Candidates: near each preferred target (at most a few dozen distinct
    // ones matter: take every 1/64th of the sorted list), or the window's middle.
    let mut wants: Vec<i128> = Vec::new();
    let step = (req.preferred.len() / 64).max(1);
    for t in req.preferred.iter().step_by(step) {
        wants.push(*t as i128 - req.size as i128);
        wants.push(*t as i128);
    }
    if wants.is_empty() {
        wants.push(USER_HI - (1 << 32)); // top of the mmap area, like the kernel
    }
    let mut best: Option<(usize, i128, u64)> = None;
    for &want in &wants {
        for &gap in gaps {
            if let Some(b) = closest_in_gap(gap, req.size, req.align, req.lo, req.hi, want) {
                let key = (req.score(b), -(b as i128 - want).abs(), b);
                if best.is_none_or(|(s, d, _)| (key.0, key.1) > (s, d)) {
                    best = Some(key);
                }
            }
        }
    }
    match best {
        Some((_, _, b)) => Ok(b),
        None => Err(no_room(req, PlacementSearch::Window)),
    }
}

pub(crate) fn choose_far(maps: &[Occupied], req: &Request<'_>) -> Result<u64> {
    // Grow every mapping by FAR on both sides, and look for room in what is left.
    let grown: Vec<Occupied> = maps
        .iter()
        .map(|m| Occupied {
            start: m.start.saturating_sub(FAR),
            end: m.end.saturating_add(FAR),
        })
        .collect();
    let gaps = gaps(&grown);
    // Prefer the window; the highest free place, as the kernel would.
    let pick = |lo: i128, hi: i128| {
        gaps.iter()
            .rev()
            .find_map(|&g| closest_in_gap(g, req.size, req.align, lo, hi, i128::MAX))
    };
    pick(req.lo, req.hi)
        .or_else(|| pick(USER_LO, USER_HI))
        .ok_or_else(|| no_room(req, PlacementSearch::Far))
}

pub(crate) fn choose_low(maps: &[Occupied], req: &Request<'_>) -> Result<u64> {
    let gaps = gaps(maps);
    let low_hi = (1i128 << 31) - req.size as i128;
    let pick = |lo: i128, hi: i128| {
        gaps.iter().rev().find_map(|&g| {
            closest_in_gap(
                g,
                req.size,
                req.align,
                lo.max(0x10_0000),
                hi.min(low_hi),
                i128::MAX,
            )
        })
    };
    pick(req.lo, req.hi)
        .or_else(|| pick(USER_LO, USER_HI))
        .ok_or_else(|| no_room(req, PlacementSearch::Low))
}

/// No room for the unit where `search` looked, in `req`'s window.
fn no_room(req: &Request<'_>, search: PlacementSearch) -> Error {
    // Non-negative, so exact as `u128`.
    Error::NoPlacement {
        size: req.size,
        why: PlacementRefusal::NoRoom {
            search,
            lo: req.lo.max(0) as u128,
            hi: req.hi.max(0) as u128,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_between_mappings() {
        // Above the lowest base, whatever vm.mmap_min_addr is here.
        let low = lowest_base();
        let maps = vec![
            Occupied {
                start: low + 0x10000,
                end: low + 0x20000,
            },
            Occupied {
                start: low + 0x30000,
                end: low + 0x40000,
            },
        ];
        let g = gaps(&maps);
        assert_eq!(g[0], (low, low + 0x10000));
        assert_eq!(g[1], (low + 0x20000, low + 0x30000));
        assert_eq!(g[2], (low + 0x40000, USER_HI as u64));
        // Nothing past the top of user space, even next to [vsyscall].
        let high = vec![Occupied {
            start: 0xffff_ffff_ff60_0000,
            end: 0xffff_ffff_ff60_1000,
        }];
        assert!(gaps(&high).iter().all(|&(_, e)| e <= USER_HI as u64));
    }

    #[test]
    fn closest_respects_window_and_alignment() {
        assert_eq!(
            closest_in_gap((0x1000, 0x100000), 0x2000, 0x1000, 0, i128::MAX, 0x5555),
            Some(0x5000)
        );
        assert_eq!(
            closest_in_gap((0x1000, 0x100000), 0x2000, 0x1000, 0x80000, 0x90000, 0),
            Some(0x80000)
        );
        assert_eq!(
            closest_in_gap((0x1000, 0x3000), 0x4000, 0x1000, 0, i128::MAX, 0),
            None
        );
    }

    #[test]
    fn placement_parses() {
        assert_eq!("auto".parse::<Placement>(), Ok(Placement::Auto));
        assert_eq!("low".parse::<Placement>(), Ok(Placement::Low));
        assert_eq!("4096".parse::<Placement>(), Ok(Placement::At(4096)));
        assert!("nowhere".parse::<Placement>().is_err());
    }
}

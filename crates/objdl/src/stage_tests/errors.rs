//! Errors as data: what parse refuses is a [`Malformed`] or
//! [`Unsupported`] variant that carries the numbers (indices, offsets,
//! sizes), asserted here on the variant, not on its message. So are the
//! refusals of placement, of `-l` libraries and of a cache directory.

use super::build::{archive, locate, Obj};
use super::parsed;
use crate::error::{
    BaseProblem, CacheRefusal, Error, LibraryRefusal, Malformed, OutOfReach, Part,
    PlacementRefusal, PlacementSearch, ReloadRefusal, StaticTlsRefusal, UnreachableFix,
    Unsupported,
};
use object::elf;

/// Parse's error for `bytes` (as `t.o`), panicking if it accepts them.
fn refused(bytes: &[u8]) -> Error {
    match crate::input::parse("t.o", bytes) {
        Ok(_) => panic!("parse accepted the object"),
        Err(e) => e,
    }
}

/// The defect of a malformed input, panicking on any other error.
fn defect(err: Error) -> Malformed {
    match err {
        Error::Malformed { file, what } => {
            assert_eq!(file, "t.o");
            what
        }
        other => panic!("not malformed: {other:?}"),
    }
}

/// What an unsupported input uses, panicking on any other error.
fn feature(err: Error) -> Unsupported {
    match err {
        Error::Unsupported { file, what } => {
            assert_eq!(file, "t.o");
            what
        }
        other => panic!("not unsupported: {other:?}"),
    }
}

/// The header checks, each its own variant with the value found.
#[test]
fn header_defects_are_variants() {
    let good = Obj::new().bytes();
    assert_eq!(
        defect(refused(&good[..10])),
        Malformed::TooShort { len: 10 }
    );
    let mut b = good.clone();
    b[0] = 0;
    assert_eq!(defect(refused(&b)), Malformed::NotElf);
    let mut b = good.clone();
    b[4] = elf::ELFCLASS32.0;
    assert_eq!(feature(refused(&b)), Unsupported::ElfClass(1));
    let mut b = good.clone();
    b[5] = elf::ELFDATA2MSB.0;
    assert_eq!(feature(refused(&b)), Unsupported::BigEndian);
    let mut b = good.clone();
    b[18..20].copy_from_slice(&elf::EM_AARCH64.0.to_le_bytes());
    assert_eq!(feature(refused(&b)), Unsupported::Machine(183));
    let mut b = good.clone();
    b[16..18].copy_from_slice(&elf::ET_DYN.0.to_le_bytes());
    assert_eq!(
        feature(refused(&b)),
        Unsupported::FileType {
            e_type: 3,
            interp: false
        }
    );
    // A section header table past the end of the file: object's reason.
    let mut b = good;
    b[0x28..0x30].copy_from_slice(&(1u64 << 40).to_le_bytes()); // e_shoff
    assert!(matches!(
        defect(refused(&b)),
        Malformed::Read {
            part: Part::SectionHeaders,
            ..
        }
    ));
}

/// Section defects name the section and its index, with the bad value.
#[test]
fn section_defects_carry_index_and_values() {
    let mut o = Obj::new();
    o.data(&[0; 8]);
    let good = o.bytes();
    let header = locate::section_header(&good, ".data");
    // sh_addralign (offset 48): not a power of two, then too large.
    let mut b = good.clone();
    b[header + 48..header + 56].copy_from_slice(&24u64.to_le_bytes());
    assert_eq!(
        defect(refused(&b)),
        Malformed::Alignment {
            section: ".data".into(),
            index: 1,
            align: 24
        }
    );
    let mut b = good.clone();
    b[header + 48..header + 56].copy_from_slice(&(1u64 << 31).to_le_bytes());
    assert!(matches!(
        feature(refused(&b)),
        Unsupported::Alignment { index: 1, align, limit, .. } if align == 1 << 31 && limit == 1 << 30
    ));
    // sh_offset (offset 24) near the end of the file.
    let mut b = good.clone();
    let len = b.len();
    b[header + 24..header + 32].copy_from_slice(&(len as u64 - 4).to_le_bytes());
    assert_eq!(
        defect(refused(&b)),
        Malformed::ContentsOutside {
            section: ".data".into(),
            index: 1,
            offset: len as u64 - 4,
            size: 8,
            file_len: len
        }
    );
    // sh_name (offset 0) past the section names.
    let mut b = good;
    b[header..header + 4].copy_from_slice(&0xffff_u32.to_le_bytes());
    assert!(matches!(
        defect(refused(&b)),
        Malformed::NameOffset {
            part: Part::Section(1),
            offset: 0xffff,
            ..
        }
    ));
}

/// Symbol defects name the symbol (by name once it has one, else by index).
#[test]
fn symbol_defects_carry_names_and_values() {
    let mut o = Obj::new();
    let data = o.data(&[0; 8]);
    o.global("g", data, 0, 8);
    let good = o.bytes();
    let at = locate::symbol(&good, "g");
    let mut b = good.clone();
    b[at + 6..at + 8].copy_from_slice(&500u16.to_le_bytes()); // st_shndx
    assert_eq!(
        defect(refused(&b)),
        Malformed::SymbolSection {
            symbol: "g".into(),
            index: 500
        }
    );
    let mut b = good.clone();
    b[at + 8..at + 16].copy_from_slice(&9u64.to_le_bytes()); // st_value
    assert_eq!(
        defect(refused(&b)),
        Malformed::SymbolValue {
            symbol: "g".into(),
            value: 9,
            section: ".data".into(),
            size: 8
        }
    );
    // st_name 0: a global without a name.
    let mut b = good;
    b[at..at + 4].copy_from_slice(&0u32.to_le_bytes());
    assert!(matches!(defect(refused(&b)), Malformed::Nameless { .. }));
    // A name over the limit is unsupported, by the symbol's index.
    let mut o = Obj::new();
    o.undefined(&"x".repeat(crate::limits::MAX_NAME + 1));
    assert!(matches!(
        feature(refused(&o.bytes())),
        Unsupported::LongName { len, .. } if len == crate::limits::MAX_NAME + 1
    ));
}

/// Relocation defects: the section, the offset, the index or width.
#[test]
fn relocation_defects_carry_offsets() {
    let mut o = Obj::new();
    let data = o.data(&[0; 8]);
    let f = o.undefined("f");
    o.reloc(data, 4, f, elf::R_X86_64_64, 0);
    let bytes = o.bytes();
    let err = parsed(&bytes).check_relocations().unwrap_err();
    assert_eq!(
        defect(err),
        Malformed::RelocationOutside {
            section: ".data".into(),
            offset: 4,
            width: 8,
            size: 8
        }
    );
    // r_info's symbol index past the symbol table.
    let mut o = Obj::new();
    let data = o.data(&[0; 8]);
    let f = o.undefined("f");
    o.reloc(data, 0, f, elf::R_X86_64_64, 0);
    let mut b = o.bytes();
    let at = locate::contents(&b, ".rela.data") + 8;
    b[at..at + 8].copy_from_slice(&((1000u64 << 32) | 1).to_le_bytes());
    let err = parsed(&b).check_relocations().unwrap_err();
    assert!(matches!(
        defect(err),
        Malformed::RelocationSymbol {
            symbol: 1000,
            offset: 0,
            ..
        }
    ));
    // Relocations of a NOBITS section.
    let mut o = Obj::new();
    let bss = o.bss(8, 8);
    let f = o.undefined("f");
    o.reloc(bss, 0, f, elf::R_X86_64_64, 0);
    assert!(matches!(
        defect(refused(&o.bytes())),
        Malformed::NoBitsTarget { target, .. } if target == ".bss"
    ));
}

/// A damaged archive is a read error of the archive's header, named after
/// the archive; a thin archive is unsupported.
#[test]
fn archive_defects_are_variants() {
    let mut o = Obj::new();
    o.undefined("foo");
    let main = o.bytes();
    let mut lib = archive(&[("foo.o", &main)], true);
    lib.truncate(30);
    let mut objects = vec![parsed(&main)];
    let err = crate::input::archive::select(&mut objects, &[("lib.a", &lib)], &[], &|_| false)
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Malformed { file, what: Malformed::Read { part: Part::ArchiveSymbolIndex | Part::Archive, .. } }
                if file == "lib.a"
        ),
        "{err:?}"
    );
    let thin = b"!<thin>\n".to_vec();
    let err = crate::input::archive::select(&mut objects, &[("t.a", &thin)], &[], &|_| false)
        .unwrap_err();
    assert!(matches!(
        err,
        Error::Unsupported {
            what: Unsupported::ThinArchive,
            ..
        }
    ));
}

/// An internal error is its own kind, and says it is objdl's bug.
#[test]
fn internal_errors_are_a_kind_of_their_own() {
    let err = Error::Internal {
        file: "t.o".into(),
        what: "an invariant",
        at: None,
    };
    assert_eq!(
        err.to_string(),
        "t.o: internal error: an invariant; this is a bug in objdl, please report it (with the input)"
    );
}

/// An initial-exec reference to a variable that is not thread-local is
/// refused with the reason as a variant.
#[test]
fn initial_exec_of_a_plain_variable_is_a_reason() {
    let mut o = Obj::new();
    // mov x@gottpoff(%rip), %rax
    let text = o.text(&[0x48, 0x8b, 0x05, 0, 0, 0, 0, 0xc3]);
    let data = o.data(&[0; 8]);
    let x = o.global("x", data, 0, 8);
    o.reloc(text, 3, x, elf::R_X86_64_GOTTPOFF, -4);
    let inputs = [o.bytes()];
    let mut u = super::unit(&inputs).unwrap();
    let err = super::demands(&mut u).unwrap_err();
    let Error::StaticTls { symbol, why, .. } = &err else {
        panic!("{err}");
    };
    assert_eq!(symbol, "x");
    assert_eq!(*why, StaticTlsRefusal::NotThreadLocal);
    assert!(
        err.to_string()
            .contains("it is not a thread-local variable of the unit or of a loaded module"),
        "{err}"
    );
}

/// An object with one function, `f`, that returns.
fn one_function() -> Vec<u8> {
    let mut o = Obj::new();
    let text = o.text(&[0xc3]);
    o.func("f", text, 0, 1);
    o.bytes()
}

/// A reload is refused with its reason as a variant: the unit was not
/// opened reloadable, or the input is not one of the unit's.
#[test]
fn reload_refusals_are_variants() {
    let linker = crate::Linker::new();
    let input = || [crate::Input::bytes("f.o", one_function())];
    // SAFETY: the unit's one function returns; nothing runs at open.
    let plain = unsafe { crate::OpenOptions::new().open(&linker, input()) }.unwrap();
    // SAFETY: as above; the reload is refused before anything runs.
    let err =
        unsafe { plain.reload_input(crate::Input::bytes("f.o", one_function())) }.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Reload {
                why: ReloadRefusal::NotReloadable,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "f.o: cannot reload: the unit was not opened reloadable (OpenOptions::reloadable)"
    );
    // SAFETY: as above.
    let hot = unsafe {
        crate::OpenOptions::new()
            .reloadable(true)
            .open(&linker, input())
    }
    .unwrap();
    // SAFETY: as above.
    let err = unsafe { hot.reload_input(crate::Input::bytes("g.o", one_function())) }.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Reload {
                why: ReloadRefusal::NotAnInput,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "g.o: cannot reload: not one of the inputs the unit was opened from"
    );
}

/// The refusals that only ld.so's failure or a limit too large to reach
/// in a test can cause still render as they did, from their data.
#[test]
fn unreachable_refusals_render_from_their_data() {
    let cases: [(Unsupported, &str); 5] = [
        (
            Unsupported::ExecutableStackRefused { why: "no".into() },
            "an executable stack: glibc would not make the stacks executable: no",
        ),
        (
            Unsupported::KeptBlockNotStatic,
            "thread-locals: the new code reaches them with initial-exec or local-exec, but the unit's block is not in static TLS, so it cannot be kept; open the unit again",
        ),
        (
            Unsupported::StaticTlsBlock { why: "no".into() },
            "thread-locals in static TLS: no",
        ),
        (
            Unsupported::InitialExecTls {
                why: StaticTlsRefusal::LdSoRefused { why: "no".into() },
            },
            "initial-exec thread-locals: ld.so could not serve it: no",
        ),
        (
            Unsupported::ReloadableFunctions { limit: 7 },
            "more than 7 functions in one reloadable unit",
        ),
    ];
    for (what, text) in cases {
        assert_eq!(what.to_string(), text);
    }
    assert_eq!(
        UnreachableFix::PicOrLow.to_string(),
        "recompile with -fPIC (or -mcmodel=large), or load with --place low"
    );
}

/// The placement refusal of checking `one_function` at `base`, with
/// `size_limit` if given.
fn placement_refusal(base: u64, size_limit: Option<u64>) -> (u64, PlacementRefusal) {
    let mut opts = crate::OpenOptions::new();
    opts.placement(crate::Placement::At(base))
        .implicit_libraries(false);
    if let Some(limit) = size_limit {
        opts.size_limit(limit);
    }
    let input = crate::Input::bytes("a.o", one_function());
    match crate::Linker::new().check([input], &opts) {
        Err(Error::NoPlacement { size, why }) => (size, why),
        other => panic!("{base:#x}: {other:?}"),
    }
}

/// A base the planner cannot use is refused with the base, the alignment
/// or the range a base must lie in, as data.
#[test]
fn placement_refusals_are_variants() {
    let (size, why) = placement_refusal(0x1000_0800, None);
    let PlacementRefusal::Misaligned {
        base: 0x1000_0800,
        align,
        unit: Some(ref unit),
    } = why
    else {
        panic!("{why:?}");
    };
    assert_eq!(unit, "a.o");
    assert!(align >= 0x1000 && align.is_power_of_two(), "{align:#x}");
    assert_eq!(
        Error::NoPlacement {
            size,
            why: why.clone()
        }
        .to_string(),
        format!(
            "no place for the unit ({size:#x} bytes): 0x10000800 is not aligned to {align:#x}, as the unit (a.o) needs"
        )
    );

    let lowest = crate::link::placement::lowest_base();
    for (base, problem) in [
        (0xffff_8000_0000_0000, BaseProblem::KernelHalf),
        (0, BaseProblem::BelowLowest),
        (
            1 << 47,
            BaseProblem::NotCanonical {
                arch: crate::arch::NAME,
            },
        ),
    ] {
        let (size, why) = placement_refusal(base, None);
        let highest = crate::link::plan::USER_HI as u64 - size;
        assert_eq!(
            why,
            PlacementRefusal::BadBase {
                base,
                problem,
                unit: "a.o".into(),
                lowest,
                highest,
            }
        );
    }
    let (size, why) = placement_refusal(0xffff_8000_0000_0000, None);
    assert_eq!(
        why.to_string(),
        format!(
            "base 0xffff800000000000 lies in the kernel's half of the address space; a base of the unit (a.o) must lie in {lowest:#x}..={:#x}",
            crate::link::plan::USER_HI as u64 - size
        )
    );

    let (size, why) = placement_refusal(0x1000_0000, Some(0x1000));
    assert!(size > 0x1000, "{size:#x}");
    assert_eq!(
        why,
        PlacementRefusal::OverSizeLimit {
            unit: "a.o".into(),
            limit: 0x1000
        }
    );
    assert_eq!(
        why.to_string(),
        "the unit (a.o) needs more than its 0x1000-byte limit"
    );
}

/// No room where it was sought: the search and the window, as data.
#[test]
fn no_room_is_a_variant() {
    use crate::link::placement::{choose_far, choose_low, Occupied, Request};
    let everything = [Occupied {
        start: 0,
        end: u64::MAX,
    }];
    let req = Request {
        size: 0x10000,
        align: 0x1000,
        lo: -5,
        hi: 0x7fff_0000,
        preferred: &[],
    };
    let far = choose_far(&everything, &req).unwrap_err();
    let low = choose_low(&everything, &req).unwrap_err();
    for (err, search) in [(far, PlacementSearch::Far), (low, PlacementSearch::Low)] {
        let Error::NoPlacement { size, why } = err else {
            panic!("{err:?}");
        };
        assert_eq!(size, 0x10000);
        assert_eq!(
            why,
            PlacementRefusal::NoRoom {
                search,
                lo: 0,
                hi: 0x7fff_0000
            }
        );
    }
    assert_eq!(
        PlacementRefusal::NoRoom {
            search: PlacementSearch::Window,
            lo: 0x2000_0000,
            hi: 0x3000_0000
        }
        .to_string(),
        "no free range of that size lies inside the placement window (window 0x20000000..=0x30000000)"
    );
}

/// The placement refusals too large to reach in a test, and the bases
/// above the top, render as they did.
#[test]
fn placement_refusals_render_from_their_data() {
    let cases = [
        (
            PlacementRefusal::TooLarge {
                unit: "a.o, b.o".into(),
                limit: 0x4000_0000,
            },
            "the unit (a.o, b.o) needs more than the 0x40000000-byte limit",
        ),
        (
            PlacementRefusal::TlsTooLarge {
                unit: "a.o".into(),
                limit: 0x4000_0000,
            },
            "the thread-local storage of the unit (a.o) needs more than the 0x40000000-byte limit",
        ),
        (
            PlacementRefusal::Misaligned {
                base: 0x1234,
                align: 0x1000,
                unit: None,
            },
            "0x1234 is not aligned to 0x1000",
        ),
        (
            PlacementRefusal::BadBase {
                base: 0x7fff_ffff_e000,
                problem: BaseProblem::AboveTop {
                    end: 0x8000_0000_1000,
                    top: 0x7fff_ffff_f000,
                },
                unit: "a.o".into(),
                lowest: 0x10000,
                highest: 0x7fff_fffe_c000,
            },
            "a unit at base 0x7fffffffe000 would end at 0x800000001000, above the top of user space (0x7ffffffff000); a base of the unit (a.o) must lie in 0x10000..=0x7ffffffec000",
        ),
        (
            PlacementRefusal::BadBase {
                base: 0x1000,
                problem: BaseProblem::BelowLowest,
                unit: "a.o".into(),
                lowest: 0x10000,
                highest: 0x7fff_fffe_c000,
            },
            "base 0x1000 is below 0x10000, the lowest address objdl maps (vm.mmap_min_addr, and never below 64 KiB); a base of the unit (a.o) must lie in 0x10000..=0x7ffffffec000",
        ),
    ];
    for (why, text) in cases {
        assert_eq!(why.to_string(), text);
    }
}

/// A scratch directory of this test's own, empty.
fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("objdl-errors-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `-l` refusals carry the paths, the size and the directories searched;
/// dlopen's own failure carries dlerror's text.
#[test]
fn library_refusals_are_variants() {
    let dir = scratch("lib");
    let why = |name: &str| match crate::Linker::new().load_library(name, std::slice::from_ref(&dir))
    {
        Err(Error::Library { name: n, why }) => {
            assert_eq!(n, name);
            why
        }
        other => panic!("{name}: {other:?}"),
    };
    std::fs::write(dir.join("libonly.a"), b"!<arch>\n").unwrap();
    let archive = why("only");
    assert_eq!(
        archive,
        LibraryRefusal::StaticArchive {
            path: dir.join("libonly.a")
        }
    );
    assert_eq!(
        archive.to_string(),
        format!(
            "{} is a static archive: open it as an input of the unit",
            dir.join("libonly.a").display()
        )
    );

    std::fs::write(dir.join("libscript.so"), b"GROUP ( )\n").unwrap();
    assert_eq!(
        why("script"),
        LibraryRefusal::ScriptWithoutObjects {
            path: dir.join("libscript.so")
        }
    );
    let big = std::fs::File::create(dir.join("libbig.so")).unwrap();
    big.set_len(0x20000).unwrap();
    assert_eq!(
        why("big"),
        LibraryRefusal::NotSharedObject {
            path: dir.join("libbig.so"),
            len: 0x20000
        }
    );

    let LibraryRefusal::NotFound { name, searched } = why("objdl_no_such_library") else {
        panic!("found objdl_no_such_library");
    };
    assert_eq!(name, "objdl_no_such_library");
    assert_eq!(searched.first(), Some(&dir));
    let text = LibraryRefusal::NotFound {
        name,
        searched: searched.clone(),
    }
    .to_string();
    assert!(text.starts_with(&format!(
        "neither libobjdl_no_such_library.so nor libobjdl_no_such_library.a found in {}, ",
        dir.display()
    )));

    let bad = dir.join("libbad.so");
    std::fs::write(&bad, b"\x7fELF not really").unwrap();
    let LibraryRefusal::Dlopen { dlerror } = why(bad.to_str().unwrap()) else {
        panic!("dlopen accepted {}", bad.display());
    };
    assert!(!dlerror.is_empty());
    assert_eq!(
        LibraryRefusal::NulInPath.to_string(),
        "path contains a NUL byte"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A cache directory is refused with the reason, the mode and the owners
/// as data.
#[test]
fn cache_refusals_are_variants() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("cache");
    let why = |path: &std::path::Path| match crate::check_cache_dir(path) {
        Err(Error::Cache { dir: d, why }) => {
            assert_eq!(d, path);
            why
        }
        other => panic!("{}: {other:?}", path.display()),
    };
    let file = dir.join("file");
    std::fs::write(&file, b"").unwrap();
    assert!(matches!(why(&file), CacheRefusal::NotADirectory));
    let under_file = why(&file.join("sub"));
    assert!(
        matches!(under_file, CacheRefusal::CannotCreate { .. }),
        "{under_file:?}"
    );
    assert!(under_file.to_string().starts_with("cannot create it: "));
    let open = dir.join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let writable = why(&open);
    assert!(
        matches!(writable, CacheRefusal::WritableByOthers { mode: 0o777 }),
        "{writable:?}"
    );
    assert_eq!(
        Error::Cache {
            dir: open.clone(),
            why: writable
        }
        .to_string(),
        format!(
            "{}: refused as a cache directory: writable by others (mode 777): a cache is code",
            open.display()
        )
    );
    assert_eq!(
        CacheRefusal::OtherOwner { owner: 0, me: 1000 }.to_string(),
        "owned by user 0, not by this user (1000): a cache is code"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Why a site is out of reach renders as it did, from its data.
#[test]
fn out_of_reach_renders_from_its_data() {
    let cases = [
        (
            OutOfReach::Value {
                value: -1,
                field: "an unsigned 32-bit field",
            },
            "value 0xffffffffffffffffffffffffffffffff does not fit an unsigned 32-bit field",
        ),
        (
            OutOfReach::Placed {
                base: 0x7f00_0000_0000,
                at: 0x7f00_0000_2010,
                field: "a signed 32-bit field",
            },
            "the unit at 0x7f0000000000 puts it at 0x7f0000002010, outside a signed 32-bit field",
        ),
        (
            OutOfReach::Distance {
                distance: 0x1_0000_0000,
                from: 0x1000,
                field: "a signed 32-bit field",
            },
            "distance 0x100000000 from 0x1000 exceeds a signed 32-bit field",
        ),
        (
            OutOfReach::Distance {
                distance: -0x1_0000_0000,
                from: 0x1000,
                field: "a signed 32-bit field",
            },
            "distance -0x100000000 from 0x1000 exceeds a signed 32-bit field",
        ),
        (
            OutOfReach::StandIn {
                base: 0x7000_0000,
                field: "an unsigned 32-bit field",
            },
            "the trampoline standing in for it in the unit at 0x70000000 would lie outside an unsigned 32-bit field",
        ),
    ];
    for (why, text) in cases {
        assert_eq!(why.to_string(), text);
    }
}

//! `--map`: the address-space picture of `objdl check` and `objdl run`, on
//! the terminal and as SVG. The SVG is parsed as XML and its rows and
//! windows are checked against the addresses `--stats` and `check` print.

use common::{show, stdout, write_file as write};
use objdl_testkit as common;

use std::process::Command;

fn objdl() -> Command {
    common::objdl_command(env!("CARGO_BIN_EXE_objdl"))
}

const PROG: &str = "#include <stdio.h>\nint lib_add(int, int);\nint main(void) { printf(\"sum %d\\n\", lib_add(40, 2)); fprintf(stderr, \"to stderr\\n\"); return 0; }\n";
const LIB: &str = "int lib_add(int a, int b) { return a + b; }\n";

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The first `0x...` word of `line`.
fn address_in(line: &str) -> u64 {
    let word = line
        .split_whitespace()
        .find(|w| w.starts_with("0x"))
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    hex(word.trim_end_matches(','))
}

/// The map's rows: (the window columns, the rest of the line).
fn rows(text: &str) -> Vec<(String, String)> {
    let header = text
        .lines()
        .position(|l| l.starts_with("L2 L4 "))
        .unwrap_or_else(|| panic!("no map header in:\n{text}"));
    let head = text.lines().nth(header).unwrap();
    let width = head.find("address").unwrap();
    text.lines()
        .skip(header + 1)
        .take_while(|l| !l.starts_with("L2 the low"))
        .map(|l| {
            let cols: String = l.chars().take(width).collect();
            let rest: String = l.chars().skip(width).collect();
            (cols, rest)
        })
        .collect()
}

/// `objdl check --map`: the unit where `check` places it, inside its own
/// ±2 GiB, next to libc (in reach), far from the stack; the low 2 and
/// 4 GiB end where they do.
#[test]
fn check_map_on_the_terminal() {
    let d = tempfile::tempdir().unwrap();
    let prog = write(d.path(), "prog.c", PROG);
    let lib = write(d.path(), "lib.c", LIB);
    let out = objdl()
        .args(["check", "--map"])
        .args([&prog, &lib])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let text = stdout(&out);
    let base = address_in(
        text.lines()
            .find(|l| l.starts_with("placement base "))
            .unwrap(),
    );
    let title = text
        .lines()
        .find(|l| l.starts_with("objdl check --map: "))
        .unwrap();
    assert!(
        title.contains("unit prog.c + lib.c at ") && address_in(title) == base,
        "{title}"
    );
    let rows = rows(&text);
    let find = |what: &str| {
        rows.iter()
            .find(|(_, r)| r.contains(what))
            .unwrap_or_else(|| panic!("no row with {what}:\n{text}"))
    };
    // Columns L2, L4, U: the unit is in its own window, not in the low ones.
    let (cols, unit) = find("▶ unit prog.c + lib.c");
    assert_eq!(address_in(unit), base);
    assert_eq!(cols.trim_end(), "      │", "{text}");
    let (cols, libc) = find("libc.so.6");
    assert!(libc.contains("in reach: direct"), "{text}");
    assert_eq!(cols.trim_end(), "      │", "{text}");
    let (_, stack) = find("[stack]");
    assert!(stack.contains("out of reach"), "{text}");
    let (_, exe) = find("objdl (the executable)");
    assert!(
        exe.contains(" -") || exe.contains(" +"),
        "a distance: {exe}"
    );
    assert_eq!(address_in(&find("end of the low 2 GiB").1), 1 << 31);
    assert_eq!(address_in(&find("end of the low 4 GiB").1), 1 << 32);
    // Rows are sorted by address.
    let addresses: Vec<u64> = rows
        .iter()
        .filter(|(_, r)| r.trim_start().starts_with("0x"))
        .map(|(_, r)| address_in(r))
        .collect();
    assert!(addresses.windows(2).all(|w| w[0] <= w[1]), "{text}");
    assert!(text.contains("U  ±2 GiB of unit prog.c + lib.c"), "{text}");
}

/// A -fno-pic unit placed low sits inside both low windows; libc is out of
/// its reach.
#[test]
fn check_map_of_a_low_unit() {
    let d = tempfile::tempdir().unwrap();
    let lib = write(d.path(), "lib.c", LIB);
    let out = objdl()
        .args(["check", "--place", "low", "-fno-pic", "--map"])
        .arg(&lib)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let text = stdout(&out);
    let rows = rows(&text);
    let (cols, unit) = rows
        .iter()
        .find(|(_, r)| r.contains("▶ unit lib.c"))
        .unwrap();
    assert!(address_in(unit) < 1 << 31, "{text}");
    assert_eq!(cols.trim_end(), "│  │  │", "{text}");
    let (cols, libc) = rows.iter().find(|(_, r)| r.contains("libc.so.6")).unwrap();
    assert!(libc.contains("out of reach"), "{text}");
    assert_eq!(cols.trim(), "", "{text}");
}

/// `objdl run --map=FILE.svg` with another unit: the SVG parses, has a
/// row per region with its addresses, the unit's row where `--stats` says
/// it is, and each window's bar over exactly the rows it covers. The
/// program's output is untouched.
#[test]
fn run_map_as_svg() {
    let d = tempfile::tempdir().unwrap();
    let prog = write(d.path(), "prog.c", PROG);
    let lib = write(d.path(), "lib.c", LIB);
    let svg_path = d.path().join("map.svg");
    let out = objdl()
        .args(["run", "--stats", "--unit"])
        .arg(&lib)
        .arg(format!("--map={}", svg_path.display()))
        .arg(&prog)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(stdout(&out), "sum 42\n");
    let err = String::from_utf8_lossy(&out.stderr);
    let stats: Vec<u64> = err
        .lines()
        .filter(|l| l.starts_with("objdl: "))
        .map(|l| hex(l.split(" base ").nth(1).unwrap().split(' ').next().unwrap()))
        .collect();
    assert_eq!(stats.len(), 2, "{err}");
    let (lib_base, prog_base) = (stats[0], stats[1]);

    let text = std::fs::read_to_string(&svg_path).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed SVG");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    let width: f64 = root.attribute("width").unwrap().parse().unwrap();
    let height: f64 = root.attribute("height").unwrap().parse().unwrap();
    let has_class = |n: &roxmltree::Node, c: &str| {
        n.attribute("class")
            .is_some_and(|v| v.split(' ').any(|w| w == c))
    };
    let rows: Vec<roxmltree::Node> = root
        .children()
        .filter(|n| n.is_element() && has_class(n, "row"))
        .collect();
    // A row's vertical position: the first y in it.
    let row_y = |n: &roxmltree::Node| -> f64 {
        n.descendants()
            .find_map(|c| c.attribute("y"))
            .unwrap()
            .parse()
            .unwrap()
    };
    let unit = rows
        .iter()
        .find(|n| has_class(n, "unit"))
        .expect("the unit's row");
    assert_eq!(hex(unit.attribute("data-start").unwrap()), prog_base);
    assert!(unit.attribute("data-name").unwrap().contains("prog.c"));
    let other = rows
        .iter()
        .find(|n| has_class(n, "other-unit"))
        .expect("the other unit's row");
    assert_eq!(hex(other.attribute("data-start").unwrap()), lib_base);
    let libc = rows
        .iter()
        .find(|n| has_class(n, "library") && n.attribute("data-name") == Some("libc.so.6"))
        .expect("libc's row");
    assert!(rows.iter().any(|n| has_class(n, "executable")));
    assert!(rows.iter().any(|n| has_class(n, "stack")));
    // Region rows in address order, top to bottom.
    let regions: Vec<(u64, f64)> = rows
        .iter()
        .filter_map(|n| Some((hex(n.attribute("data-start")?), row_y(n))))
        .collect();
    assert!(
        regions
            .windows(2)
            .all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1),
        "{regions:x?}"
    );
    // Every window's bar spans the rows of what it covers.
    let windows: Vec<roxmltree::Node> = root
        .descendants()
        .filter(|n| n.has_tag_name("rect") && has_class(n, "window"))
        .collect();
    let tags: Vec<&str> = windows
        .iter()
        .map(|w| w.attribute("data-tag").unwrap())
        .collect();
    assert_eq!(tags, ["L2", "L4", "U1", "U2"]);
    let spans = |w: &roxmltree::Node, row: &roxmltree::Node| {
        let y: f64 = w.attribute("y").unwrap().parse().unwrap();
        let h: f64 = w.attribute("height").unwrap().parse().unwrap();
        let r = row_y(row);
        r >= y && r <= y + h
    };
    let reach = windows[3];
    let (lo, hi) = (
        hex(reach.attribute("data-lo").unwrap()),
        hex(reach.attribute("data-hi").unwrap()),
    );
    assert!(lo < prog_base && prog_base < hi);
    assert!(spans(&reach, unit));
    let libc_start = hex(libc.attribute("data-start").unwrap());
    assert_eq!(spans(&reach, libc), libc_start >= lo && libc_start < hi);
    // The low windows end at 2 and 4 GiB, above the rows of the process.
    assert_eq!(hex(windows[0].attribute("data-hi").unwrap()), 1 << 31);
    assert_eq!(hex(windows[1].attribute("data-hi").unwrap()), 1 << 32);
    assert!(!spans(&windows[1], unit));
    // Everything is drawn inside the picture.
    for n in root.descendants().filter(|n| n.is_element()) {
        for (attr, limit) in [("x", width), ("y", height)] {
            if let Some(v) = n.attribute(attr) {
                let v: f64 = v.parse().unwrap();
                assert!((0.0..=limit).contains(&v), "{attr}={v} outside in {n:?}");
            }
        }
    }
}

/// `objdl run --map` writes the picture to stderr, before the program
/// runs; stdout is the program's alone.
#[test]
fn run_map_keeps_stdout_for_the_program() {
    let d = tempfile::tempdir().unwrap();
    let prog = write(d.path(), "prog.c", PROG);
    let lib = write(d.path(), "lib.c", LIB);
    let out = objdl()
        .args(["run", "--map"])
        .args([&prog, &lib])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert_eq!(stdout(&out), "sum 42\n");
    let err = String::from_utf8_lossy(&out.stderr);
    let map_at = err
        .find("objdl run --map: unit prog.c + lib.c")
        .expect(&err);
    assert!(map_at < err.find("to stderr").unwrap(), "{err}");
    assert!(err.contains("▶ unit prog.c + lib.c"), "{err}");
}

//! `--map`: a picture of the address space, showing where a unit lands
//! relative to the executable, the libraries, the heap, the stack and the
//! other units, with the distances and the reach windows that decide how
//! its references are served:
//!
//! - **±2 GiB of the unit**: what a 32-bit displacement (`call rel32`,
//!   RIP-relative data) reaches from every byte of the unit. Targets inside
//!   are called and read directly; calls to targets outside go through
//!   trampolines, and data outside through GOT slots (or is refused, for
//!   plain PIE data loads).
//! - **the low 2 GiB** (`R_X86_64_32S`, `-fno-pic -mcmodel=small` code) and
//!   **the low 4 GiB** (`R_X86_64_32`), where 32-bit absolutes of the unit's
//!   own addresses fit.
//!
//! On the terminal, one row per region (the mappings of one file, a run of
//! anonymous memory, a unit), sorted by address, with the windows as
//! columns of bars on the left; large gaps are rows of their own. With
//! `--map=FILE.svg`, the same picture as an SVG file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// `--map[=FILE]`, shared by `run` and `check`.
#[derive(clap::Args, Debug, Default)]
pub(crate) struct MapArg {
    /// Show where the unit lands among the executable, the libraries, the
    /// stack and the other units, with distances and reach windows (±2 GiB
    /// of the unit, low 2 GiB, low 4 GiB). Without FILE a picture on the
    /// terminal (stderr for run); --map=FILE.svg writes an SVG, any other
    /// FILE the text picture.
    #[arg(
        long,
        value_name = "FILE",
        num_args = 0..=1,
        require_equals = true
    )]
    pub map: Option<Option<PathBuf>>,
}

/// A unit to show.
pub(crate) struct UnitView {
    /// Its inputs' names.
    pub name: String,
    /// Its base address and size.
    pub base: u64,
    pub size: u64,
    /// The bases its irreducible references allow (`LoadStats::window`).
    pub window: (u64, u64),
    /// Host variables read from copies in the unit (`LoadStats::copies`).
    pub copies: usize,
}

impl UnitView {
    /// The unit of `inputs`, as its load figures place it.
    pub(crate) fn of(inputs: &[PathBuf], stats: &objdl::LoadStats) -> UnitView {
        let names: Vec<String> = inputs
            .iter()
            .map(|p| {
                p.file_name().map_or_else(
                    || p.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                )
            })
            .collect();
        UnitView {
            name: names.join(" + "),
            base: stats.base,
            size: stats.size,
            window: stats.window,
            copies: stats.copies,
        }
    }
}

/// Where user space ends: mappings above (`[vsyscall]`) are the kernel's.
const USER_TOP: u64 = 0x0000_8000_0000_0000;
/// Reach of a signed 32-bit displacement.
const REACH: u64 = 1 << 31;
/// Gaps at least this large get a row of their own.
const GAP_ROW: u64 = 1 << 30;
/// Anonymous mappings this close together are one region.
const ANON_MERGE: u64 = 1 << 20;

/// What a region is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The unit being run or checked (index into the units).
    Unit(usize),
    /// Another unit (opened first with `--unit`).
    OtherUnit(usize),
    Executable,
    Library,
    Heap,
    Stack,
    Kernel,
    File,
    Anonymous,
}

impl Kind {
    /// The class name in the SVG.
    fn class(self) -> &'static str {
        match self {
            Kind::Unit(_) => "unit",
            Kind::OtherUnit(_) => "other-unit",
            Kind::Executable => "executable",
            Kind::Library => "library",
            Kind::Heap => "heap",
            Kind::Stack => "stack",
            Kind::Kernel => "kernel",
            Kind::File => "file",
            Kind::Anonymous => "anonymous",
        }
    }
}

/// One row of the picture.
#[derive(Debug, Clone)]
enum Row {
    /// A region: mappings of one file, anonymous memory, a unit.
    Region {
        start: u64,
        end: u64,
        kind: Kind,
        label: String,
    },
    /// A window's edge (`window` opens at `at`, or closes just before it).
    Edge { at: u64, window: usize, opens: bool },
    /// The start of the address space.
    Origin,
    /// Free address space between the rows around it.
    Gap { start: u64, end: u64 },
}

impl Row {
    /// The range the row covers, for the window columns.
    fn range(&self) -> (u64, u64) {
        match *self {
            Row::Region { start, end, .. } | Row::Gap { start, end } => (start, end),
            Row::Edge { at, .. } => (at, at),
            Row::Origin => (0, 0),
        }
    }

    fn address(&self) -> u64 {
        self.range().0
    }
}

/// A reach window: the addresses `[lo, hi)`.
#[derive(Debug, Clone)]
struct Window {
    /// The column's heading (two or three characters).
    tag: String,
    /// What it is, for the legend and the edge rows.
    what: String,
    lo: u64,
    hi: u64,
}

impl Window {
    /// How the window covers `[start, end)`: fully, partly or not at all.
    fn covers(&self, (start, end): (u64, u64)) -> Cover {
        if start >= self.lo && end <= self.hi {
            Cover::Full
        } else if start < self.hi && end > self.lo {
            Cover::Part
        } else {
            Cover::None
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cover {
    Full,
    Part,
    None,
}

/// Everything the picture shows, laid out as rows.
struct Picture {
    title: String,
    units: Vec<UnitView>,
    /// Index of the unit distances are measured from (the main unit).
    primary: usize,
    windows: Vec<Window>,
    rows: Vec<Row>,
}

/// Shows the map `arg` asks for, of the process as it is now, with `units`
/// (the main unit last). `terminal_to_stdout` picks the stream of the text
/// picture (`check` prints its report on stdout; `run` keeps stdout for the
/// program).
pub(crate) fn show(
    arg: &MapArg,
    command: &str,
    units: Vec<UnitView>,
    terminal_to_stdout: bool,
) -> Result<(), String> {
    let Some(target) = &arg.map else {
        return Ok(());
    };
    let maps = objdl::process_map().map_err(|e| e.to_string())?;
    let exe = std::fs::read_link("/proc/self/exe").unwrap_or_default();
    let picture = Picture::new(command, &maps, &exe, units);
    match target {
        None => {
            let text = picture.text();
            if terminal_to_stdout {
                print!("{text}");
            } else {
                eprint!("{text}");
            }
            Ok(())
        }
        Some(path) => {
            let contents = if path.extension().is_some_and(|e| e == "svg") {
                picture.svg()
            } else {
                picture.text()
            };
            std::fs::write(path, contents).map_err(|e| format!("{}: {e}", path.display()))
        }
    }
}

/// `1.5 GiB`, `132 KiB`, `0 B`: a size in binary units.
fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `+40.1 MiB`, `-41.2 TiB`, `0 B`: from `from` to `to`.
fn signed(from: u64, to: u64) -> String {
    if to >= from {
        format!("+{}", human(to - from))
    } else {
        format!("-{}", human(from - to))
    }
}

/// A file's last component.
fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

impl Picture {
    fn new(command: &str, maps: &[objdl::Mapping], exe: &Path, units: Vec<UnitView>) -> Picture {
        let primary = units.len().saturating_sub(1);
        let exe = exe.to_string_lossy();
        let mut regions: Vec<Row> = Vec::new();
        let inside_unit = |m: &objdl::Mapping| {
            units
                .iter()
                .any(|u| m.start >= u.base && m.end <= u.base + u.size)
        };
        for m in maps.iter().filter(|m| m.end <= USER_TOP && !inside_unit(m)) {
            let kind = match m.name.as_str() {
                "" => Kind::Anonymous,
                n if n == exe => Kind::Executable,
                "[heap]" => Kind::Heap,
                "[stack]" => Kind::Stack,
                n if n.starts_with("[v") => Kind::Kernel,
                n if n.starts_with('[') => Kind::Anonymous,
                n if base_name(n).contains(".so") => Kind::Library,
                _ => Kind::File,
            };
            if let Some(Row::Region {
                end,
                kind: last_kind,
                label,
                ..
            }) = regions.last_mut()
            {
                let same_file = kind != Kind::Anonymous && *last_kind == kind && *label == m.name;
                let close_anon =
                    kind == Kind::Anonymous && *last_kind == kind && m.start - *end <= ANON_MERGE;
                // A library's .bss: anonymous memory right after its file.
                let bss = kind == Kind::Anonymous
                    && matches!(*last_kind, Kind::Library | Kind::Executable)
                    && m.start == *end;
                if same_file || close_anon || bss {
                    *end = (*end).max(m.end);
                    continue;
                }
            }
            let label = match kind {
                Kind::Anonymous => String::new(),
                _ => m.name.clone(),
            };
            regions.push(Row::Region {
                start: m.start,
                end: m.end,
                kind,
                label,
            });
        }
        // Shorter names now that the grouping is done.
        for r in &mut regions {
            if let Row::Region { kind, label, .. } = r {
                *label = match kind {
                    Kind::Executable => format!("{} (the executable)", base_name(label)),
                    Kind::Library | Kind::File => base_name(label).to_string(),
                    Kind::Anonymous => "anonymous memory".to_string(),
                    _ => label.clone(),
                };
            }
        }
        for (i, u) in units.iter().enumerate() {
            let (kind, label) = if i == primary {
                (Kind::Unit(i), format!("▶ unit {}", u.name))
            } else {
                (Kind::OtherUnit(i), format!("unit {} (--unit)", u.name))
            };
            regions.push(Row::Region {
                start: u.base,
                end: u.base + u.size,
                kind,
                label,
            });
        }

        let mut windows = vec![
            Window {
                tag: "L2".into(),
                what: "the low 2 GiB: R_X86_64_32S (-fno-pic) absolutes of the unit's addresses"
                    .into(),
                lo: 0,
                hi: 1 << 31,
            },
            Window {
                tag: "L4".into(),
                what: "the low 4 GiB: R_X86_64_32 absolutes of the unit's addresses".into(),
                lo: 0,
                hi: 1 << 32,
            },
        ];
        for (i, u) in units.iter().enumerate() {
            let tag = if units.len() == 1 {
                "U".to_string()
            } else {
                format!("U{}", i + 1)
            };
            windows.push(Window {
                tag,
                what: format!(
                    "±2 GiB of unit {}: direct calls and RIP-relative data reach it",
                    u.name
                ),
                lo: (u.base + u.size).saturating_sub(REACH),
                hi: u.base.saturating_add(REACH).min(USER_TOP),
            });
        }

        let mut points = regions;
        points.push(Row::Origin);
        for (w, win) in windows.iter().enumerate() {
            if win.lo > 0 {
                points.push(Row::Edge {
                    at: win.lo,
                    window: w,
                    opens: true,
                });
            }
            points.push(Row::Edge {
                at: win.hi,
                window: w,
                opens: false,
            });
        }
        // By address; at one address, edges that close before regions,
        // regions before edges that open after them.
        let order = |r: &Row| match r {
            Row::Origin => 0,
            Row::Edge { opens: false, .. } => 1,
            Row::Region { .. } | Row::Gap { .. } => 2,
            Row::Edge { opens: true, .. } => 3,
        };
        points.sort_by(|a, b| {
            (a.address(), order(a), a.range().1).cmp(&(b.address(), order(b), b.range().1))
        });
        // Gap rows between the points, where the space is large.
        let mut rows = Vec::with_capacity(points.len() * 2);
        let mut cursor = 0u64;
        for p in points {
            let (start, end) = p.range();
            if start > cursor && start - cursor >= GAP_ROW {
                rows.push(Row::Gap {
                    start: cursor,
                    end: start,
                });
            }
            cursor = cursor.max(end);
            rows.push(p);
        }
        let u = &units[primary];
        let title = format!(
            "objdl {command} --map: unit {} at {:#x}, {}",
            u.name,
            u.base,
            human(u.size)
        );
        Picture {
            title,
            units,
            primary,
            windows,
            rows,
        }
    }

    /// The unit distances and reach are measured from.
    fn main_unit(&self) -> &UnitView {
        &self.units[self.primary]
    }

    /// What the picture says about a row: its size, its distance from the
    /// main unit, and how the unit reaches it.
    fn describe(&self, row: &Row) -> (String, String, String, String) {
        let u = self.main_unit();
        let reach = &self.windows[2 + self.primary];
        match row {
            Row::Region {
                start,
                end,
                kind,
                label,
            } => {
                let size = human(end - start);
                let (distance, note) = match kind {
                    Kind::Unit(_) => (
                        String::new(),
                        if u.window.0 <= 0x10000 && u.window.1 >= USER_TOP - (1 << 32) {
                            "placement window: anywhere".to_string()
                        } else if u.window.0 > u.window.1 {
                            format!(
                                "placement window: none; {} host variables read from copies",
                                u.copies
                            )
                        } else {
                            format!("placement window {:#x}..={:#x}", u.window.0, u.window.1)
                        },
                    ),
                    _ => (
                        signed(u.base, *start),
                        match reach.covers((*start, *end)) {
                            Cover::Full => "in reach: direct".to_string(),
                            Cover::Part => "partly in reach".to_string(),
                            Cover::None => "out of reach: trampolines, GOT slots".to_string(),
                        },
                    ),
                };
                (size, label.clone(), distance, note)
            }
            Row::Edge { window, opens, .. } => {
                let w = &self.windows[*window];
                let what = if *window < 2 {
                    format!("end of the low {} GiB", if *window == 0 { 2 } else { 4 })
                } else if *opens {
                    format!("{}: -2 GiB from the end of the unit", w.tag)
                } else {
                    format!("{}: +2 GiB from the start of the unit", w.tag)
                };
                (String::new(), what, String::new(), String::new())
            }
            Row::Origin => (
                String::new(),
                "start of the address space".into(),
                String::new(),
                String::new(),
            ),
            Row::Gap { start, end } => (
                String::new(),
                format!("┆ {} free", human(end - start)),
                String::new(),
                String::new(),
            ),
        }
    }

    /// The character of window `w`'s column on `row`.
    fn column(&self, w: usize, row: &Row) -> char {
        let win = &self.windows[w];
        match *row {
            Row::Edge { window, opens, .. } if window == w => {
                if opens {
                    '┬'
                } else {
                    '┴'
                }
            }
            Row::Origin if win.lo == 0 => '┬',
            Row::Origin | Row::Edge { .. } => {
                let at = row.address();
                if at > win.lo && at < win.hi {
                    '│'
                } else {
                    ' '
                }
            }
            _ => match win.covers(row.range()) {
                Cover::Full => '│',
                Cover::Part => '╎',
                Cover::None => ' ',
            },
        }
    }

    /// The picture for the terminal.
    fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", self.title);
        let width = self
            .windows
            .iter()
            .map(|w| w.tag.len() + 1)
            .max()
            .unwrap_or(3);
        let mut head = String::new();
        for w in &self.windows {
            let _ = write!(head, "{:<width$}", w.tag);
        }
        let _ = writeln!(
            out,
            "{head}{:<18}  {:>9}  {:<40}  {:>10}  reach from the unit",
            "address", "size", "what", "distance"
        );
        for row in &self.rows {
            let mut line = String::new();
            for w in 0..self.windows.len() {
                let c = self.column(w, row);
                let _ = write!(line, "{c}{:width$}", "", width = width - 1);
            }
            let (size, what, distance, note) = self.describe(row);
            let address = match row {
                Row::Gap { .. } => String::new(),
                _ => format!("{:#018x}", row.address()),
            };
            let text =
                format!("{line}{address:<18}  {size:>9}  {what:<40}  {distance:>10}  {note}");
            let _ = writeln!(out, "{}", text.trim_end());
        }
        for w in &self.windows {
            let _ = writeln!(out, "{:<width$}{}", w.tag, w.what);
        }
        let _ = writeln!(
            out,
            "│ inside the window  ╎ partly inside  ┬ ┴ where it opens and closes. In reach: direct calls and\n\
             RIP-relative data; out of reach: calls through trampolines, data through GOT slots."
        );
        out
    }

    /// The picture as an SVG document.
    fn svg(&self) -> String {
        const ROW: usize = 22;
        const TOP: usize = 70;
        const COLUMN: usize = 34;
        let columns = self.windows.len() * COLUMN;
        let x_addr = columns + 16;
        let x_box = x_addr + 170;
        let x_size = x_box + 120;
        let x_what = x_size + 16;
        let x_dist = x_what + 330;
        let x_note = x_dist + 16;
        let width = x_note + 430;
        let legend_top = TOP + self.rows.len() * ROW + 20;
        let height = legend_top + (self.windows.len() + 1) * ROW + 10;
        let y = |i: usize| TOP + i * ROW;

        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="DejaVu Sans Mono, monospace" font-size="12">"#
        );
        let _ = writeln!(s, "<title>{}</title>", xml(&self.title));
        let _ = writeln!(
            s,
            "<style>
  .unit rect.box {{ fill: #d62728; }} .other-unit rect.box {{ fill: #ff9896; }}
  .executable rect.box {{ fill: #1f77b4; }} .library rect.box {{ fill: #2ca02c; }}
  .heap rect.box {{ fill: #9467bd; }} .stack rect.box {{ fill: #8c564b; }}
  .kernel rect.box {{ fill: #7f7f7f; }} .file rect.box {{ fill: #bcbd22; }}
  .anonymous rect.box {{ fill: #c7c7c7; }}
  .unit text {{ font-weight: bold; }} .gap text {{ fill: #888; }} .edge text {{ fill: #555; font-style: italic; }}
  rect.window {{ fill-opacity: 0.35; }} rect.window.low {{ fill: #17becf; }} rect.window.reach {{ fill: #ff7f0e; }}
</style>"
        );
        let _ = writeln!(
            s,
            r##"<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>"##
        );
        let _ = writeln!(
            s,
            r#"<text x="8" y="24" font-size="15" font-weight="bold">{}</text>"#,
            xml(&self.title)
        );
        // Column headings.
        for (w, win) in self.windows.iter().enumerate() {
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}" text-anchor="middle" font-weight="bold">{}</text>"#,
                w * COLUMN + COLUMN / 2 + 4,
                TOP - 12,
                xml(&win.tag)
            );
        }
        for (x, label) in [
            (x_addr, "address"),
            (x_box, "size"),
            (x_what, "what"),
            (x_dist, "distance"),
            (x_note, "reach from the unit"),
        ] {
            let anchor = if label == "size" || label == "distance" {
                "end"
            } else {
                "start"
            };
            let x = if label == "size" { x_size } else { x };
            let _ = writeln!(
                s,
                r#"<text x="{x}" y="{}" text-anchor="{anchor}" font-weight="bold">{label}</text>"#,
                TOP - 12
            );
        }
        // The windows: a bar over the rows they cover.
        for (w, win) in self.windows.iter().enumerate() {
            let covered: Vec<usize> = self
                .rows
                .iter()
                .enumerate()
                .filter(|(_, r)| self.column(w, r) != ' ')
                .map(|(i, _)| i)
                .collect();
            let (Some(&first), Some(&last)) = (covered.first(), covered.last()) else {
                continue;
            };
            let class = if w < 2 { "window low" } else { "window reach" };
            let _ = writeln!(
                s,
                r#"<rect class="{class}" data-tag="{}" data-lo="{:#x}" data-hi="{:#x}" x="{}" y="{}" width="{}" height="{}" rx="4"><title>{}</title></rect>"#,
                xml(&win.tag),
                win.lo,
                win.hi,
                w * COLUMN + 8,
                y(first) + ROW / 2 - 9,
                COLUMN - 10,
                (last - first) * ROW + 18,
                xml(&win.what)
            );
        }
        for (i, row) in self.rows.iter().enumerate() {
            let (size, what, distance, note) = self.describe(row);
            let base = y(i) + 15;
            let (class, data) = match row {
                Row::Region {
                    start, end, kind, ..
                } => (
                    format!("row {}", kind.class()),
                    format!(
                        r#" data-start="{start:#x}" data-end="{end:#x}" data-name="{}""#,
                        xml(&what)
                    ),
                ),
                Row::Gap { start, end } => (
                    "row gap".to_string(),
                    format!(r#" data-start="{start:#x}" data-end="{end:#x}""#),
                ),
                Row::Edge { at, window, .. } => (
                    "row edge".to_string(),
                    format!(
                        r#" data-at="{at:#x}" data-window="{}""#,
                        xml(&self.windows[*window].tag)
                    ),
                ),
                Row::Origin => ("row edge".to_string(), r#" data-at="0x0""#.to_string()),
            };
            let _ = writeln!(s, r#"<g class="{class}"{data}>"#);
            match row {
                Row::Gap { .. } => {
                    let _ = writeln!(
                        s,
                        r##"<path d="M{x_addr} {} l8 -4 l8 8 l8 -8 l8 8 l8 -4" fill="none" stroke="#aaa"/>"##,
                        base - 4
                    );
                }
                Row::Region { .. } => {
                    let _ = writeln!(
                        s,
                        r#"<text x="{x_addr}" y="{base}">{:#014x}</text>"#,
                        row.address()
                    );
                    let _ = writeln!(
                        s,
                        r#"<rect class="box" x="{x_box}" y="{}" width="40" height="{}" rx="2"/>"#,
                        y(i) + 3,
                        ROW - 6
                    );
                }
                _ => {
                    let _ = writeln!(
                        s,
                        r##"<line x1="{x_addr}" y1="{}" x2="{}" y2="{}" stroke="#999" stroke-dasharray="4 3"/>"##,
                        y(i) + ROW / 2,
                        x_note - 8,
                        y(i) + ROW / 2
                    );
                    let _ = writeln!(
                        s,
                        r#"<text x="{x_addr}" y="{base}">{:#014x}</text>"#,
                        row.address()
                    );
                }
            }
            for (x, anchor, text) in [
                (x_size, "end", &size),
                (x_what, "start", &what),
                (x_dist, "end", &distance),
                (x_note, "start", &note),
            ] {
                if !text.is_empty() {
                    let _ = writeln!(
                        s,
                        r#"<text x="{x}" y="{base}" text-anchor="{anchor}">{}</text>"#,
                        xml(text)
                    );
                }
            }
            let _ = writeln!(s, "</g>");
        }
        // The legend.
        for (w, win) in self.windows.iter().enumerate() {
            let _ = writeln!(
                s,
                r#"<text class="legend" x="8" y="{}"><tspan font-weight="bold">{}</tspan>  {}</text>"#,
                legend_top + w * ROW,
                xml(&win.tag),
                xml(&win.what)
            );
        }
        let _ = writeln!(
            s,
            r#"<text class="legend" x="8" y="{}">Rows are regions sorted by address (not to scale); zigzag rows are free space. Distances are from the unit's base.</text>"#,
            legend_top + self.windows.len() * ROW
        );
        s.push_str("</svg>\n");
        s
    }
}

/// `text` with XML's special characters escaped.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 has no way to write most control characters.
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

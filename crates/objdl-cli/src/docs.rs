//! What objdl says about itself besides the help of each option: the
//! environment section of `--help`, and shell completions and man pages
//! generated from the clap definitions by two hidden subcommands, which
//! `scripts/install.sh` runs:
//!
//! - `objdl completions SHELL` prints the completion script for bash, zsh,
//!   fish, elvish or powershell;
//! - `objdl manpages DIR` writes `objdl.1`, `objdl-run.1`, `objdl-check.1`
//!   and `objdl-inspect.1` into DIR.

use std::path::Path;

/// The environment section of `objdl --help`, `objdl run --help` and
/// `objdl check --help` (and of the man pages).
pub(crate) const ENVIRONMENT: &str = "\
Environment:
  CC, CXX            compilers for .c, .s, .S and for .cpp/.cc/.cxx inputs (default cc,
                     c++), split on whitespace as make does: CC=\"gcc -m64\"
  CFLAGS, CXXFLAGS, CPPFLAGS, ASFLAGS
                     flags for those compilers, before the command line's -I -D -O -g...
  OBJDL_GDB=1        register units with gdb's JIT interface even when no debugger is
                     attached at load time (it is automatic under gdb)
  OBJDL_PERF_MAP=1   write /tmp/perf-PID.map (functions and trampolines) for perf report
  LD_PRELOAD, GLIBC_TUNABLES
                     set by objdl run when it starts itself again for a sanitizer's
                     runtime or a larger static TLS surplus (OBJDL_RESTARTS counts them)";

/// What `objdl --help` ends with: the exit statuses, then [`ENVIRONMENT`].
pub(crate) fn top_level_help() -> String {
    format!("{}\n\n{ENVIRONMENT}", crate::exit::STATUSES)
}

use clap::CommandFactory as _;

/// The completion script for `shell`, on stdout.
pub(crate) fn completions(shell: clap_complete::Shell) -> Result<u8, String> {
    let mut cmd = crate::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "objdl", &mut out);
    use std::io::Write as _;
    std::io::stdout()
        .write_all(&out)
        .map_err(|e| format!("stdout: {e}"))?;
    Ok(0)
}

/// The man pages, one per visible command (`objdl.1`, `objdl-run.1`...),
/// written into `dir`. clap_mangen renders each; the environment section
/// of the help becomes a proper ENVIRONMENT section.
pub(crate) fn manpages(dir: &Path) -> Result<u8, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut cmd = crate::Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut pages = vec![cmd.clone()];
    pages.extend(cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned());
    for page in pages {
        let man = clap_mangen::Man::new(page.clone());
        let path = dir.join(man.get_filename());
        let mut out = Vec::new();
        man.render_title(&mut out)
            .and_then(|()| man.render_name_section(&mut out))
            .and_then(|()| man.render_synopsis_section(&mut out))
            .and_then(|()| man.render_description_section(&mut out))
            .and_then(|()| {
                if page.get_arguments().any(|a| !a.is_hide_set()) {
                    man.render_options_section(&mut out)
                } else {
                    Ok(())
                }
            })
            .and_then(|()| {
                if page.get_subcommands().any(|s| !s.is_hide_set()) {
                    man.render_subcommands_section(&mut out)
                } else {
                    Ok(())
                }
            })
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if page.get_name() == "objdl" {
            out.extend_from_slice(section_roff("EXIT STATUS", crate::exit::STATUSES).as_bytes());
        }
        if page.get_after_help().is_some() {
            out.extend_from_slice(section_roff("ENVIRONMENT", ENVIRONMENT).as_bytes());
        }
        if page.get_version().is_some() {
            man.render_version_section(&mut out)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        std::fs::write(&path, out).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(0)
}

/// A help section (a title line, then entries that start at column 2 and
/// continue further right: [`ENVIRONMENT`], the exit statuses) as a man
/// page's section `title`: one tagged paragraph per entry.
fn section_roff(title: &str, help: &str) -> String {
    let escape = |t: &str| t.replace('\\', "\\e").replace('-', "\\-");
    let mut out = format!(".SH {title}\n");
    for line in help.lines().skip(1) {
        let text = line.trim();
        if line.len() > 2 && !line[2..].starts_with(' ') {
            // `NAME   text` or a NAME line on its own.
            let (name, rest) = match text.split_once("  ") {
                Some((n, r)) => (n, r.trim()),
                None => (text, ""),
            };
            out.push_str(&format!(".TP\n\\fB{}\\fR\n", escape(name)));
            if !rest.is_empty() {
                out.push_str(&escape(rest));
                out.push('\n');
            }
        } else {
            out.push_str(&escape(text));
            out.push('\n');
        }
    }
    out
}

//! `scripts/install.sh`: the command, its man pages and completions, and
//! the C library with its header, SONAME and pkg-config file, installed
//! under a prefix; then a C host built with `pkg-config --cflags --libs
//! objdl` against the installed files only, run on real objects.
//!
//! The script installs what this build made (`--from`): the test binary's
//! `objdl` and the C API's libraries, which cargo builds for the
//! dev-dependency on objdl-capi.

use common::{show, stdout};
use objdl_testkit as common;

use std::path::{Path, PathBuf};
use std::process::Command;

use objdl_testkit::capi as capi_library;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", show(&out));
    stdout(&out)
}

/// The installed prefix, made once for the tests of this file.
struct Installed {
    _dir: tempfile::TempDir,
    prefix: PathBuf,
    /// What install.sh printed on stderr.
    messages: String,
}

fn install() -> Installed {
    let dir = tempfile::tempdir().unwrap();
    // What the script installs from: this build's files, under the names
    // cargo gives them.
    let from = dir.path().join("build");
    std::fs::create_dir(&from).unwrap();
    let libs = capi_library::library_dir();
    for (target, name) in [
        (PathBuf::from(env!("CARGO_BIN_EXE_objdl")), "objdl"),
        (libs.join("libobjdl_capi.so"), "libobjdl_capi.so"),
        (libs.join("libobjdl_capi.a"), "libobjdl_capi.a"),
    ] {
        std::os::unix::fs::symlink(target, from.join(name)).unwrap();
    }
    // (No space in it: `$(pkg-config ...)` in a shell splits paths there.)
    let prefix = dir.path().join("prefix");
    let out = Command::new("bash")
        .arg(repo().join("scripts/install.sh"))
        .arg("--from")
        .arg(&from)
        .arg(&prefix)
        .env_remove("DESTDIR")
        .output()
        .unwrap();
    assert!(out.status.success(), "install.sh: {}", show(&out));
    Installed {
        _dir: dir,
        prefix,
        messages: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn the_layout_under_the_prefix() {
    let inst = install();
    let p = &inst.prefix;
    for file in [
        "bin/objdl",
        "share/man/man1/objdl.1",
        "share/man/man1/objdl-run.1",
        "share/man/man1/objdl-check.1",
        "share/man/man1/objdl-inspect.1",
        "share/bash-completion/completions/objdl",
        "share/zsh/site-functions/_objdl",
        "share/fish/vendor_completions.d/objdl.fish",
        "include/objdl/objdl.h",
        "lib/libobjdl.a",
        "lib/libobjdl.so",
        "lib/pkgconfig/objdl.pc",
    ] {
        assert!(
            p.join(file).is_file(),
            "{file} missing under {}",
            p.display()
        );
    }
    // The shared library under its full version, with the links the
    // dynamic loader (the SONAME) and the linker (-lobjdl) look for.
    let version = env!("CARGO_PKG_VERSION");
    let soname = capi_library::soname();
    let lib = p.join("lib");
    assert!(lib.join(format!("libobjdl.so.{version}")).is_file());
    assert_eq!(
        std::fs::read_link(lib.join(&soname)).unwrap(),
        PathBuf::from(format!("libobjdl.so.{version}"))
    );
    assert_eq!(
        std::fs::read_link(lib.join("libobjdl.so")).unwrap(),
        PathBuf::from(&soname)
    );
    let dynamic = ok(Command::new("readelf")
        .arg("-d")
        .arg(lib.join(format!("libobjdl.so.{version}"))));
    assert!(
        dynamic.contains(&format!("Library soname: [{soname}]")),
        "{dynamic}"
    );
    // The installed command runs, and says where its prefix's bin is.
    let v = ok(Command::new(p.join("bin/objdl")).arg("--version"));
    assert_eq!(v.trim(), format!("objdl {version}"));
    assert!(
        inst.messages
            .contains(&format!("installed objdl {version} under")),
        "{}",
        inst.messages
    );
    if !std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .any(|d| Path::new(d) == p.join("bin"))
    {
        assert!(
            inst.messages.contains("is not on PATH"),
            "{}",
            inst.messages
        );
    }
}

/// A C host built with `pkg-config --cflags --libs objdl` against the
/// installed files: the header from include/objdl, the shared library
/// through -lobjdl and its SONAME, run with the rpath pkg-config's libdir
/// gives.
#[test]
fn a_c_host_built_with_pkg_config() {
    let inst = install();
    let pc_dir = inst.prefix.join("lib/pkgconfig");
    let pkg_config = |args: &[&str]| {
        ok(Command::new("pkg-config")
            .args(args)
            .arg("objdl")
            .env("PKG_CONFIG_PATH", &pc_dir))
        .trim()
        .to_string()
    };
    assert_eq!(pkg_config(&["--modversion"]), env!("CARGO_PKG_VERSION"));
    let cflags = pkg_config(&["--cflags"]);
    let libs = pkg_config(&["--libs"]);
    let libdir = pkg_config(&["--variable=libdir"]);
    assert_eq!(PathBuf::from(&libdir), inst.prefix.join("lib"));
    assert!(libs.contains("-lobjdl"), "{libs}");
    assert!(
        pkg_config(&["--static", "--libs"]).contains("-lpthread"),
        "Libs.private"
    );

    let d = tempfile::tempdir().unwrap();
    let src_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/install");
    let host = d.path().join("host");
    // As a shell would run `cc host.c $(pkg-config --cflags --libs objdl)`.
    let script = format!(
        "cc -std=c11 -Wall -Wextra -Werror {} -o '{}' $(pkg-config --cflags --libs objdl) -Wl,-rpath,\"$(pkg-config --variable=libdir objdl)\"",
        src_dir.join("host.c").display(),
        host.display()
    );
    let out = Command::new("sh")
        .args(["-c", &script])
        .env("PKG_CONFIG_PATH", &pc_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}\n(cflags {cflags:?}, libs {libs:?}): {}",
        show(&out)
    );
    let needed = ok(Command::new("readelf").arg("-d").arg(&host));
    assert!(
        needed.contains(&format!("Shared library: [{}]", capi_library::soname())),
        "{needed}"
    );

    // Two objects that make one unit: caller.o calls callee.o.
    let caller = d.path().join("caller.c");
    let callee = d.path().join("callee.c");
    std::fs::write(
        &caller,
        "int callee(int);\nint constructed;\n__attribute__((constructor)) static void init(void) { constructed++; }\nint caller(int x) { return callee(x) + 1; }\n",
    )
    .unwrap();
    std::fs::write(&callee, "int callee(int x) { return 2 * x; }\n").unwrap();
    for c in [&caller, &callee] {
        ok(Command::new("cc")
            .args(["-c", "-O2", "-fPIC"])
            .arg(c)
            .arg("-o")
            .arg(c.with_extension("o")));
    }
    let out = ok(Command::new(&host)
        .arg(caller.with_extension("o"))
        .arg(callee.with_extension("o"))
        .env_remove("LD_LIBRARY_PATH"));
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        out,
        format!(
            "header {version}, library {version}\n\
             caller(20) = 41, more than 4 GiB from the host\n\
             noexec: constructor ran 0 times\n"
        )
    );
}

/// The installed completion script loads into bash, and the installed man
/// page renders.
#[test]
fn installed_completions_and_man_page() {
    let inst = install();
    let script = inst.prefix.join("share/bash-completion/completions/objdl");
    let out = ok(Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg("source \"$1\" && complete -p objdl")
        .arg("bash")
        .arg(&script));
    assert!(out.contains("_objdl"), "{out}");
    let page = std::fs::read_to_string(inst.prefix.join("share/man/man1/objdl-run.1")).unwrap();
    assert!(page.contains(".SH ENVIRONMENT"), "{page}");
}

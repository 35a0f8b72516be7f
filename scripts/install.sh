#!/usr/bin/env bash
# Installs objdl under a prefix: the command, its man pages and shell
# completions, and the C library as a C programmer expects it (cargo-c's
# layout, with a pkg-config file):
#
#   PREFIX/bin/objdl
#   PREFIX/share/man/man1/objdl.1, objdl-run.1, objdl-check.1, objdl-inspect.1,
#   objdl-cache.1
#   PREFIX/share/bash-completion/completions/objdl
#   PREFIX/share/zsh/site-functions/_objdl
#   PREFIX/share/fish/vendor_completions.d/objdl.fish
#   PREFIX/include/objdl/objdl.h
#   PREFIX/LIBDIR/libobjdl.so.X.Y.Z, its links libobjdl.so.SOVER and libobjdl.so
#   PREFIX/LIBDIR/libobjdl.a
#   PREFIX/LIBDIR/pkgconfig/objdl.pc
#
# Usage: scripts/install.sh [--libdir DIR] [--from DIR] [PREFIX]
#
#   PREFIX        where to install (default /usr/local; $HOME/.local for one user)
#   --libdir DIR  the library directory under PREFIX (default lib)
#   --from DIR    take objdl, libobjdl_capi.so and libobjdl_capi.a from DIR
#                 (already built) instead of building them with the `dist`
#                 profile (cargo build --profile dist: release, no debug info)
#   DESTDIR       (environment) a staging directory put before every path, for packagers
#
# Building takes about a minute on 2 cores the first time.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
prefix=/usr/local
libdir=lib
from=
while [ $# -gt 0 ]; do
    case $1 in
        --libdir) libdir=$2; shift 2 ;;
        --libdir=*) libdir=${1#--libdir=}; shift ;;
        --from) from=$2; shift 2 ;;
        --from=*) from=${1#--from=}; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "install.sh: unknown option $1 (try --help)" >&2; exit 2 ;;
        *) prefix=$1; shift ;;
    esac
done
case $prefix in
    /*) ;;
    *) prefix=$(cd "$prefix" 2>/dev/null && pwd || echo "$PWD/$prefix") ;;
esac
case $libdir in
    /*) ;;
    *) libdir=$prefix/$libdir ;;
esac
dest=${DESTDIR:-}

if [ -z "$from" ]; then
    echo "install.sh: building objdl with the dist profile (about a minute the first time)" >&2
    (cd "$repo" && cargo build --locked --profile dist -p objdl-cli -p objdl-capi)
    from=${CARGO_TARGET_DIR:-$repo/target}/dist
fi
for f in objdl libobjdl_capi.so libobjdl_capi.a; do
    [ -f "$from/$f" ] || { echo "install.sh: $from/$f is missing" >&2; exit 1; }
done

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)
url=$(sed -n 's/^repository = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)
major=${version%%.*}
rest=${version#*.}
minor=${rest%%.*}
# cargo-c's SONAME rule, as crates/objdl-capi/build.rs applies it.
if [ "$major" = 0 ]; then sover=0.$minor; else sover=$major; fi
soname=$(readelf -d "$from/libobjdl_capi.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" != "libobjdl.so.$sover" ]; then
    echo "install.sh: $from/libobjdl_capi.so has SONAME '$soname', not libobjdl.so.$sover" >&2
    exit 1
fi

bin=$dest$prefix/bin
man1=$dest$prefix/share/man/man1
lib=$dest$libdir
inc=$dest$prefix/include/objdl
install -d "$bin" "$man1" "$lib/pkgconfig" "$inc" \
    "$dest$prefix/share/bash-completion/completions" \
    "$dest$prefix/share/zsh/site-functions" \
    "$dest$prefix/share/fish/vendor_completions.d"

install -m 755 "$from/objdl" "$bin/objdl"
"$from/objdl" manpages "$man1"
"$from/objdl" completions bash >"$dest$prefix/share/bash-completion/completions/objdl"
"$from/objdl" completions zsh >"$dest$prefix/share/zsh/site-functions/_objdl"
"$from/objdl" completions fish >"$dest$prefix/share/fish/vendor_completions.d/objdl.fish"

install -m 644 "$repo/crates/objdl-capi/include/objdl.h" "$inc/objdl.h"
install -m 755 "$from/libobjdl_capi.so" "$lib/libobjdl.so.$version"
ln -sf "libobjdl.so.$version" "$lib/libobjdl.so.$sover"
ln -sf "libobjdl.so.$sover" "$lib/libobjdl.so"
install -m 644 "$from/libobjdl_capi.a" "$lib/libobjdl.a"
sed -e "s|@PREFIX@|$prefix|" -e "s|@LIBDIR@|$libdir|" -e "s|@VERSION@|$version|" -e "s|@URL@|$url|" \
    "$repo/crates/objdl-capi/objdl.pc.in" >"$lib/pkgconfig/objdl.pc"

echo "install.sh: installed objdl $version under $dest$prefix" >&2
case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) echo "install.sh: $prefix/bin is not on PATH: add it (export PATH=\"$prefix/bin:\$PATH\")" >&2 ;;
esac
case ":${PKG_CONFIG_PATH:-}:$(pkg-config --variable pc_path pkg-config 2>/dev/null || true):" in
    *":$libdir/pkgconfig:"*) ;;
    *) echo "install.sh: for pkg-config to find objdl.pc: export PKG_CONFIG_PATH=\"$libdir/pkgconfig\"" >&2 ;;
esac

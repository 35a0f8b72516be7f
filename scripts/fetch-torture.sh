#!/usr/bin/env bash
# Fetches GCC's C torture execution tests (gcc/testsuite/gcc.c-torture/execute:
# small programs that exit 0 when the compiler, linker and loader got them
# right, and abort otherwise) from Debian's gcc-12-source package into a
# cache outside git, for the conformance run (crates/objdl-cli/tests/conformance.rs).
#
# The package is GCC's source as Debian ships it (about 80 MB); only the
# top-level .c files of that directory are kept. Idempotent; prints the
# directory. The cache is $OBJDL_CACHE/gcc-torture, by default .cache/ in
# the repository.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${OBJDL_CACHE:-$repo/.cache}/gcc-torture
mkdir -p "$cache"
exec 9>"$cache/.lock"
if ! flock -n 9; then
    echo "fetch-torture: waiting for another run to finish the cache in $cache" >&2
    flock 9
fi

out="$cache/execute"
if [ ! -f "$out/.complete" ]; then
    echo "fetch-torture: fetching gcc-12-source (about 80 MB) for the C torture tests (seconds on a fast link)" >&2
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    if ! (cd "$tmp" && apt-get download gcc-12-source >/dev/null 2>&1); then
        # The package lists may be missing on a fresh machine.
        apt-get update -qq >/dev/null
        (cd "$tmp" && apt-get download gcc-12-source >/dev/null)
    fi
    echo "fetch-torture: unpacking gcc.c-torture/execute from it" >&2
    dpkg-deb -x "$tmp"/gcc-12-source_*.deb "$tmp/pkg"
    tarball=$(ls "$tmp"/pkg/usr/src/gcc-12/gcc-*.tar.xz | head -n 1)
    tar -xJf "$tarball" -C "$tmp" --wildcards '*/gcc/testsuite/gcc.c-torture/execute/*.c'
    rm -rf "$out"
    mkdir -p "$out"
    find "$tmp" -path '*/gcc.c-torture/execute/*.c' -not -path '*/execute/*/*' -exec cp {} "$out"/ \;
    touch "$out/.complete"
fi
echo "$out"

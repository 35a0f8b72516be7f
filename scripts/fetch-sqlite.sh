#!/usr/bin/env bash
# Fetches the SQLite 3.52 amalgamation (sqlite3.c + shell.c) from the
# `sqlite3` npm package, version 6.0.1, into a cache outside git, and builds
# it in every flavour objdl is tested with:
#
#   pie    gcc's default here (PIE): external data through plain PC32
#   pic    -fPIC: external data through the GOT
#   large  -mcmodel=large
#   nopic  -fno-pic -fno-pie: absolute R_X86_64_32/32S
#
# For each flavour DIR/FLAVOUR/ holds sqlite3.o, shell.o and `native`, the same
# objects linked by gcc. Idempotent; prints the cache directory.
# The cache is $OBJDL_CACHE/sqlite-3.52.0, by default .cache/ in the repository.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${OBJDL_CACHE:-$repo/.cache}/sqlite-3.52.0
mkdir -p "$cache"
# Progress goes to stderr (the tests let it through): a fresh cache takes a
# few minutes, a warm one prints nothing.
say() { echo "fetch-sqlite: $*" >&2; }
exec 9>"$cache/.lock"
if ! flock -n 9; then
    say "waiting for another run to finish the cache in $cache"
    flock 9
fi

src="$cache/src"
if [ ! -f "$src/sqlite3.c" ] || [ ! -f "$src/shell.c" ]; then
    say "fetching the SQLite 3.52 amalgamation (npm package sqlite3@6.0.1; seconds)"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && npm pack --silent sqlite3@6.0.1 >/dev/null)
    tar -xzf "$tmp"/sqlite3-6.0.1.tgz -C "$tmp" package/deps/sqlite-autoconf-3520000.tar.gz
    tar -xzf "$tmp"/package/deps/sqlite-autoconf-3520000.tar.gz -C "$tmp"
    mkdir -p "$src"
    cp "$tmp"/sqlite-autoconf-3520000/{sqlite3.c,shell.c,sqlite3.h,sqlite3ext.h} "$src"/
fi

build() {
    local flavour=$1; shift
    local out="$cache/$flavour"
    [ -x "$out/native" ] && return 0
    say "compiling SQLite, $flavour flavour ($built of 4; about half a minute each on 2 cores, 2 minutes in all)"
    mkdir -p "$out"
    gcc -O2 "$@" -c "$src/sqlite3.c" -o "$out/sqlite3.o.tmp" &
    gcc -O2 "$@" -c "$src/shell.c" -I"$src" -o "$out/shell.o.tmp"
    wait $!
    mv "$out/sqlite3.o.tmp" "$out/sqlite3.o"
    mv "$out/shell.o.tmp" "$out/shell.o"
    local link=()
    [ "$flavour" = nopic ] && link=(-no-pie)
    gcc "${link[@]}" "$out/sqlite3.o" "$out/shell.o" -lm -o "$out/native"
}

built=1; build pie
built=2; build pic -fPIC
built=3; build large -mcmodel=large
built=4; build nopic -fno-pic -fno-pie
echo "$cache"

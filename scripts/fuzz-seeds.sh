#!/usr/bin/env bash
# Seeds for the fuzz targets (fuzz/fuzz_targets/), compiled now from the C,
# C++ and assembly sources of the repository's tests, into
# fuzz/corpus/<target>/ (never committed: .gitignore keeps fuzz/corpus out).
#
#   parse, link   one object per file: every C file in four code models
#                 (PIE, -fPIC, -mcmodel=large, -fno-pic), those with
#                 thread-locals also with TLS descriptors, every .s file,
#                 the C++ files (-fPIC), and the two objects of
#                 crates/objdl/tests/mutation.rs (TLS, IFUNC, COMDAT,
#                 COMMON, constructors, the rarer relocation types);
#   link_pair     pairs of objects that refer to each other, in the
#                 format of fuzz/src/lib.rs (a little-endian u32 length,
#                 the first object, the second);
#   archive       archives of multi_a.o and multi_b.o, which define what
#                 the archive target's fixed object refers to, with and
#                 without a symbol index, and with members nothing needs;
#   place         the objects of `link`, each behind an eight-byte
#                 placement address (fuzz/src/lib.rs: placement_address),
#                 in turn: the lowest base, the top of user space, just
#                 below 2 GiB, 2^64 - 64 KiB, and the fixed address the
#                 other targets use.
#
# Objects over 32 KiB are left out: small inputs keep the fuzzers fast.
#
# Usage: scripts/fuzz-seeds.sh            (needs gcc, g++ and binutils)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
out=fuzz/corpus
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

c=crates/objdl-cli/tests/c
diff=crates/objdl-cli/tests/diff
matrix=crates/objdl-cli/tests/matrix
plugins=crates/objdl-capi/tests/c/plugins
cpp=crates/objdl-cli/tests/cpp

for t in parse link link_pair archive open place reload; do
    mkdir -p "$out/$t"
done

# The C sources embedded in mutation.rs as `const NAME: &str = r#"...`.
embedded() {
    awk -v name="$1" '
        index($0, "const " name ": &str = r#\"") == 1 { on = 1; next }
        on && /^"#;/ { exit }
        on { print }
    ' crates/objdl/tests/mutation.rs >"$work/$2.c"
    [ -s "$work/$2.c" ] || { echo "fuzz-seeds: $1 not found in mutation.rs" >&2; exit 1; }
}
embedded MAIN_C mutation_main
embedded PARTNER_C mutation_partner

# flavour name -> gcc flags
declare -A flags=(
    [pie]="-fPIE"
    [pic]="-fPIC"
    [large]="-mcmodel=large"
    [nopic]="-fno-pic -Wa,-mrelax-relocations=no"
    [gnu2]="-fPIC -mtls-dialect=gnu2"
)

# cc_obj SRC FLAVOUR -> prints the object's path
cc_obj() {
    local src=$1 flavour=$2 base
    base=$(basename "${src%.*}")
    local o="$work/$base-$flavour.o"
    if [ ! -e "$o" ]; then
        # shellcheck disable=SC2086
        gcc -O2 -c -fcommon ${flags[$flavour]} -I "$(dirname "$src")" "$src" -o "$o"
    fi
    echo "$o"
}

# as_obj SRC -> prints the object's path
as_obj() {
    local o
    o="$work/$(basename "${1%.s}")-s.o"
    [ -e "$o" ] || gcc -c "$1" -o "$o"
    echo "$o"
}

# small FILE: is FILE at most 32 KiB?
small() {
    [ "$(stat -c %s "$1")" -le 32768 ]
}

single() {
    small "$1" || return 0
    cp "$1" "$out/parse/$(basename "$1")"
    cp "$1" "$out/link/$(basename "$1")"
}

c_sources=("$c"/*.c "$diff"/*.c "$matrix"/*.c "$plugins"/*.c "$work"/mutation_*.c)
for src in "${c_sources[@]}"; do
    for flavour in pie pic large nopic; do
        single "$(cc_obj "$src" "$flavour")"
    done
done
# TLS descriptors (-mtls-dialect=gnu2), in the sources with thread-locals.
for src in "$c"/tls_a.c "$c"/tls_b.c "$work"/mutation_main.c; do
    single "$(cc_obj "$src" gnu2)"
done
for src in "$diff"/*.s "$matrix"/*.s; do
    single "$(as_obj "$src")"
done
for src in "$cpp"/*.cpp; do
    o="$work/$(basename "${src%.cpp}")-cpp.o"
    g++ -O2 -c -fPIC -I "$cpp" "$src" -o "$o"
    single "$o"
done

# le32 N: N as four little-endian bytes.
le32() {
    local n=$1
    printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' \
        $((n & 255)) $(((n >> 8) & 255)) $(((n >> 16) & 255)) $(((n >> 24) & 255)))"
}

pair() {
    local a=$1 b=$2 name=$3
    small "$a" && small "$b" || return 0
    { le32 "$(stat -c %s "$a")"; cat "$a" "$b"; } >"$out/link_pair/$name"
}

c_pairs=(
    "$c/multi_a.c $c/multi_b.c"
    "$c/fnptr_a.c $c/fnptr_b.c"
    "$c/lifecycle.c $c/lifecycle_b.c"
    "$c/env_common_a.c $c/env_common_b.c"
    "$c/weak_main.c $c/weak_strong.c"
    "$diff/pair_a.c $diff/pair_b.c"
    "$matrix/main.c $matrix/lib.c"
    "$plugins/consumer.c $plugins/provider.c"
    "$work/mutation_main.c $work/mutation_partner.c"
    "$c/tls_a.c $c/tls_b.c"
)
for p in "${c_pairs[@]}"; do
    read -r a b <<<"$p"
    for flavour in pie pic large nopic; do
        pair "$(cc_obj "$a" "$flavour")" "$(cc_obj "$b" "$flavour")" \
            "$(basename "${a%.c}")+$(basename "${b%.c}")-$flavour"
    done
done
pair "$(cc_obj "$c/tls_a.c" gnu2)" "$(cc_obj "$c/tls_b.c" gnu2)" "tls_a+tls_b-gnu2"
pair "$(as_obj "$diff/abs.s")" "$(as_obj "$diff/abs_defs.s")" "abs+abs_defs"
pair "$(as_obj "$matrix/regs_caller.s")" "$(as_obj "$matrix/regs_callee.s")" "regs_caller+regs_callee"
pair "$work/lifecycle-cpp.o" "$work/lifecycle_b-cpp.o" "lifecycle+lifecycle_b-cpp"

for flavour in pie pic; do
    a=$(cc_obj "$c/multi_a.c" "$flavour")
    b=$(cc_obj "$c/multi_b.c" "$flavour")
    extra=$(cc_obj "$c/weak_strong.c" "$flavour")
    rm -f "$work"/*.a
    ar rcs "$work/indexed.a" "$b" "$a"
    ar rcS "$work/unindexed.a" "$b" "$a"
    ar rcs "$work/extra.a" "$extra" "$b" "$(cc_obj "$diff/pair_b.c" "$flavour")" "$a"
    for lib in indexed unindexed extra; do
        cp "$work/$lib.a" "$out/archive/multi-$lib-$flavour.a"
    done
done

# The `open` target starts from the same single objects as `link`.
cp "$out"/link/* "$out/open/"

# `place`: the same objects, each behind a placement address (eight bytes,
# little-endian; the low three bits say where, see placement_address).
addresses=(
    '\x01\x10\x00\x00\x00\x00\x00\x00' # 16 pages from 0: the lowest base
    '\x02\x20\x00\x00\x00\x00\x00\x00' # 32 pages below the top of user space
    '\x03\xf0\x7f\x00\x00\x00\x00\x00' # 16 pages below 2 GiB
    '\x06\x10\x00\x00\x00\x00\x00\x00' # 2^64 - 64 KiB: refused
    '\x00\x00\x00\x10\x00\x00\x00\x00' # 0x10000000, as the other targets
)
i=0
for f in "$out"/link/*; do
    { printf "${addresses[i % ${#addresses[@]}]}"; cat "$f"; } >"$out/place/$(basename "$f")"
    i=$((i + 1))
done

# `reload`: each pair as a first version and a second, and each single
# object as both (a reload that changes nothing).
cp "$out"/link_pair/* "$out/reload/"
for f in "$out"/link/*; do
    { le32 "$(stat -c %s "$f")"; cat "$f" "$f"; } >"$out/reload/self-$(basename "$f")"
done

for t in parse link link_pair archive open place reload; do
    n=$(find "$out/$t" -type f | wc -l)
    size=$(du -sk "$out/$t" | cut -f1)
    echo "fuzz-seeds: $t: $n inputs, ${size} KiB"
done

#!/usr/bin/env bash
# Runs the SQLite shell (`:memory: 'select 1+1;'`) from the same objects with
# objdl and with the alternatives, side by side:
#
#   native            the gcc-linked binary (scripts/fetch-sqlite.sh builds it)
#   objdl             objdl run --no-cache sqlite3.o shell.o -- ARGS
#   objdl (-fPIC)     the same on the -fPIC objects
#   objdl, warm cache objdl run --cache=DIR ...: the second and later runs
#                     map the unit the first linked (the script runs it
#                     once before measuring, under valgrind too)
#   objdl_open, warm  in-process: a driver that opens the objects with the C
#                     API (OBJDL_RTLD_CACHE, warm), calls main, closes
#   tcc -run          tcc atexit_shim.o sqlite3.o -lm -run shell.o ARGS (-fPIC:
#                     tcc has no copy relocations for the PIE objects' stdout...)
#   llvm-jitlink      llvm-jitlink atexit_shim.o sqlite3.o shell.o --args sqlite3 ARGS
#   gcc link + run    gcc sqlite3.o shell.o -lm -o X && X ARGS, timed together
#   dlopen + dlclose  a driver that dlopens libsqlite_shell.so (gcc -shared
#                     from the -fPIC objects, RTLD_NOW), calls its main, dlcloses
#
# tcc and llvm-jitlink get atexit_shim.o (`int atexit(...) { return 0; }`):
# libc.so does not export atexit, and they supply none. objdl does not need it.
#
# Wall time: hyperfine -N (mean ± σ and median over at least $RUNS runs after
# 3 warm-ups). Instructions: valgrind --tool=callgrind, all processes of a
# command summed (deterministic, unlike wall time on a shared machine).
# Missing tools are installed with apt-get when possible; a tool that cannot
# be installed or does not run is reported as "n/a (reason)".
#
# Usage: scripts/compare.sh   RUNS=N: at least N hyperfine runs per command
#                             (50); OBJDL_BIN=path: measure that objdl binary
#                             instead of building one. Results in
#                             target/compare/: table.md, hyperfine.md,
#                             hyperfine.json, callgrind/.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
out=${OBJDL_COMPARE_OUT:-$repo/target/compare}
runs=${RUNS:-50}
args=(:memory: 'select 1+1;')
expect=2

say() { printf 'compare: %s\n' "$*" >&2; }

rm -rf "$out/work" "$out/callgrind"
rm -f "$out"/{table.md,rows.tsv,hyperfine.md,hyperfine.json}
mkdir -p "$out/work" "$out/callgrind"
work=$out/work
# objdl's cache (the warm rows, and the C API's default directory) lives here.
export XDG_CACHE_HOME=$work/xdg
mkdir -p -m 700 "$XDG_CACHE_HOME"

# --- tools -----------------------------------------------------------------
jitlink_path() {
    local p
    for p in /usr/bin/llvm-jitlink-22 /usr/lib/llvm-22/bin/llvm-jitlink; do
        [ -x "$p" ] && { echo "$p"; return 0; }
    done
    return 1
}

missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v tcc >/dev/null || missing+=(tcc)
command -v valgrind >/dev/null || missing+=(valgrind)
jitlink_path >/dev/null || missing+=(llvm-22)
if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]}"
    sudo=()
    [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && sudo=(sudo)
    "${sudo[@]}" apt-get update -qq >&2 || say "apt-get update failed"
    for p in "${missing[@]}"; do
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "$p" >&2 \
            || say "could not install $p"
    done
fi
jitlink=$(jitlink_path || true)
have_hyperfine=$(command -v hyperfine >/dev/null && echo 1 || echo 0)
have_valgrind=$(command -v valgrind >/dev/null && echo 1 || echo 0)

# --- objdl and SQLite ------------------------------------------------------
# OBJDL_BIN=path measures that objdl binary instead of building one.
objdl_why=
if [ -n "${OBJDL_BIN:-}" ]; then
    objdl=$OBJDL_BIN
    [ -x "$objdl" ] || { objdl_why="OBJDL_BIN=$objdl is not executable"; objdl=; }
else
    say "building objdl (release)"
    objdl=$repo/target/release/objdl
    (cd "$repo" && cargo build --release -q -p objdl-cli >&2) \
        || { objdl_why="cargo build --release -p objdl-cli failed"; objdl=; }
fi
say "building the C API (release)"
capi_why=
(cd "$repo" && cargo build --release -q -p objdl-capi >&2) \
    || capi_why="cargo build --release -p objdl-capi failed"
[ -n "$objdl_why" ] && say "$objdl_why"
say "fetching SQLite"
sqlite=$(bash "$repo/scripts/fetch-sqlite.sh") || { say "scripts/fetch-sqlite.sh failed"; exit 1; }
pie=$sqlite/pie
pic=$sqlite/pic

# --- helpers for the other tools -------------------------------------------
printf 'int atexit(void (*f)(void)) { (void)f; return 0; }\n' >"$work/atexit_shim.c"
gcc -O2 -c "$work/atexit_shim.c" -o "$work/atexit_shim.o"

gcc -shared -o "$work/libsqlite_shell.so" "$pic/sqlite3.o" "$pic/shell.o" -lm 2>"$work/so.err"
cat >"$work/dl_driver.c" <<'EOF'
/* dl_driver LIB ARGS...: dlopen(LIB, RTLD_NOW), call its main(ARGS), dlclose. */
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "%s\n", dlerror()); return 125; }
    int (*m)(int, char **) = (int (*)(int, char **))dlsym(h, "main");
    if (!m) { fprintf(stderr, "%s\n", dlerror()); return 125; }
    int rc = m(argc - 1, argv + 1);
    fflush(stdout);
    dlclose(h);
    return rc;
}
EOF
gcc -O2 -o "$work/dl_driver" "$work/dl_driver.c" -ldl

cat >"$work/objdl_driver.c" <<'EOF'
/* objdl_driver A.o B.o ARGS...: objdl_dlopen_unit(A.o, B.o) with the cache,
 * call its main(B.o ARGS), objdl_dlclose. It names neither stdout nor
 * stderr: a PIE host that does holds copies of them, and SQLite's PIE
 * objects would then read objdl's copies, which keep a unit out of the
 * cache. */
#include <objdl.h>
#include <stdio.h>
int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *objs[2] = {argv[1], argv[2]};
    void *h = objdl_dlopen_unit(objs, 2, OBJDL_RTLD_LOCAL | OBJDL_RTLD_CACHE, OBJDL_PLACE_AUTO);
    if (!h) { dprintf(2, "%s\n", objdl_dlerror()); return 125; }
    int (*m)(int, char **) = (int (*)(int, char **))objdl_dlsym(h, "main");
    if (!m) { dprintf(2, "%s\n", objdl_dlerror()); return 125; }
    int rc = m(argc - 2, argv + 2);
    fflush(NULL);
    objdl_dlclose(h);
    return rc;
}
EOF
# The library is found at run time by its SONAME (libobjdl.so.0.MINOR), as
# an installed one would be: a link named so, in a directory of the rpath.
capi=$repo/target/release/libobjdl_capi.so
soname=$(readelf -d "$capi" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
mkdir -p "$work/lib" && [ -n "$soname" ] && ln -sf "$capi" "$work/lib/$soname"
[ -z "$capi_why" ] && { gcc -O2 -I"$repo/crates/objdl-capi/include" -o "$work/objdl_driver" \
    "$work/objdl_driver.c" -L"$repo/target/release" -lobjdl_capi -Wl,-rpath,"$work/lib" \
    2>"$work/objdl_driver.err" || capi_why="the driver does not build: $(head -c 200 "$work/objdl_driver.err")"; }

cat >"$work/gcc-link-run.sh" <<EOF
#!/usr/bin/env bash
# gcc link + run, as one command.
set -e
gcc "$pie/sqlite3.o" "$pie/shell.o" -lm -o "$work/linked"
"$work/linked" "\$@"
EOF

# --- the contenders: name|objects|command (words separated by \x1f) --------
names=()
declare -A objs cmd why warm
add() { # add NAME OBJECTS WORD...
    local name=$1 o=$2; shift 2
    names+=("$name")
    objs[$name]=$o
    local IFS=$'\x1f'
    cmd[$name]="$*"
}
add "native (gcc-linked binary)" PIE "$pie/native" "${args[@]}"
if [ -n "$objdl" ]; then
    add "objdl run" PIE "$objdl" run --no-cache "$pie/sqlite3.o" "$pie/shell.o" -- "${args[@]}"
    add "objdl run (-fPIC objects)" -fPIC "$objdl" run --no-cache "$pic/sqlite3.o" "$pic/shell.o" -- "${args[@]}"
    add "objdl run, warm cache" PIE "$objdl" run --cache="$work/objdl-cache" "$pie/sqlite3.o" "$pie/shell.o" -- "${args[@]}"
    warm["objdl run, warm cache"]=1
else
    why["objdl run"]=$objdl_why
    names+=("objdl run"); objs["objdl run"]=PIE
fi
if command -v tcc >/dev/null; then
    add "tcc -run" -fPIC tcc "$work/atexit_shim.o" "$pic/sqlite3.o" -lm -run "$pic/shell.o" "${args[@]}"
else
    why["tcc -run"]="tcc not installed"
    names+=("tcc -run"); objs["tcc -run"]=-fPIC
fi
if [ -n "$jitlink" ]; then
    add "llvm-jitlink ($(basename "$jitlink"))" PIE "$jitlink" "$work/atexit_shim.o" "$pie/sqlite3.o" "$pie/shell.o" --args sqlite3 "${args[@]}"
else
    why["llvm-jitlink"]="llvm-22 not installed"
    names+=("llvm-jitlink"); objs["llvm-jitlink"]=PIE
fi
w_open="objdl_dlopen_unit + objdl_dlclose, warm cache"
if [ -z "$capi_why" ]; then
    add "$w_open" PIE "$work/objdl_driver" "$pie/sqlite3.o" "$pie/shell.o" "${args[@]}"
    warm[$w_open]=1
else
    why[$w_open]=$capi_why
    names+=("$w_open"); objs[$w_open]=PIE
fi
add "gcc link + run" PIE bash "$work/gcc-link-run.sh" "${args[@]}"
if [ -f "$work/libsqlite_shell.so" ]; then
    add "dlopen + dlclose (.so)" -fPIC "$work/dl_driver" "$work/libsqlite_shell.so" "${args[@]}"
else
    why["dlopen + dlclose (.so)"]="gcc -shared failed: $(head -c 200 "$work/so.err")"
    names+=("dlopen + dlclose (.so)"); objs["dlopen + dlclose (.so)"]=-fPIC
fi

words() { local IFS=$'\x1f'; read -r -a w <<<"${cmd[$1]}"; }

# Each must run and print the right answer before it is measured.
for n in "${names[@]}"; do
    [ -n "${why[$n]:-}" ] && continue
    words "$n"
    got=$(cd "$work" && timeout 120 "${w[@]}" 2>"$work/probe.err")
    rc=$?
    if [ $rc -ne 0 ] || [ "$got" != "$expect" ]; then
        err=$(grep -v '^$' "$work/probe.err" | head -n 1 | cut -c1-120)
        [ $rc -eq 139 ] && err="segmentation fault${err:+; $err}"
        [ $rc -eq 124 ] && err="timed out"
        why[$n]="exit $rc, printed '$(head -c 40 <<<"$got")'${err:+: $err}"
        say "$n: ${why[$n]}"
    fi
done

# The warm rows' cache is filled by the probe above (objdl run writes its
# entry from a detached process: give it a moment).
sleep 1

# --- wall time: hyperfine ---------------------------------------------------
quote() { local s=() a; for a in "$@"; do s+=("$(printf '%q' "$a")"); done; echo "${s[*]}"; }
hf=()
for n in "${names[@]}"; do
    [ -n "${why[$n]:-}" ] && continue
    words "$n"
    hf+=(-n "$n" "$(quote "${w[@]}")")
done
if [ "$have_hyperfine" = 1 ] && [ ${#hf[@]} -gt 0 ]; then
    say "hyperfine: at least $runs runs of each"
    (cd "$work" && hyperfine -N --warmup 3 --min-runs "$runs" \
        --export-markdown "$out/hyperfine.md" --export-json "$out/hyperfine.json" \
        "${hf[@]}" >&2) || say "hyperfine failed; see above"
fi

# --- instructions: callgrind ------------------------------------------------
declare -A instr
if [ "$have_valgrind" = 1 ]; then
    i=0
    for n in "${names[@]}"; do
        [ -n "${why[$n]:-}" ] && continue
        i=$((i + 1))
        words "$n"
        say "callgrind: $n"
        d=$out/callgrind/$i
        mkdir -p "$d"
        if [ -n "${warm[$n]:-}" ]; then
            # Under valgrind the libraries lie elsewhere: fill the cache
            # under valgrind first.
            (cd "$work" && valgrind -q --tool=none "${w[@]}" >/dev/null 2>&1)
            sleep 1
        fi
        if (cd "$work" && timeout 300 valgrind -q --tool=callgrind --trace-children=yes \
            --callgrind-out-file="$d/callgrind.out.%p" "${w[@]}" >"$d/stdout" 2>"$d/stderr"); then
            instr[$n]=$(cat "$d"/callgrind.out.* | awk '/^summary:/ { s += $2 } END { print s + 0 }')
        else
            instr[$n]="n/a (fails under valgrind: $(grep -v '^$' "$d/stderr" | head -n 1 | cut -c1-80))"
        fi
    done
fi

# --- the table ----------------------------------------------------------------
{
    for n in "${names[@]}"; do
        printf '%s\t%s\t%s\t%s\n' "$n" "${objs[$n]}" "${why[$n]:-}" "${instr[$n]:-}"
    done
} >"$out/rows.tsv"
python3 - "$out/rows.tsv" "$out/hyperfine.json" "$have_hyperfine" "$have_valgrind" >"$out/table.md" <<'EOF'
import json, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
times = {}
try:
    for r in json.load(open(sys.argv[2]))["results"]:
        times[r["command"]] = r
except (OSError, ValueError, KeyError):
    pass
have_hf, have_vg = sys.argv[3] == "1", sys.argv[4] == "1"
ref = next((r for r in rows if r[0] == "objdl run"), None)
ref_t = times.get("objdl run", {}).get("mean")
ref_i = int(ref[3]) if ref and ref[3].isdigit() else None

def ms(s):
    return f"{s * 1e3:.2f} ms" if s < 1 else f"{s:.3f} s"

print("| tool | objects | mean wall time ± σ | median | vs objdl | instructions (M) | vs objdl |")
print("|---|---|---|---|---|---|---|")
for name, objs, why, ins in rows:
    if why:
        print(f"| {name} | {objs} | n/a ({why}) | | | | |")
        continue
    t = times.get(name)
    if t:
        wall = f"{ms(t['mean'])} ± {ms(t['stddev'])}"
        med = ms(t["median"])
        wr = f"{t['mean'] / ref_t:.2f}×" if ref_t else "n/a"
    else:
        wall = "n/a (" + ("hyperfine failed" if have_hf else "hyperfine not installed") + ")"
        med, wr = "", ""
    if ins.isdigit():
        im = f"{int(ins) / 1e6:.1f}"
        ir = f"{int(ins) / ref_i:.2f}×" if ref_i else "n/a"
    else:
        im = ins or "n/a (" + ("valgrind not installed" if not have_vg else "not measured") + ")"
        ir = ""
    print(f"| {name} | {objs} | {wall} | {med} | {wr} | {im} | {ir} |")
EOF
echo
echo "SQLite shell, \`:memory: 'select 1+1;'\`, $(nproc) cores; wall time: hyperfine -N, >= $runs runs; instructions: callgrind, every process of the command"
echo
cat "$out/table.md"

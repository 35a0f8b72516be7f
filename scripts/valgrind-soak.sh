#!/usr/bin/env bash
# Leak check of objdl under valgrind (memcheck), in two runs:
#
#   1. `objdl run` (release) of a small C program with constructors,
#      destructors, atexit handlers and thread-local variables (-fPIC), which
#      returns from main so that objdl closes the unit and exits.
#   2. The soak test (release), which opens and closes such a unit
#      OBJDL_SOAK_CYCLES times (default here: 300) in one process, with a
#      helper thread touching its TLS in every cycle.
#
# Memory still reachable at exit (objdl's and std's caches, libc's buffers)
# is fine; what must be 0 is "definitely lost" and "indirectly lost". The
# script prints both figures for each run and exits non-zero if either is
# not 0 or valgrind reports an error.
#
# Installs valgrind with apt-get if it is missing.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

if ! command -v valgrind >/dev/null; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq valgrind
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/prog.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__thread int tls_counter = 5;
static __thread char tls_buffer[256];
static int events;

static void on_exit_1(void) { events += 1; }
static void on_exit_2(void) { events += 10; }
__attribute__((constructor)) static void init(void) {
    atexit(on_exit_1);
    atexit(on_exit_2);
    events = 100;
}
__attribute__((destructor)) static void fini(void) { events += 1000; }

int main(int argc, char **argv) {
    for (int i = 0; i < 1000; i++) {
        tls_counter += i & 3;
        tls_buffer[i & 255] ^= (char)i;
    }
    char *copy = strdup(argc > 0 && argv[0] ? argv[0] : "prog");
    printf("tls_counter=%d events=%d %s\n", tls_counter, events, copy ? "ok" : "no");
    free(copy);
    return 0;
}
EOF
gcc -O2 -g -c -fPIC "$work/prog.c" -o "$work/prog.o"

echo "== building (release)"
cargo build --release -q -p objdl-cli
soak_bin=$(cargo test --release -p objdl --test soak --no-run 2>&1 |
    grep -o 'target/release/deps/soak-[0-9a-f]*' | tail -n 1)
[ -x "$soak_bin" ] || { echo "no soak test binary found" >&2; exit 2; }

status=0

# Runs valgrind on "$@", prints the leak summary, and checks it.
check() {
    local name=$1
    shift
    local log="$work/$name.log"
    echo "== $name: valgrind $*"
    if ! valgrind --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
        --log-file="$log" "$@"; then
        echo "$name: FAILED (valgrind errors or the program failed)"
        status=1
    fi
    grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable|All heap blocks were freed' "$log" |
        sed -e 's/^==[0-9]*== */  /'
    local definite indirect
    definite=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d ,)
    indirect=$(sed -n 's/.*indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tr -d ,)
    echo "$name: definitely lost ${definite:-0} bytes, indirectly lost ${indirect:-0} bytes"
    if [ "${definite:-0}" != 0 ] || [ "${indirect:-0}" != 0 ]; then
        sed -e 's/^==[0-9]*== */  /' "$log" | grep -A30 'are definitely lost\|are indirectly lost' || true
        status=1
    fi
}

RUST_BACKTRACE=0 check objdl-run target/release/objdl run "$work/prog.o"
RUST_BACKTRACE=0 OBJDL_SOAK_CYCLES=${OBJDL_SOAK_CYCLES:-300} check soak "$soak_bin" --test-threads=1 --nocapture

if [ "$status" = 0 ]; then
    echo "valgrind-soak: no leaks"
else
    echo "valgrind-soak: FAILED"
fi
exit "$status"

#!/usr/bin/env bash
# Fuzzes everything objdl does before loaded code would run: parsing,
# archive reading, symbol resolution, planning and the relocation
# arithmetic, through `Linker::check` at a fixed address (nothing is mapped)
# and through a real open with no_exec; no input's code ever runs. The
# targets are in fuzz/fuzz_targets/:
#
#   parse      objdl::inspect::inspect on one object
#   archive    the input as an archive, linked with a fixed small object
#   link       the input as one object, linked
#   link_pair  the input split into two objects, linked as one unit
#   open       the input as one object, opened for real with no_exec
#              (mapped and relocated where the kernel puts it; nothing runs)
#   place      the input's first eight bytes as the placement address
#              (fuzz/src/lib.rs: placement_address), the rest as one object,
#              linked at that address: the checks on the base, and every
#              address computation with the unit at the edges of the space
#   reload     the input split into two objects: the first opened
#              reloadable for real (no_exec), then reloaded as the second
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS   how long each target runs (default 60)
#   TARGET    the targets to run (default: all seven)
#
# It installs cargo-fuzz if it is missing (`cargo install`, from crates.io),
# makes the seed corpus (scripts/fuzz-seeds.sh), builds the targets with
# libFuzzer and overflow checks, and runs each one. cargo-fuzz builds on
# stable Rust with `-s none` (no sanitizer: only -Z flags need nightly, and
# the coverage instrumentation it asks for is stable); objdl is safe Rust
# where these targets go, and overflow checks and bounds checks are the
# oracles, with the contracts in fuzz/src/lib.rs. FUZZ_SANITIZER=address
# builds with AddressSanitizer instead, through RUSTC_BOOTSTRAP=1 (about
# eight times slower).
#
# A crash, panic, timeout or out-of-memory fails the script; the input that
# did it is in fuzz/artifacts/TARGET/ and its path is printed. Reproduce it
# with `cargo fuzz run -s none TARGET PATH` (from the repository's root).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

seconds=${1:-60}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(parse archive link link_pair open place reload)
fi

cargo_fuzz_version=0.13.2
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz $cargo_fuzz_version"
    cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
fi

bash scripts/fuzz-seeds.sh

sanitizer=${FUZZ_SANITIZER:-none}
if [ "$sanitizer" != none ]; then
    # The sanitizers are a -Z flag: let stable rustc accept it.
    export RUSTC_BOOTSTRAP=1
fi
build=(-s "$sanitizer" --debug-assertions)
cargo fuzz build "${build[@]}"

# Overflow checks are an oracle (fuzz/Cargo.toml and --debug-assertions ask
# for them): check that every target really has them. Core's overflow
# panic is linked in only if some code calls it, and only code built with
# overflow checks does (the standard library is built without them).
bin_dir="fuzz/target/$(rustc -vV | sed -n 's/^host: //p')/release"
for t in "${targets[@]}"; do
    # (grep reads all of nm's output: with -q, nm's SIGPIPE would fail the pipe.)
    if ! nm "$bin_dir/$t" | grep 'panic_const_add_overflow' >/dev/null; then
        echo "fuzz: $t was built without overflow checks ($bin_dir/$t)"
        exit 1
    fi
done
echo "fuzz: overflow checks are on in ${targets[*]}"

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=()
summary=()
for t in "${targets[@]}"; do
    echo "fuzz: $t for ${seconds}s"
    log="$logs/$t.log"
    status=0
    cargo fuzz run "${build[@]}" "$t" -- \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    corpus=$(find "fuzz/corpus/$t" -type f | wc -l)
    if [ "$status" -ne 0 ]; then
        # What went wrong (a panic's message, libFuzzer's verdict), then the end.
        grep -E -A3 "panicked at|ERROR: libFuzzer|ERROR: AddressSanitizer" "$log" | head -n 40 || true
        tail -n 15 "$log"
        artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        echo "fuzz: $t FAILED (exit $status) after ${runs:-?} executions; input: ${artifact:-see the log above}"
        failed+=("$t")
        summary+=("$t: FAILED, ${runs:-?} executions, input ${artifact:-?}")
    else
        summary+=("$t: ${runs:-?} executions in ${seconds}s, corpus $corpus inputs, no crash")
    fi
done

echo "fuzz: summary"
for line in "${summary[@]}"; do
    echo "  $line"
done
# The plain closing line: targets that ran clean, and that crashed.
echo "fuzz: $((${#targets[@]} - ${#failed[@]})) passed, ${#failed[@]} failed"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: target(s) failed: ${failed[*]}"
    exit 1
fi

#!/usr/bin/env bash
# Whole-process disassembly time: `sockasm dump --disasm --raw F` against
# `llvm-objdump-19 -d` on an object holding the same bytes.
#
#   scripts/bench-disasm.sh [N]      # N instructions (slots), default 100000
#
# Uses hyperfine if installed (apt-get install hyperfine), else a timing loop.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-100000}
RUNS=${RUNS:-20}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

for tool in llvm-mc-19 llvm-objdump-19; do
    command -v "$tool" >/dev/null || { echo "$tool not found: install llvm-19" >&2; exit 1; }
done

cargo build --release --quiet --bin sockasm
# The benchmark binary doubles as the input generator (same mix it times).
cargo bench --quiet --bench disasm -- --gen "$WORK/prog.bin" "$N" >/dev/null
printf '.text\n.incbin "%s"\n' "$WORK/prog.bin" > "$WORK/prog.s"
llvm-mc-19 -triple=bpfel -mcpu=v4 -filetype=obj "$WORK/prog.s" -o "$WORK/prog.o"

SOCKASM="target/release/sockasm dump --disasm --raw $WORK/prog.bin"
SOCKASM_PLAIN="target/release/sockasm dump --disasm --no-annotate --raw $WORK/prog.bin"
OBJDUMP="llvm-objdump-19 -d --no-print-imm-hex $WORK/prog.o"
OBJDUMP_PLAIN="llvm-objdump-19 -d --no-print-imm-hex --no-show-raw-insn $WORK/prog.o"

echo "input: $N slots ($(stat -c %s "$WORK/prog.bin") bytes), $(grep -c '' <($SOCKASM_PLAIN)) instructions"
echo "cpu:   $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"

if command -v hyperfine >/dev/null; then
    hyperfine --warmup 3 --runs "$RUNS" --style basic --output=null \
        -n "sockasm dump --disasm (annotated)" "$SOCKASM" \
        -n "sockasm dump --disasm --no-annotate" "$SOCKASM_PLAIN" \
        -n "llvm-objdump-19 -d" "$OBJDUMP" \
        -n "llvm-objdump-19 -d --no-show-raw-insn" "$OBJDUMP_PLAIN"
else
    time_ms() { # best of $RUNS, in ms
        local best=999999999 t0 t1 i
        for ((i = 0; i < RUNS; i++)); do
            t0=$(date +%s%N); $1 >/dev/null; t1=$(date +%s%N)
            (( (t1 - t0) / 1000 < best )) && best=$(( (t1 - t0) / 1000 ))
        done
        printf '%d.%03d' $((best / 1000)) $((best % 1000))
    }
    for cmd in "$SOCKASM" "$SOCKASM_PLAIN" "$OBJDUMP" "$OBJDUMP_PLAIN"; do
        printf '%10s ms  %s\n' "$(time_ms "$cmd")" "$cmd"
    done
fi

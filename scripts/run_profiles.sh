#!/usr/bin/env bash
# Runs every profile_* example and keeps their output; with `flamegraph`,
# also records a perf profile of one of them and renders a flame graph.
#
#   scripts/run_profiles.sh [--large] [--out DIR]
#   scripts/run_profiles.sh flamegraph [PROFILE [ARGS...]]   (default: profile_z_norm 256 20)
#
# Output goes to build/profiles/ (or --out DIR): one .txt per profile, and
# for flamegraph the profile's .svg. It uses the `flamegraph` tool (cargo
# install flamegraph) if it is on PATH, else perf with the FlameGraph scripts
# (stackcollapse-perf.pl, flamegraph.pl on PATH or in FLAMEGRAPH_DIR), else
# writes perf's text report.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=build/profiles
LARGE=""

if [ "${1:-}" = flamegraph ]; then
  shift
  PROG=${1:-profile_z_norm}
  [ $# -gt 0 ] && shift
  ARGS=("$@")
  [ ${#ARGS[@]} -eq 0 ] && ARGS=(256 20)
  make -s "build/$PROG"
  mkdir -p "$OUT"
  if command -v flamegraph >/dev/null; then # cargo's flamegraph: perf + rendering in one
    flamegraph -o "$OUT/$PROG.svg" -- "build/$PROG" "${ARGS[@]}" > "$OUT/$PROG.txt"
    echo "flame graph: $OUT/$PROG.svg"
    exit 0
  fi
  command -v perf >/dev/null || { echo "flamegraph: perf is not installed (apt-get install linux-perf)"; exit 1; }
  perf record -F 999 -g -o "$OUT/perf.data" "build/$PROG" "${ARGS[@]}" > "$OUT/$PROG.txt"
  FG=${FLAMEGRAPH_DIR:-}
  COLLAPSE=$(command -v stackcollapse-perf.pl || { [ -n "$FG" ] && echo "$FG/stackcollapse-perf.pl"; } || true)
  FLAME=$(command -v flamegraph.pl || { [ -n "$FG" ] && echo "$FG/flamegraph.pl"; } || true)
  if [ -n "$COLLAPSE" ] && [ -x "$COLLAPSE" ] && [ -n "$FLAME" ] && [ -x "$FLAME" ]; then
    perf script -i "$OUT/perf.data" | "$COLLAPSE" > "$OUT/$PROG.folded"
    "$FLAME" --title "$PROG ${ARGS[*]}" "$OUT/$PROG.folded" > "$OUT/$PROG.svg"
    echo "flame graph: $OUT/$PROG.svg"
  else
    perf report -i "$OUT/perf.data" --stdio --no-children > "$OUT/$PROG.perf.txt" 2>/dev/null
    echo "no FlameGraph scripts (set FLAMEGRAPH_DIR): perf report in $OUT/$PROG.perf.txt"
  fi
  exit 0
fi

while [ $# -gt 0 ]; do
  case "$1" in
    --large) LARGE=--large ;;
    --out) OUT=$2; shift ;;
    *) echo "usage: $0 [--large] [--out DIR] | flamegraph [PROFILE [ARGS...]]"; exit 2 ;;
  esac
  shift
done
make -s all
mkdir -p "$OUT"
for p in profile_load profile_gzip profile_z_norm profile_rescale profile_crop_pad profile_flip profile_resample; do
  [ -x "build/$p" ] || continue
  for size in 128 256; do
    echo "== $p $size"
    "build/$p" $size 5 | tee "$OUT/$p-$size.txt"
  done
done
echo "== profile_all $LARGE"
build/profile_all $LARGE | tee "$OUT/profile_all.txt"
echo "outputs in $OUT/"

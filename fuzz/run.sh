#!/usr/bin/env bash
# Runs every fuzz target for a bounded time: `fuzz/run.sh [SECONDS]`
# (default 20 per target). CI calls it after the tests; run it longer on
# demand, e.g. `fuzz/run.sh 600`.
#
# - Works on stable Rust: cargo-fuzz needs nightly flags, which
#   RUSTC_BOOTSTRAP=1 unlocks (no nightly toolchain required).
# - Sanitizer: AddressSanitizer by default (catches memory errors in the
#   C/unsafe parts underneath, e.g. ring). Set FUZZ_SANITIZER=none for
#   roughly 5x more executions per second with coverage guidance only.
# - The committed seed corpus (fuzz/corpus/<target>) is only read: new
#   inputs go to a scratch copy, so a run never dirties the work tree.
# - A crash fails the script (exit 1); its input is kept under
#   fuzz/artifacts/<target>/ — add it as a regression test.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
sanitizer="${FUZZ_SANITIZER:-address}"
targets=(frame request journal config)
target_dir="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version 2>/dev/null | grep -q '0\.13\.2'; then
  echo "== installing cargo-fuzz 0.13.2"
  # A debug build: cargo-fuzz only drives cargo and libFuzzer, and its
  # release build takes CI on 2 cores about twice as long.
  cargo install --locked --debug cargo-fuzz --version 0.13.2
fi

echo "== building fuzz targets (sanitizer: $sanitizer)"
# 16 codegen units (cargo-fuzz's default is 1 outside --dev): the build
# spreads over every core instead of ending on hallq-daemon alone; the
# same flag on `run` below, or it would build everything again.
cargo fuzz build --sanitizer "$sanitizer" --codegen-units 16 --target-dir "$target_dir"

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
failed=()
summary=()
for t in "${targets[@]}"; do
  echo "== fuzzing $t for ${seconds}s"
  mkdir -p "$scratch/$t"
  log="$scratch/$t.log"
  # Scratch dir first: libFuzzer writes new inputs to the first corpus dir.
  if cargo fuzz run --sanitizer "$sanitizer" --codegen-units 16 --target-dir "$target_dir" "$t" \
      "$scratch/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$log" 2>&1; then
    status=ok
  else
    status=CRASH
    failed+=("$t")
    tail -n 60 "$log"
  fi
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)"
  line="$(printf '%-8s %-6s execs=%-10s execs/s=%s' "$t" "$status" "${execs:-?}" "${rate:-?}")"
  echo "$line"
  summary+=("$line")
done

echo "== fuzz summary (${seconds}s per target, sanitizer: $sanitizer)"
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
  echo "fuzz targets crashed: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
  exit 1
fi

#!/usr/bin/env bash
# Long fuzzing outside CI: `scripts/fuzz.sh [SECONDS] [TARGET…]` runs each cargo-fuzz target
# (default: all) for SECONDS (default 600) on its committed corpus, which grows, then
# minimises that corpus (cargo fuzz cmin) so it can be committed. A crash stops the script and
# leaves the input under fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-600}"
shift || true
export RUSTC_BOOTSTRAP=1
export CARGO_TARGET_DIR="${CNX_FUZZ_TARGET_DIR:-$HOME/.cache/cnx-storage-fuzz-target}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cargo fuzz build -O
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  log="$(mktemp)"
  if ! cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 \
    -print_final_stats=1 >"$log" 2>&1; then
    tail -n 40 "$log"
    echo "fuzz $t: FAILED (the input is under fuzz/artifacts/$t)"
    exit 1
  fi
  grep -E "^Done [0-9]+ runs|stat::peak_rss_mb" "$log" || true
  rm -f "$log"
  # Edge coverage only (no hit counters): a corpus small enough to commit.
  cargo fuzz cmin -O "$t" "corpus/$t" -- -use_counters=0 >/dev/null 2>&1
  echo "fuzz $t: ${secs}s clean, corpus $(ls "corpus/$t" | wc -l) inputs"
done

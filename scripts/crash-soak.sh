#!/usr/bin/env bash
# kill -9 soak outside CI: `scripts/crash-soak.sh [--cycles N]` (default 100). Starts the real
# server, runs concurrent PUT/multipart/DELETE load, SIGKILLs it at random moments, restarts,
# checks the ledger, waits for the sweeper, then scrubs; prints one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
cycles=100
while [ $# -gt 0 ]; do
  case "$1" in
    --cycles) cycles="$2"; shift 2 ;;
    *) echo "usage: $0 [--cycles N]" >&2; exit 2 ;;
  esac
done
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cnx-storage-target}"
CNX_SOAK_CYCLES="$cycles" cargo test --test it crash_soak -- --nocapture 2>&1 \
  | grep -E "^crash soak:|panicked|test result" 

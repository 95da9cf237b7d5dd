#!/usr/bin/env bash
# cnx-storage developer entry point. Installs what a fresh Debian machine lacks, then:
#   ./dev.sh serve [ARGS…]   run the server on the embedded default (127.0.0.1:9000, ./data)
#   ./dev.sh test            unit tests, the web console in chromium, then s3-compat/run (every client incl. the
#                            aws-sdk-rust integration tests), on RocksDB and again on a private PostgreSQL
#   ./dev.sh lint            cargo fmt --check and clippy -D warnings
#   ./dev.sh fuzz [SECS]     every cargo-fuzz target for SECS seconds (default 30) on a copy of
#                            its committed corpus; scripts/fuzz.sh runs the long version
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cnx-storage-target}"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
need_deb() { # need_deb PACKAGE…: install Debian packages that are missing
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

# RocksDB's bindings are generated with libclang at build time.
need_deb libclang-dev

# fuzz_smoke SECS: each fuzz target for SECS seconds, from a copy of its committed corpus.
fuzz_smoke() {
  local secs="$1" work t
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
  work="$(mktemp -d)"
  (
    # Only in this subshell: cargo fingerprints RUSTC_BOOTSTRAP, so leaking it into the later
    # builds of the server would rebuild every dependency, RocksDB's C++ included.
    # Only the stable toolchain exists here; cargo-fuzz needs nightly flags (-Zsanitizer).
    export RUSTC_BOOTSTRAP=1
    cd fuzz
    export CARGO_TARGET_DIR="${CNX_FUZZ_TARGET_DIR:-$HOME/.cache/cnx-storage-fuzz-target}"
    cargo fuzz build -O
    for t in $(cargo fuzz list); do
      cp -r "corpus/$t" "$work/$t"
      echo "fuzz $t: ${secs}s"
      if ! cargo fuzz run -O "$t" "$work/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 \
        -print_final_stats=1 >"$work/$t.log" 2>&1; then
        tail -n 40 "$work/$t.log"
        echo "fuzz $t: FAILED"
        exit 1
      fi
      grep -E "^Done [0-9]+ runs|stat::number_of_executed_units" "$work/$t.log" | tail -n 2
    done
  )
  rm -rf "$work"
}

case "${1:-}" in
  serve)
    shift
    # The dev profile optimises every dependency (RocksDB, hashing, hyper) and shares the
    # target dir with the tests; `cargo build --release` is the production build.
    cargo build --bin cnx-storage
    exec "$CARGO_TARGET_DIR/debug/cnx-storage" serve "$@"
    ;;
  test)
    # PostgreSQL: the tests of the PostgreSQL index start a private server of their own.
    need_deb curl openssl chromium fonts-dejavu-core postgresql
    phase() { echo "[dev.sh] $1: $((SECONDS - started)) s"; started=$SECONDS; }
    started=$SECONDS
    cargo build --bin cnx-storage
    phase "build"
    # unit tests; the integration tests (aws-sdk-rust) run inside s3-compat/run as a column
    cargo test --lib --bins --examples
    phase "unit tests"
    # The web console in Debian's chromium (playwright-core); screenshots in console/test/artifacts.
    console/test/run --binary "$CARGO_TARGET_DIR/debug/cnx-storage"
    phase "console in a browser"
    fuzz_smoke 30
    phase "fuzz smoke"
    s3-compat/run --binary "$CARGO_TARGET_DIR/debug/cnx-storage"
    phase "client matrix (incl. tests/it)"
    # The same clients (plain http) and tests/it again, the index in a private PostgreSQL.
    s3-compat/run --binary "$CARGO_TARGET_DIR/debug/cnx-storage" --meta postgres
    phase "client matrix on the PostgreSQL index"
    # bench/compare end to end (its table from real runs), on the debug build: a smoke run;
    # the figures worth reading come from a release build on an idle machine.
    CNX_BIN="$CARGO_TARGET_DIR/debug/cnx-storage" bench/compare --smoke --servers cnx,cnx-relaxed \
      >"${TMPDIR:-/tmp}/cnx-bench-smoke.log" 2>&1 || { tail -n 40 "${TMPDIR:-/tmp}/cnx-bench-smoke.log"; exit 1; }
    tail -n 16 "${TMPDIR:-/tmp}/cnx-bench-smoke.log"
    phase "bench/compare smoke"
    ;;
  fuzz)
    fuzz_smoke "${2:-30}"
    ;;
  lint)
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings
    # The fuzz targets build the library without RocksDB: keep that build compiling.
    cargo clippy --lib --no-default-features -- -D warnings
    ;;
  *)
    sed -n '2,6p' "$0"
    exit 2
    ;;
esac

#!/usr/bin/env bash
# cnx-storage developer entry point. Installs what a fresh Debian machine lacks, then:
#   ./dev.sh serve [ARGS…]   run the server on the embedded default (127.0.0.1:9000, ./data)
#   ./dev.sh test            unit tests, then s3-compat/run (every client incl. the aws-sdk-rust integration tests)
#   ./dev.sh lint            cargo fmt --check and clippy -D warnings
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

case "${1:-}" in
  serve)
    shift
    # The dev profile optimises every dependency (RocksDB, hashing, hyper) and shares the
    # target dir with the tests; `cargo build --release` is the production build.
    cargo build --bin cnx-storage
    exec "$CARGO_TARGET_DIR/debug/cnx-storage" serve "$@"
    ;;
  test)
    need_deb curl openssl chromium
    cargo build --bin cnx-storage
    # unit tests; the integration tests (aws-sdk-rust) run inside s3-compat/run as a column
    cargo test --lib --bins --examples
    s3-compat/run --binary "$CARGO_TARGET_DIR/debug/cnx-storage"
    ;;
  lint)
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings
    ;;
  *)
    sed -n '2,6p' "$0"
    exit 2
    ;;
esac

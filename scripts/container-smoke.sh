#!/usr/bin/env bash
# The Dockerfile's runtime stage without a Docker engine (none runs on the build machines):
# a Debian bookworm minbase root (what debian:bookworm-slim is built from) made by debootstrap,
# the same steps as the Dockerfile (ca-certificates, uid/gid 10001, /data 0700, the binary in
# /usr/local/bin, CNX_DATA_DIR=/data, CNX_LISTEN=0.0.0.0:PORT), the server run in it by chroot
# as uid 10001, then the HEALTHCHECK command inside it and a signed PUT and GET from outside.
# Needs root (debootstrap, chroot) and Debian's mirror. Not part of CI: it takes a minute or two.
#   scripts/container-smoke.sh [--binary PATH] [--root DIR]     (default: a release build, /tmp/cnx-rootfs)
set -euo pipefail
cd "$(dirname "$0")/.."
BINARY="" ROOT=/tmp/cnx-rootfs PORT=19901
while [ $# -gt 0 ]; do
  case "$1" in
    --binary) BINARY="$2"; shift 2 ;;
    --root) ROOT="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$BINARY" ]; then
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cnx-storage-release-target}"
  cargo build --release --bin cnx-storage
  BINARY="$CARGO_TARGET_DIR/release/cnx-storage"
fi
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
  debootstrap --variant=minbase --include=ca-certificates bookworm "$ROOT" http://deb.debian.org/debian >/dev/null
fi
# The Dockerfile's runtime steps.
chroot "$ROOT" sh -c 'getent group cnx >/dev/null || groupadd --gid 10001 cnx;
  id cnx >/dev/null 2>&1 || useradd --uid 10001 --gid cnx --home-dir /data --no-create-home --shell /usr/sbin/nologin cnx;
  rm -rf /data && install -d -m 0700 -o cnx -g cnx /data'
install -D -m 0755 "$BINARY" "$ROOT/usr/local/bin/cnx-storage"
run() { exec chroot --userspec=10001:10001 "$ROOT" env -i PATH=/usr/local/bin:/usr/bin:/bin \
  CNX_DATA_DIR=/data CNX_LISTEN="0.0.0.0:$PORT" "$@"; }
missing="$(chroot "$ROOT" ldd /usr/local/bin/cnx-storage | grep 'not found' || true)"
[ -z "$missing" ] || { echo "container-smoke: libraries missing from the image: $missing" >&2; exit 1; }
(run CNX_ROOT_ACCESS_KEY=SMOKEKEY CNX_ROOT_SECRET_KEY=smoke-secret-0000 /usr/local/bin/cnx-storage serve) \
  >/tmp/container-smoke.out 2>/tmp/container-smoke.err &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q '^listening on' /tmp/container-smoke.out && break; sleep 0.1; done
grep '^listening on' /tmp/container-smoke.out
echo "HEALTHCHECK: $(run /usr/local/bin/cnx-storage health)"
url="http://127.0.0.1:$PORT"
sig=(--aws-sigv4 "aws:amz:in-mum:s3" --user "SMOKEKEY:smoke-secret-0000")
curl -sSf "${sig[@]}" -X PUT -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$url/smoke" >/dev/null
echo "container smoke" | curl -sf "${sig[@]}" -X PUT -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' --data-binary @- "$url/smoke/hello.txt" >/dev/null
got="$(curl -sSf "${sig[@]}" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$url/smoke/hello.txt")"
[ "$got" = "container smoke" ] || { echo "container-smoke: GET gave '$got'" >&2; exit 1; }
owners="$(find "$ROOT/data" -printf '%u:%g\n' | sort -u | tr '\n' ' ')"
echo "PUT and GET through the image: ok; /data owned by: $owners"
[ "$(stat -c %a "$ROOT/data")" = 700 ] || { echo "container-smoke: /data is not 0700" >&2; exit 1; }
case "$owners" in *root*) echo "container-smoke: root-owned files in /data" >&2; exit 1 ;; esac
echo "container-smoke: ok"

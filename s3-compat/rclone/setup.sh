#!/usr/bin/env bash
# Installs the rclone client suite's dependency: Debian's rclone (pinned by the
# distribution release; the suite was written against 1.60.1). Idempotent, and
# instant when rclone is already on PATH. Also needs python3 and curl.
set -euo pipefail
if ! command -v rclone >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq rclone >/dev/null
fi
for tool in python3 curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "rclone suite: $tool is required" >&2; exit 1; }
done

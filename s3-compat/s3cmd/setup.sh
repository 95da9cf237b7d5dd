#!/usr/bin/env bash
# Installs the s3cmd client suite's dependency: Debian's s3cmd (pinned by the
# distribution release; the suite was written against 2.3.0). Idempotent, and
# instant when s3cmd is already on PATH. Also needs python3 and curl.
set -euo pipefail
if ! command -v s3cmd >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq s3cmd >/dev/null
fi
for tool in python3 curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "s3cmd suite: $tool is required" >&2; exit 1; }
done

#!/usr/bin/env bash
# Installs the pinned aws-sdk-js v3 packages of package-lock.json into node_modules.
# Idempotent: `npm ci` runs only when node_modules does not match the lock file
# (npm writes node_modules/.package-lock.json, a copy of what it installed).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"

log() { printf '[js setup] %s\n' "$*" >&2; }

command -v node >/dev/null 2>&1 || { log "node is not installed (need node >= 20)"; exit 1; }
command -v npm >/dev/null 2>&1 || { log "npm is not installed"; exit 1; }
NODE_VERSION="$(node -p 'process.versions.node')"
NODE_MAJOR="${NODE_VERSION%%.*}"
# the pinned @aws-sdk/client-s3 declares "engines": {"node": ">=20.0.0"}
if ((NODE_MAJOR < 20)); then
  log "node $NODE_VERSION is too old: the pinned AWS SDK v3 needs node >= 20"
  exit 1
fi

lock_matches() {
  [[ -f node_modules/.package-lock.json ]] || return 1
  node - <<'JS'
const fs = require("fs");
const want = JSON.parse(fs.readFileSync("package-lock.json", "utf8")).packages || {};
const have = JSON.parse(fs.readFileSync("node_modules/.package-lock.json", "utf8")).packages || {};
for (const [p, meta] of Object.entries(want)) {
  if (p === "") continue;
  const got = have[p];
  if (!got || got.version !== meta.version || got.integrity !== meta.integrity) process.exit(1);
  if (!fs.existsSync(`${p}/package.json`)) process.exit(1);
  const installed = JSON.parse(fs.readFileSync(`${p}/package.json`, "utf8")).version;
  if (installed !== meta.version) process.exit(1);
}
for (const p of Object.keys(have)) if (!(p in want)) process.exit(1);
JS
}

if lock_matches; then
  log "node_modules matches package-lock.json (node $NODE_VERSION)"
else
  log "npm ci (node $NODE_VERSION)"
  npm ci --no-audit --no-fund --loglevel=error
  lock_matches || { log "node_modules still does not match package-lock.json after npm ci"; exit 1; }
fi

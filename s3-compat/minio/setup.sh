#!/usr/bin/env bash
# Installs the MinIO Python SDK suite's dependencies (requirements.txt: minio and
# pytest, pinned) into python3 -- the interpreter s3-compat/run uses -- with pip,
# only when they are not already satisfied. Idempotent and fast when installed.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
satisfied() {
  python3 - "$HERE/requirements.txt" <<'PY'
import sys
from importlib import metadata
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    req = Requirement(line)
    try:
        version = metadata.version(req.name)
    except metadata.PackageNotFoundError:
        sys.exit(1)
    if req.specifier and not req.specifier.contains(version, prereleases=True):
        sys.exit(1)
PY
}
if ! satisfied; then
  echo "[minio suite] installing $(grep -v '^#' "$HERE/requirements.txt" | xargs)" >&2
  python3 -m pip install -q -r "$HERE/requirements.txt"
  satisfied || { echo "[minio suite] requirements still not satisfied after pip install" >&2; exit 1; }
fi

"""Tiny result-recording harness for the script suites (see s3-compat/SUITES.md).

Reads the suite environment (S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION,
S3_CA_BUNDLE -- S3_VERIFY is accepted as a fallback --, S3_RESULTS, S3_WORKDIR,
S3_ORACLE), runs checks one after another, prints one line per check and writes
S3_RESULTS as {"client", "version", "results": [{"group", "name", "status", "detail"}]}.
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from matrix import GROUPS  # noqa: E402  (one list of groups for every suite and the matrix)

ENDPOINT = os.environ.get("S3_ENDPOINT", "").rstrip("/")
ACCESS_KEY = os.environ.get("S3_ACCESS_KEY", "")
SECRET_KEY = os.environ.get("S3_SECRET_KEY", "")
REGION = os.environ.get("S3_REGION", "") or "in-mum"
ORACLE = os.environ.get("S3_ORACLE", "")
_ca = os.environ.get("S3_CA_BUNDLE", "") or os.environ.get("S3_VERIFY", "")
INSECURE = _ca.lower() in ("false", "0", "no", "off")
CA_BUNDLE = "" if INSECURE else _ca
IS_HTTPS = ENDPOINT.startswith("https://")
HOSTPORT = ENDPOINT.split("://", 1)[-1].split("/", 1)[0]

if not (ENDPOINT and ACCESS_KEY and SECRET_KEY):
    sys.exit("set S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY (see s3-compat/SUITES.md)")

_base = os.environ.get("S3_WORKDIR", "") or None
if _base:
    os.makedirs(_base, exist_ok=True)
WORK = tempfile.mkdtemp(prefix="cnx-suite-", dir=_base)


def rand_suffix(n: int = 10) -> str:
    return secrets.token_hex(n // 2 + 1)[:n]


def bucket_name(client: str, tag: str = "") -> str:
    """Unique lowercase bucket name: <client>[-tag]-<random>."""
    parts = [client] + ([tag] if tag else []) + [rand_suffix()]
    return "-".join(parts)[:63]


class Skip(Exception):
    """Raised by a check to mark itself skipped (message = reason)."""


class CheckFailed(AssertionError):
    pass


def expect(cond: bool, msg: str) -> None:
    if not cond:
        raise CheckFailed(msg)


def expect_eq(what: str, want, got) -> None:
    if want != got:
        raise CheckFailed(f"{what}: expected {short(want)}, got {short(got)}")


def short(value, limit: int = 400) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


class Cmd:
    """Result of a command: rc, out (bytes), err (str), text (stdout+stderr as str)."""

    def __init__(self, argv, rc, out, err):
        self.argv, self.rc, self.out, self.err = argv, rc, out, err

    @property
    def stdout(self) -> str:
        return self.out.decode("utf-8", "replace")

    @property
    def text(self) -> str:
        return self.stdout + "\n" + self.err

    def describe(self) -> str:
        argv = " ".join(self.argv)
        if len(argv) > 300:
            argv = argv[:300] + "..."
        tail = self.err.strip()[-1500:]
        return f"`{argv}` exited {self.rc}: {tail}"


def run(argv, *, env=None, input=None, check=True, timeout=300, cwd=None) -> Cmd:
    proc = subprocess.run(
        [str(a) for a in argv],
        input=input,
        capture_output=True,
        env=env,
        timeout=timeout,
        cwd=cwd,
    )
    cmd = Cmd([str(a) for a in argv], proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace"))
    if check and cmd.rc != 0:
        raise CheckFailed(cmd.describe())
    return cmd


def curl(url: str, *extra: str, method: str | None = None, data_file: str | None = None,
         out_file: str | None = None) -> tuple[int, bytes]:
    """curl URL -> (http status, body). Trusts CA_BUNDLE for https."""
    body_path = out_file or os.path.join(WORK, f"curl-{rand_suffix()}.out")
    argv = ["curl", "--silent", "--show-error", "--globoff", "-o", body_path, "-w", "%{http_code}"]
    if IS_HTTPS:
        argv += ["--insecure"] if INSECURE else (["--cacert", CA_BUNDLE] if CA_BUNDLE else [])
    if method:
        argv += ["-X", method]
    if data_file:
        argv += ["--upload-file", data_file]
    argv += list(extra) + [url]
    cmd = run(argv, env=clean_env(), check=True, timeout=120)
    with open(body_path, "rb") as fh:
        body = fh.read()
    if not out_file:
        os.unlink(body_path)
    return int(cmd.stdout.strip() or 0), body


def clean_env(**extra: str) -> dict:
    """The process environment without AWS_*/client settings that would leak into the client."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_", "RCLONE_", "S3CMD_", "MINIO_"))
        and k not in ("CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")
    }
    env.update(extra)
    return env


def load_hard_keys() -> list[dict]:
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "keys", "hard-keys.json"), encoding="utf-8") as fh:
        return json.load(fh)["keys"]


class Suite:
    def __init__(self, client: str, version: str):
        self.client = client
        self.version = version
        self.results: list[dict] = []
        print(f"{client} {version} against {ENDPOINT} (region {REGION}, workdir {WORK})", flush=True)

    def check(self, group: str, name: str, fn, *args, **kwargs) -> bool:
        assert group in GROUPS, group
        start = time.monotonic()
        status, detail = "passed", ""
        try:
            fn(*args, **kwargs)
        except Skip as exc:
            status, detail = "skipped", str(exc)
        except Exception as exc:  # noqa: BLE001 - every failure is a result
            status = "failed"
            if isinstance(exc, (CheckFailed, subprocess.TimeoutExpired)):
                detail = f"{exc}"
            else:
                detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
                tb = traceback.extract_tb(exc.__traceback__)
                if tb:
                    frame = tb[-1]
                    detail += f" (at {os.path.basename(frame.filename)}:{frame.lineno})"
        took = time.monotonic() - start
        entry = {"group": group, "name": name, "status": status}
        if detail:
            entry["detail"] = detail[:4000]
        self.results.append(entry)
        mark = {"passed": "ok  ", "failed": "FAIL", "skipped": "skip"}[status]
        line = f"{mark} - [{group}] {name} ({took:.1f}s)"
        if status != "passed":
            line += "\n       " + detail[:2000].replace("\n", "\n       ")
        print(line, flush=True)
        return status == "passed"

    def skip(self, group: str, name: str, reason: str) -> None:
        def _skip():
            raise Skip(reason)

        self.check(group, name, _skip)

    def finish(self) -> int:
        counts = {s: sum(1 for r in self.results if r["status"] == s) for s in ("passed", "failed", "skipped")}
        doc = {"client": self.client, "version": self.version, "results": self.results}
        path = os.environ.get("S3_RESULTS", "") or os.path.join(_base or tempfile.gettempdir(),
                                                                f"{self.client}-results.json")
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
        print(f"results: {path}")
        # scratch files are fixtures only (what went wrong is in the results and on stdout)
        shutil.rmtree(WORK, ignore_errors=True)
        print(f"{self.client}: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped",
              flush=True)
        return 1 if counts["failed"] else 0

#!/usr/bin/env python3
"""Results of the client suites, and the compatibility matrix built from them.

  matrix.py junit JUNIT.xml OUT.json CLIENT VERSION   pytest junit XML -> results JSON
  matrix.py cargo CARGO_TEST_OUTPUT OUT.json VERSION  `cargo test` output -> results JSON
  matrix.py report RESULTS_DIR OUT_DIR                matrix on stdout, report.json + report.md

A results file is {"client", "version", "results": [{"group", "name", "status", "detail"}]}
(see README.md); the runner writes one per client and transport (NAME-http.json,
NAME-https.json) and the matrix sums a client's transports into one column.
"""

from __future__ import annotations

import json
import pathlib
import re
import sys
import xml.etree.ElementTree as ET

GROUPS = [
    "auth/presign",
    "sigv2",
    "buckets",
    "objects",
    "conditional/range",
    "copy",
    "list",
    "multipart",
    "versioning",
    "tagging",
    "object lock",
    "lifecycle",
    "attributes",
    "checksums",
    "errors",
    "management",
    "hard keys",
    "browser",
    "post upload",
    "access control",
    "bucket policy",
    "bucket logging",
    "encryption",
    "server",
    "hardening",
    "bench",
]

COLUMNS = [
    "boto3",
    "awscli",
    "aws-sdk-rust",
    "aws-sdk-js",
    "rclone",
    "s3cmd",
    "minio-py",
    "boto3@moto",
    "awscli@moto",
]

# pytest module (boto3 suite) -> group
PYTEST_GROUPS = {
    "test_auth": "auth/presign",
    "test_presign": "auth/presign",
    "test_chunked": "auth/presign",
    "test_sigv2": "sigv2",
    "test_buckets": "buckets",
    "test_objects": "objects",
    "test_conditional": "conditional/range",
    "test_copy": "copy",
    "test_list": "list",
    "test_multipart": "multipart",
    "test_versioning": "versioning",
    "test_tagging": "tagging",
    "test_object_lock": "object lock",
    "test_lifecycle": "lifecycle",
    "test_attributes": "attributes",
    "test_checksums": "checksums",
    "test_errors": "errors",
    "test_management": "management",
    "test_hard_keys": "hard keys",
    "test_browser": "browser",
    "test_post_object": "post upload",
    "test_acl": "access control",
    "test_policy": "bucket policy",
    "test_logging": "bucket logging",
    "test_sse": "encryption",
}

# Rust integration test module -> group
RUST_GROUPS = {
    "s3_auth": "auth/presign",
    "s3_presign": "auth/presign",
    "s3_multipart_presign": "multipart",
    "s3_bucket": "buckets",
    "s3_cors": "buckets",
    "s3_object": "objects",
    "s3_conditional": "conditional/range",
    "s3_copy": "copy",
    "s3_sse": "encryption",
    "s3_list": "list",
    "s3_multipart": "multipart",
    "s3_versioning": "versioning",
    "s3_object_lock": "object lock",
    "s3_lifecycle": "lifecycle",
    "s3_checksum": "checksums",
    "s3_hard_keys": "hard keys",
    "api_accounts": "management",
    "api_bucket_keys": "management",
    "api_buckets": "management",
    "api_jwt": "management",
    "api_limits": "management",
    "api_presign": "management",
    "cli_keys": "management",
    "server": "server",
    "blob_backends": "server",
    "xml_golden": "server",
    "conn_limits": "hardening",
    "signed_headers": "hardening",
    "secrets_at_rest": "hardening",
    "verified_reads": "hardening",
    "crash_soak": "hardening",
    "bad_input": "hardening",
    "enospc": "hardening",
    "bench_tool": "bench",
}


ERROR_TEST = re.compile(r"error|missing|no_such|denied|refused|rejected|invalid|wrong")


def write(path: str, client: str, version: str, results: list[dict]) -> None:
    doc = {"client": client, "version": version, "results": results}
    pathlib.Path(path).write_text(json.dumps(doc, indent=1, ensure_ascii=False))


def from_junit(junit: str, out: str, client: str, version: str) -> None:
    root = ET.parse(junit).getroot()
    results = []
    for case in root.iter("testcase"):
        module = case.get("classname", "").split(".")[-1]
        group = PYTEST_GROUPS.get(module, "errors" if "error" in module else "objects")
        name = f"{module}::{case.get('name')}"
        status, detail = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                status, detail = "failed", (child.get("message") or "")[:500]
            elif child.tag == "skipped":
                status, detail = "skipped", (child.get("message") or "")[:500]
        results.append({"group": group, "name": name, "status": status, "detail": detail})
    if not results:
        results.append({"group": "errors", "name": "pytest run", "status": "failed",
                        "detail": "no test ran"})
    write(out, client, version, results)


def cargo_failure(text: str, name: str) -> str:
    """The panic message libtest printed for a failed test, on one line (what a CI log shows)."""
    section = re.search(rf"^---- {re.escape(name)} stdout ----\n(.*?)(?=^---- |^failures:|\Z)",
                        text, re.M | re.S)
    if not section:
        return ""
    lines = [l.strip() for l in section.group(1).splitlines()
             if l.strip() and not l.startswith("note: run with")]
    return " | ".join(lines)[:600]


def from_cargo(output: str, out: str, version: str) -> None:
    results = []
    text = pathlib.Path(output).read_text(errors="replace")
    pattern = re.compile(r"^test (\S+) \.\.\. (ok|FAILED|ignored)", re.M)
    for name, outcome in pattern.findall(text):
        module = name.split("::")[0]
        if module not in RUST_GROUPS:
            continue
        status = {"ok": "passed", "FAILED": "failed", "ignored": "skipped"}[outcome]
        group = RUST_GROUPS[module]
        # Tests of what a user sees when a request is refused, outside the management API.
        if group != "management" and ERROR_TEST.search(name.split("::", 1)[-1]):
            group = "errors"
        detail = "ignored (timing run, not part of CI)" if status == "skipped" else ""
        if status == "failed":
            detail = cargo_failure(text, name)
        results.append({"group": group, "name": name, "status": status,
                        "detail": detail})
    if not results or "test result: FAILED" in text:
        if not any(r["status"] == "failed" for r in results):
            results.append({"group": "server", "name": "cargo test", "status": "failed",
                            "detail": "the test binary failed without a failed test"})
    write(out, "aws-sdk-rust", version, results)


def report(results_dir: str, out_dir: str) -> int:
    cells: dict[str, dict[str, dict[str, int]]] = {}
    versions: dict[str, str] = {}
    failures: list[str] = []
    skips: list[str] = []
    for path in sorted(pathlib.Path(results_dir).glob("*.json")):
        label = path.stem  # COLUMN-TRANSPORT
        column, _, transport = label.rpartition("-")
        try:
            doc = json.loads(path.read_text())
        except ValueError as e:
            doc = {"version": "?", "results": [{"group": "errors", "name": "results file",
                                                 "status": "failed", "detail": f"unreadable: {e}"}]}
        versions[column] = doc.get("version", "?")
        for r in doc.get("results", []):
            group = r.get("group") if r.get("group") in GROUPS else "errors"
            c = cells.setdefault(group, {}).setdefault(column, {"passed": 0, "failed": 0, "skipped": 0})
            status = r.get("status", "failed")
            c[status if status in c else "failed"] += 1
            detail = " ".join(str(r.get("detail", "")).split())[:400]
            line = f"{column}/{transport}: [{group}] {r.get('name')}: {detail}"
            if status == "failed" or status not in c:
                failures.append(line)
            elif status == "skipped":
                skips.append(line)
    columns = [c for c in COLUMNS if c in versions] + sorted(set(versions) - set(COLUMNS))

    def cell(group: str, column: str) -> str:
        c = cells.get(group, {}).get(column)
        if not c:
            return "-"
        total = c["passed"] + c["failed"]
        text = f"{c['passed']}/{total}"
        if c["failed"]:
            text += " ✗"
        if c["skipped"]:
            text += f" (+{c['skipped']} skip)"
        return text

    rows = [g for g in GROUPS if g in cells]
    table = [["group"] + columns] + [[g] + [cell(g, col) for col in columns] for g in rows]
    totals = ["total"]
    for col in columns:
        p = sum(cells[g].get(col, {}).get("passed", 0) for g in rows)
        f = sum(cells[g].get(col, {}).get("failed", 0) for g in rows)
        totals.append(f"{p}/{p + f}" + (" ✗" if f else ""))
    table.append(totals)
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for i, r in enumerate(table):
        print("  ".join(v.ljust(widths[j]) for j, v in enumerate(r)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))

    md = ["# s3-compat matrix", "",
          "Cells are passed/total over HTTP and HTTPS; skipped tests are counted apart.", "",
          "| " + " | ".join(table[0]) + " |",
          "|" + "|".join(["---"] * len(table[0])) + "|"]
    md += ["| " + " | ".join(r) + " |" for r in table[1:]]
    md += ["", "Client versions: " + ", ".join(f"{c} {versions[c]}" for c in columns)]
    if failures:
        md += ["", "## Failures", ""] + [f"- {f}" for f in failures]
    if skips:
        md += ["", "## Skipped", ""] + [f"- {s}" for s in skips]
    out = pathlib.Path(out_dir)
    (out / "report.md").write_text("\n".join(md) + "\n")
    (out / "report.json").write_text(json.dumps({
        "columns": columns,
        "versions": versions,
        "groups": rows,
        "cells": cells,
        "failures": failures,
        "skipped": skips,
    }, indent=1, ensure_ascii=False))
    if failures:
        print("\nfailures:")
        for f in failures:
            print(f"  {f}")
    return 1 if failures else 0


def main(argv: list[str]) -> int:
    if len(argv) >= 5 and argv[0] == "junit":
        from_junit(*argv[1:5])
        return 0
    if len(argv) >= 4 and argv[0] == "cargo":
        from_cargo(*argv[1:4])
        return 0
    if len(argv) == 3 and argv[0] == "report":
        return report(argv[1], argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

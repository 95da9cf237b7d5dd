"""pytest plumbing for the MinIO Python SDK suite: fixtures and the S3_RESULTS writer.

Every test carries a group (pytestmark / @pytest.mark.group); its result name is the
test function's name without "test_" (plus the parameter id), except the hard-key
tests, named "hard key <name>" as s3-compat/SUITES.md asks.
"""

from __future__ import annotations

import json
import os
import tempfile

import minio
import pytest

from mutil import ACCESS_KEY, CA_BUNDLE, ENDPOINT, REGION, SECRET_KEY, empty_and_remove, make_client, unique_bucket

GROUPS = {
    "auth/presign", "buckets", "objects", "conditional/range", "copy", "list",
    "multipart", "checksums", "errors", "management", "hard keys",
}

_results: dict[str, dict] = {}


def pytest_configure(config):
    if not (ENDPOINT and ACCESS_KEY and SECRET_KEY):
        raise pytest.UsageError("set S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY (see s3-compat/SUITES.md)")


def pytest_report_header(config):
    return f"minio {minio.__version__}; endpoint {ENDPOINT} region {REGION} ca={CA_BUNDLE or '-'}"


def pytest_collection_modifyitems(config, items):
    for item in items:
        mark = item.get_closest_marker("group")
        if mark is None or not mark.args or mark.args[0] not in GROUPS:
            raise pytest.UsageError(f"{item.nodeid}: needs @pytest.mark.group(<one of {sorted(GROUPS)}>)")


def _result_name(item) -> str:
    group = item.get_closest_marker("group").args[0]
    callspec = getattr(item, "callspec", None)
    if group == "hard keys" and callspec is not None:
        return f"hard key {callspec.id}"
    name = item.originalname.removeprefix("test_").replace("_", " ")
    return f"{name} [{callspec.id}]" if callspec is not None else name


def _detail(report) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    text = report.longreprtext or ""
    return text[-3000:]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.cnx_group = item.get_closest_marker("group").args[0]
    report.cnx_name = _result_name(item)


def pytest_runtest_logreport(report):
    entry = _results.get(report.nodeid)
    if entry is None:
        entry = {"group": report.cnx_group, "name": report.cnx_name, "status": "passed"}
        _results[report.nodeid] = entry
    if report.when in ("setup", "call"):
        if report.failed:
            entry.update(status="failed", detail=f"{report.when}: {_detail(report)}")
        elif report.skipped:
            entry.update(status="skipped", detail=_detail(report))
    elif report.when == "teardown" and report.failed and entry["status"] == "passed":
        entry.update(status="failed", detail=f"teardown: {_detail(report)}")


def pytest_sessionfinish(session, exitstatus):
    doc = {"client": "minio", "version": minio.__version__, "results": list(_results.values())}
    path = os.environ.get("S3_RESULTS", "")
    if not path:
        path = os.path.join(os.environ.get("S3_WORKDIR", "") or tempfile.gettempdir(), "minio-results.json")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    counts = {s: sum(1 for r in _results.values() if r["status"] == s) for s in ("passed", "failed", "skipped")}
    print(f"\nresults: {path}")
    print(f"minio: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")


# ------------------------------------------------------------------ fixtures


@pytest.fixture(scope="session")
def client():
    return make_client()


@pytest.fixture(scope="session")
def workdir():
    base = os.environ.get("S3_WORKDIR", "") or None
    if base:
        os.makedirs(base, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cnx-minio-", dir=base) as path:
        yield path


@pytest.fixture
def make_bucket(client, request):
    """Factory: make_bucket(tag) -> a new bucket, emptied and removed afterwards."""
    made: list[str] = []

    def _make(tag: str | None = None) -> str:
        name = unique_bucket(tag or request.node.originalname.removeprefix("test_"))
        client.make_bucket(name)
        made.append(name)
        return name

    yield _make
    for name in made:
        empty_and_remove(client, name)


@pytest.fixture
def bucket(make_bucket):
    return make_bucket()


@pytest.fixture(scope="module")
def module_bucket(client, request):
    name = unique_bucket(request.module.__name__.removeprefix("test_"))
    client.make_bucket(name)
    yield name
    empty_and_remove(client, name)

"""Bucket logging: Get/PutBucketLogging, and the server access log it writes — every request to
the bucket one line in S3's log format, delivered in batches as objects into the target bucket
(the suite's servers deliver every second)."""

from __future__ import annotations

import time

import pytest

from mgmt import bpath, expect
from s3util import (
    ON_MOTO,
    create_bucket,
    delete_bucket_quietly,
    expect_error,
    settle,
    unique_bucket_name,
)

pytestmark = pytest.mark.skipif(ON_MOTO, reason="moto keeps the setting but writes no logs")


def log_lines(s3, target: str, prefix: str, want: int, timeout: float = 15.0) -> list[str]:
    """Every log line delivered under `prefix`, once at least `want` have arrived."""
    deadline = time.monotonic() + timeout
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=target, Prefix=prefix):
            for o in page.get("Contents", []):
                body = s3.get_object(Bucket=target, Key=o["Key"])["Body"].read().decode()
                lines += [l for l in body.splitlines() if l]
        if len(lines) >= want:
            return lines
        time.sleep(0.3)
    raise AssertionError(f"{len(lines)} log lines after {timeout}s, wanted {want}: {lines}")


def fields(line: str) -> list[str]:
    """Splits a log line as S3's documentation does: quoted and bracketed fields are one."""
    out, cur, quote = [], "", None
    for ch in line:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
        elif ch in '"[':
            quote = '"' if ch == '"' else "]"
            cur += ch
        elif ch == " ":
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out


@pytest.fixture
def logged(s3, make_bucket):
    """(source, target): a bucket logging into another, with prefix `access/`."""
    source, target = make_bucket("logged-src"), make_bucket("logged-dst")
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": target, "TargetPrefix": "access/"}})
    settle()
    return source, target


def test_logging_configuration(s3, logged, make_bucket):
    source, target = logged
    got = s3.get_bucket_logging(Bucket=source)["LoggingEnabled"]
    assert got["TargetBucket"] == target and got["TargetPrefix"] == "access/"
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=target)
    with expect_error("InvalidTargetBucketForLogging", 400):
        s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": unique_bucket_name("nowhere"), "TargetPrefix": "x/"}})
    s3.put_bucket_logging(Bucket=source, BucketLoggingStatus={})
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=source)


def test_requests_become_log_lines(s3, logged):
    source, target = logged
    s3.put_object(Bucket=source, Key="dir/a b.txt", Body=b"hello")
    s3.get_object(Bucket=source, Key="dir/a b.txt")["Body"].read()
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=source, Key="missing")
    s3.list_objects_v2(Bucket=source)
    lines = log_lines(s3, target, "access/", 4)
    rows = [fields(l) for l in lines]
    owner = s3.list_buckets()["Owner"]["ID"]
    by_op = {}
    for r in rows:
        assert len(r) >= 24, r
        assert r[0] == owner and r[1] == source, r
        assert r[2].startswith("[") and r[2].endswith("+0000]"), r
        assert r[4] == owner, "the requester is the signer's canonical ID"
        by_op.setdefault(r[6], []).append(r)
    put = by_op["REST.PUT.OBJECT"][0]
    assert put[7] == "dir/a%20b.txt" and put[9] == "200" and put[12] == "5", put
    assert put[8].startswith('"PUT /') and put[8].endswith(' HTTP/1.1"'), put
    get = by_op["REST.GET.OBJECT"]
    assert {g[9] for g in get} == {"200", "404"}
    missing = next(g for g in get if g[9] == "404")
    assert missing[10] == "NoSuchKey", missing
    assert by_op["REST.GET.BUCKET"][0][9] == "200"
    assert {r[19] for r in rows} == {"SigV4"} and {r[21] for r in rows} == {"AuthHeader"}


def test_anonymous_and_denied_requests_are_logged(s3, logged):
    source, target = logged
    from s3util import make_client
    anon = make_client(unsigned=True)
    with expect_error("AccessDenied", 403):
        anon.get_object(Bucket=source, Key="secret")
    row = fields(log_lines(s3, target, "access/", 1)[0])
    assert row[4] == "-" and row[9] == "403" and row[10] == "AccessDenied", row


def test_partitioned_prefix_and_the_management_api(s3, make_bucket):
    from mgmt import Api
    api = Api()
    source, target = make_bucket("parted-src"), make_bucket("parted-dst")
    doc = expect(api.patch(bpath(source), {"logging": {
        "target_bucket": target, "target_prefix": "p/", "partitioned": True}}), 200)
    assert doc["logging"] == {"target_bucket": target, "target_prefix": "p/", "partitioned": True}
    got = s3.get_bucket_logging(Bucket=source)["LoggingEnabled"]
    assert "PartitionedPrefix" in got["TargetObjectKeyFormat"]
    settle()
    s3.put_object(Bucket=source, Key="k", Body=b"x")
    log_lines(s3, target, "p/", 1)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=target, Prefix="p/")["Contents"]]
    owner = s3.list_buckets()["Owner"]["ID"]
    assert all(k.startswith(f"p/{owner}/") and f"/{source}/" in k for k in keys), keys
    expect(api.patch(bpath(source), {"logging": {"target_bucket": unique_bucket_name("no")}}), 400, "target")
    assert expect(api.patch(bpath(source), {"logging": None}), 200)["logging"] is None

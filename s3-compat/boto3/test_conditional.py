"""Range GETs, response-* overrides, conditional GET/HEAD and conditional PUT."""

from __future__ import annotations

import datetime as dt

import pytest

from s3util import expect_error, http, http_date, payload, quoted_md5

SIZE = 100
BODY = payload(SIZE, seed=42)


@pytest.fixture
def obj(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="obj", Body=BODY)
    head = s3.head_object(Bucket=bucket, Key="obj")
    return {"bucket": bucket, "key": "obj", "etag": put["ETag"], "mtime": head["LastModified"]}


# ---------------------------------------------------------------- ranges


@pytest.mark.parametrize(
    "header,start,end",
    [
        ("bytes=0-9", 0, 9),
        ("bytes=10-19", 10, 19),
        ("bytes=0-0", 0, 0),
        ("bytes=99-99", 99, 99),
        ("bytes=90-", 90, 99),
        ("bytes=-7", 93, 99),
        ("bytes=95-500", 95, 99),  # end past EOF is clipped
        ("bytes=0-", 0, 99),
        ("bytes=-500", 0, 99),  # suffix longer than object = whole object
    ],
)
def test_range_get(s3, obj, header, start, end):
    resp = s3.get_object(Bucket=obj["bucket"], Key=obj["key"], Range=header)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert resp["Body"].read() == BODY[start : end + 1]
    assert resp["ContentLength"] == end - start + 1
    assert resp["ContentRange"] == f"bytes {start}-{end}/{SIZE}"
    assert resp["ETag"] == obj["etag"]


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=500-600"])
def test_range_not_satisfiable(s3, obj, header):
    with expect_error("InvalidRange", 416):
        s3.get_object(Bucket=obj["bucket"], Key=obj["key"], Range=header)


def test_range_on_head(s3, obj):
    resp = s3.head_object(Bucket=obj["bucket"], Key=obj["key"], Range="bytes=10-29")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert resp["ContentLength"] == 20
    assert resp["ContentRange"] == f"bytes 10-29/{SIZE}"


@pytest.mark.parametrize(
    "header",
    [
        "bytes=abc",
        pytest.param("items=0-5", marks=pytest.mark.moto_gap("treats any unit as bytes")),
        "bytes=9-3",
    ],
)
def test_malformed_range_is_ignored(s3, obj, header):
    resp = s3.get_object(Bucket=obj["bucket"], Key=obj["key"], Range=header)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["Body"].read() == BODY


def test_range_of_larger_object_streams_exact_slice(s3, bucket):
    body = payload(5 * 1024 * 1024 + 11, seed=7)
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    start, end = 1_048_570, 4_194_310
    resp = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={start}-{end}")
    assert resp["Body"].read() == body[start : end + 1]


# ---------------------------------------------------------------- response-* overrides


@pytest.mark.moto_gap("ignores response-* query overrides")
def test_response_header_overrides(s3, obj):
    expires = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    resp = s3.get_object(
        Bucket=obj["bucket"],
        Key=obj["key"],
        ResponseContentType="application/x-override",
        ResponseContentDisposition='attachment; filename="over ride.bin"',
        ResponseContentEncoding="identity",
        ResponseContentLanguage="hi-IN",
        ResponseCacheControl="no-cache, no-store",
        ResponseExpires=expires,
    )
    raw = resp["ResponseMetadata"]["HTTPHeaders"]
    assert raw["content-type"] == "application/x-override"
    assert raw["content-disposition"] == 'attachment; filename="over ride.bin"'
    assert raw["content-encoding"] == "identity"
    assert raw["content-language"] == "hi-IN"
    assert raw["cache-control"] == "no-cache, no-store"
    assert raw["expires"] == http_date(expires)
    assert resp["Body"].read() == BODY


def test_response_overrides_do_not_change_stored_object(s3, obj):
    s3.get_object(Bucket=obj["bucket"], Key=obj["key"], ResponseContentType="x/y")["Body"].read()
    assert s3.head_object(Bucket=obj["bucket"], Key=obj["key"])["ContentType"] != "x/y"


@pytest.mark.moto_gap("ignores response-* query overrides")
def test_response_overrides_on_presigned_get(s3, obj):
    url = s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": obj["bucket"],
            "Key": obj["key"],
            "ResponseContentDisposition": 'attachment; filename="dl.bin"',
            "ResponseContentType": "application/octet-stream",
        },
    )
    resp = http("GET", url)
    assert resp.status == 200
    assert resp.headers["Content-Disposition"] == 'attachment; filename="dl.bin"'
    assert resp.headers["Content-Type"] == "application/octet-stream"


# ---------------------------------------------------------------- conditional GET / HEAD


def test_if_match(s3, obj):
    resp = s3.get_object(Bucket=obj["bucket"], Key=obj["key"], IfMatch=obj["etag"])
    assert resp["Body"].read() == BODY
    with expect_error("PreconditionFailed", 412):
        s3.get_object(Bucket=obj["bucket"], Key=obj["key"], IfMatch='"0123456789abcdef0123456789abcdef"')


@pytest.mark.moto_gap("If-Match: * fails with 412")
def test_if_match_star(s3, obj):
    resp = s3.get_object(Bucket=obj["bucket"], Key=obj["key"], IfMatch="*")
    assert resp["Body"].read() == BODY


def test_if_match_unquoted_etag(s3, obj):
    resp = s3.get_object(Bucket=obj["bucket"], Key=obj["key"], IfMatch=obj["etag"].strip('"'))
    assert resp["Body"].read() == BODY


def test_if_none_match(s3, obj):
    with expect_error("304", 304):
        s3.get_object(Bucket=obj["bucket"], Key=obj["key"], IfNoneMatch=obj["etag"])
    resp = s3.get_object(Bucket=obj["bucket"], Key=obj["key"], IfNoneMatch='"ffffffffffffffffffffffffffffffff"')
    assert resp["Body"].read() == BODY


def test_if_modified_since(s3, obj):
    with expect_error("304", 304):
        s3.get_object(Bucket=obj["bucket"], Key=obj["key"], IfModifiedSince=obj["mtime"])
    resp = s3.get_object(
        Bucket=obj["bucket"], Key=obj["key"], IfModifiedSince=obj["mtime"] - dt.timedelta(hours=1)
    )
    assert resp["Body"].read() == BODY


def test_if_unmodified_since(s3, obj):
    resp = s3.get_object(Bucket=obj["bucket"], Key=obj["key"], IfUnmodifiedSince=obj["mtime"])
    assert resp["Body"].read() == BODY
    with expect_error("PreconditionFailed", 412):
        s3.get_object(
            Bucket=obj["bucket"],
            Key=obj["key"],
            IfUnmodifiedSince=obj["mtime"] - dt.timedelta(hours=1),
        )


@pytest.mark.moto_gap("does not let a true If-Match override a false If-Unmodified-Since")
def test_if_match_true_wins_over_if_unmodified_since_false(s3, obj):
    # S3 (RFC 7232 §6): when If-Match is present, If-Unmodified-Since is ignored.
    resp = s3.get_object(
        Bucket=obj["bucket"],
        Key=obj["key"],
        IfMatch=obj["etag"],
        IfUnmodifiedSince=obj["mtime"] - dt.timedelta(hours=1),
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_if_none_match_false_and_if_modified_since_true_is_304(s3, obj):
    with expect_error("304", 304):
        s3.get_object(
            Bucket=obj["bucket"],
            Key=obj["key"],
            IfNoneMatch=obj["etag"],
            IfModifiedSince=obj["mtime"] - dt.timedelta(hours=1),
        )


def test_conditional_head(s3, obj):
    b, k = obj["bucket"], obj["key"]
    assert s3.head_object(Bucket=b, Key=k, IfMatch=obj["etag"])["ContentLength"] == SIZE
    with expect_error("412", 412):
        s3.head_object(Bucket=b, Key=k, IfMatch='"00000000000000000000000000000000"')
    with expect_error("304", 304):
        s3.head_object(Bucket=b, Key=k, IfNoneMatch=obj["etag"])
    with expect_error("304", 304):
        s3.head_object(Bucket=b, Key=k, IfModifiedSince=obj["mtime"])
    with expect_error("412", 412):
        s3.head_object(Bucket=b, Key=k, IfUnmodifiedSince=obj["mtime"] - dt.timedelta(hours=1))


def test_not_modified_response_carries_etag(s3, obj):
    url = s3.generate_presigned_url("get_object", Params={"Bucket": obj["bucket"], "Key": obj["key"]})
    resp = http("GET", url, headers={"If-None-Match": obj["etag"]})
    assert resp.status == 304
    assert resp.data == b""
    assert resp.headers.get("ETag") == obj["etag"]


def test_if_match_on_range_get(s3, obj):
    resp = s3.get_object(Bucket=obj["bucket"], Key=obj["key"], Range="bytes=0-4", IfMatch=obj["etag"])
    assert resp["Body"].read() == BODY[:5]
    with expect_error("PreconditionFailed", 412):
        s3.get_object(Bucket=obj["bucket"], Key=obj["key"], Range="bytes=0-4", IfMatch='"nope"')


# ---------------------------------------------------------------- conditional PUT


def test_put_if_none_match_star(s3, bucket):
    first = s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    assert first["ETag"] == quoted_md5(b"first")
    with expect_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    # the failed write left the original intact
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"


def test_put_if_none_match_star_after_delete(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"1")
    s3.delete_object(Bucket=bucket, Key="k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"2"


def test_put_if_match(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="cas", Body=b"v1")
    put2 = s3.put_object(Bucket=bucket, Key="cas", Body=b"v2", IfMatch=put["ETag"])
    assert put2["ETag"] == quoted_md5(b"v2")
    with expect_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="cas", Body=b"v3", IfMatch=put["ETag"])  # stale
    assert s3.get_object(Bucket=bucket, Key="cas")["Body"].read() == b"v2"


def test_put_if_match_missing_key(s3, bucket):
    # S3 answers 404 NoSuchKey when If-Match names an object that does not exist
    with expect_error("NoSuchKey", 404):
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch='"0123456789abcdef0123456789abcdef"')
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="absent")


# ---------------------------------------------------------------- on versioned buckets


def versioned(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def test_versioned_if_none_match_sees_the_current_version_only(s3, bucket):
    versioned(s3, bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"1", IfNoneMatch="*")
    with expect_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="k", Body=b"2", IfNoneMatch="*")
    # Behind a delete marker the key has no object: a create goes ahead as a new version.
    s3.delete_object(Bucket=bucket, Key="k")
    v3 = s3.put_object(Bucket=bucket, Key="k", Body=b"3", IfNoneMatch="*")["VersionId"]
    versions = s3.list_object_versions(Bucket=bucket)
    assert len(versions["Versions"]) == 2 and len(versions["DeleteMarkers"]) == 1
    assert s3.get_object(Bucket=bucket, Key="k")["VersionId"] == v3


def test_versioned_if_match_compares_with_the_current_version(s3, bucket):
    versioned(s3, bucket)
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"old")
    new = s3.put_object(Bucket=bucket, Key="k", Body=b"new")
    with expect_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", IfMatch=old["ETag"])
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"newer", IfMatch=new["ETag"])
    assert put["VersionId"] not in (old["VersionId"], new["VersionId"])
    assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 3
    s3.delete_object(Bucket=bucket, Key="k")
    with expect_error("NoSuchKey", 404):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", IfMatch=put["ETag"])


@pytest.mark.moto_gap("ignores If-Match on DeleteObject")
def test_delete_if_match(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")
    with expect_error("PreconditionFailed", 412):
        s3.delete_object(Bucket=bucket, Key="k", IfMatch=quoted_md5(b"other"))
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v1"
    s3.delete_object(Bucket=bucket, Key="k", IfMatch=put["ETag"])
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="k")

"""CopyObject: same/cross bucket, metadata directives, copy-source conditions, errors."""

from __future__ import annotations

import datetime as dt
import pytest

from s3util import HARD_KEYS, expect_error, payload, quoted_md5, sibling_key, unique_bucket_name

BODY = payload(70_000, seed=9)
META = {"colour": "blue", "owner": "team-a"}
HEADERS = {
    "ContentType": "application/x-source",
    "ContentDisposition": 'inline; filename="src.bin"',
    "ContentLanguage": "mr",
    "CacheControl": "private, max-age=60",
    "ContentEncoding": "identity",
}


@pytest.fixture
def src(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="src/object", Body=BODY, Metadata=META, **HEADERS)
    head = s3.head_object(Bucket=bucket, Key="src/object")
    return {"bucket": bucket, "key": "src/object", "etag": put["ETag"], "mtime": head["LastModified"]}


def _source(src):
    return {"Bucket": src["bucket"], "Key": src["key"]}


def test_copy_same_bucket(s3, src):
    resp = s3.copy_object(Bucket=src["bucket"], Key="dst/copy", CopySource=_source(src))
    result = resp["CopyObjectResult"]
    assert result["ETag"] == quoted_md5(BODY)
    assert result["LastModified"] is not None
    got = s3.get_object(Bucket=src["bucket"], Key="dst/copy")
    assert got["Body"].read() == BODY
    assert got["ETag"] == src["etag"]
    # source untouched
    assert s3.get_object(Bucket=src["bucket"], Key=src["key"])["Body"].read() == BODY


def test_copy_cross_bucket(s3, src, make_bucket):
    other = make_bucket("copy-dest")
    s3.copy_object(Bucket=other, Key="copied", CopySource=_source(src))
    assert s3.get_object(Bucket=other, Key="copied")["Body"].read() == BODY


def test_copy_source_as_string(s3, src):
    s3.copy_object(
        Bucket=src["bucket"], Key="str-copy", CopySource=f"{src['bucket']}/{src['key']}"
    )
    assert s3.get_object(Bucket=src["bucket"], Key="str-copy")["Body"].read() == BODY


def test_copy_source_string_with_leading_slash_and_encoding(s3, bucket):
    key = "dir/na me+plus%.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"encoded")
    # botocore percent-encodes the string form itself
    s3.copy_object(Bucket=bucket, Key="out", CopySource="/" + bucket + "/" + key)
    assert s3.get_object(Bucket=bucket, Key="out")["Body"].read() == b"encoded"


def test_copy_directive_copy_keeps_metadata(s3, src):
    s3.copy_object(
        Bucket=src["bucket"],
        Key="kept",
        CopySource=_source(src),
        Metadata={"ignored": "yes"},  # ignored under COPY, as in S3
    )
    head = s3.head_object(Bucket=src["bucket"], Key="kept")
    assert head["Metadata"] == META
    raw = head["ResponseMetadata"]["HTTPHeaders"]
    assert raw["content-type"] == HEADERS["ContentType"]
    assert raw["content-disposition"] == HEADERS["ContentDisposition"]
    assert raw["content-language"] == HEADERS["ContentLanguage"]
    assert raw["cache-control"] == HEADERS["CacheControl"]


def test_copy_directive_replace(s3, src):
    s3.copy_object(
        Bucket=src["bucket"],
        Key="replaced",
        CopySource=_source(src),
        MetadataDirective="REPLACE",
        Metadata={"fresh": "1"},
        ContentType="text/x-new",
        CacheControl="no-store",
    )
    head = s3.head_object(Bucket=src["bucket"], Key="replaced")
    assert head["Metadata"] == {"fresh": "1"}
    assert head["ContentType"] == "text/x-new"
    assert head["CacheControl"] == "no-store"
    assert head.get("ContentDisposition") is None
    assert s3.get_object(Bucket=src["bucket"], Key="replaced")["Body"].read() == BODY


def test_copy_onto_itself_with_replace_updates_metadata(s3, src):
    s3.copy_object(
        Bucket=src["bucket"],
        Key=src["key"],
        CopySource=_source(src),
        MetadataDirective="REPLACE",
        Metadata={"updated": "true"},
        ContentType="text/plain",
    )
    head = s3.head_object(Bucket=src["bucket"], Key=src["key"])
    assert head["Metadata"] == {"updated": "true"}
    assert head["ContentType"] == "text/plain"
    assert s3.get_object(Bucket=src["bucket"], Key=src["key"])["Body"].read() == BODY


def test_copy_onto_itself_without_change_is_invalid(s3, src):
    with expect_error("InvalidRequest", 400):
        s3.copy_object(Bucket=src["bucket"], Key=src["key"], CopySource=_source(src))


def test_copy_overwrites_destination(s3, src):
    s3.put_object(Bucket=src["bucket"], Key="dest", Body=b"old", Metadata={"old": "1"})
    s3.copy_object(Bucket=src["bucket"], Key="dest", CopySource=_source(src))
    got = s3.get_object(Bucket=src["bucket"], Key="dest")
    assert got["Body"].read() == BODY
    assert got["Metadata"] == META


def test_copy_empty_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    resp = s3.copy_object(Bucket=bucket, Key="empty2", CopySource={"Bucket": bucket, "Key": "empty"})
    assert resp["CopyObjectResult"]["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    assert s3.get_object(Bucket=bucket, Key="empty2")["Body"].read() == b""


@pytest.mark.parametrize("key", HARD_KEYS)
def test_copy_hard_keys(s3, bucket, key):
    s3.put_object(Bucket=bucket, Key=key, Body=b"hard")
    dest = sibling_key(key)
    s3.copy_object(Bucket=bucket, Key=dest, CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key=dest)["Body"].read() == b"hard"


# ---------------------------------------------------------------- copy-source conditions


@pytest.mark.moto_gap("ignores x-amz-copy-source-if-match")
def test_copy_source_if_match(s3, src):
    s3.copy_object(Bucket=src["bucket"], Key="c1", CopySource=_source(src), CopySourceIfMatch=src["etag"])
    with expect_error("PreconditionFailed", 412):
        s3.copy_object(
            Bucket=src["bucket"], Key="c2", CopySource=_source(src), CopySourceIfMatch='"deadbeef"'
        )
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=src["bucket"], Key="c2")


def test_copy_source_if_none_match(s3, src):
    s3.copy_object(
        Bucket=src["bucket"], Key="c1", CopySource=_source(src), CopySourceIfNoneMatch='"deadbeef"'
    )
    with expect_error("PreconditionFailed", 412):
        s3.copy_object(
            Bucket=src["bucket"], Key="c2", CopySource=_source(src), CopySourceIfNoneMatch=src["etag"]
        )


@pytest.mark.moto_gap("ignores x-amz-copy-source-if-modified-since")
def test_copy_source_if_modified_since(s3, src):
    s3.copy_object(
        Bucket=src["bucket"],
        Key="c1",
        CopySource=_source(src),
        CopySourceIfModifiedSince=src["mtime"] - dt.timedelta(hours=1),
    )
    with expect_error("PreconditionFailed", 412):
        s3.copy_object(
            Bucket=src["bucket"], Key="c2", CopySource=_source(src), CopySourceIfModifiedSince=src["mtime"]
        )


@pytest.mark.moto_gap("ignores x-amz-copy-source-if-unmodified-since")
def test_copy_source_if_unmodified_since(s3, src):
    s3.copy_object(
        Bucket=src["bucket"], Key="c1", CopySource=_source(src), CopySourceIfUnmodifiedSince=src["mtime"]
    )
    with expect_error("PreconditionFailed", 412):
        s3.copy_object(
            Bucket=src["bucket"],
            Key="c2",
            CopySource=_source(src),
            CopySourceIfUnmodifiedSince=src["mtime"] - dt.timedelta(hours=1),
        )


@pytest.mark.moto_gap("ignores If-None-Match on CopyObject")
def test_copy_destination_if_none_match_star(s3, src):
    s3.put_object(Bucket=src["bucket"], Key="taken", Body=b"taken")
    with expect_error("PreconditionFailed", 412):
        s3.copy_object(Bucket=src["bucket"], Key="taken", CopySource=_source(src), IfNoneMatch="*")
    assert s3.get_object(Bucket=src["bucket"], Key="taken")["Body"].read() == b"taken"


# ---------------------------------------------------------------- errors


def test_copy_missing_source_key(s3, bucket):
    with expect_error("NoSuchKey", 404):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "absent"})


def test_copy_missing_source_bucket(s3, bucket):
    with expect_error("NoSuchBucket", 404):
        s3.copy_object(
            Bucket=bucket, Key="dst", CopySource={"Bucket": unique_bucket_name("nosrc"), "Key": "k"}
        )


def test_copy_missing_destination_bucket(s3, src):
    with expect_error("NoSuchBucket", 404):
        s3.copy_object(Bucket=unique_bucket_name("nodst"), Key="dst", CopySource=_source(src))

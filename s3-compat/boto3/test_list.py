"""ListObjects v1 and v2: prefix, delimiter, max-keys, marker, continuation-token,
start-after, encoding-type=url, fetch-owner."""

from __future__ import annotations

from urllib.parse import unquote_plus

import pytest
from botocore.handlers import (
    decode_list_object,
    decode_list_object_v2,
    set_list_objects_encoding_type_url,
)

from s3util import expect_error, make_client, quoted_md5, unique_bucket_name

TREE = ["a.txt", "dir1/b.txt", "dir1/c.txt", "dir1/sub/d.txt", "dir2/e.txt", "z.txt"]


@pytest.fixture
def tree(s3, bucket):
    for key in TREE:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def raw_list_client():
    """A client that does not add encoding-type=url behind our back, so keys
    travel as XML text and explicit EncodingType results stay encoded."""
    client = make_client()
    ev = client.meta.events
    ev.unregister("before-parameter-build.s3.ListObjects", set_list_objects_encoding_type_url)
    ev.unregister("before-parameter-build.s3.ListObjectsV2", set_list_objects_encoding_type_url)
    ev.unregister("after-call.s3.ListObjects", decode_list_object)
    ev.unregister("after-call.s3.ListObjectsV2", decode_list_object_v2)
    return client


def keys_of(resp):
    return [o["Key"] for o in resp.get("Contents", [])]


def prefixes_of(resp):
    return [p["Prefix"] for p in resp.get("CommonPrefixes", [])]


# ---------------------------------------------------------------- v2


def test_v2_all(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree)
    assert keys_of(resp) == TREE
    assert resp["KeyCount"] == len(TREE)
    assert resp["IsTruncated"] is False
    assert "NextContinuationToken" not in resp
    assert resp["Name"] == tree
    assert resp["MaxKeys"] == 1000
    for obj in resp["Contents"]:
        assert obj["Size"] == len(obj["Key"])
        assert obj["ETag"] == quoted_md5(obj["Key"].encode())
        assert obj["LastModified"] is not None
        assert obj["StorageClass"] == "STANDARD"
        assert "Owner" not in obj  # only with fetch-owner


def test_v2_empty_bucket(s3, bucket):
    resp = s3.list_objects_v2(Bucket=bucket)
    assert resp["KeyCount"] == 0
    assert "Contents" not in resp
    assert resp["IsTruncated"] is False


def test_v2_prefix(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, Prefix="dir1/")
    assert keys_of(resp) == ["dir1/b.txt", "dir1/c.txt", "dir1/sub/d.txt"]
    assert resp["Prefix"] == "dir1/"
    assert keys_of(s3.list_objects_v2(Bucket=tree, Prefix="nomatch")) == []
    assert keys_of(s3.list_objects_v2(Bucket=tree, Prefix="dir")) == TREE[1:5]


def test_v2_delimiter(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, Delimiter="/")
    assert keys_of(resp) == ["a.txt", "z.txt"]
    assert prefixes_of(resp) == ["dir1/", "dir2/"]
    assert resp["KeyCount"] == 4
    assert resp["Delimiter"] == "/"


def test_v2_prefix_and_delimiter(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, Prefix="dir1/", Delimiter="/")
    assert keys_of(resp) == ["dir1/b.txt", "dir1/c.txt"]
    assert prefixes_of(resp) == ["dir1/sub/"]


def test_v2_prefix_without_trailing_slash_and_delimiter(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, Prefix="dir", Delimiter="/")
    assert keys_of(resp) == []
    assert prefixes_of(resp) == ["dir1/", "dir2/"]


def test_v2_multichar_delimiter(s3, bucket):
    for key in ["x--1--a", "x--1--b", "x--2", "y", "x-single"]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    resp = s3.list_objects_v2(Bucket=bucket, Delimiter="--")
    assert prefixes_of(resp) == ["x--"]
    assert keys_of(resp) == ["x-single", "y"]
    resp = s3.list_objects_v2(Bucket=bucket, Prefix="x--", Delimiter="--")
    assert prefixes_of(resp) == ["x--1--"]
    assert keys_of(resp) == ["x--2"]


def test_v2_max_keys_pagination(s3, tree):
    seen, tokens = [], []
    kwargs = {"Bucket": tree, "MaxKeys": 2}
    while True:
        resp = s3.list_objects_v2(**kwargs)
        assert resp["MaxKeys"] == 2
        assert resp["KeyCount"] == len(resp.get("Contents", []))
        assert resp["KeyCount"] <= 2
        seen += keys_of(resp)
        if not resp["IsTruncated"]:
            assert "NextContinuationToken" not in resp
            break
        token = resp["NextContinuationToken"]
        assert token and token not in tokens, "continuation token must advance"
        tokens.append(token)
        kwargs["ContinuationToken"] = token
        assert len(tokens) < 10
    assert seen == TREE
    assert len(tokens) == 2


@pytest.mark.moto_gap("does not echo ContinuationToken")
def test_v2_continuation_token_echoed(s3, tree):
    first = s3.list_objects_v2(Bucket=tree, MaxKeys=1)
    token = first["NextContinuationToken"]
    second = s3.list_objects_v2(Bucket=tree, MaxKeys=1, ContinuationToken=token)
    assert second["ContinuationToken"] == token
    assert keys_of(second) == [TREE[1]]


def test_v2_pagination_with_delimiter_counts_prefixes(s3, tree):
    collected_keys, collected_prefixes = [], []
    kwargs = {"Bucket": tree, "Delimiter": "/", "MaxKeys": 1}
    for _ in range(10):
        resp = s3.list_objects_v2(**kwargs)
        assert resp["KeyCount"] == len(keys_of(resp)) + len(prefixes_of(resp)) == 1
        collected_keys += keys_of(resp)
        collected_prefixes += prefixes_of(resp)
        if not resp["IsTruncated"]:
            break
        kwargs["ContinuationToken"] = resp["NextContinuationToken"]
    assert collected_keys == ["a.txt", "z.txt"]
    assert collected_prefixes == ["dir1/", "dir2/"]


def test_v2_paginator(s3, bucket):
    keys = sorted(f"p/{i:04d}" for i in range(23))
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 5})
    )
    assert [len(keys_of(p)) for p in pages] == [5, 5, 5, 5, 3]
    assert [k for p in pages for k in keys_of(p)] == keys


def test_v2_start_after(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, StartAfter="dir1/c.txt")
    assert keys_of(resp) == ["dir1/sub/d.txt", "dir2/e.txt", "z.txt"]
    assert resp["StartAfter"] == "dir1/c.txt"
    resp = s3.list_objects_v2(Bucket=tree, StartAfter="dir1/bzz")
    assert keys_of(resp)[0] == "dir1/c.txt"
    assert keys_of(s3.list_objects_v2(Bucket=tree, StartAfter="zzz")) == []


def test_v2_start_after_with_prefix(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, Prefix="dir1/", StartAfter="dir1/b.txt")
    assert keys_of(resp) == ["dir1/c.txt", "dir1/sub/d.txt"]


def test_v2_fetch_owner(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, FetchOwner=True)
    for obj in resp["Contents"]:
        assert obj["Owner"]["ID"]
    owners = {o["Owner"]["ID"] for o in resp["Contents"]}
    assert len(owners) == 1


@pytest.mark.moto_gap("always includes Owner in ListObjectsV2")
def test_v2_no_owner_without_fetch_owner(s3, tree):
    for params in ({}, {"FetchOwner": False}):
        resp = s3.list_objects_v2(Bucket=tree, **params)
        assert all("Owner" not in o for o in resp["Contents"])


@pytest.mark.moto_gap("ListBuckets owner id differs from object owner id")
def test_v2_fetch_owner_matches_list_buckets_owner(s3, tree):
    owner = s3.list_buckets()["Owner"]["ID"]
    resp = s3.list_objects_v2(Bucket=tree, FetchOwner=True)
    assert {o["Owner"]["ID"] for o in resp["Contents"]} == {owner}


def test_v2_encoding_type_url_explicit(bucket):
    client = raw_list_client()
    keys = ["a b/c", "plus+key", "\u00fcnicode/\u65e5\u672c", "pct%41", "amp&lt;"]
    for k in keys:
        client.put_object(Bucket=bucket, Key=k, Body=b"")
    resp = client.list_objects_v2(Bucket=bucket, EncodingType="url")
    assert resp["EncodingType"] == "url"
    raw = keys_of(resp)
    for r in raw:
        assert r.isascii() and " " not in r, f"key not url-encoded: {r!r}"
    assert sorted(unquote_plus(r) for r in raw) == sorted(keys)

    resp = client.list_objects_v2(Bucket=bucket, EncodingType="url", Delimiter="/", Prefix="")
    assert sorted(unquote_plus(p) for p in prefixes_of(resp)) == ["a b/", "\u00fcnicode/"]
    for p in prefixes_of(resp):
        assert p.isascii() and " " not in p


def test_v2_encoding_type_url_plus_is_escaped(bucket):
    client = raw_list_client()
    client.put_object(Bucket=bucket, Key="1+1=2", Body=b"")
    raw = keys_of(client.list_objects_v2(Bucket=bucket, EncodingType="url"))
    assert unquote_plus(raw[0]) == "1+1=2"  # a literal '+' must come back as %2B


def test_v2_without_encoding_type_xml_escaping(bucket):
    client = raw_list_client()
    keys = sorted(["<tag>&amp;\"quoted\"'apos'", "\u00fcnicode \u2603 \U0001f600", "plain"])
    for k in keys:
        client.put_object(Bucket=bucket, Key=k, Body=b"")
    resp = client.list_objects_v2(Bucket=bucket)
    assert "EncodingType" not in resp
    assert sorted(keys_of(resp)) == keys


def test_v2_hard_keys_paginate(s3, bucket):
    keys = sorted(
        ["sp ace", "sp ace/x", "plus+", "\u00fc", "\U0001f600", "%", "~t", "a//b", "/lead"],
        key=lambda k: k.encode(),
    )
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2})
    )
    assert [k for p in pages for k in keys_of(p)] == keys


def test_v2_utf8_byte_order(s3, bucket):
    keys = ["a", "B", "\u00e9", "z", "\U0001f600", "~", "\uffef"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    assert keys_of(s3.list_objects_v2(Bucket=bucket)) == sorted(keys, key=lambda k: k.encode("utf-8"))


def test_v2_missing_bucket(s3):
    with expect_error("NoSuchBucket", 404):
        s3.list_objects_v2(Bucket=unique_bucket_name("missing"))


def test_v2_max_keys_zero(s3, tree):
    resp = s3.list_objects_v2(Bucket=tree, MaxKeys=0)
    assert keys_of(resp) == []
    assert resp["KeyCount"] == 0


# ---------------------------------------------------------------- v1


def test_v1_all(s3, tree):
    resp = s3.list_objects(Bucket=tree)
    assert keys_of(resp) == TREE
    assert resp["IsTruncated"] is False
    assert "NextMarker" not in resp
    for obj in resp["Contents"]:
        assert obj["ETag"] == quoted_md5(obj["Key"].encode())
        assert obj["Owner"]["ID"]  # v1 always includes Owner


def test_v1_prefix_delimiter(s3, tree):
    resp = s3.list_objects(Bucket=tree, Prefix="dir1/", Delimiter="/")
    assert keys_of(resp) == ["dir1/b.txt", "dir1/c.txt"]
    assert prefixes_of(resp) == ["dir1/sub/"]


def test_v1_marker(s3, tree):
    resp = s3.list_objects(Bucket=tree, Marker="dir1/c.txt")
    assert keys_of(resp) == ["dir1/sub/d.txt", "dir2/e.txt", "z.txt"]


@pytest.mark.moto_gap("does not echo Marker in ListObjects v1")
def test_v1_marker_echoed(s3, tree):
    assert s3.list_objects(Bucket=tree)["Marker"] == ""
    assert s3.list_objects(Bucket=tree, Marker="dir1/c.txt")["Marker"] == "dir1/c.txt"


@pytest.mark.moto_gap("sends NextMarker without a delimiter")
def test_v1_max_keys_without_delimiter_has_no_next_marker(s3, tree):
    seen = []
    marker = ""
    for _ in range(10):
        resp = s3.list_objects(Bucket=tree, MaxKeys=4, Marker=marker)
        seen += keys_of(resp)
        if not resp["IsTruncated"]:
            break
        assert "NextMarker" not in resp, "v1 sends NextMarker only with a delimiter"
        marker = keys_of(resp)[-1]
    assert seen == TREE


@pytest.mark.moto_gap("NextMarker with a delimiter is an ETag, not a key")
def test_v1_next_marker_with_delimiter(s3, tree):
    collected = []
    marker = ""
    for _ in range(10):
        resp = s3.list_objects(Bucket=tree, Delimiter="/", MaxKeys=1, Marker=marker)
        collected += keys_of(resp) + prefixes_of(resp)
        if not resp["IsTruncated"]:
            break
        marker = resp["NextMarker"]
        assert marker in ("a.txt", "dir1/", "dir2/", "z.txt")
    assert collected == ["a.txt", "dir1/", "dir2/", "z.txt"]


def test_v1_paginator(s3, bucket):
    keys = [f"v1/{i:03d}" for i in range(11)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    pages = list(s3.get_paginator("list_objects").paginate(Bucket=bucket, PaginationConfig={"PageSize": 4}))
    assert [k for p in pages for k in keys_of(p)] == keys


def test_v1_encoding_type_url_explicit(bucket):
    client = raw_list_client()
    for k in ["x y", "x+y"]:
        client.put_object(Bucket=bucket, Key=k, Body=b"")
    resp = client.list_objects(Bucket=bucket, EncodingType="url")
    assert resp["EncodingType"] == "url"
    assert sorted(unquote_plus(k) for k in keys_of(resp)) == ["x y", "x+y"]
    assert all(" " not in k for k in keys_of(resp))


def test_v1_missing_bucket(s3):
    with expect_error("NoSuchBucket", 404):
        s3.list_objects(Bucket=unique_bucket_name("missing"))

"""Object operations: PutObject, GetObject, HeadObject, DeleteObject,
DeleteObjects; metadata round trip; hard keys."""

from __future__ import annotations

import datetime as dt
import gzip
import io

import pytest

from s3util import (
    ENDPOINTS,
    HARD_KEYS,
    expect_error,
    http,
    http_date,
    make_client,
    md5_hex,
    payload,
    quoted_md5,
    b64,
    sibling_key,
)


def test_put_get_head_delete_round_trip(s3, bucket):
    body = payload(100_000, seed=1)
    put = s3.put_object(Bucket=bucket, Key="obj.bin", Body=body)
    assert put["ETag"] == quoted_md5(body)

    got = s3.get_object(Bucket=bucket, Key="obj.bin")
    assert got["Body"].read() == body
    assert got["ETag"] == quoted_md5(body)
    assert got["ContentLength"] == len(body)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert got["ResponseMetadata"]["HTTPHeaders"].get("accept-ranges") == "bytes"
    assert got["LastModified"].tzinfo is not None

    head = s3.head_object(Bucket=bucket, Key="obj.bin")
    assert head["ContentLength"] == len(body)
    assert head["ETag"] == quoted_md5(body)
    assert head["LastModified"] == got["LastModified"]

    deleted = s3.delete_object(Bucket=bucket, Key="obj.bin")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="obj.bin")
    with expect_error("404", 404):
        s3.head_object(Bucket=bucket, Key="obj.bin")


def test_empty_object(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert put["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b""
    assert got["ContentLength"] == 0
    assert s3.head_object(Bucket=bucket, Key="empty")["ContentLength"] == 0


def test_put_without_body(s3, bucket):
    s3.put_object(Bucket=bucket, Key="nobody")
    assert s3.get_object(Bucket=bucket, Key="nobody")["Body"].read() == b""


def test_overwrite_replaces_body_and_metadata(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"first", Metadata={"gen": "1"}, ContentType="text/plain")
    s3.put_object(Bucket=bucket, Key="k", Body=b"second version", Metadata={"other": "2"})
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"second version"
    assert got["Metadata"] == {"other": "2"}
    assert got["ContentType"] != "text/plain"


def test_binary_body_all_byte_values(s3, bucket):
    body = bytes(range(256)) * 257
    s3.put_object(Bucket=bucket, Key="bytes", Body=body)
    assert s3.get_object(Bucket=bucket, Key="bytes")["Body"].read() == body


def test_put_from_file_object(s3, bucket, tmp_path):
    body = payload(3 * 1024 * 1024 + 17, seed=2)
    path = tmp_path / "upload.bin"
    path.write_bytes(body)
    with path.open("rb") as fh:
        put = s3.put_object(Bucket=bucket, Key="from-file", Body=fh)
    assert put["ETag"] == quoted_md5(body)
    assert s3.get_object(Bucket=bucket, Key="from-file")["Body"].read() == body


def test_upload_fileobj_and_download_fileobj(s3, bucket):
    from boto3.s3.transfer import TransferConfig

    body = payload(6 * 1024 * 1024 + 3, seed=3)
    cfg = TransferConfig(multipart_threshold=64 * 1024 * 1024)  # single PUT; see test_multipart.py
    s3.upload_fileobj(io.BytesIO(body), bucket, "transfer.bin", Config=cfg)
    out = io.BytesIO()
    s3.download_fileobj(bucket, "transfer.bin", out, Config=cfg)
    assert out.getvalue() == body


def test_metadata_round_trip_byte_exact(s3, bucket):
    body = gzip.compress(b"hello metadata " * 100, mtime=0)
    expires = dt.datetime(2031, 5, 17, 8, 9, 10, tzinfo=dt.timezone.utc)
    headers_in = {
        "ContentType": "text/plain; charset=utf-8",
        "ContentEncoding": "gzip",
        "ContentDisposition": "attachment; filename=\"report 2024.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt",
        "ContentLanguage": "en-IN",
        "CacheControl": "max-age=3600, must-revalidate",
        "Expires": expires,
    }
    metadata = {
        "alpha": "one",
        "with-dash": "Value With  Spaces and symbols !#$%&*+-.^_`|~",
        "number": "12345",
        "mixedcase": "CaSe PrEsErVeD",
        "json-ish": '{"a":[1,2]}',
    }
    s3.put_object(Bucket=bucket, Key="meta", Body=body, Metadata=metadata, **headers_in)

    for resp in (
        s3.get_object(Bucket=bucket, Key="meta"),
        s3.head_object(Bucket=bucket, Key="meta"),
    ):
        raw = resp["ResponseMetadata"]["HTTPHeaders"]
        assert raw["content-type"] == headers_in["ContentType"]
        assert raw["content-encoding"] == "gzip"
        assert raw["content-disposition"] == headers_in["ContentDisposition"]
        assert raw["content-language"] == "en-IN"
        assert raw["cache-control"] == headers_in["CacheControl"]
        assert raw["expires"] == http_date(expires)
        assert resp["Metadata"] == metadata
        for k, v in metadata.items():
            assert raw[f"x-amz-meta-{k}"] == v

    got = s3.get_object(Bucket=bucket, Key="meta")
    assert got["Body"].read() == body  # stored as sent, not decompressed


def test_metadata_names_are_lowercased(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Metadata={"CamelCase-Name": "V"})
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["Metadata"] == {"camelcase-name": "V"}
    assert "x-amz-meta-camelcase-name" in head["ResponseMetadata"]["HTTPHeaders"]


def test_content_type_default_is_present(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ContentType"]


def test_content_md5_accepted(s3, bucket):
    body = b"content md5 check"
    import hashlib

    put = s3.put_object(
        Bucket=bucket, Key="k", Body=body, ContentMD5=b64(hashlib.md5(body).digest())
    )
    assert put["ETag"] == f'"{md5_hex(body)}"'


def test_content_length_header_on_get(s3, bucket):
    body = payload(12345)
    s3.put_object(Bucket=bucket, Key="k", Body=body)
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["ResponseMetadata"]["HTTPHeaders"]["content-length"] == "12345"
    got["Body"].read()


@pytest.mark.parametrize("key", HARD_KEYS)
def test_hard_key_round_trip(s3, bucket, key):
    body = f"body of {key!r}".encode()
    put = s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"k": "v"})
    assert put["ETag"] == quoted_md5(body)

    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body)

    listed = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == [key]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key)
    assert [o["Key"] for o in listed.get("Contents", [])] == [key]
    v1 = s3.list_objects(Bucket=bucket)
    assert [o["Key"] for o in v1["Contents"]] == [key]

    copy = sibling_key(key)
    s3.copy_object(Bucket=bucket, Key=copy, CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key=copy)["Body"].read() == body

    resp = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key}, {"Key": copy}]})
    assert sorted(d["Key"] for d in resp["Deleted"]) == sorted([key, copy])
    assert not resp.get("Errors")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_keys_differing_only_in_encoding_are_distinct(s3, bucket):
    keys = ["a b", "a+b", "a%20b", "a%2Bb", "A b"]
    for i, key in enumerate(keys):
        s3.put_object(Bucket=bucket, Key=key, Body=str(i).encode())
    for i, key in enumerate(keys):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == str(i).encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(keys, key=lambda k: k.encode())


@pytest.mark.moto_gap("no 1024-byte key limit")
def test_key_too_long(s3, bucket):
    with expect_error("KeyTooLongError", 400):
        s3.put_object(Bucket=bucket, Key="k" * 1025, Body=b"x")


def test_delete_missing_key_is_204(s3, bucket):
    resp = s3.delete_object(Bucket=bucket, Key="never-existed")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_delete_objects_verbose(s3, bucket):
    keys = [f"multi/{i:03d}" for i in range(25)]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    resp = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": k} for k in keys[:20]] + [{"Key": "multi/absent"}]},
    )
    deleted = sorted(d["Key"] for d in resp["Deleted"])
    # deleting a missing key is reported as deleted, as in S3
    assert deleted == sorted(keys[:20] + ["multi/absent"])
    assert not resp.get("Errors")
    remaining = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert remaining == keys[20:]


@pytest.mark.moto_gap("Quiet mode still lists Deleted")
def test_delete_objects_quiet(s3, bucket):
    for k in ("q1", "q2"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    resp = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "q1"}, {"Key": "q2"}], "Quiet": True}
    )
    assert not resp.get("Deleted")
    assert not resp.get("Errors")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_when_required_checksum(bucket):
    """DeleteObjects requires an integrity header; 'when_required' makes boto3
    send one (CRC32 or MD5) even though other operations send none."""
    client = make_client(request_checksum_calculation="when_required")
    client.put_object(Bucket=bucket, Key="d", Body=b"x")
    resp = client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d"}]})
    assert [d["Key"] for d in resp["Deleted"]] == ["d"]


def test_delete_objects_missing_bucket(s3):
    from s3util import unique_bucket_name

    with expect_error("NoSuchBucket", 404):
        s3.delete_objects(
            Bucket=unique_bucket_name("missing"), Delete={"Objects": [{"Key": "a"}]}
        )


def test_get_object_raw_http_headers(s3, bucket):
    """A plain presigned GET shows the raw headers a browser/curl would see."""
    body = b"raw headers"
    s3.put_object(Bucket=bucket, Key="raw", Body=body, ContentType="text/x-raw")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "raw"})
    resp = http("GET", url)
    assert resp.status == 200
    assert resp.data == body
    assert resp.headers["Content-Type"] == "text/x-raw"
    assert resp.headers["ETag"] == quoted_md5(body)
    assert resp.headers["Content-Length"] == str(len(body))
    assert resp.headers.get("Last-Modified", "").endswith("GMT")
    assert any(url.startswith(e + "/") for e in ENDPOINTS)


@pytest.mark.moto_gap("sends x-amzn-requestid, not x-amz-request-id")
def test_responses_carry_request_id(s3, bucket):
    s3.put_object(Bucket=bucket, Key="rid", Body=b"x")
    for resp in (
        s3.get_object(Bucket=bucket, Key="rid"),
        s3.head_object(Bucket=bucket, Key="rid"),
        s3.list_objects_v2(Bucket=bucket),
    ):
        assert resp["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")
        assert resp["ResponseMetadata"].get("RequestId")

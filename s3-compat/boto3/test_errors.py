"""Error responses: codes, HTTP statuses and the XML/HEAD shapes SDKs rely on."""

from __future__ import annotations

import hashlib
import socket
import ssl
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest

from s3util import (
    ACCESS_KEY,
    ENDPOINT,
    IS_HTTPS,
    REGION,
    SECRET_KEY,
    VERIFY,
    b64,
    expect_error,
    http,
    unique_bucket_name,
)
from sigv4raw import UNSIGNED_PAYLOAD, Signer, key_path


def parse_error(body: bytes) -> dict:
    root = ET.fromstring(body)
    assert root.tag == "Error", body
    return {child.tag: (child.text or "") for child in root}


def test_error_xml_shape(s3, bucket):
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "absent/key"})
    resp = http("GET", url)
    assert resp.status == 404
    assert resp.headers["Content-Type"].startswith("application/xml")
    err = parse_error(resp.data)
    assert err["Code"] == "NoSuchKey"
    assert err["Message"]
    assert err.get("RequestId")


@pytest.mark.moto_gap("sends x-amzn-requestid, not x-amz-request-id")
def test_error_has_request_id_header(s3, bucket):
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "absent"})
    resp = http("GET", url)
    assert resp.status == 404
    err = parse_error(resp.data)
    assert resp.headers.get("x-amz-request-id") == err["RequestId"]


def test_error_names_the_resource(s3, bucket):
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "absent/key"})
    err = parse_error(http("GET", url).data)
    assert err.get("Key") == "absent/key" or "absent/key" in err.get("Resource", "")
    missing = unique_bucket_name("missing")
    url = s3.generate_presigned_url("list_objects_v2", Params={"Bucket": missing})
    err = parse_error(http("GET", url).data)
    assert err["Code"] == "NoSuchBucket"
    assert err.get("BucketName") == missing or missing in err.get("Resource", "")


def test_head_missing_object_has_no_body(s3, bucket):
    with expect_error("404", 404):
        s3.head_object(Bucket=bucket, Key="absent")
    resp = http("HEAD", s3.generate_presigned_url("head_object", Params={"Bucket": bucket, "Key": "absent"}))
    assert resp.status == 404
    assert resp.data == b""


def test_no_such_key(s3, bucket):
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="absent")
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="absent", Range="bytes=0-1")


@pytest.mark.parametrize(
    "op",
    ["put_object", "get_object", "head_object", "delete_object", "list_objects", "list_objects_v2", "head_bucket"],
)
def test_no_such_bucket(s3, op):
    name = unique_bucket_name("missing")
    call = getattr(s3, op)
    kwargs = {"Bucket": name}
    if op in ("put_object", "get_object", "head_object", "delete_object"):
        kwargs["Key"] = "k"
    if op == "put_object":
        kwargs["Body"] = b"x"
    code = "404" if op.startswith("head_") else "NoSuchBucket"
    with expect_error(code, 404):
        call(**kwargs)


def test_bucket_not_empty(s3, bucket):
    s3.put_object(Bucket=bucket, Key="x", Body=b"x")
    with expect_error("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=bucket)


def test_bucket_already_owned(s3, bucket):
    with expect_error("BucketAlreadyOwnedByYou", 409):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})


def test_invalid_bucket_name(s3):
    with expect_error("InvalidBucketName", 400):
        s3.create_bucket(Bucket="no", CreateBucketConfiguration={"LocationConstraint": REGION})


def test_invalid_range(s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    with expect_error("InvalidRange", 416) as info:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-20")
    assert info.value.response["ResponseMetadata"]["HTTPHeaders"].get("content-range") in (None, "bytes */10")


def test_precondition_failed(s3, bucket):
    s3.put_object(Bucket=bucket, Key="p", Body=b"p")
    with expect_error("PreconditionFailed", 412):
        s3.get_object(Bucket=bucket, Key="p", IfMatch='"00000000000000000000000000000000"')


@pytest.mark.moto_gap("does not verify Content-MD5")
def test_content_md5_mismatch_is_bad_digest(s3, bucket):
    with expect_error("BadDigest", 400):
        s3.put_object(
            Bucket=bucket, Key="md5", Body=b"actual body", ContentMD5=b64(hashlib.md5(b"other").digest())
        )
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="md5")


@pytest.mark.moto_gap("does not validate Content-MD5 syntax")
@pytest.mark.parametrize("value", ["not base64 at all!", b64(b"short"), "Zm9v"])
def test_malformed_content_md5_is_invalid_digest(s3, bucket, value):
    with expect_error("InvalidDigest", 400):
        s3.put_object(Bucket=bucket, Key="md5", Body=b"body", ContentMD5=value)


@pytest.mark.moto_gap("GetObjectTorrent is answered, not NotImplemented")
def test_unimplemented_operation(s3, bucket):
    s3.put_object(Bucket=bucket, Key="t", Body=b"t")
    with expect_error("NotImplemented", 501):
        s3.get_object_torrent(Bucket=bucket, Key="t")


@pytest.mark.moto_gap("accepts a PUT without any length")
def test_put_without_length_is_411(bucket):
    signer = Signer(ACCESS_KEY, SECRET_KEY, REGION)
    url = ENDPOINT + key_path(bucket, "nolength")
    headers, _ = signer.sign_headers("PUT", url, {}, UNSIGNED_PAYLOAD)
    resp = http("PUT", url, body=iter([b"abc", b"def"]), headers={**headers, "Transfer-Encoding": "chunked"})
    assert resp.status == 411
    assert b"MissingContentLength" in resp.data


def _raw_exchange(request: bytes, timeout: float = 10.0) -> bytes:
    parts = urlsplit(ENDPOINT)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    if IS_HTTPS:
        ctx = ssl.create_default_context(cafile=VERIFY if isinstance(VERIFY, str) else None)
        if VERIFY is False:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock, server_hostname=parts.hostname)
    try:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body
    finally:
        sock.close()


@pytest.mark.moto_gap("no 5 GiB single-PUT limit")
def test_oversized_put_is_rejected_before_the_body(bucket):
    """Content-Length above 5 GiB with Expect: 100-continue: the server must
    answer EntityTooLarge without asking for the body (S3-PITFALLS §14, §15)."""
    size = 5 * 1024**3 + 1
    signer = Signer(ACCESS_KEY, SECRET_KEY, REGION)
    url = ENDPOINT + key_path(bucket, "huge")
    headers, _ = signer.sign_headers(
        "PUT", url, {"content-length": str(size), "expect": "100-continue"}, UNSIGNED_PAYLOAD
    )
    lines = [f"PUT {urlsplit(url).path} HTTP/1.1", f"Host: {urlsplit(url).netloc}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    response = _raw_exchange(("\r\n".join(lines) + "\r\n\r\n").encode())
    status_line = response.split(b"\r\n", 1)[0]
    assert b" 100 " not in status_line, "server asked for a body it must refuse"
    assert b" 400 " in status_line, response[:300]
    assert b"EntityTooLarge" in response

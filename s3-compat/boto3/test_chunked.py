"""Payload modes boto3 does not (always) produce, sent with our own SigV4 signer:
signed aws-chunked bodies with and without trailers, unsigned trailers over
plain http, UNSIGNED-PAYLOAD, and their failure modes (S3-PITFALLS §1, §2)."""

from __future__ import annotations

import hashlib
import re

import pytest

from s3util import (
    ACCESS_KEY,
    ENDPOINT,
    REGION,
    SECRET_KEY,
    checksum_b64,
    expect_error,
    http,
    payload,
    quoted_md5,
)
from sigv4raw import (
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    Signer,
    key_path,
    signed_chunked_body,
    unsigned_chunked_body,
)

# AWS's published example of a chunked upload (66560 bytes of 'a').
AWS_EXAMPLE = {
    "seed": "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    "chunks": [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ],
    # trailing headers first:1st, second:2nd, third:3rd signed after the last chunk
    "trailer": "df5735bd9f3295cd9386572292562fefc93ba94e80a0a1ddcbd652c4e0a75e6c",
}


def error_code_of(body: bytes) -> str:
    m = re.search(rb"<Code>([^<]+)</Code>", body)
    return m.group(1).decode() if m else ""


def test_signer_reproduces_aws_published_vectors():
    """Self-check of sigv4raw (no server involved)."""
    import datetime as dt

    signer = Signer(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "us-east-1",
        when=dt.datetime(2013, 5, 24, 0, 0, 0, tzinfo=dt.timezone.utc),
    )
    _, seed = signer.sign_headers(
        "PUT",
        "https://s3.amazonaws.com/examplebucket/chunkObject.txt",
        {
            "x-amz-storage-class": "REDUCED_REDUNDANCY",
            "content-encoding": "aws-chunked",
            "x-amz-decoded-content-length": "66560",
            "content-length": "66824",
        },
        STREAMING_SIGNED,
    )
    assert seed == AWS_EXAMPLE["seed"]
    s1 = signer.chunk_signature(seed, b"a" * 65536)
    s2 = signer.chunk_signature(s1, b"a" * 1024)
    s3_ = signer.chunk_signature(s2, b"")
    assert [s1, s2, s3_] == AWS_EXAMPLE["chunks"]
    trailer = signer.trailer_signature(s3_, [("first", "1st"), ("second", "2nd"), ("third", "3rd")])
    assert trailer == AWS_EXAMPLE["trailer"]
    body = signed_chunked_body(signer, seed, b"a" * 66560, 65536)
    assert len(body) == 66824


def test_signer_matches_botocore(monkeypatch):
    """Self-check of sigv4raw against botocore's S3 signer on a request with an
    awkward path and query (no server involved)."""
    import datetime as dt

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    when = dt.datetime(2024, 2, 29, 23, 59, 58)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *a, **k: when)
    url = "http://127.0.0.1:9000" + key_path("bkt", "dir/sp ace+plus~\u00fc/=&?x") + (
        "?list-type=2&prefix=a%20b%2Bc&encoding-type=url&x-id=ListObjectsV2&empty="
    )
    headers = {"x-amz-meta-note": "  two  spaces  ", "content-type": "text/plain"}
    payload_hash = hashlib.sha256(b"").hexdigest()

    ours, sig = Signer("AKID", "SECRET", "in-mum", when=when.replace(tzinfo=dt.timezone.utc)).sign_headers(
        "GET", url, headers, payload_hash
    )
    request = AWSRequest(method="GET", url=url, headers=dict(headers))
    request.headers["X-Amz-Content-SHA256"] = payload_hash
    S3SigV4Auth(Credentials("AKID", "SECRET"), "s3", "in-mum").add_auth(request)
    theirs = request.headers["Authorization"]
    assert ours["Authorization"].replace(" ", "") == theirs.replace(" ", "")
    assert theirs.endswith(sig)


def test_unsigned_framing_matches_botocore():
    """Our unsigned aws-chunked framing is byte-identical to botocore's."""
    import io

    from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

    data = payload(200_000, seed=30)
    theirs = AwsChunkedWrapper(
        io.BytesIO(data), checksum_cls=Crc32Checksum, checksum_name="x-amz-checksum-crc32", chunk_size=65536
    ).read()
    ours = unsigned_chunked_body(data, 65536, [("x-amz-checksum-crc32", checksum_b64("CRC32", data))])
    assert ours == theirs


# ---------------------------------------------------------------- helpers


def raw_put(
    bucket: str,
    key: str,
    data: bytes,
    mode: str,
    chunk_size: int = 64 * 1024,
    checksum: str | None = None,
    checksum_value: str | None = None,
    corrupt_chunk: int | None = None,
    tamper_seed: bool = False,
    extra_headers: dict | None = None,
    stream: bool = False,
):
    """PUT with an explicit x-amz-content-sha256 mode; returns the urllib3 response."""
    signer = Signer(ACCESS_KEY, SECRET_KEY, REGION)
    url = ENDPOINT + key_path(bucket, key)
    headers = dict(extra_headers or {})
    trailers = None
    if checksum:
        name = f"x-amz-checksum-{checksum.lower()}"
        trailers = [(name, checksum_value or checksum_b64(checksum, data))]

    if mode in (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER):
        ce = headers.pop("content-encoding", None)
        headers["content-encoding"] = f"{ce},aws-chunked" if ce else "aws-chunked"
        headers["x-amz-decoded-content-length"] = str(len(data))
        if trailers:
            headers["x-amz-trailer"] = trailers[0][0]
            headers["x-amz-sdk-checksum-algorithm"] = checksum.upper()  # as the SDKs send it
        if mode == STREAMING_UNSIGNED_TRAILER:
            body = unsigned_chunked_body(data, chunk_size, trailers or [])
        else:
            # the body length must be known before signing: build with a dummy
            # seed first (same length), then sign and build for real.
            probe = signed_chunked_body(signer, "0" * 64, data, chunk_size, trailers)
            if not stream:
                headers["content-length"] = str(len(probe))
            signed, seed = signer.sign_headers("PUT", url, headers, mode)
            if tamper_seed:
                seed = "f" * 64
            body = signed_chunked_body(signer, seed, data, chunk_size, trailers, corrupt_chunk)
            return _send(url, signed, body, stream)
        if not stream:
            headers["content-length"] = str(len(body))
        signed, _ = signer.sign_headers("PUT", url, headers, mode)
        return _send(url, signed, body, stream)

    if mode == UNSIGNED_PAYLOAD:
        payload_hash = UNSIGNED_PAYLOAD
    else:
        payload_hash = mode  # a literal hex sha256 (maybe deliberately wrong)
    if trailers:
        headers[trailers[0][0]] = trailers[0][1]
    headers["content-length"] = str(len(data))
    signed, _ = signer.sign_headers("PUT", url, headers, payload_hash)
    return _send(url, signed, data, False)


def _send(url, headers, body, stream):
    if stream:
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        pieces = [body[i : i + 8192] for i in range(0, len(body), 8192)]
        return http("PUT", url, body=iter(pieces), headers={**headers, "Transfer-Encoding": "chunked"})
    return http("PUT", url, body=body, headers=headers)


def assert_stored(s3, bucket, key, data):
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == data
    assert got["ContentLength"] == len(data)
    assert got["ETag"] == quoted_md5(data)
    return got


# ---------------------------------------------------------------- plain modes


def test_literal_sha256_payload(s3, bucket):
    data = payload(10_000, seed=31)
    resp = raw_put(bucket, "lit", data, hashlib.sha256(data).hexdigest())
    assert resp.status == 200, resp.data
    assert_stored(s3, bucket, "lit", data)


@pytest.mark.moto_gap("does not verify x-amz-content-sha256")
def test_literal_sha256_mismatch(s3, bucket):
    data = payload(10_000, seed=32)
    resp = raw_put(bucket, "lit", data, hashlib.sha256(b"other").hexdigest())
    assert resp.status == 400
    assert error_code_of(resp.data) == "XAmzContentSHA256Mismatch"
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="lit")


def test_unsigned_payload_header_auth(s3, bucket):
    data = payload(10_000, seed=33)
    resp = raw_put(bucket, "unsigned", data, UNSIGNED_PAYLOAD)
    assert resp.status == 200, resp.data
    assert_stored(s3, bucket, "unsigned", data)


# ---------------------------------------------------------------- signed chunks


@pytest.mark.parametrize(
    "size,chunk",
    [(0, 8192), (1, 8192), (8192, 8192), (100_000, 8192), (1_048_577, 65536), (3_000_000, 1_048_576)],
)
def test_signed_streaming(s3, bucket, size, chunk):
    data = payload(size, seed=size)
    resp = raw_put(bucket, "signed-chunks", data, STREAMING_SIGNED, chunk_size=chunk)
    assert resp.status == 200, resp.data
    assert resp.headers.get("ETag") == quoted_md5(data)
    got = assert_stored(s3, bucket, "signed-chunks", data)
    assert "aws-chunked" not in got.get("ContentEncoding", "")


def test_signed_streaming_with_http_chunked_transfer(s3, bucket):
    data = payload(200_000, seed=34)
    resp = raw_put(bucket, "te-chunked", data, STREAMING_SIGNED, chunk_size=65536, stream=True)
    assert resp.status == 200, resp.data
    assert_stored(s3, bucket, "te-chunked", data)


def test_signed_streaming_keeps_other_content_encoding(s3, bucket):
    data = b"pretend gzip"
    resp = raw_put(
        bucket, "ce", data, STREAMING_SIGNED, extra_headers={"content-encoding": "gzip"}
    )
    assert resp.status == 200, resp.data
    head = s3.head_object(Bucket=bucket, Key="ce")
    assert head["ContentEncoding"] == "gzip"


@pytest.mark.moto_gap("does not verify chunk signatures")
def test_signed_streaming_corrupted_chunk(s3, bucket):
    s3.put_object(Bucket=bucket, Key="victim", Body=b"intact")
    data = payload(100_000, seed=35)
    resp = raw_put(bucket, "victim", data, STREAMING_SIGNED, chunk_size=8192, corrupt_chunk=3)
    assert resp.status == 403
    assert error_code_of(resp.data) == "SignatureDoesNotMatch"
    assert s3.get_object(Bucket=bucket, Key="victim")["Body"].read() == b"intact"


@pytest.mark.moto_gap("does not verify chunk signatures")
def test_signed_streaming_broken_chain(s3, bucket):
    data = payload(20_000, seed=36)
    resp = raw_put(bucket, "chain", data, STREAMING_SIGNED, chunk_size=8192, tamper_seed=True)
    assert resp.status == 403
    assert error_code_of(resp.data) == "SignatureDoesNotMatch"
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="chain")


# ---------------------------------------------------------------- trailers


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_signed_streaming_with_trailer(s3, bucket, algorithm):
    data = payload(150_000, seed=37)
    resp = raw_put(bucket, "st", data, STREAMING_SIGNED_TRAILER, chunk_size=65536, checksum=algorithm)
    assert resp.status == 200, resp.data
    assert_stored(s3, bucket, "st", data)
    head = s3.head_object(Bucket=bucket, Key="st", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == checksum_b64(algorithm, data)


@pytest.mark.moto_gap("does not verify trailing checksums")
def test_signed_trailer_wrong_checksum(s3, bucket):
    data = payload(50_000, seed=38)
    resp = raw_put(
        bucket, "st", data, STREAMING_SIGNED_TRAILER, checksum="CRC32C",
        checksum_value=checksum_b64("CRC32C", b"not it"),
    )
    assert resp.status == 400
    assert error_code_of(resp.data) == "BadDigest"
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="st")


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_unsigned_trailer_over_any_transport(s3, bucket, algorithm):
    data = payload(150_000, seed=39)
    resp = raw_put(bucket, "ut", data, STREAMING_UNSIGNED_TRAILER, chunk_size=65536, checksum=algorithm)
    assert resp.status == 200, resp.data
    assert_stored(s3, bucket, "ut", data)
    head = s3.head_object(Bucket=bucket, Key="ut", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == checksum_b64(algorithm, data)


@pytest.mark.moto_gap("does not verify trailing checksums")
def test_unsigned_trailer_wrong_checksum(s3, bucket):
    s3.put_object(Bucket=bucket, Key="ut", Body=b"before")
    data = payload(50_000, seed=40)
    resp = raw_put(
        bucket, "ut", data, STREAMING_UNSIGNED_TRAILER, checksum="CRC32",
        checksum_value=checksum_b64("CRC32", b"wrong"),
    )
    assert resp.status == 400
    assert error_code_of(resp.data) == "BadDigest"
    assert s3.get_object(Bucket=bucket, Key="ut")["Body"].read() == b"before"


def test_unsigned_trailer_http_chunked_transfer(s3, bucket):
    data = payload(100_000, seed=41)
    resp = raw_put(bucket, "ut-te", data, STREAMING_UNSIGNED_TRAILER, checksum="CRC32", stream=True)
    assert resp.status == 200, resp.data
    assert_stored(s3, bucket, "ut-te", data)

"""Flexible checksums: CRC32, CRC32C, CRC64NVME, SHA1, SHA256.

boto3 >= 1.36 computes a CRC32 for every PutObject by default
(request_checksum_calculation='when_supported'); over http it goes in a header,
over https in an aws-chunked trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER).
CRC32C and CRC64NVME need awscrt (botocore[crt]).
"""

from __future__ import annotations

import io

import pytest
from botocore import httpchecksum

from s3util import (
    CHECKSUM_FIELD,
    IS_HTTPS,
    RequestRecorder,
    checksum_b64,
    expect_error,
    make_client,
    payload,
    quoted_md5,
)

ALGORITHMS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]
BODY = payload(300_000, seed=11)


def sent_checksum_location(headers: dict, algorithm: str) -> str:
    name = f"x-amz-checksum-{algorithm.lower()}"
    if headers.get("x-amz-trailer", "").lower() == name:
        return "trailer"
    if name in headers:
        return "header"
    return "none"


def test_crt_is_installed():
    import awscrt  # noqa: F401

    assert httpchecksum.HAS_CRT, "botocore[crt] is required for CRC32C and CRC64NVME"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_put_with_algorithm_round_trip(bucket, algorithm):
    client = make_client()
    rec = RequestRecorder(client)
    expected = checksum_b64(algorithm, BODY)
    field = CHECKSUM_FIELD[algorithm]

    put = client.put_object(Bucket=bucket, Key="obj", Body=BODY, ChecksumAlgorithm=algorithm)
    assert put[field] == expected
    assert put["ETag"] == quoted_md5(BODY)
    _, _, headers = rec.last("PUT")
    assert sent_checksum_location(headers, algorithm) == ("trailer" if IS_HTTPS else "header")

    got = client.get_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    assert got[field] == expected
    assert got["Body"].read() == BODY  # botocore also validates the checksum while reading

    head = client.head_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    assert head[field] == expected


@pytest.mark.moto_gap("does not echo a checksum sent without x-amz-sdk-checksum-algorithm")
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_put_with_precomputed_checksum(bucket, algorithm):
    client = make_client()
    rec = RequestRecorder(client)
    expected = checksum_b64(algorithm, BODY)
    field = CHECKSUM_FIELD[algorithm]
    put = client.put_object(Bucket=bucket, Key="pre", Body=BODY, **{field: expected})
    assert put[field] == expected
    _, _, headers = rec.last("PUT")
    assert headers[f"x-amz-checksum-{algorithm.lower()}"] == expected
    got = client.head_object(Bucket=bucket, Key="pre", ChecksumMode="ENABLED")
    assert got[field] == expected


@pytest.mark.moto_gap("does not verify x-amz-checksum-* values")
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_wrong_checksum_header_is_bad_digest(s3, bucket, algorithm):
    field = CHECKSUM_FIELD[algorithm]
    wrong = checksum_b64(algorithm, b"something else entirely")
    with expect_error("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="bad", Body=BODY, **{field: wrong})
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="bad")


@pytest.mark.moto_gap("does not verify x-amz-checksum-* values")
@pytest.mark.parametrize("algorithm", ["CRC32", "SHA256"])
def test_wrong_checksum_keeps_old_object(s3, bucket, algorithm):
    s3.put_object(Bucket=bucket, Key="keep", Body=b"original")
    field = CHECKSUM_FIELD[algorithm]
    with expect_error("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="keep", Body=BODY, **{field: checksum_b64(algorithm, b"x")})
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"original"


@pytest.mark.moto_gap("does not verify x-amz-checksum-* values")
@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_corrupted_computed_checksum_is_bad_digest(bucket, algorithm, monkeypatch):
    """The SDK computes the checksum itself (header over http, trailer over
    https); we make it send a wrong one and expect S3's BadDigest."""
    client = make_client()
    original = httpchecksum.BaseChecksum.b64digest

    def wrong_b64digest(self):
        real = original(self)
        return checksum_b64(algorithm, b"not the body") if real else real

    monkeypatch.setattr(httpchecksum.BaseChecksum, "b64digest", wrong_b64digest)
    with expect_error("BadDigest", 400):
        client.put_object(Bucket=bucket, Key="corrupt", Body=BODY, ChecksumAlgorithm=algorithm)
    monkeypatch.undo()
    with expect_error("NoSuchKey", 404):
        client.get_object(Bucket=bucket, Key="corrupt")


def test_default_when_supported_sends_crc32(bucket):
    client = make_client(request_checksum_calculation="when_supported")
    rec = RequestRecorder(client)
    put = client.put_object(Bucket=bucket, Key="default", Body=BODY)
    _, _, headers = rec.last("PUT")
    assert sent_checksum_location(headers, "CRC32") in ("header", "trailer")
    assert put["ChecksumCRC32"] == checksum_b64("CRC32", BODY)
    got = client.get_object(Bucket=bucket, Key="default", ChecksumMode="ENABLED")
    assert got["ChecksumCRC32"] == checksum_b64("CRC32", BODY)
    assert got["Body"].read() == BODY


def test_when_required_sends_no_checksum(bucket):
    client = make_client(request_checksum_calculation="when_required")
    rec = RequestRecorder(client)
    client.put_object(Bucket=bucket, Key="plain", Body=BODY)
    _, _, headers = rec.last("PUT")
    assert not [h for h in headers if h.startswith("x-amz-checksum-")]
    assert "x-amz-trailer" not in headers
    got = client.get_object(Bucket=bucket, Key="plain", ChecksumMode="ENABLED")
    assert got["Body"].read() == BODY  # any checksum the server returns must be right


@pytest.mark.parametrize("algorithm", ["CRC32C", "CRC64NVME"])
def test_when_required_with_explicit_algorithm(bucket, algorithm):
    client = make_client(request_checksum_calculation="when_required")
    rec = RequestRecorder(client)
    put = client.put_object(Bucket=bucket, Key="explicit", Body=BODY, ChecksumAlgorithm=algorithm)
    _, _, headers = rec.last("PUT")
    assert sent_checksum_location(headers, algorithm) != "none"
    assert put[CHECKSUM_FIELD[algorithm]] == checksum_b64(algorithm, BODY)


def test_response_validation_when_required(bucket):
    writer = make_client()
    writer.put_object(Bucket=bucket, Key="v", Body=BODY, ChecksumAlgorithm="SHA256")
    reader = make_client(response_checksum_validation="when_required")
    rec = RequestRecorder(reader)
    got = reader.get_object(Bucket=bucket, Key="v")
    assert got["Body"].read() == BODY
    assert "x-amz-checksum-mode" not in rec.last("GET")[2]
    got = reader.get_object(Bucket=bucket, Key="v", ChecksumMode="ENABLED")
    assert got["ChecksumSHA256"] == checksum_b64("SHA256", BODY)
    assert got["Body"].read() == BODY


def test_ranged_get_has_no_full_object_checksum(bucket):
    client = make_client()
    client.put_object(Bucket=bucket, Key="r", Body=BODY, ChecksumAlgorithm="CRC32C")
    got = client.get_object(Bucket=bucket, Key="r", Range="bytes=0-99", ChecksumMode="ENABLED")
    assert got["Body"].read() == BODY[:100]
    assert "ChecksumCRC32C" not in got


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC64NVME", "SHA256"])
def test_streaming_file_body_multi_chunk(bucket, algorithm, tmp_path):
    """A 5 MiB file body spans several aws-chunked chunks on https."""
    data = payload(5 * 1024 * 1024 + 123, seed=5)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    client = make_client()
    with path.open("rb") as fh:
        put = client.put_object(Bucket=bucket, Key="big", Body=fh, ChecksumAlgorithm=algorithm)
    assert put[CHECKSUM_FIELD[algorithm]] == checksum_b64(algorithm, data)
    head = client.head_object(Bucket=bucket, Key="big", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data)
    assert head[CHECKSUM_FIELD[algorithm]] == checksum_b64(algorithm, data)
    assert client.get_object(Bucket=bucket, Key="big")["Body"].read() == data


@pytest.mark.https_only  # over http botocore must seek to sign the payload
def test_non_seekable_body(bucket):
    class OneShot(io.RawIOBase):
        def __init__(self, data):
            self._buf = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            chunk = self._buf.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    data = payload(200_000, seed=6)
    client = make_client()
    client.put_object(
        Bucket=bucket, Key="oneshot", Body=OneShot(data), ContentLength=len(data), ChecksumAlgorithm="CRC32"
    )
    assert client.get_object(Bucket=bucket, Key="oneshot")["Body"].read() == data


@pytest.mark.https_only
def test_https_uses_unsigned_trailer(bucket):
    client = make_client()
    rec = RequestRecorder(client)
    client.put_object(Bucket=bucket, Key="t", Body=b"trailer body", ChecksumAlgorithm="CRC32C")
    _, _, headers = rec.last("PUT")
    assert headers["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert "aws-chunked" in headers["content-encoding"]
    assert headers["x-amz-decoded-content-length"] == str(len(b"trailer body"))
    assert client.get_object(Bucket=bucket, Key="t")["Body"].read() == b"trailer body"


def test_aws_chunked_not_stored_as_content_encoding(bucket):
    client = make_client()
    client.put_object(Bucket=bucket, Key="ce", Body=b"gzip-ish", ContentEncoding="gzip", ChecksumAlgorithm="CRC32")
    client.put_object(Bucket=bucket, Key="plain", Body=b"plain", ChecksumAlgorithm="CRC32")
    assert client.head_object(Bucket=bucket, Key="ce")["ContentEncoding"] == "gzip"
    assert "aws-chunked" not in client.head_object(Bucket=bucket, Key="plain").get("ContentEncoding", "")


@pytest.mark.parametrize(
    "algorithm",
    ["SHA256", pytest.param("CRC32C", marks=pytest.mark.moto_gap("computes a wrong CRC32C on copy"))],
)
def test_copy_object_with_checksum_algorithm(s3, bucket, algorithm):
    s3.put_object(Bucket=bucket, Key="src", Body=BODY)
    resp = s3.copy_object(
        Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"}, ChecksumAlgorithm=algorithm
    )
    assert resp["CopyObjectResult"][CHECKSUM_FIELD[algorithm]] == checksum_b64(algorithm, BODY)
    head = s3.head_object(Bucket=bucket, Key="dst", ChecksumMode="ENABLED")
    assert head[CHECKSUM_FIELD[algorithm]] == checksum_b64(algorithm, BODY)


def test_copy_object_keeps_source_checksum(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=BODY, ChecksumAlgorithm="SHA1")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    head = s3.head_object(Bucket=bucket, Key="dst", ChecksumMode="ENABLED")
    assert head["ChecksumSHA1"] == checksum_b64("SHA1", BODY)


def test_empty_body_checksums(s3, bucket):
    for algorithm in ALGORITHMS:
        put = s3.put_object(Bucket=bucket, Key=f"empty-{algorithm}", Body=b"", ChecksumAlgorithm=algorithm)
        assert put[CHECKSUM_FIELD[algorithm]] == checksum_b64(algorithm, b"")

"""Ranges and conditions on get_object; copy_object with CopySource."""

from __future__ import annotations

import os

import pytest
from minio import S3Error, ServerError
from minio.commonconfig import REPLACE, CopySource

from mutil import MiB, get_bytes, md5, put_bytes

ALPHA = b"0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.fixture
def alpha(client, bucket):
    etag = put_bytes(client, bucket, "alpha.txt", ALPHA, metadata={"colour": "blue"},
                     content_type="text/x-alpha").etag
    return bucket, etag


@pytest.mark.group("conditional/range")
def test_get_object_offset_length(client, alpha):
    bucket, _ = alpha
    resp = client.get_object(bucket, "alpha.txt", offset=10, length=10)
    try:
        assert resp.status == 206
        assert resp.headers.get("Content-Range") == "bytes 10-19/36"
        assert resp.read() == b"abcdefghij"
    finally:
        resp.close()
        resp.release_conn()
    assert get_bytes(client, bucket, "alpha.txt", offset=30) == b"uvwxyz"
    assert get_bytes(client, bucket, "alpha.txt", offset=0, length=1) == b"0"
    assert get_bytes(client, bucket, "alpha.txt", offset=35, length=10) == b"z"


@pytest.mark.group("conditional/range")
def test_get_object_range_in_large_object(client, bucket):
    data = os.urandom(6 * MiB + 3)
    put_bytes(client, bucket, "big.bin", data)
    off = 5 * MiB - 5
    assert get_bytes(client, bucket, "big.bin", offset=off, length=100) == data[off:off + 100]
    assert get_bytes(client, bucket, "big.bin", offset=len(data) - 7) == data[-7:]


@pytest.mark.group("conditional/range")
def test_get_object_offset_past_end_is_invalid_range(client, alpha):
    bucket, _ = alpha
    with pytest.raises(S3Error) as err:
        client.get_object(bucket, "alpha.txt", offset=100)
    assert err.value.code == "InvalidRange"
    assert err.value.response.status == 416


@pytest.mark.group("conditional/range")
def test_get_object_conditional_headers(client, alpha):
    bucket, etag = alpha
    assert get_bytes(client, bucket, "alpha.txt", request_headers={"If-Match": f'"{etag}"'}) == ALPHA
    with pytest.raises(S3Error) as err:
        client.get_object(bucket, "alpha.txt", request_headers={"If-Match": '"0123456789abcdef0123456789abcdef"'})
    assert err.value.code == "PreconditionFailed"
    assert err.value.response.status == 412
    # 304 is not an error document: minio-py raises ServerError with the status
    with pytest.raises(ServerError) as not_modified:
        client.get_object(bucket, "alpha.txt", request_headers={"If-None-Match": f'"{etag}"'})
    assert not_modified.value.status_code == 304
    with pytest.raises(ServerError) as not_modified:
        client.get_object(bucket, "alpha.txt", request_headers={"If-Modified-Since": "Mon, 01 Jan 2035 00:00:00 GMT"})
    assert not_modified.value.status_code == 304


@pytest.mark.group("copy")
def test_copy_object_keeps_metadata(client, alpha):
    bucket, etag = alpha
    result = client.copy_object(bucket, "copy/alpha copy.txt", CopySource(bucket, "alpha.txt"))
    assert result.etag == etag
    st = client.stat_object(bucket, "copy/alpha copy.txt")
    assert st.metadata.get("x-amz-meta-colour") == "blue"
    assert st.content_type == "text/x-alpha"
    assert get_bytes(client, bucket, "copy/alpha copy.txt") == ALPHA


@pytest.mark.group("copy")
def test_copy_object_replace_metadata(client, alpha):
    bucket, _ = alpha
    client.copy_object(bucket, "copy/replaced.txt", CopySource(bucket, "alpha.txt"),
                       metadata={"colour": "green", "Content-Type": "text/x-new"}, metadata_directive=REPLACE)
    st = client.stat_object(bucket, "copy/replaced.txt")
    assert st.metadata.get("x-amz-meta-colour") == "green"
    assert st.content_type == "text/x-new"
    assert get_bytes(client, bucket, "copy/replaced.txt") == ALPHA


@pytest.mark.group("copy")
def test_copy_object_across_buckets_unicode(client, alpha, make_bucket):
    bucket, _ = alpha
    other = make_bucket("copy-target")
    put_bytes(client, bucket, "résumé 日本.txt", b"unicode source")
    client.copy_object(other, "x/copy of résumé.txt", CopySource(bucket, "résumé 日本.txt"))
    assert get_bytes(client, other, "x/copy of résumé.txt") == b"unicode source"


@pytest.mark.group("copy")
def test_copy_object_conditions(client, alpha):
    bucket, etag = alpha
    client.copy_object(bucket, "copy/if-match.txt", CopySource(bucket, "alpha.txt", match_etag=etag))
    assert get_bytes(client, bucket, "copy/if-match.txt") == ALPHA
    with pytest.raises(S3Error) as err:
        client.copy_object(bucket, "copy/no.txt",
                           CopySource(bucket, "alpha.txt", match_etag="0123456789abcdef0123456789abcdef"))
    assert err.value.code == "PreconditionFailed"
    with pytest.raises(S3Error) as err:
        client.copy_object(bucket, "copy/no.txt", CopySource(bucket, "alpha.txt", not_match_etag=etag))
    assert err.value.code == "PreconditionFailed"


@pytest.mark.group("copy")
def test_copy_object_byte_range(client, bucket):
    # a CopySource with offset/length makes minio-py copy through UploadPartCopy with
    # x-amz-copy-source-range
    data = os.urandom(2 * MiB)
    put_bytes(client, bucket, "src.bin", data)
    client.copy_object(bucket, "part.bin", CopySource(bucket, "src.bin", offset=1000, length=5000))
    got = get_bytes(client, bucket, "part.bin")
    assert got == data[1000:6000]
    assert client.stat_object(bucket, "part.bin").size == 5000
    assert md5(got) == md5(data[1000:6000])

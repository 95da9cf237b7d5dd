"""presigned_get_object / presigned_put_object (fetched with urllib) and the errors a user sees."""

from __future__ import annotations

import os
import re
import time
from datetime import timedelta

import pytest
from minio import S3Error

from mutil import get_bytes, http, make_client, put_bytes, unique_bucket

ALPHA = b"0123456789abcdefghijklmnopqrstuvwxyz"


@pytest.mark.group("auth/presign")
def test_presigned_get_object(client, bucket):
    data = os.urandom(200_000)
    put_bytes(client, bucket, "dir/presigned get.bin", data)
    url = client.presigned_get_object(bucket, "dir/presigned get.bin", expires=timedelta(minutes=5))
    assert "X-Amz-Signature=" in url and "X-Amz-Expires=300" in url
    status, _, body = http("GET", url)
    assert status == 200
    assert body == data


@pytest.mark.group("auth/presign")
def test_presigned_get_response_header_overrides(client, bucket):
    put_bytes(client, bucket, "alpha.txt", ALPHA, content_type="text/plain")
    url = client.presigned_get_object(
        bucket, "alpha.txt",
        response_headers={"response-content-type": "application/x-override",
                          "response-content-disposition": 'attachment; filename="x.txt"'},
    )
    status, headers, body = http("GET", url)
    assert (status, body) == (200, ALPHA)
    assert headers.get("Content-Type") == "application/x-override"
    assert headers.get("Content-Disposition") == 'attachment; filename="x.txt"'


@pytest.mark.group("auth/presign")
def test_presigned_get_expired_and_tampered(client, bucket):
    put_bytes(client, bucket, "alpha.txt", ALPHA)
    good = client.presigned_get_object(bucket, "alpha.txt", expires=timedelta(minutes=5))
    tampered = re.sub(r"(X-Amz-Signature=)([0-9a-f])", lambda m: m.group(1) + ("1" if m.group(2) == "0" else "0"),
                      good)
    assert tampered != good
    status, _, body = http("GET", tampered)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body, body[:300]
    url = client.presigned_get_object(bucket, "alpha.txt", expires=timedelta(seconds=1))
    time.sleep(2.2)
    status, _, body = http("GET", url)
    assert status == 403 and b"<Code>AccessDenied</Code>" in body, body[:300]


@pytest.mark.group("auth/presign")
def test_presigned_put_object(client, bucket):
    data = os.urandom(150_000)
    url = client.presigned_put_object(bucket, "up/presigned put.bin", expires=timedelta(minutes=5))
    status, headers, _ = http("PUT", url, data=data)
    assert status == 200
    assert headers.get("ETag", "").strip('"')
    assert get_bytes(client, bucket, "up/presigned put.bin") == data
    assert client.stat_object(bucket, "up/presigned put.bin").size == len(data)


@pytest.mark.group("auth/presign")
def test_presigned_put_with_wrong_secret_is_rejected(client, bucket):
    bad = make_client(secret_key="wrong-secret-key-0000000000000000000000")
    url = bad.presigned_put_object(bucket, "up/denied.bin")
    status, _, body = http("PUT", url, data=b"nope")
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in body, body[:300]
    with pytest.raises(S3Error) as err:
        client.stat_object(bucket, "up/denied.bin")
    assert err.value.code == "NoSuchKey"


@pytest.mark.group("errors")
def test_no_such_key(client, bucket):
    with pytest.raises(S3Error) as err:
        client.get_object(bucket, "no/such/key")
    assert (err.value.code, err.value.response.status) == ("NoSuchKey", 404)
    with pytest.raises(S3Error) as err:
        client.stat_object(bucket, "no/such/key")
    assert (err.value.code, err.value.response.status) == ("NoSuchKey", 404)


@pytest.mark.group("errors")
def test_no_such_bucket(client):
    missing = unique_bucket("missing")
    assert not client.bucket_exists(missing)
    with pytest.raises(S3Error) as err:
        client.get_object(missing, "key")
    assert (err.value.code, err.value.response.status) == ("NoSuchBucket", 404)
    with pytest.raises(S3Error) as err:
        list(client.list_objects(missing))
    assert err.value.code == "NoSuchBucket"
    with pytest.raises(S3Error) as err:
        put_bytes(client, missing, "key", b"x")
    assert err.value.code == "NoSuchBucket"
    with pytest.raises(S3Error) as err:
        client.remove_bucket(missing)
    assert err.value.code == "NoSuchBucket"


@pytest.mark.group("errors")
def test_wrong_secret_signature_does_not_match(client, bucket):
    bad = make_client(secret_key="wrong-secret-key-0000000000000000000000")
    with pytest.raises(S3Error) as err:
        put_bytes(bad, bucket, "denied.txt", b"x")
    assert (err.value.code, err.value.response.status) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(S3Error) as err:
        list(bad.list_objects(bucket))
    assert err.value.code == "SignatureDoesNotMatch"
    with pytest.raises(S3Error) as err:
        client.stat_object(bucket, "denied.txt")
    assert err.value.code == "NoSuchKey"


@pytest.mark.group("errors")
def test_unknown_access_key(bucket):
    bad = make_client(access_key="CNXNOSUCHKEY00000000")
    with pytest.raises(S3Error) as err:
        bad.list_buckets()
    assert (err.value.code, err.value.response.status) == ("InvalidAccessKeyId", 403)


@pytest.mark.group("errors")
def test_bucket_not_empty(client, bucket):
    put_bytes(client, bucket, "x", b"x")
    with pytest.raises(S3Error) as err:
        client.remove_bucket(bucket)
    assert (err.value.code, err.value.response.status) == ("BucketNotEmpty", 409)


@pytest.mark.group("errors")
def test_bucket_already_owned(client, bucket):
    with pytest.raises(S3Error) as err:
        client.make_bucket(bucket)
    assert (err.value.code, err.value.response.status) == ("BucketAlreadyOwnedByYou", 409)

"""Signature V2: botocore's `s3` signer (Authorization: AWS AK:sig) and its `s3-query`
presigned URLs. On a server configured with `[s3] sigv2 = true` (the runner says so with
S3_SIGV2=1) every request below must work; on one without, each is refused as S3 refuses
SigV2 in SigV4-only regions."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest

from s3util import (
    ON_MOTO,
    SIGV2,
    curl,
    expect_error,
    http,
    make_client,
    payload,
    quoted_md5,
)

accepted = pytest.mark.skipif(
    not (SIGV2 or ON_MOTO), reason="the server under test is configured without SigV2"
)
V4_ONLY = b"The authorization mechanism you have provided is not supported"


@pytest.fixture
def v2():
    return make_client(signature_version="s3")


@accepted
def test_object_round_trip(v2, bucket):
    body = payload(70_000, seed=2)
    put = v2.put_object(
        Bucket=bucket,
        Key="dir/a b+c.txt",
        Body=body,
        ContentType="text/plain",
        Metadata={"owner": "v2 client"},
    )
    assert put["ETag"] == quoted_md5(body)
    got = v2.get_object(Bucket=bucket, Key="dir/a b+c.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"owner": "v2 client"}
    head = v2.head_object(Bucket=bucket, Key="dir/a b+c.txt", Range="bytes=0-9")
    assert head["ContentLength"] == 10
    listed = v2.list_objects(Bucket=bucket, Prefix="dir/")
    assert [o["Key"] for o in listed["Contents"]] == ["dir/a b+c.txt"]
    v2.delete_object(Bucket=bucket, Key="dir/a b+c.txt")
    assert v2.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


@accepted
def test_sub_resources_are_signed(v2, bucket):
    # ?tagging, ?versioning, ?uploads/uploadId/partNumber, ?delete, ?location, copy source.
    v2.put_object(Bucket=bucket, Key="k", Body=b"x")
    v2.put_object_tagging(
        Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}
    )
    assert v2.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [
        {"Key": "a", "Value": "b"}
    ]
    v2.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert v2.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v2.get_bucket_location(Bucket=bucket)
    v2.copy_object(Bucket=bucket, Key="k2", CopySource={"Bucket": bucket, "Key": "k"})
    part = payload(5 * 1024 * 1024, seed=3)
    up = v2.create_multipart_upload(Bucket=bucket, Key="mp")
    etag = v2.upload_part(
        Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=part
    )["ETag"]
    assert v2.list_parts(Bucket=bucket, Key="mp", UploadId=up["UploadId"])["Parts"]
    v2.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert v2.get_object(Bucket=bucket, Key="mp")["Body"].read() == part
    versions = v2.list_object_versions(Bucket=bucket)["Versions"]
    v2.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]},
    )
    assert "Versions" not in v2.list_object_versions(Bucket=bucket)


@accepted
@pytest.mark.moto_gap("moto does not check signatures")
def test_wrong_secret_and_unknown_key(bucket):
    with expect_error("SignatureDoesNotMatch", 403):
        make_client(secret_key="not-the-secret", signature_version="s3").list_objects(
            Bucket=bucket
        )
    with expect_error("InvalidAccessKeyId", 403):
        make_client(access_key="NOSUCHKEY0000000", signature_version="s3").list_objects(
            Bucket=bucket
        )


@accepted
def test_presigned_get_and_put(v2, bucket):
    body = payload(20_000, seed=4)
    put_url = v2.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "p q"}, ExpiresIn=300
    )
    assert "AWSAccessKeyId=" in put_url and "Signature=" in put_url
    assert http("PUT", put_url, body=body).status == 200
    get_url = v2.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "p q"}, ExpiresIn=300
    )
    r = http("GET", get_url)
    assert r.status == 200 and r.data == body
    out = curl(["--fail", get_url])
    assert out.returncode == 0 and out.stdout == body


@accepted
@pytest.mark.moto_gap("moto ignores response-* overrides on SigV2 presigned URLs")
def test_presigned_get_with_response_override(v2, bucket):
    # A response override is a signed sub-resource.
    v2.put_object(Bucket=bucket, Key="p q", Body=b"png")
    url = v2.generate_presigned_url(
        "get_object",
        Params={"Bucket": bucket, "Key": "p q", "ResponseContentType": "image/png"},
        ExpiresIn=300,
    )
    r = http("GET", url)
    assert r.status == 200 and r.headers["content-type"] == "image/png"


@accepted
@pytest.mark.moto_gap("moto does not check signatures")
def test_presigned_url_tampering_and_expiry(v2, bucket):
    v2.put_object(Bucket=bucket, Key="a", Body=b"a")
    v2.put_object(Bucket=bucket, Key="b", Body=b"b")
    url = v2.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "a"}, ExpiresIn=300
    )
    other = url.replace(f"/{bucket}/a?", f"/{bucket}/b?")
    r = http("GET", other)
    assert r.status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in r.data
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    q["Expires"] = str(int(time.time()) + 3600)
    r = http("GET", urlunsplit(parts._replace(query=urlencode(q))))
    assert r.status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in r.data
    past = v2.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "a"}, ExpiresIn=1
    )
    time.sleep(2.2)
    r = http("GET", past)
    assert r.status == 403 and b"<Code>AccessDenied</Code>" in r.data
    assert b"Request has expired" in r.data


@accepted
@pytest.mark.moto_gap("moto does not check request times")
def test_skewed_clock_is_refused(bucket):
    from unittest import mock

    import botocore.auth

    late = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)
    v2 = make_client(signature_version="s3")
    stamp = late.strftime("%a, %d %b %Y %H:%M:%S GMT")
    with mock.patch.object(botocore.auth.HmacV1Auth, "_get_date", return_value=stamp):
        with expect_error("RequestTimeTooSkewed", 403):
            v2.list_objects(Bucket=bucket)


@pytest.mark.skipif(SIGV2, reason="the server under test is configured to accept SigV2")
@pytest.mark.moto_gap("moto does not check signatures")
def test_refused_when_not_configured(v2, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with expect_error("InvalidRequest", 400) as info:
        v2.get_object(Bucket=bucket, Key="k")
    assert "AWS4-HMAC-SHA256" in info.value.response["Error"]["Message"]
    url = v2.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=300
    )
    r = http("GET", url)
    assert r.status == 400 and V4_ONLY in r.data


@accepted
def test_presigned_put_carries_signed_metadata(v2, bucket):
    # botocore's V2 presigner moves the x-amz-* headers it signed into the query string.
    url = v2.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": "m", "Metadata": {"owner": "alice"}},
        ExpiresIn=300,
    )
    assert "x-amz-meta-owner=alice" in url
    assert http("PUT", url, body=b"m").status == 200
    assert v2.head_object(Bucket=bucket, Key="m")["Metadata"] == {"owner": "alice"}


@accepted
@pytest.mark.moto_gap("moto does not check signatures")
def test_presigned_put_metadata_cannot_be_changed_or_added(v2, bucket):
    url = v2.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": "m", "Metadata": {"owner": "alice"}},
        ExpiresIn=300,
    )
    r = http("PUT", url.replace("x-amz-meta-owner=alice", "x-amz-meta-owner=mallory"), body=b"m")
    assert r.status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in r.data
    plain = v2.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "n"}, ExpiresIn=300
    )
    r = http("PUT", plain + "&x-amz-meta-owner=mallory", body=b"n")
    assert r.status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in r.data
    r = http("PUT", plain, body=b"n", headers={"x-amz-meta-owner": "mallory"})
    assert r.status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in r.data

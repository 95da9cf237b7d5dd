"""SigV4 authentication: wrong secret, unknown key, anonymous, region, clock
skew, tampering, and the payload-signing modes boto3 chooses."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from s3util import (
    ACCESS_KEY,
    ENDPOINT,
    REGION,
    SECRET_KEY,
    RequestRecorder,
    expect_error,
    http,
    make_client,
    payload,
)
from sigv4raw import UNSIGNED_PAYLOAD, Signer, key_path

WRONG_SECRET = "cnx-wrong-secret-0000000000000000000000"
UNKNOWN_KEY = "CNXUNKNOWNKEY0000000"


def error_code_of(body: bytes) -> str:
    m = re.search(rb"<Code>([^<]+)</Code>", body)
    return m.group(1).decode() if m else ""


def signed_get(url_path: str, signer: Signer, headers: dict | None = None):
    url = ENDPOINT + url_path
    signed, _ = signer.sign_headers("GET", url, headers or {}, UNSIGNED_PAYLOAD)
    return http("GET", url, headers=signed)


# ---------------------------------------------------------------- credentials


@pytest.mark.moto_gap("no signature verification without IAM auth mode")
def test_wrong_secret_is_signature_does_not_match(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    bad = make_client(secret_key=WRONG_SECRET)
    with expect_error("SignatureDoesNotMatch", 403):
        bad.list_buckets()
    with expect_error("SignatureDoesNotMatch", 403):
        bad.get_object(Bucket=bucket, Key="k")
    with expect_error("SignatureDoesNotMatch", 403):
        bad.put_object(Bucket=bucket, Key="k", Body=b"overwrite attempt")
    with expect_error("SignatureDoesNotMatch", 403):
        bad.list_objects_v2(Bucket=bucket)
    with expect_error("403", 403):
        bad.head_object(Bucket=bucket, Key="k")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


@pytest.mark.moto_gap("no access key check without IAM auth mode")
def test_unknown_access_key_is_invalid_access_key_id(s3, bucket):
    bad = make_client(access_key=UNKNOWN_KEY)
    with expect_error("InvalidAccessKeyId", 403):
        bad.list_buckets()
    with expect_error("InvalidAccessKeyId", 403):
        bad.put_object(Bucket=bucket, Key="k", Body=b"x")
    with expect_error("InvalidAccessKeyId", 403):
        bad.create_bucket(Bucket=bucket + "x", CreateBucketConfiguration={"LocationConstraint": REGION})
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="k")


@pytest.mark.moto_gap("anonymous requests are allowed")
def test_anonymous_requests_are_access_denied(s3, bucket):
    s3.put_object(Bucket=bucket, Key="private", Body=b"secret")
    anon = make_client(unsigned=True)
    with expect_error("AccessDenied", 403):
        anon.list_buckets()
    with expect_error("AccessDenied", 403):
        anon.get_object(Bucket=bucket, Key="private")
    with expect_error("AccessDenied", 403):
        anon.put_object(Bucket=bucket, Key="anon-write", Body=b"x")
    with expect_error("AccessDenied", 403):
        anon.list_objects_v2(Bucket=bucket)
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="anon-write")


@pytest.mark.moto_gap("anonymous requests are allowed")
def test_anonymous_curl_style_get_is_denied(s3, bucket):
    s3.put_object(Bucket=bucket, Key="private", Body=b"secret")
    resp = http("GET", f"{ENDPOINT}/{bucket}/private")
    assert resp.status == 403
    assert error_code_of(resp.data) == "AccessDenied"
    assert b"secret" not in resp.data


@pytest.mark.moto_gap("anonymous requests are allowed")
def test_anonymous_list_buckets_raw():
    resp = http("GET", f"{ENDPOINT}/")
    assert resp.status == 403
    assert error_code_of(resp.data) == "AccessDenied"


# ---------------------------------------------------------------- scope and time


@pytest.mark.moto_gap("does not check the credential scope region")
def test_wrong_region_in_scope(bucket):
    other = "us-west-2" if REGION != "us-west-2" else "eu-west-1"
    resp = signed_get(f"/{bucket}?list-type=2", Signer(ACCESS_KEY, SECRET_KEY, other))
    assert resp.status == 400, resp.data
    assert error_code_of(resp.data) == "AuthorizationHeaderMalformed"
    assert REGION.encode() in resp.data, "the error must name the expected region"


def test_right_region_raw_signer(bucket):
    resp = signed_get(f"/{bucket}?list-type=2", Signer(ACCESS_KEY, SECRET_KEY, REGION))
    assert resp.status == 200, resp.data


@pytest.mark.moto_gap("does not check request time")
@pytest.mark.parametrize("minutes", [-20, 20])
def test_clock_skew_over_15_minutes(bucket, minutes):
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    resp = signed_get(f"/{bucket}?list-type=2", Signer(ACCESS_KEY, SECRET_KEY, REGION, when=when))
    assert resp.status == 403, resp.data
    assert error_code_of(resp.data) == "RequestTimeTooSkewed"


@pytest.mark.parametrize("minutes", [-10, 10])
def test_clock_skew_within_15_minutes(bucket, minutes):
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    resp = signed_get(f"/{bucket}?list-type=2", Signer(ACCESS_KEY, SECRET_KEY, REGION, when=when))
    assert resp.status == 200, resp.data


# ---------------------------------------------------------------- tampering


@pytest.mark.moto_gap("no signature verification")
def test_header_changed_after_signing(bucket):
    client = make_client()

    def tamper(request, **kwargs):
        request.headers["x-amz-meta-note"] = "changed after signing"

    def add_signed_header(request, **kwargs):
        request.headers["x-amz-meta-note"] = "original"

    client.meta.events.register_first("before-sign.s3.PutObject", add_signed_header)
    client.meta.events.register("before-send.s3.PutObject", tamper)
    with expect_error("SignatureDoesNotMatch", 403):
        client.put_object(Bucket=bucket, Key="t", Body=b"x")


@pytest.mark.moto_gap("no signature verification")
def test_query_changed_after_signing(s3, bucket):
    for k in ("a/1", "b/1"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    client = make_client()

    def tamper(request, **kwargs):
        request.url = request.url.replace("prefix=a", "prefix=b")

    client.meta.events.register("before-send.s3.ListObjectsV2", tamper)
    with expect_error("SignatureDoesNotMatch", 403):
        client.list_objects_v2(Bucket=bucket, Prefix="a")


@pytest.mark.moto_gap("answers a malformed Authorization header with 500")
def test_garbage_authorization_header(bucket):
    resp = http(
        "GET",
        f"{ENDPOINT}/{bucket}",
        headers={"Authorization": "AWS4-HMAC-SHA256 nonsense", "x-amz-date": "20200101T000000Z"},
    )
    assert resp.status in (400, 403)
    assert error_code_of(resp.data) in (
        "AuthorizationHeaderMalformed",
        "AccessDenied",
        "InvalidArgument",
        "SignatureDoesNotMatch",
    )


# ---------------------------------------------------------------- payload modes via boto3


@pytest.mark.parametrize("signing", [True, False])
def test_payload_signing_modes(bucket, signing):
    client = make_client(s3={"payload_signing_enabled": signing})
    rec = RequestRecorder(client)
    data = payload(70_000, seed=51)
    client.put_object(Bucket=bucket, Key="p", Body=data)
    sha = rec.last("PUT")[2]["x-amz-content-sha256"]
    if signing:
        assert re.fullmatch(r"[0-9a-f]{64}", sha) or sha.startswith("STREAMING-"), sha
    else:
        assert sha in ("UNSIGNED-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), sha
    assert client.get_object(Bucket=bucket, Key="p")["Body"].read() == data


def test_unsigned_payload_without_checksum(bucket):
    client = make_client(
        s3={"payload_signing_enabled": False}, request_checksum_calculation="when_required"
    )
    rec = RequestRecorder(client)
    client.put_object(Bucket=bucket, Key="u", Body=b"unsigned")
    sha = rec.last("PUT")[2]["x-amz-content-sha256"]
    assert sha == "UNSIGNED-PAYLOAD"
    assert client.get_object(Bucket=bucket, Key="u")["Body"].read() == b"unsigned"


def test_signed_query_with_special_characters(s3, bucket):
    """Canonical query: spaces as %20, '+' as %2B, '~' kept, unicode UTF-8."""
    keys = ["q a/1", "q+b/1", "q~c/1", "q\u00e9/1", "q=&/1"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    for k in keys:
        prefix = k.split("/")[0] + "/"
        resp = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, StartAfter=prefix + "0")
        assert [o["Key"] for o in resp.get("Contents", [])] == [k]


def test_raw_signed_request_with_encoded_path(s3, bucket):
    key = "raw path/with+plus/\u00fc"
    s3.put_object(Bucket=bucket, Key=key, Body=b"raw")
    resp = signed_get(key_path(bucket, key), Signer(ACCESS_KEY, SECRET_KEY, REGION))
    assert resp.status == 200, resp.data
    assert resp.data == b"raw"


# ---------------------------------------------------------------- both botocore signers


@pytest.fixture
def python_signer(monkeypatch):
    """With botocore[crt] installed botocore signs through awscrt; users without
    it get botocore's pure-Python signer. Force the latter for one test."""
    import botocore.auth as bauth

    monkeypatch.setitem(bauth.AUTH_TYPE_MAPS, "s3v4", bauth.S3SigV4Auth)
    monkeypatch.setitem(bauth.AUTH_TYPE_MAPS, "s3v4-query", bauth.S3SigV4QueryAuth)
    monkeypatch.setitem(bauth.AUTH_TYPE_MAPS, "s3-query", bauth.S3SigV4QueryAuth)
    return bauth


def test_pure_python_signer(bucket, python_signer):
    client = make_client()
    seen = []
    client.meta.events.register(
        "before-send.s3", lambda request, **kw: seen.append(request.headers.get("Authorization"))
    )
    key = "python signer/\u00fc+%~ key"
    data = payload(20_000, seed=52)
    client.put_object(Bucket=bucket, Key=key, Body=data, Metadata={"m": "v"}, ChecksumAlgorithm="SHA256")
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == data
    resp = client.list_objects_v2(Bucket=bucket, Prefix="python signer/", Delimiter="/")
    assert [o["Key"] for o in resp["Contents"]] == [key]
    url = client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
    got = http("GET", url)
    assert got.status == 200 and got.data == data
    assert len(seen) == 3 and all(seen)

"""Presigned URLs: GET, PUT, HEAD, DELETE, fetched with urllib3 and with curl."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from unittest import mock
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest

from s3util import (
    HARD_KEYS,
    curl,
    expect_error,
    http,
    make_client,
    payload,
    quoted_md5,
)

BODY = payload(50_000, seed=21)


def presign(client, method, bucket, key, expires=300, **params):
    return client.generate_presigned_url(
        method, Params={"Bucket": bucket, "Key": key, **params}, ExpiresIn=expires
    )


def error_code_of(body: bytes) -> str:
    m = re.search(rb"<Code>([^<]+)</Code>", body)
    return m.group(1).decode() if m else ""


def presign_at(client, when: dt.datetime, method, bucket, key, expires=300):
    """Presign as if the clock said `when` (UTC). Both signers are patched:
    botocore's own and the awscrt one it prefers when botocore[crt] is installed."""
    aware = when.replace(tzinfo=dt.timezone.utc) if when.tzinfo is None else when

    def fake_now(remove_tzinfo=True):
        return aware.replace(tzinfo=None) if remove_tzinfo else aware

    with mock.patch("botocore.auth.get_current_datetime", fake_now), mock.patch(
        "botocore.crt.auth.get_current_datetime", fake_now
    ):
        url = presign(client, method, bucket, key, expires=expires)
    assert f"X-Amz-Date={aware.strftime('%Y%m%dT%H%M%SZ')}" in url, url
    return url


def test_presigned_get(s3, bucket):
    s3.put_object(Bucket=bucket, Key="g", Body=BODY)
    url = presign(s3, "get_object", bucket, "g")
    assert "X-Amz-Signature=" in url and "X-Amz-Credential=" in url
    resp = http("GET", url)
    assert resp.status == 200
    assert resp.data == BODY
    assert resp.headers["ETag"] == quoted_md5(BODY)


def test_presigned_get_with_curl(s3, bucket, tmp_path):
    s3.put_object(Bucket=bucket, Key="curl/get me.bin", Body=BODY)
    url = presign(s3, "get_object", bucket, "curl/get me.bin")
    out = tmp_path / "out.bin"
    proc = curl(["--fail", "-o", str(out), "-w", "%{http_code}", url])
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode() == "200"
    assert hashlib.sha256(out.read_bytes()).hexdigest() == hashlib.sha256(BODY).hexdigest()


def test_presigned_range_get_with_curl(s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=BODY)
    url = presign(s3, "get_object", bucket, "r")
    proc = curl(["--fail", "-r", "100-199", url])
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == BODY[100:200]


def test_presigned_put_with_curl(s3, bucket, tmp_path):
    src = tmp_path / "upload.bin"
    src.write_bytes(BODY)
    url = presign(s3, "put_object", bucket, "curl/put.bin")
    proc = curl(["--fail", "-X", "PUT", "-T", str(src), "-w", "%{http_code}", "-o", "/dev/null", url])
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode() == "200"
    got = s3.get_object(Bucket=bucket, Key="curl/put.bin")
    assert got["Body"].read() == BODY
    assert got["ETag"] == quoted_md5(BODY)


def test_presigned_put_with_signed_content_type(s3, bucket, tmp_path):
    src = tmp_path / "page.html"
    src.write_bytes(b"<html>hi</html>")
    url = presign(s3, "put_object", bucket, "page.html", ContentType="text/html")
    proc = curl(["--fail", "-X", "PUT", "-H", "Content-Type: text/html", "--data-binary", f"@{src}", url])
    assert proc.returncode == 0, proc.stderr.decode()
    head = s3.head_object(Bucket=bucket, Key="page.html")
    assert head["ContentType"] == "text/html"
    assert head["ContentLength"] == len(b"<html>hi</html>")


@pytest.mark.moto_gap("does not verify presigned signatures")
def test_presigned_put_with_other_content_type_is_rejected(s3, bucket):
    url = presign(s3, "put_object", bucket, "typed", ContentType="text/html")
    resp = http("PUT", url, body=b"x", headers={"Content-Type": "application/json"})
    assert resp.status == 403
    assert error_code_of(resp.data) == "SignatureDoesNotMatch"


def test_presigned_put_with_urllib3(s3, bucket):
    url = presign(s3, "put_object", bucket, "u3")
    resp = http("PUT", url, body=BODY)
    assert resp.status == 200, resp.data
    assert resp.headers["ETag"] == quoted_md5(BODY)
    assert s3.get_object(Bucket=bucket, Key="u3")["Body"].read() == BODY


def test_presigned_put_empty_body(s3, bucket):
    url = presign(s3, "put_object", bucket, "zero")
    resp = http("PUT", url, body=b"")
    assert resp.status == 200, resp.data
    assert s3.head_object(Bucket=bucket, Key="zero")["ContentLength"] == 0


def test_presigned_head(s3, bucket):
    s3.put_object(Bucket=bucket, Key="h", Body=BODY)
    url = presign(s3, "head_object", bucket, "h")
    resp = http("HEAD", url)
    assert resp.status == 200
    assert resp.headers["Content-Length"] == str(len(BODY))
    assert resp.data == b""
    proc = curl(["--fail", "-I", url])
    assert proc.returncode == 0, proc.stderr.decode()


def test_presigned_head_missing_is_404(s3, bucket):
    resp = http("HEAD", presign(s3, "head_object", bucket, "absent"))
    assert resp.status == 404
    assert resp.data == b""


def test_presigned_delete(s3, bucket):
    s3.put_object(Bucket=bucket, Key="d", Body=b"bye")
    url = presign(s3, "delete_object", bucket, "d")
    resp = http("DELETE", url)
    assert resp.status == 204
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="d")


@pytest.mark.moto_gap("does not verify presigned signatures")
def test_presigned_method_is_signed(s3, bucket):
    s3.put_object(Bucket=bucket, Key="m", Body=b"keep")
    url = presign(s3, "get_object", bucket, "m")
    resp = http("DELETE", url)
    assert resp.status == 403
    assert error_code_of(resp.data) == "SignatureDoesNotMatch"
    assert s3.get_object(Bucket=bucket, Key="m")["Body"].read() == b"keep"


def test_presigned_get_missing_key(s3, bucket):
    resp = http("GET", presign(s3, "get_object", bucket, "absent"))
    assert resp.status == 404
    assert error_code_of(resp.data) == "NoSuchKey"


@pytest.mark.parametrize("key", HARD_KEYS)
def test_presigned_get_hard_keys(s3, bucket, key):
    s3.put_object(Bucket=bucket, Key=key, Body=b"hard key body")
    url = presign(s3, "get_object", bucket, key)
    resp = http("GET", url)
    assert resp.status == 200, resp.data
    assert resp.data == b"hard key body"
    proc = curl(["--fail", url])
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout == b"hard key body"


@pytest.mark.parametrize("key", ["sp ace+plus/\u00fcml\u00e4ut", "emoji \U0001f680", "/lead//double"])
def test_presigned_put_hard_keys_with_curl(s3, bucket, key, tmp_path):
    src = tmp_path / "b"
    src.write_bytes(b"via curl")
    proc = curl(["--fail", "-T", str(src), presign(s3, "put_object", bucket, key)])
    assert proc.returncode == 0, proc.stderr.decode()
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"via curl"


@pytest.mark.moto_gap("parses an x-www-form-urlencoded PUT body as a form")
def test_presigned_put_curl_data_binary_form_content_type(s3, bucket, tmp_path):
    """`curl --data-binary` sends Content-Type: application/x-www-form-urlencoded;
    the body must still be stored byte for byte."""
    src = tmp_path / "b"
    src.write_bytes(b"a=1&b=2 not a form")
    proc = curl(["--fail", "-X", "PUT", "--data-binary", f"@{src}", presign(s3, "put_object", bucket, "form")])
    assert proc.returncode == 0, proc.stderr.decode()
    got = s3.get_object(Bucket=bucket, Key="form")
    assert got["Body"].read() == b"a=1&b=2 not a form"
    assert got["ContentType"] == "application/x-www-form-urlencoded"


@pytest.mark.moto_gap("does not verify presigned signatures")
def test_tampered_presigned_url(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"a")
    s3.put_object(Bucket=bucket, Key="b", Body=b"b")
    url = presign(s3, "get_object", bucket, "a")
    parts = urlsplit(url)
    tampered = urlunsplit(parts._replace(path=parts.path[:-1] + "b"))
    resp = http("GET", tampered)
    assert resp.status == 403
    assert error_code_of(resp.data) == "SignatureDoesNotMatch"


@pytest.mark.moto_gap("does not verify presigned signatures")
def test_presigned_url_with_wrong_secret(bucket):
    bad = make_client(secret_key="wrong-secret-0000000000000000000000000")
    resp = http("GET", presign(bad, "get_object", bucket, "k"))
    assert resp.status == 403
    assert error_code_of(resp.data) == "SignatureDoesNotMatch"


@pytest.mark.moto_gap("does not check presigned access keys")
def test_presigned_url_with_unknown_key(bucket):
    bad = make_client(access_key="AKIDUNKNOWNCNX000000")
    resp = http("GET", presign(bad, "get_object", bucket, "k"))
    assert resp.status == 403
    assert error_code_of(resp.data) == "InvalidAccessKeyId"


@pytest.mark.moto_gap("does not check presigned URL expiry")
def test_expired_presigned_url(s3, bucket):
    s3.put_object(Bucket=bucket, Key="old", Body=b"old")
    an_hour_ago = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(hours=1)
    url = presign_at(s3, an_hour_ago, "get_object", bucket, "old", expires=60)
    resp = http("GET", url)
    assert resp.status == 403
    assert error_code_of(resp.data) == "AccessDenied"
    proc = curl(["-w", "%{http_code}", "-o", "/dev/null", url])
    assert proc.stdout.decode() == "403"


def test_presigned_url_signed_slightly_in_future_is_accepted(s3, bucket):
    """Up to 15 minutes of clock skew is tolerated."""
    s3.put_object(Bucket=bucket, Key="skew", Body=b"skew")
    soon = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(minutes=5)
    resp = http("GET", presign_at(s3, soon, "get_object", bucket, "skew"))
    assert resp.status == 200, resp.data


@pytest.mark.moto_gap("does not validate X-Amz-Expires")
@pytest.mark.parametrize("expires", ["604801", "0", "-5", "abc"])
def test_presigned_expires_out_of_range(s3, bucket, expires):
    """X-Amz-Expires must be 1..604800 (AWS: AuthorizationQueryParametersError).
    The signature would not match either, so only the status family is pinned."""
    s3.put_object(Bucket=bucket, Key="x", Body=b"x")
    url = presign(s3, "get_object", bucket, "x", expires=3600)
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    query["X-Amz-Expires"] = [expires]
    bad = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
    resp = http("GET", bad)
    assert resp.status in (400, 403)
    assert error_code_of(resp.data) in ("AuthorizationQueryParametersError", "AccessDenied", "SignatureDoesNotMatch")


@pytest.mark.moto_gap("does not validate X-Amz-Expires")
def test_presigned_expires_over_a_week_signed(bucket):
    """A correctly signed URL asking for more than 7 days is refused."""
    client = make_client()
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "x"}, ExpiresIn=604801
    )
    resp = http("GET", url)
    assert resp.status == 400
    assert error_code_of(resp.data) == "AuthorizationQueryParametersError"


def test_presigned_week_long_url_is_accepted(s3, bucket):
    s3.put_object(Bucket=bucket, Key="week", Body=b"w")
    resp = http("GET", presign(s3, "get_object", bucket, "week", expires=604800))
    assert resp.status == 200


@pytest.mark.moto_gap("anonymous requests are allowed")
def test_unsigned_url_is_denied(s3, bucket):
    s3.put_object(Bucket=bucket, Key="private", Body=b"p")
    url = presign(s3, "get_object", bucket, "private").split("?")[0]
    resp = http("GET", url)
    assert resp.status == 403
    assert error_code_of(resp.data) == "AccessDenied"

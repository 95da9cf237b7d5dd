"""POST Object: browser form uploads signed with boto3's generate_presigned_post (SigV4
policy signatures; SigV2 ones where the server accepts V2), posted as multipart/form-data."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from urllib.parse import parse_qs, urlsplit
from xml.etree import ElementTree

import pytest
import urllib3

from s3util import ON_MOTO, SIGV2, http, make_client, payload, quoted_md5


def post(presigned: dict, data: bytes, filename="cat.png", extra=None, after=None, fields=None):
    """POSTs the form: its fields in order, the file, then `after` (fields S3 ignores)."""
    form = list((fields if fields is not None else presigned["fields"]).items())
    form += list((extra or {}).items())
    form.append(("file", (filename, data, "application/octet-stream")))
    form += list((after or {}).items())
    body, content_type = urllib3.encode_multipart_formdata(form)
    return http("POST", presigned["url"], body=body, headers={"Content-Type": content_type})


def code_of(r) -> str:
    import re

    m = re.search(rb"<Code>([^<]+)</Code>", r.data)
    return m.group(1).decode() if m else ""


@pytest.mark.moto_gap("moto answers success_action_status 201 without the PostResponse document")
def test_upload_with_conditions_and_201_document(s3, bucket):
    data = payload(70_000, seed=5)
    p = s3.generate_presigned_post(
        bucket,
        "uploads/${filename}",
        Fields={
            "Content-Type": "image/png",
            "success_action_status": "201",
            "x-amz-meta-owner": "alice",
        },
        Conditions=[
            {"Content-Type": "image/png"},
            {"success_action_status": "201"},
            {"x-amz-meta-owner": "alice"},
            ["content-length-range", 1, 1_000_000],
            ["starts-with", "$key", "uploads/"],
        ],
        ExpiresIn=300,
    )
    r = post(p, data, filename="cat picture.png")
    assert r.status == 201, r.data
    doc = ElementTree.fromstring(r.data)
    assert doc.tag == "PostResponse"
    assert doc.findtext("Key") == "uploads/cat picture.png"
    assert doc.findtext("Bucket") == bucket
    assert doc.findtext("ETag") == quoted_md5(data)
    assert doc.findtext("Location").endswith(f"/{bucket}/uploads/cat%20picture.png")
    assert r.headers["etag"] == quoted_md5(data)
    head = s3.head_object(Bucket=bucket, Key="uploads/cat picture.png")
    assert head["ContentType"] == "image/png"
    assert head["Metadata"] == {"owner": "alice"}
    got = s3.get_object(Bucket=bucket, Key="uploads/cat picture.png")["Body"].read()
    assert got == data


@pytest.mark.moto_gap("moto sends no ETag with a POST upload's answer")
def test_default_204_then_200_then_redirect(s3, bucket):
    p = s3.generate_presigned_post(bucket, "a", ExpiresIn=300)
    r = post(p, b"one")
    assert r.status == 204 and r.data == b""
    assert r.headers["etag"] == quoted_md5(b"one")
    p = s3.generate_presigned_post(
        bucket,
        "b",
        Fields={"success_action_status": "200"},
        Conditions=[{"success_action_status": "200"}],
        ExpiresIn=300,
    )
    assert post(p, b"two").status == 200
    target = "https://example.com/done?from=form"
    p = s3.generate_presigned_post(
        bucket,
        "c d",
        Fields={"success_action_redirect": target},
        Conditions=[{"success_action_redirect": target}],
        ExpiresIn=300,
    )
    r = http_no_redirect(p, b"three")
    assert r.status == 303, r.data
    loc = urlsplit(r.headers["location"])
    assert (loc.scheme, loc.netloc, loc.path) == ("https", "example.com", "/done")
    q = parse_qs(loc.query)
    assert q["bucket"] == [bucket] and q["key"] == ["c d"] and q["from"] == ["form"]
    assert q["etag"] == [quoted_md5(b"three")]
    for key, body in (("a", b"one"), ("b", b"two"), ("c d", b"three")):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body


def http_no_redirect(presigned, data):
    form = list(presigned["fields"].items()) + [("file", ("f", data, "text/plain"))]
    body, ct = urllib3.encode_multipart_formdata(form)
    return http("POST", presigned["url"], body=body, headers={"Content-Type": ct})


@pytest.mark.moto_gap("moto stores fields that follow the file")
def test_large_file_streams_and_later_fields_are_ignored(s3, bucket):
    data = payload(6 * 1024 * 1024 + 3, seed=6)
    p = s3.generate_presigned_post(bucket, "big.bin", ExpiresIn=300)
    r = post(p, data, after={"x-amz-meta-late": "ignored"})
    assert r.status == 204, r.data
    obj = s3.get_object(Bucket=bucket, Key="big.bin")
    assert hashlib.sha256(obj["Body"].read()).digest() == hashlib.sha256(data).digest()
    assert obj["Metadata"] == {}


@pytest.mark.moto_gap("moto does not enforce POST policy conditions")
def test_policy_conditions_are_enforced(s3, bucket):
    p = s3.generate_presigned_post(
        bucket,
        "uploads/x",
        Conditions=[["starts-with", "$key", "uploads/"], ["content-length-range", 2, 10]],
        ExpiresIn=300,
    )
    r = post(p, b"12345678901")
    assert r.status == 400 and code_of(r) == "EntityTooLarge", r.data
    r = post(p, b"1")
    assert r.status == 400 and code_of(r) == "EntityTooSmall", r.data
    # boto3 writes a starts-with condition (and no exact one) for a ${filename} key.
    sw = s3.generate_presigned_post(bucket, "uploads/${filename}", ExpiresIn=300)
    assert ["starts-with", "$key", "uploads/"] in json.loads(
        base64.b64decode(sw["fields"]["policy"])
    )["conditions"]
    r = post(sw, b"12345", fields=dict(sw["fields"], key="elsewhere/${filename}"))
    assert r.status == 403 and code_of(r) == "AccessDenied", r.data
    assert b"Policy Condition failed" in r.data and b"$key" in r.data
    r = post(p, b"12345", extra={"x-amz-meta-owner": "mallory"})
    assert r.status == 403 and b"Extra input fields: x-amz-meta-owner" in r.data
    assert post(p, b"12345").status == 204
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert [o["Key"] for o in listed] == ["uploads/x"]


@pytest.mark.moto_gap("moto does not check POST policy signatures or expiry")
def test_signature_and_expiry_are_checked(s3, bucket):
    p = s3.generate_presigned_post(bucket, "k", ExpiresIn=300)
    doc = json.loads(base64.b64decode(p["fields"]["policy"]))
    doc["conditions"].append(["content-length-range", 0, 10**12])
    forged = dict(p["fields"], policy=base64.b64encode(json.dumps(doc).encode()).decode())
    r = post(p, b"x", fields=forged)
    assert r.status == 403 and code_of(r) == "SignatureDoesNotMatch", r.data
    wrong = make_client(secret_key="not-the-secret").generate_presigned_post(bucket, "k")
    r = post(wrong, b"x")
    assert r.status == 403 and code_of(r) == "SignatureDoesNotMatch", r.data
    unknown = make_client(access_key="NOSUCHKEY0000000").generate_presigned_post(bucket, "k")
    r = post(unknown, b"x")
    assert r.status == 403 and code_of(r) == "InvalidAccessKeyId", r.data
    short = s3.generate_presigned_post(bucket, "k", ExpiresIn=1)
    time.sleep(2.2)
    r = post(short, b"x")
    assert r.status == 403 and b"Policy expired" in r.data, r.data
    no_policy = {"key": "k"}
    r = post(p, b"x", fields=no_policy)
    assert r.status == 403 and code_of(r) == "AccessDenied", r.data
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


@pytest.mark.skipif(not (SIGV2 or ON_MOTO), reason="the server under test is configured without SigV2")
def test_sigv2_policy_signature(bucket):
    v2 = make_client(signature_version="s3")
    p = v2.generate_presigned_post(bucket, "v2.txt", ExpiresIn=300)
    assert "AWSAccessKeyId" in p["fields"] and "signature" in p["fields"]
    assert post(p, b"v2 form").status == 204
    assert v2.get_object(Bucket=bucket, Key="v2.txt")["Body"].read() == b"v2 form"


@pytest.mark.skipif(SIGV2, reason="the server under test is configured to accept SigV2")
@pytest.mark.moto_gap("moto does not check POST policy signatures")
def test_sigv2_policy_refused_when_not_configured(bucket):
    p = make_client(signature_version="s3").generate_presigned_post(bucket, "v2.txt")
    r = post(p, b"v2 form")
    assert r.status == 400 and code_of(r) == "InvalidRequest", r.data


@pytest.mark.moto_gap("moto does not enforce POST policy conditions")
def test_form_tricks_are_refused(s3, make_bucket):
    a, b = make_bucket(), make_bucket()
    p = s3.generate_presigned_post(a, "k", ExpiresIn=300)
    # A policy signed for one bucket, posted to another.
    other = dict(p, url=p["url"].replace(f"/{a}", f"/{b}"))
    r = post(other, b"x")
    assert r.status == 403 and b"$bucket" in r.data, r.data
    # The same field twice, in another case: which one would the policy have covered?
    r = post(p, b"x", extra={"KEY": "elsewhere"})
    assert r.status == 400 and code_of(r) == "InvalidArgument", r.data
    # Fields before the file are bounded, before any signature is checked.
    r = post(p, b"x", extra={"x-ignore-pad": "p" * (2 * 1024 * 1024)})
    assert r.status == 400 and code_of(r) == "MaxPostPreDataLengthExceededError", r.data
    # Fields the server cannot honour are refused, not signed and dropped.
    t = s3.generate_presigned_post(
        a,
        "k",
        Fields={"tagging": "<Tagging><TagSet></TagSet></Tagging>"},
        Conditions=[{"tagging": "<Tagging><TagSet></TagSet></Tagging>"}],
        ExpiresIn=300,
    )
    r = post(t, b"x")
    assert r.status == 501 and code_of(r) == "NotImplemented", r.data
    for name in (a, b):
        assert "Contents" not in s3.list_objects_v2(Bucket=name)


@pytest.mark.moto_gap("moto has no management API")
def test_bucket_keys_sign_only_what_they_may(bucket, make_bucket):
    from mgmt import Api, bpath, expect as api_expect

    root = Api()
    read = api_expect(root.post(bpath(bucket, "keys"), {"permission": "read"}), 201)
    rw = api_expect(root.post(bpath(bucket, "keys"), {"permission": "read-write"}), 201)
    signer = lambda k: make_client(k["access_key_id"], k["secret_access_key"])  # noqa: E731
    r = post(signer(read).generate_presigned_post(bucket, "k"), b"x")
    assert r.status == 403 and code_of(r) == "AccessDenied", r.data
    elsewhere = make_bucket()
    r = post(signer(rw).generate_presigned_post(elsewhere, "k"), b"x")
    assert r.status == 403 and code_of(r) == "AccessDenied", r.data
    assert post(signer(rw).generate_presigned_post(bucket, "k"), b"x").status == 204

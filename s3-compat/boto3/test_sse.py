"""Server-side encryption: SSE-S3, SSE-KMS (a key of the server's key ring, and its default
key) and SSE-C, through PUT, GET, ranged GET, HEAD, copies between modes and multipart
uploads, and a bucket's default encryption (Put/Get/DeleteBucketEncryption).

The suite's servers hold the key ring key `matrix-key` ([encryption] kms_keys). SSE-C keys are
taken over https only, as S3 takes them: on the http server they are refused."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import urllib3

import pytest

from mgmt import Api, bpath, expect
from s3util import IS_HTTPS, ON_MOTO, expect_error, http, payload

pytestmark = pytest.mark.skipif(
    ON_MOTO, reason="moto does not encrypt, and its KMS keys are its own"
)

KMS_KEY = "matrix-key"
MIB = 1 << 20


def customer_key() -> dict:
    """SSE-C arguments for a fresh random key (boto3 adds the key's MD5)."""
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": os.urandom(32)}


def source_key(k: dict) -> dict:
    return {
        "CopySourceSSECustomerAlgorithm": k["SSECustomerAlgorithm"],
        "CopySourceSSECustomerKey": k["SSECustomerKey"],
    }


def mode_of(head: dict) -> str | None:
    if head.get("SSECustomerAlgorithm"):
        return "SSE-C"
    return head.get("ServerSideEncryption")


def check_reads(s3, bucket: str, key: str, data: bytes, **kw) -> None:
    """Whole, ranged across a chunk boundary, and the last bytes."""
    assert s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read() == data
    n = len(data)
    for first, last in [(0, 0), (max(0, MIB - 5), min(n - 1, MIB + 5)), (n - 3, n - 1), (n // 3, n - 2)]:
        if first > last or last >= n:
            continue
        got = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={first}-{last}", **kw)
        assert got["Body"].read() == data[first:last + 1], (first, last)
        assert got["ContentRange"] == f"bytes {first}-{last}/{n}"


@pytest.mark.parametrize("size", [100, 3 * MIB + 7])
def test_sse_s3_put_get_range_head(s3, bucket, size):
    data = payload(size, seed=size)
    put = s3.put_object(Bucket=bucket, Key="k", Body=data, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentLength"] == size
    check_reads(s3, bucket, "k", data)
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert listed["Size"] == size


def test_sse_kms_with_a_named_key_and_the_default_key(s3, bucket):
    data = payload(2 * MIB + 1, seed=3)
    put = s3.put_object(Bucket=bucket, Key="named", Body=data,
                        ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_KEY)
    assert put["ServerSideEncryption"] == "aws:kms"
    assert put["SSEKMSKeyId"].endswith(f":key/{KMS_KEY}")
    head = s3.head_object(Bucket=bucket, Key="named")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", put["SSEKMSKeyId"])
    check_reads(s3, bucket, "named", data)
    # An ARN names the same key; no key id: the server's default key.
    arn = put["SSEKMSKeyId"]
    s3.put_object(Bucket=bucket, Key="arn", Body=b"by arn", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=arn)
    assert s3.get_object(Bucket=bucket, Key="arn")["Body"].read() == b"by arn"
    s3.put_object(Bucket=bucket, Key="default", Body=b"default key",
                  ServerSideEncryption="aws:kms", BucketKeyEnabled=True)
    head = s3.head_object(Bucket=bucket, Key="default")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] and head.get("BucketKeyEnabled") is True
    assert s3.get_object(Bucket=bucket, Key="default")["Body"].read() == b"default key"


def test_sse_kms_unknown_keys_and_bad_headers_are_refused(s3, bucket):
    with expect_error("KMS.NotFoundException", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId="no-such-key")
    with expect_error("InvalidArgument", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="DES")
    with expect_error("InvalidArgument", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", SSEKMSKeyId=KMS_KEY)
    with expect_error("404"):
        s3.head_object(Bucket=bucket, Key="k")


def test_bucket_default_encryption(s3, bucket):
    with expect_error("ServerSideEncryptionConfigurationNotFoundError", 404):
        s3.get_bucket_encryption(Bucket=bucket)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                "KMSMasterKeyID": KMS_KEY},
         "BucketKeyEnabled": True}]})
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"].endswith(f"key/{KMS_KEY}")
    assert rule["BucketKeyEnabled"] is True
    s3.put_object(Bucket=bucket, Key="by-default", Body=b"kms by default")
    head = s3.head_object(Bucket=bucket, Key="by-default")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(f"key/{KMS_KEY}")
    # A request's own choice wins over the default.
    s3.put_object(Bucket=bucket, Key="own", Body=b"own", ServerSideEncryption="AES256")
    assert s3.head_object(Bucket=bucket, Key="own")["ServerSideEncryption"] == "AES256"
    with expect_error("KMS.NotFoundException", 400):
        s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                    "KMSMasterKeyID": "no-such-key"}}]})
    s3.delete_bucket_encryption(Bucket=bucket)
    with expect_error("ServerSideEncryptionConfigurationNotFoundError", 404):
        s3.get_bucket_encryption(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="after", Body=b"plain")
    assert "ServerSideEncryption" not in s3.head_object(Bucket=bucket, Key="after")
    assert s3.get_object(Bucket=bucket, Key="by-default")["Body"].read() == b"kms by default"


@pytest.mark.https_only
def test_sse_c_needs_its_key_for_every_read(s3, bucket):
    k = customer_key()
    data = payload(MIB + 300, seed=9)
    put = s3.put_object(Bucket=bucket, Key="c", Body=data, **k)
    assert put["SSECustomerAlgorithm"] == "AES256" and put["SSECustomerKeyMD5"]
    head = s3.head_object(Bucket=bucket, Key="c", **k)
    assert (head["SSECustomerAlgorithm"], head["SSECustomerKeyMD5"]) == (
        "AES256", put["SSECustomerKeyMD5"])
    check_reads(s3, bucket, "c", data, **k)
    with expect_error("400"):
        s3.head_object(Bucket=bucket, Key="c")
    with expect_error("InvalidRequest", 400):
        s3.get_object(Bucket=bucket, Key="c")
    with expect_error("AccessDenied", 403):
        s3.get_object(Bucket=bucket, Key="c", **customer_key())
    s3.put_object(Bucket=bucket, Key="plain", Body=b"p")
    with expect_error("InvalidRequest", 400):
        s3.get_object(Bucket=bucket, Key="plain", **k)


@pytest.mark.skipif(IS_HTTPS, reason="the https server takes SSE-C keys")
def test_sse_c_is_refused_over_plain_http(s3, bucket):
    with expect_error("InvalidRequest", 400):
        s3.put_object(Bucket=bucket, Key="c", Body=b"x", **customer_key())


def test_copies_between_modes(s3, bucket):
    data = payload(MIB + 11, seed=4)
    s3.put_object(Bucket=bucket, Key="plain", Body=data)
    steps = [("s3", {"ServerSideEncryption": "AES256"}, "AES256"),
             ("kms", {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": KMS_KEY}, "aws:kms"),
             ("back", {}, None)]
    src = "plain"
    for key, args, want in steps:
        out = s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": src},
                             **args)
        assert out.get("ServerSideEncryption") == want
        assert mode_of(s3.head_object(Bucket=bucket, Key=key)) == want
        check_reads(s3, bucket, key, data)
        src = key
    # Copying an object onto itself is allowed when it changes its encryption.
    s3.copy_object(Bucket=bucket, Key="plain", CopySource={"Bucket": bucket, "Key": "plain"},
                   ServerSideEncryption="AES256")
    assert mode_of(s3.head_object(Bucket=bucket, Key="plain")) == "AES256"
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == data


@pytest.mark.https_only
def test_copies_into_and_out_of_sse_c(s3, bucket):
    k, k2 = customer_key(), customer_key()
    data = payload(300_000, seed=5)
    s3.put_object(Bucket=bucket, Key="s3", Body=data, ServerSideEncryption="AES256")
    s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "s3"}, **k)
    assert mode_of(s3.head_object(Bucket=bucket, Key="c", **k)) == "SSE-C"
    # Re-keyed: from one customer key to another.
    s3.copy_object(Bucket=bucket, Key="c2", CopySource={"Bucket": bucket, "Key": "c"},
                   **source_key(k), **k2)
    check_reads(s3, bucket, "c2", data, **k2)
    with expect_error("InvalidRequest", 400):
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "c"})
    s3.copy_object(Bucket=bucket, Key="out", CopySource={"Bucket": bucket, "Key": "c2"},
                   **source_key(k2), ServerSideEncryption="aws:kms", SSEKMSKeyId=KMS_KEY)
    assert mode_of(s3.head_object(Bucket=bucket, Key="out")) == "aws:kms"
    check_reads(s3, bucket, "out", data)


def upload(s3, bucket: str, key: str, parts: list[bytes], create: dict, part: dict) -> dict:
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, **create)
    done = []
    for n, body in enumerate(parts, 1):
        out = s3.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=n,
                             Body=body, **part)
        done.append({"PartNumber": n, "ETag": out["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": done})
    return up


@pytest.mark.parametrize("mode", ["AES256", "aws:kms"])
def test_multipart_uploads_are_encrypted_part_by_part(s3, bucket, mode):
    parts = [payload(5 * MIB, seed=1), payload(MIB + 3, seed=2)]
    create = {"ServerSideEncryption": mode}
    if mode == "aws:kms":
        create["SSEKMSKeyId"] = KMS_KEY
    up = upload(s3, bucket, "mp", parts, create, {})
    assert up["ServerSideEncryption"] == mode
    head = s3.head_object(Bucket=bucket, Key="mp")
    assert head["ServerSideEncryption"] == mode
    data = b"".join(parts)
    check_reads(s3, bucket, "mp", data)
    # Across the boundary between the parts.
    got = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={5 * MIB - 4}-{5 * MIB + 4}")
    assert got["Body"].read() == data[5 * MIB - 4:5 * MIB + 5]
    assert s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)["Body"].read() == parts[1]


def test_part_copies_from_an_encrypted_source(s3, bucket):
    src = payload(6 * MIB, seed=7)
    s3.put_object(Bucket=bucket, Key="src", Body=src, ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=KMS_KEY)
    up = s3.create_multipart_upload(Bucket=bucket, Key="dst", ServerSideEncryption="AES256")
    done = []
    for n, (first, last) in enumerate([(0, 5 * MIB - 1), (5 * MIB, 6 * MIB - 1)], 1):
        out = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=up["UploadId"], PartNumber=n,
                                  CopySource={"Bucket": bucket, "Key": "src"},
                                  CopySourceRange=f"bytes={first}-{last}")
        done.append({"PartNumber": n, "ETag": out["CopyPartResult"]["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": done})
    assert mode_of(s3.head_object(Bucket=bucket, Key="dst")) == "AES256"
    check_reads(s3, bucket, "dst", src)


@pytest.mark.https_only
def test_sse_c_multipart_takes_the_key_with_every_part(s3, bucket):
    k = customer_key()
    parts = [payload(5 * MIB, seed=11), payload(1000, seed=12)]
    upload(s3, bucket, "mpc", parts, dict(k), dict(k))
    check_reads(s3, bucket, "mpc", b"".join(parts), **k)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mpc2", **k)
    with expect_error("InvalidRequest", 400):
        s3.upload_part(Bucket=bucket, Key="mpc2", UploadId=up["UploadId"], PartNumber=1,
                       Body=b"no key")
    with expect_error("AccessDenied", 403):
        s3.upload_part(Bucket=bucket, Key="mpc2", UploadId=up["UploadId"], PartNumber=1,
                       Body=b"other key", **customer_key())
    s3.abort_multipart_upload(Bucket=bucket, Key="mpc2", UploadId=up["UploadId"])


def test_key_ring_and_bucket_encryption_in_the_management_api(s3, bucket, root_api, bob):
    key_id = f"app-{os.urandom(5).hex()}"
    made = expect(root_api.post("/storage/kms/keys", {"id": key_id, "description": "tests"}), 201)
    assert (made["id"], made["enabled"], made["source"]) == (key_id, True, "api")
    assert made["arn"].endswith(f":key/{key_id}")
    expect(root_api.post("/storage/kms/keys", {"id": key_id}), 409)
    expect(root_api.post("/storage/kms/keys", {"id": "no/slashes"}), 400)
    expect(root_api.post("/storage/kms/keys", {"id": KMS_KEY}), 409, "exists")
    listed = {k["id"]: k for k in expect(root_api.get("/storage/kms/keys"), 200)["keys"]}
    assert listed[KMS_KEY]["source"] == "config" and key_id in listed
    # Only root changes the key ring.
    bob_api = Api(access_key=bob.key["access_key_id"], secret_key=bob.key["secret_access_key"])
    expect(bob_api.post("/storage/kms/keys", {"id": f"{key_id}-bob"}), 403)
    expect(bob_api.patch(f"/storage/kms/keys/{key_id}", {"enabled": False}), 403)

    # The bucket's default, set through the management API, is what S3 sees and applies.
    doc = expect(root_api.patch(bpath(bucket), {"encryption": {
        "algorithm": "aws:kms", "kms_key_id": key_id}}), 200)
    assert doc["encryption"]["algorithm"] == "aws:kms"
    assert doc["encryption"]["kms_key_id"].endswith(f":key/{key_id}")
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"].endswith(f":key/{key_id}")
    s3.put_object(Bucket=bucket, Key="k", Body=b"under an api key")
    assert s3.head_object(Bucket=bucket, Key="k")["SSEKMSKeyId"].endswith(f":key/{key_id}")
    expect(root_api.patch(bpath(bucket), {"encryption": {
        "algorithm": "aws:kms", "kms_key_id": "no-such-key"}}), 404)
    expect(root_api.patch(bpath(bucket), {"encryption": {"algorithm": "DES"}}), 400)

    # A disabled key stops reads and writes of what it guards, until it is enabled again.
    off = expect(root_api.patch(f"/storage/kms/keys/{key_id}", {"enabled": False}), 200)
    assert off["enabled"] is False
    with expect_error("KMS.DisabledException", 400):
        s3.get_object(Bucket=bucket, Key="k")
    # HEAD tells of the object without unwrapping its key, as on S3.
    assert s3.head_object(Bucket=bucket, Key="k")["ServerSideEncryption"] == "aws:kms"
    with expect_error("KMS.DisabledException", 400):
        s3.put_object(Bucket=bucket, Key="k2", Body=b"x")
    expect(root_api.patch(f"/storage/kms/keys/{key_id}", {"enabled": True}), 200)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"under an api key"
    expect(root_api.patch(f"/storage/kms/keys/{KMS_KEY}", {"enabled": False}), 400, "config")

    doc = expect(root_api.patch(bpath(bucket), {"encryption": None}), 200)
    assert doc["encryption"] is None
    with expect_error("ServerSideEncryptionConfigurationNotFoundError", 404):
        s3.get_bucket_encryption(Bucket=bucket)


def test_etags_tell_nothing_of_sse_c_and_kms_plaintext(s3, bucket):
    data = payload(5000, seed=21)
    md5 = '"' + hashlib.md5(data).hexdigest() + '"'
    assert s3.put_object(Bucket=bucket, Key="s3", Body=data,
                         ServerSideEncryption="AES256")["ETag"] == md5
    kms = s3.put_object(Bucket=bucket, Key="kms", Body=data, ServerSideEncryption="aws:kms",
                        SSEKMSKeyId=KMS_KEY)["ETag"]
    assert kms != md5 and len(kms) == 34
    listed = {o["Key"]: o["ETag"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert listed == {"s3": md5, "kms": kms}
    # Content-MD5 is still checked against the body.
    with expect_error("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="bad", Body=data, ServerSideEncryption="aws:kms",
                      ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")


@pytest.mark.https_only
def test_sse_c_attributes_and_copy_conditions_need_the_key(s3, bucket):
    k = customer_key()
    put = s3.put_object(Bucket=bucket, Key="c", Body=b"secret bytes", **k)
    with expect_error("InvalidRequest", 400):
        s3.get_object_attributes(Bucket=bucket, Key="c", ObjectAttributes=["ETag", "Checksum"])
    raw = {  # GetObjectAttributes takes the key as sent, base64 with its MD5
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": base64.b64encode(k["SSECustomerKey"]).decode(),
        "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(k["SSECustomerKey"]).digest()).decode(),
    }
    got = s3.get_object_attributes(Bucket=bucket, Key="c", ObjectAttributes=["ObjectSize"], **raw)
    assert got["ObjectSize"] == 12
    # A copy's conditions are not judged before the source's key is.
    with expect_error("InvalidRequest", 400):
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "c"},
                       CopySourceIfMatch=put["ETag"])


def test_bucket_policies_can_require_encryption(s3, bucket):
    arn = f"arn:aws:s3:::{bucket}/*"
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": arn,
         "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": arn,
         "Condition": {"StringNotEqualsIfExists": {
             "s3:x-amz-server-side-encryption-aws-kms-key-id": KMS_KEY}}},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": arn,
         "Condition": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}}},
    ]}))
    with expect_error("AccessDenied", 403):
        s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    with expect_error("AccessDenied", 403):
        s3.put_object(Bucket=bucket, Key="other", Body=b"x", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId="cnx-default")
    s3.put_object(Bucket=bucket, Key="ok", Body=b"x", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=KMS_KEY)
    # IfExists: a write naming no KMS key is judged as naming another one.
    with expect_error("AccessDenied", 403):
        s3.put_object(Bucket=bucket, Key="s3", Body=b"x", ServerSideEncryption="AES256")
    if IS_HTTPS:
        with expect_error("AccessDenied", 403):
            s3.put_object(Bucket=bucket, Key="c", Body=b"x", **customer_key())
    s3.delete_bucket_policy(Bucket=bucket)


def test_form_uploads_take_encryption_fields(s3, bucket):
    post = s3.generate_presigned_post(
        bucket, "form.txt",
        Fields={"x-amz-server-side-encryption": "aws:kms",
                "x-amz-server-side-encryption-aws-kms-key-id": KMS_KEY},
        Conditions=[{"x-amz-server-side-encryption": "aws:kms"},
                    {"x-amz-server-side-encryption-aws-kms-key-id": KMS_KEY}])
    form = list(post["fields"].items()) + [("file", ("form.txt", b"posted and encrypted",
                                                       "text/plain"))]
    body, content_type = urllib3.encode_multipart_formdata(form)
    r = http("POST", post["url"], body=body, headers={"Content-Type": content_type})
    assert r.status == 204, r.data
    assert r.headers["x-amz-server-side-encryption"] == "aws:kms"
    head = s3.head_object(Bucket=bucket, Key="form.txt")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(f":key/{KMS_KEY}")
    assert s3.get_object(Bucket=bucket, Key="form.txt")["Body"].read() == b"posted and encrypted"


def test_a_retried_part_of_an_sse_kms_upload_keeps_its_etag(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="aws:kms",
                                    SSEKMSKeyId=KMS_KEY)
    body = payload(5 * MIB, seed=31)
    first, again = (s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"],
                                   PartNumber=1, Body=body)["ETag"] for _ in range(2))
    # Either attempt's ETag completes the upload, and neither is the part's MD5.
    assert first == again and first != '"' + hashlib.md5(body).hexdigest() + '"'
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first}]})
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == body

"""The management API (/storage/...) over real HTTP, every response validated against
openapi/storage.yaml (see mgmt.py): buckets, per-bucket keys used with boto3,
account-level keys, presigned URLs, Idempotency-Key, bearer JWTs and rate limits."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
import requests

from mgmt import (
    JWT_PRIVATE_KEY,
    Api,
    DedicatedServer,
    bpath,
    expect,
    list_all,
    make_jwt,
    new_rsa_private_pem,
    owner_id,
    spec,
    token_for,
)
from s3util import (
    ACCESS_KEY,
    ENDPOINTS,
    ON_MOTO,
    REGION,
    VERIFY,
    create_bucket,
    expect_error,
    make_client,
    payload,
    settle,
    unique_bucket_name,
)

pytestmark = pytest.mark.skipif(ON_MOTO, reason="moto has no management API")

needs_jwt = pytest.mark.skipif(
    not ON_MOTO and not JWT_PRIVATE_KEY,
    reason="CNX_JWT_PRIVATE_KEY is not set: the server has no [auth.jwt] key (s3-compat/run sets both)",
)

BODY = payload(3000, seed=77)


def parse_time(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def rfc3339(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_account_name(hint: str = "acct") -> str:
    return f"{hint}-{uuid.uuid4().hex[:12]}"


def requests_verify():
    return True if VERIFY is None else VERIFY


# --------------------------------------------------------------------------
# fixtures


@dataclass
class Account:
    name: str
    access_key: str
    secret_key: str
    api: Api

    def s3(self):
        return make_client(self.access_key, self.secret_key)


@pytest.fixture(scope="module")
def root():
    return Api()


@pytest.fixture
def buckets(root):
    """Factory: buckets(api=root, name=None) -> name, created via POST /storage/buckets and
    force-deleted afterwards; track(api, name) registers one created some other way."""
    made: list[tuple[Api, str]] = []

    def _make(api: Api | None = None, name: str | None = None) -> str:
        api = api or root
        name = name or unique_bucket_name("mgmt")
        expect(api.post("/storage/buckets", {"name": name}), 201)
        made.append((api, name))
        return name

    _make.track = lambda api, name: made.append((api, name))
    yield _make
    for api, name in reversed(made):
        resp = api.delete(bpath(name), params={"force": "true"})
        assert resp.status_code in (204, 404), resp.text


@pytest.fixture
def new_account(root):
    """Factory: root mints an account-level key for a fresh account."""

    def _make(hint: str = "acct") -> Account:
        name = new_account_name(hint)
        doc = expect(root.post("/storage/access-keys", {"account": name, "name": "test"}), 201)
        assert doc["account"] == name
        return Account(name, doc["access_key_id"], doc["secret_access_key"],
                       Api(doc["access_key_id"], doc["secret_access_key"]))

    return _make


def put_objects(bucket: str, n: int = 2, client=None) -> list[str]:
    client = client or make_client()
    keys = [f"obj-{i}" for i in range(n)]
    for k in keys:
        client.put_object(Bucket=bucket, Key=k, Body=BODY)
    return keys


def bucket_key(root_api: Api, bucket: str, permission: str, **extra) -> dict:
    return expect(root_api.post(bpath(bucket, "keys"), {"permission": permission, **extra}), 201)


# --------------------------------------------------------------------------
# the document itself


def test_openapi_document_is_valid():
    from openapi_spec_validator import validate

    doc = spec().doc
    validate(doc)
    assert doc["openapi"].startswith("3.1")
    assert set(doc["components"]["securitySchemes"]) == {"sigv4", "bearerJwt"}
    routes = {
        ("/storage/buckets", "get"), ("/storage/buckets", "post"),
        ("/storage/buckets/{bucket}", "get"), ("/storage/buckets/{bucket}", "patch"),
        ("/storage/buckets/{bucket}", "delete"),
        ("/storage/buckets/{bucket}/keys", "get"), ("/storage/buckets/{bucket}/keys", "post"),
        ("/storage/buckets/{bucket}/keys/{access_key_id}", "delete"),
        ("/storage/buckets/{bucket}/presign", "post"),
        ("/storage/access-keys", "get"), ("/storage/access-keys", "post"),
        ("/storage/access-keys/{access_key_id}", "delete"),
        ("/storage/kms/keys", "get"), ("/storage/kms/keys", "post"),
        ("/storage/kms/keys/{key_id}", "get"), ("/storage/kms/keys/{key_id}", "patch"),
        ("/storage/whoami", "get"),
    }
    found = {
        (p, m) for p, item in doc["paths"].items() for m in item
        if m in ("get", "post", "patch", "delete", "put", "head")
    }
    assert found == routes
    for path, method in routes:
        op = doc["paths"][path][method]
        for status in ("401", "403", "429"):
            assert status in op["responses"], (path, method, status)
        _, too_many = spec().deref(f"#/paths/{path.replace('/', '~1')}/{method}/responses/429")
        assert too_many["headers"]["Retry-After"]
        refs = [p.get("$ref") for p in op.get("parameters", [])]
        if method in ("post", "patch", "delete"):
            assert "#/components/parameters/IdempotencyKey" in refs, (path, method)
            assert "422" in op["responses"] and "409" in op["responses"], (path, method)
            if "requestBody" in op:
                _, schema = spec().deref(
                    op["requestBody"]["content"]["application/json"]["schema"]["$ref"])
                assert schema["additionalProperties"] is False, (path, method)
        else:
            assert "#/components/parameters/IdempotencyKey" not in refs
        for status, response in op["responses"].items():
            _, response = spec().deref(
                f"#/paths/{path.replace('/', '~1')}/{method}/responses/{status}")
            if int(status) >= 400:
                assert response["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"}, (path, method, status)
    for name, schema in doc["components"]["schemas"].items():
        if schema.get("type") == "object":
            assert schema.get("additionalProperties") is False, name


def test_schemas_reject_drift():
    """The schemas are strict: missing fields, extra fields, wrong null-ness and bad
    timestamps all fail validation."""
    good = {
        "id": "0" * 32, "name": "abc", "region": "in-mum", "created_at": "2026-01-02T03:04:05Z",
        "size_bytes": 0, "object_count": 0, "versioning": "disabled", "cors": None,
        "tags": None, "object_lock": None, "lifecycle": None,
        "object_ownership": "BucketOwnerEnforced",
        "public_access_block": {"block_public_acls": True, "ignore_public_acls": True,
                                "block_public_policy": True, "restrict_public_buckets": True},
        "acl": {"grants": [{"grantee": {"id": "a" * 64, "account": "root"},
                            "permission": "FULL_CONTROL"}]},
        "policy": None,
        "logging": None,
        "encryption": None,
    }
    spec().component("Bucket", good)
    spec().component("Bucket", {**good, "object_ownership": None, "public_access_block": None})
    spec().component("Bucket", {**good, "acl": {"grants": [
        {"grantee": {"group": "AllUsers"}, "permission": "READ"}]}})
    rule = {"allowed_origins": ["*"], "allowed_methods": ["GET"], "allowed_headers": [],
            "expose_headers": []}
    spec().component("Bucket", {**good, "cors": [rule]})
    spec().component("Bucket", {**good, "versioning": "suspended"})
    spec().component("Bucket", {**good, "encryption": {
        "algorithm": "aws:kms", "kms_key_id": "arn:aws:kms:in-mum:000000000000:key/k",
        "bucket_key": False}})
    spec().component("Bucket", {**good, "tags": {"team": "a"}, "object_lock": {
        "enabled": True, "default_retention": {"mode": "governance", "days": 3}}})
    for bad in (
        {k: v for k, v in good.items() if k != "cors"},
        {**good, "cors": []},
        {**good, "cors": [{**rule, "allowed_methods": ["PATCH"]}]},
        {**good, "cors": [{k: v for k, v in rule.items() if k != "expose_headers"}]},
        {k: v for k, v in good.items() if k != "region"},
        {**good, "extra": 1},
        {**good, "created_at": "yesterday"},
        {**good, "size_bytes": "0"},
        {**good, "versioning": "on"},
        {k: v for k, v in good.items() if k != "tags"},
        {**good, "object_lock": {"enabled": True, "default_retention": {"mode": "soft", "days": 1}}},
        {k: v for k, v in good.items() if k != "acl"},
        {k: v for k, v in good.items() if k != "policy"},
        {k: v for k, v in good.items() if k != "logging"},
        {**good, "logging": {"target_prefix": "x/"}},
        {k: v for k, v in good.items() if k != "encryption"},
        {**good, "encryption": {"algorithm": "DES"}},
        {**good, "policy": "{}"},
        {**good, "object_ownership": "Everyone"},
        {**good, "public_access_block": {"block_everything": True}},
        {**good, "acl": {"grants": [{"grantee": {"group": "Everyone"}, "permission": "READ"}]}},
        {**good, "acl": {"grants": [{"grantee": {"id": "a" * 64}, "permission": "ALL"}]}},
    ):
        with pytest.raises(AssertionError):
            spec().component("Bucket", bad)
    key = {
        "access_key_id": "CNX" + "A" * 17, "bucket": "abc", "permission": "read", "name": None,
        "created_at": "2026-01-02T03:04:05.5Z", "expires_at": None,
    }
    spec().component("BucketKey", key)
    with pytest.raises(AssertionError):
        spec().component("BucketKey", {**key, "secret_access_key": "x" * 40})
    with pytest.raises(AssertionError):
        spec().component("BucketKeyCreated", key)
    with pytest.raises(AssertionError):
        spec().component("Error", {"error": "x", "code": 1})


# --------------------------------------------------------------------------
# authentication and routing


def test_unsigned_request_is_401():
    expect(Api(unsigned=True).get("/storage/buckets"), 401)


def test_wrong_secret_and_unknown_key_are_401():
    expect(Api(ACCESS_KEY, "wrong-secret-0000000000000000000000000000").get("/storage/buckets"), 401)
    expect(Api("CNXUNKNOWNKEY0000000", "x" * 40).get("/storage/buckets"), 401)


def test_service_s3_signature_also_accepted():
    doc = expect(Api(service="s3").get("/storage/buckets"), 200)
    assert isinstance(doc["buckets"], list)


def test_unknown_path_404_and_wrong_method_405(root):
    for method, path, status in (
        ("GET", "/storage/nothing-here", 404),
        ("GET", "/storage/buckets/x/unknown", 404),
        ("PUT", "/storage/buckets", 405),
        ("POST", "/storage/buckets/some-bucket", 405),
        ("GET", "/storage/buckets/some-bucket/presign", 405),
        ("PUT", "/storage/access-keys/CNXANY", 405),
    ):
        # not operations of the document: only the Error shape is checked
        resp = root.request(method, path, validate=False)
        assert resp.status_code == status, (method, path, resp.text)
        assert resp.headers["content-type"].startswith("application/json")
        spec().component("Error", resp.json(), f"{method} {path}")


# --------------------------------------------------------------------------
# buckets


def test_bucket_create_get_and_usage(root, buckets, s3):
    before = utc_now() - dt.timedelta(seconds=5)
    name = unique_bucket_name("mgmt-create")
    resp = root.post("/storage/buckets", {"name": name})
    buckets.track(root, name)
    doc = expect(resp, 201)
    assert doc["name"] == name and doc["region"] == REGION
    assert doc["versioning"] == "disabled" and doc["cors"] is None
    assert doc["size_bytes"] == 0 and doc["object_count"] == 0
    assert before <= parse_time(doc["created_at"]) <= utc_now() + dt.timedelta(seconds=5)
    assert "idempotent-replayed" not in resp.headers
    assert expect(root.get(bpath(name)), 200) == doc
    # the same bucket on the S3 surface
    s3.head_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == REGION
    put_objects(name, 3)
    got = expect(root.get(bpath(name)), 200)
    assert got["object_count"] == 3 and got["size_bytes"] == 3 * len(BODY)
    assert got["id"] == doc["id"] and got["created_at"] == doc["created_at"]
    # a bucket made over S3 is listed by the management API too
    other = unique_bucket_name("mgmt-via-s3")
    create_bucket(s3, other)
    buckets.track(root, other)
    names = [b["name"] for b in list_all(root, "/storage/buckets", "buckets", 1000)]
    assert name in names and other in names


def test_bucket_create_with_region(root, buckets):
    name = unique_bucket_name("mgmt-region")
    resp = root.post("/storage/buckets", {"name": name, "region": REGION})
    buckets.track(root, name)
    assert expect(resp, 201)["region"] == REGION


def test_bucket_create_errors(root, buckets, new_account):
    taken = buckets()
    expect(root.post("/storage/buckets", {"name": taken}), 409)
    expect(new_account().api.post("/storage/buckets", {"name": taken}), 409)
    for bad in ("Bad_Name", "ab", "a" * 64, "-lead", "trail-", "192.168.1.1", "a..b"):
        expect(root.post("/storage/buckets", {"name": bad}), 400)
    fresh = unique_bucket_name("never")
    expect(root.post("/storage/buckets", {"name": fresh, "region": "eu-west-1"}), 400, "region")
    expect(root.post("/storage/buckets", {"name": fresh, "versioning": "enabled"}), 400)
    expect(root.post("/storage/buckets", {}), 400)
    expect(root.post("/storage/buckets", {"name": 7}), 400)
    expect(root.post("/storage/buckets", data=b"{not json",
                     headers={"Content-Type": "application/json"}), 400)
    expect(root.get(bpath(fresh)), 404)


def test_bucket_list_pagination(buckets, new_account):
    acct = new_account("pager")
    names = sorted(buckets(acct.api, unique_bucket_name(f"page-{i}")) for i in range(5))
    doc = expect(acct.api.get("/storage/buckets"), 200)
    assert [b["name"] for b in doc["buckets"]] == names
    assert doc["next_cursor"] is None
    first = expect(acct.api.get("/storage/buckets", params={"limit": 2}), 200)
    assert [b["name"] for b in first["buckets"]] == names[:2]
    assert isinstance(first["next_cursor"], str)
    second = expect(acct.api.get("/storage/buckets",
                                 params={"limit": 2, "cursor": first["next_cursor"]}), 200)
    assert [b["name"] for b in second["buckets"]] == names[2:4]
    assert [b["name"] for b in list_all(acct.api, "/storage/buckets", "buckets", 2)] == names
    assert [b["name"] for b in list_all(acct.api, "/storage/buckets", "buckets", 1)] == names
    exact = expect(acct.api.get("/storage/buckets", params={"limit": 5}), 200)
    assert len(exact["buckets"]) == 5 and exact["next_cursor"] is None
    expect(acct.api.get("/storage/buckets", params={"limit": 1000}), 200)
    for bad in ("0", "1001", "-1", "abc", ""):
        expect(acct.api.get("/storage/buckets", params={"limit": bad}), 400, "limit")
    expect(acct.api.get("/storage/buckets", params={"cursor": "!!not-base64!!"}), 400, "cursor")


CORS_RULE = {
    "id": "web",
    "allowed_origins": ["https://app.example.test", "https://*.example.test"],
    "allowed_methods": ["GET", "PUT"],
    "allowed_headers": ["content-type", "x-amz-*"],
    "expose_headers": ["ETag"],
    "max_age_seconds": 600,
}


def test_bucket_patch_settings(root, buckets, new_account, s3):
    name = buckets()
    path = bpath(name)
    # the settings offered, nothing else
    expect(root.patch(path, {"website": {}}), 400, "website")
    expect(root.patch(path, {"lifecycle": []}), 400, "lifecycle")
    expect(root.patch(path, {"versioning": "on"}), 400, "versioning")
    expect(root.patch(path, {"cors": None, "versioning": "on"}), 400, "versioning")
    expect(root.patch(path, {}), 400)
    expect(root.patch(path, data=b"[]", headers={"Content-Type": "application/json"}), 400)
    for bad in (
        [],
        [{"allowed_origins": ["*"], "allowed_methods": ["PATCH"]}],
        [{"allowed_origins": [], "allowed_methods": ["GET"]}],
        [{"allowed_origins": ["*"], "allowed_methods": []}],
        [{"allowed_origins": ["*.*"], "allowed_methods": ["GET"]}],
        [{"allowed_origins": ["*"], "allowed_methods": ["GET"], "origins": ["x"]}],
        [{"allowed_origins": ["*"], "allowed_methods": ["GET"], "max_age_seconds": -1}],
        [{"allowed_origins": ["*"], "allowed_methods": ["GET"]}] * 101,
        "GET",
    ):
        expect(root.patch(path, {"cors": bad}), 400)
    assert expect(root.get(path), 200)["cors"] is None

    doc = expect(root.patch(path, {"cors": [CORS_RULE]}), 200)
    assert doc["cors"] == [CORS_RULE] and doc["name"] == name
    assert expect(root.get(path), 200)["cors"] == [CORS_RULE]
    rules = s3.get_bucket_cors(Bucket=name)["CORSRules"]
    assert len(rules) == 1
    assert rules[0]["AllowedOrigins"] == CORS_RULE["allowed_origins"]
    assert rules[0]["AllowedMethods"] == CORS_RULE["allowed_methods"]
    assert rules[0].get("MaxAgeSeconds") == 600
    # defaults: no id, no headers, no max age
    minimal = {"allowed_origins": ["*"], "allowed_methods": ["HEAD"]}
    doc = expect(root.patch(path, {"cors": [minimal]}), 200)
    assert doc["cors"] == [{**minimal, "allowed_headers": [], "expose_headers": []}]
    # S3 PutBucketCors shows through
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [
        {"ID": "s3", "AllowedOrigins": ["https://s3.example.test"], "AllowedMethods": ["DELETE"]}]})
    assert expect(root.get(path), 200)["cors"] == [{
        "id": "s3", "allowed_origins": ["https://s3.example.test"], "allowed_methods": ["DELETE"],
        "allowed_headers": [], "expose_headers": []}]
    # null removes the rules
    assert expect(root.patch(path, {"cors": None}), 200)["cors"] is None
    with expect_error("NoSuchCORSConfiguration", 404):
        s3.get_bucket_cors(Bucket=name)

    expect(root.patch(bpath(unique_bucket_name("none")), {"cors": None}), 404)
    expect(new_account().api.patch(path, {"cors": [minimal]}), 404)
    assert expect(root.get(path), 200)["cors"] is None


def test_bucket_patch_lifecycle(root, buckets, s3):
    name = buckets()
    path = bpath(name)
    rules = [
        {"id": "logs", "status": "enabled", "filter": {"prefix": "logs/", "tags": {"t": "1"}},
         "expiration": {"days": 30}},
        {"id": "history", "status": "disabled", "filter": {"prefix": "", "tags": {}},
         "noncurrent_version_expiration": {"noncurrent_days": 7, "newer_noncurrent_versions": 2},
         "abort_incomplete_multipart_upload": {"days_after_initiation": 3}},
    ]
    doc = expect(root.patch(path, {"lifecycle": rules}), 200)
    assert doc["lifecycle"] == rules
    got = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert [r["ID"] for r in got] == ["logs", "history"]
    assert got[0]["Expiration"] == {"Days": 30}
    assert got[0]["Filter"]["And"]["Prefix"] == "logs/"
    assert got[1]["Status"] == "Disabled"
    assert got[1]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2}
    # S3 PutBucketLifecycleConfiguration shows through, dates included
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": [
        {"ID": "date", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
         "Expiration": {"Date": dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)}}]})
    assert expect(root.get(path), 200)["lifecycle"] == [
        {"id": "date", "status": "enabled", "filter": {"prefix": "tmp/", "tags": {}},
         "expiration": {"date": "2030-01-01T00:00:00Z"}}]
    # a rule without an id gets one; S3's checks hold
    doc = expect(root.patch(path, {"lifecycle": [
        {"status": "enabled", "expiration": {"expired_object_delete_marker": True}}]}), 200)
    assert len(doc["lifecycle"][0]["id"]) == 32
    for bad in (
        [],
        [{"status": "on", "expiration": {"days": 1}}],
        [{"status": "enabled"}],
        [{"status": "enabled", "expiration": {"days": 0}}],
        [{"status": "enabled", "expiration": {"days": 1, "date": "2030-01-01T00:00:00Z"}}],
        [{"status": "enabled", "expiration": {"date": "2030-01-01T12:00:00Z"}}],
        [{"status": "enabled", "filter": {"tags": {"a": "b"}},
          "abort_incomplete_multipart_upload": {"days_after_initiation": 1}}],
        [{"id": "x", "status": "enabled", "expiration": {"days": 1}}] * 2,
        [{"status": "enabled", "expiration": {"days": 1}, "transition": {"days": 1}}],
        "30 days",
    ):
        expect(root.patch(path, {"lifecycle": bad}), 400)
    assert expect(root.patch(path, {"lifecycle": None}), 200)["lifecycle"] is None
    with expect_error("NoSuchLifecycleConfiguration", 404):
        s3.get_bucket_lifecycle_configuration(Bucket=name)


def test_bucket_patch_tags_and_object_lock(root, buckets, s3):
    name = buckets()
    path = bpath(name)
    tags = {"team": "storage", "cost centre": "42"}
    doc = expect(root.patch(path, {"tags": tags}), 200)
    assert doc["tags"] == tags and doc["object_lock"] is None
    got = s3.get_bucket_tagging(Bucket=name)["TagSet"]
    assert {t["Key"]: t["Value"] for t in got} == tags
    # S3 PutBucketTagging shows through; S3's limits hold here too
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "s3", "Value": "v"}]})
    assert expect(root.get(path), 200)["tags"] == {"s3": "v"}
    for bad in ({f"k{i}": "v" for i in range(51)}, {"aws:x": "v"}, {"k" * 129: "v"},
                {"k": "v" * 257}, {"k": 1}, ["k", "v"]):
        expect(root.patch(path, {"tags": bad}), 400)
    assert expect(root.patch(path, {"tags": None}), 200)["tags"] is None
    with expect_error("NoSuchTagSet", 404):
        s3.get_bucket_tagging(Bucket=name)

    # object lock needs versioning enabled, and never turns off
    lock = {"enabled": True, "default_retention": {"mode": "governance", "days": 2}}
    expect(root.patch(path, {"object_lock": lock}), 409, "Versioning")
    expect(root.patch(path, {"versioning": "enabled"}), 200)
    doc = expect(root.patch(path, {"object_lock": lock}), 200)
    assert doc["object_lock"] == lock
    conf = s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]
    assert conf["ObjectLockEnabled"] == "Enabled"
    assert conf["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 2}
    for bad in ({"enabled": False}, {"enabled": True, "default_retention": {"mode": "governance"}},
                {"enabled": True, "default_retention": {"mode": "governance", "days": 1, "years": 1}},
                {"enabled": True, "default_retention": {"mode": "governance", "days": 0}},
                {"enabled": True, "default_retention": {"mode": "strict", "days": 1}}):
        expect(root.patch(path, {"object_lock": bad}), 400)
    expect(root.patch(path, {"versioning": "suspended"}), 409)
    doc = expect(root.patch(path, {"object_lock": {"enabled": True, "default_retention": None}}), 200)
    assert doc["object_lock"] == {"enabled": True, "default_retention": None}
    assert "Rule" not in s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"]

    # a bucket created with object lock is versioned from the start
    locked = unique_bucket_name("mgmt-lock")
    resp = root.post("/storage/buckets", {"name": locked, "object_lock": True})
    buckets.track(root, locked)
    doc = expect(resp, 201)
    assert doc["versioning"] == "enabled"
    assert doc["object_lock"] == {"enabled": True, "default_retention": None}


def test_bucket_delete_empty_nonempty_and_force(root, buckets, s3):
    empty = buckets()
    assert expect(root.delete(bpath(empty)), 204) is None
    expect(root.get(bpath(empty)), 404)
    with expect_error(("NoSuchBucket", "404")):
        s3.head_bucket(Bucket=empty)
    expect(root.delete(bpath(empty)), 404)

    full = buckets()
    put_objects(full, 3)
    upload = s3.create_multipart_upload(Bucket=full, Key="mp")["UploadId"]
    s3.upload_part(Bucket=full, Key="mp", UploadId=upload, PartNumber=1, Body=BODY)
    expect(root.delete(bpath(full)), 409, "not empty")
    expect(root.delete(bpath(full), params={"force": "false"}), 409)
    assert expect(root.get(bpath(full)), 200)["object_count"] == 3
    expect(root.delete(bpath(full), params={"force": "true"}), 204)
    expect(root.get(bpath(full)), 404)
    with expect_error(("NoSuchBucket", "404")):
        s3.head_bucket(Bucket=full)
    # the name is free again
    buckets(root, full)


def test_another_accounts_bucket_is_404(root, buckets, new_account):
    name = buckets()
    other = new_account().api
    expect(other.get(bpath(name)), 404)
    expect(other.delete(bpath(name), params={"force": "true"}), 404)
    expect(other.get(bpath(name, "keys")), 404)
    expect(other.post(bpath(name, "keys"), {"permission": "read"}), 404)
    expect(other.post(bpath(name, "presign"), {"key": "k", "method": "GET"}), 404)
    assert name not in [b["name"] for b in expect(other.get("/storage/buckets"), 200)["buckets"]]
    expect(root.get(bpath(name)), 200)


# --------------------------------------------------------------------------
# per-bucket keys


def test_bucket_key_create_list_revoke(root, buckets):
    name = buckets()
    other = buckets()
    expires = rfc3339(utc_now() + dt.timedelta(days=2))
    read = bucket_key(root, name, "read", name="website", expires_at=expires)
    assert read["bucket"] == name and read["permission"] == "read" and read["name"] == "website"
    assert parse_time(read["expires_at"]) == parse_time(expires)
    rw = bucket_key(root, name, "read-write")
    assert rw["name"] is None and rw["expires_at"] is None and rw["permission"] == "read-write"
    elsewhere = bucket_key(root, other, "read")

    listed = expect(root.get(bpath(name, "keys")), 200)
    assert listed["next_cursor"] is None
    by_id = {k["access_key_id"]: k for k in listed["keys"]}
    assert set(by_id) == {read["access_key_id"], rw["access_key_id"]}
    expected_read = {k: v for k, v in read.items() if k != "secret_access_key"}
    assert by_id[read["access_key_id"]] == expected_read
    ids = [k["access_key_id"] for k in listed["keys"]]
    assert ids == sorted(ids)
    paged = list_all(root, bpath(name, "keys"), "keys", 1)
    assert [k["access_key_id"] for k in paged] == ids
    expect(root.get(bpath(name, "keys"), params={"limit": 0}), 400)

    # a key of another bucket, or an account key, is not a key of this bucket
    expect(root.delete(bpath(name, "keys", elsewhere["access_key_id"])), 404)
    expect(root.delete(bpath(name, "keys", ACCESS_KEY)), 404)
    expect(root.delete(bpath(name, "keys", "CNXNOSUCHKEY00000000")), 404)
    expect(root.delete(bpath(unique_bucket_name("none"), "keys", rw["access_key_id"])), 404)

    assert expect(root.delete(bpath(name, "keys", read["access_key_id"])), 204) is None
    left = expect(root.get(bpath(name, "keys")), 200)["keys"]
    assert [k["access_key_id"] for k in left] == [rw["access_key_id"]]
    expect(root.delete(bpath(name, "keys", read["access_key_id"])), 404)
    # a bucket key is not an account-level key
    expect(root.delete(f"/storage/access-keys/{rw['access_key_id']}"), 404)


def test_bucket_key_create_errors(root, buckets):
    name = buckets()
    path = bpath(name, "keys")
    expect(root.post(path, {"permission": "write"}), 400, "permission")
    expect(root.post(path, {"permission": "READ"}), 400)
    expect(root.post(path, {}), 400)
    expect(root.post(path, {"permission": "read", "scope": "all"}), 400)
    expect(root.post(path, {"permission": "read", "name": ""}), 400)
    expect(root.post(path, {"permission": "read", "name": "x" * 129}), 400)
    past = rfc3339(utc_now() - dt.timedelta(minutes=5))
    expect(root.post(path, {"permission": "read", "expires_at": past}), 400, "future")
    expect(root.post(path, {"permission": "read", "expires_at": "next tuesday"}), 400)
    expect(root.post(bpath(unique_bucket_name("none"), "keys"), {"permission": "read"}), 404)
    assert expect(root.get(path), 200)["keys"] == []


def test_read_key_with_boto3(root, buckets, s3):
    name = buckets()
    other = buckets()
    keys = put_objects(name, 2)
    s3.put_object(Bucket=other, Key="o", Body=b"x")
    key = bucket_key(root, name, "read")
    rc = make_client(key["access_key_id"], key["secret_access_key"])

    listed = rc.list_objects_v2(Bucket=name)
    assert [o["Key"] for o in listed["Contents"]] == keys
    assert [o["Key"] for o in rc.list_objects(Bucket=name)["Contents"]] == keys
    assert rc.get_object(Bucket=name, Key=keys[0])["Body"].read() == BODY
    assert rc.head_object(Bucket=name, Key=keys[0])["ContentLength"] == len(BODY)
    rc.head_bucket(Bucket=name)
    assert rc.get_bucket_location(Bucket=name)["LocationConstraint"] == REGION
    upload = s3.create_multipart_upload(Bucket=name, Key="mp")["UploadId"]
    s3.upload_part(Bucket=name, Key="mp", UploadId=upload, PartNumber=1, Body=BODY)
    assert [u["UploadId"] for u in rc.list_multipart_uploads(Bucket=name)["Uploads"]] == [upload]
    assert len(rc.list_parts(Bucket=name, Key="mp", UploadId=upload)["Parts"]) == 1
    with expect_error("AccessDenied", 403):
        rc.upload_part(Bucket=name, Key="mp", UploadId=upload, PartNumber=2, Body=BODY)
    with expect_error("AccessDenied", 403):
        rc.abort_multipart_upload(Bucket=name, Key="mp", UploadId=upload)
    s3.abort_multipart_upload(Bucket=name, Key="mp", UploadId=upload)

    for call in (
        lambda: rc.put_object(Bucket=name, Key="new", Body=b"x"),
        lambda: rc.delete_object(Bucket=name, Key=keys[0]),
        lambda: rc.copy_object(Bucket=name, Key="c", CopySource={"Bucket": name, "Key": keys[0]}),
        lambda: rc.create_multipart_upload(Bucket=name, Key="mp"),
        lambda: rc.list_buckets(),
        lambda: rc.delete_bucket(Bucket=name),
        lambda: rc.create_bucket(Bucket=unique_bucket_name("by-key"),
                                 CreateBucketConfiguration={"LocationConstraint": REGION}),
        lambda: rc.get_object(Bucket=other, Key="o"),
        lambda: rc.list_objects_v2(Bucket=other),
        lambda: rc.list_objects_v2(Bucket=unique_bucket_name("nonexistent")),
    ):
        with expect_error("AccessDenied", 403):
            call()
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]] == keys

    # never on /storage/
    api = Api(key["access_key_id"], key["secret_access_key"])
    expect(api.get("/storage/buckets"), 403)
    expect(api.get(bpath(name)), 403)
    expect(api.post(bpath(name, "presign"), {"key": keys[0], "method": "GET"}), 403)


def test_read_write_key_with_boto3(root, buckets, s3):
    name = buckets()
    other = buckets()
    s3.put_object(Bucket=other, Key="o", Body=b"other")
    key = bucket_key(root, name, "read-write", name="rw")
    wc = make_client(key["access_key_id"], key["secret_access_key"])

    wc.put_object(Bucket=name, Key="a", Body=BODY)
    assert wc.get_object(Bucket=name, Key="a")["Body"].read() == BODY
    wc.copy_object(Bucket=name, Key="b", CopySource={"Bucket": name, "Key": "a"})
    assert s3.get_object(Bucket=name, Key="b")["Body"].read() == BODY
    upload = wc.create_multipart_upload(Bucket=name, Key="mp")["UploadId"]
    etag = wc.upload_part(Bucket=name, Key="mp", UploadId=upload, PartNumber=1,
                          Body=BODY)["ETag"]
    assert len(wc.list_parts(Bucket=name, Key="mp", UploadId=upload)["Parts"]) == 1
    wc.complete_multipart_upload(Bucket=name, Key="mp", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object(Bucket=name, Key="mp")["Body"].read() == BODY
    wc.delete_object(Bucket=name, Key="a")
    deleted = wc.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "b"}, {"Key": "mp"}]})
    assert len(deleted["Deleted"]) == 2
    assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 0

    for call in (
        lambda: wc.list_buckets(),
        lambda: wc.delete_bucket(Bucket=name),
        lambda: wc.put_object(Bucket=other, Key="x", Body=b"x"),
        lambda: wc.get_object(Bucket=other, Key="o"),
        lambda: wc.copy_object(Bucket=name, Key="c", CopySource={"Bucket": other, "Key": "o"}),
        lambda: wc.create_bucket(Bucket=unique_bucket_name("by-key"),
                                 CreateBucketConfiguration={"LocationConstraint": REGION}),
    ):
        with expect_error("AccessDenied", 403):
            call()
    expect(Api(key["access_key_id"], key["secret_access_key"]).get("/storage/buckets"), 403)


def test_revoked_bucket_key_is_refused(root, buckets):
    name = buckets()
    put_objects(name, 1)
    key = bucket_key(root, name, "read-write")
    c = make_client(key["access_key_id"], key["secret_access_key"])
    c.head_object(Bucket=name, Key="obj-0")
    expect(root.delete(bpath(name, "keys", key["access_key_id"])), 204)
    settle()
    with expect_error("InvalidAccessKeyId", 403):
        c.get_object(Bucket=name, Key="obj-0")
    with expect_error("InvalidAccessKeyId", 403):
        c.put_object(Bucket=name, Key="n", Body=b"x")
    expect(Api(key["access_key_id"], key["secret_access_key"]).get("/storage/buckets"), 401)


def test_expired_keys_are_refused(root, buckets):
    """A bucket key and an account key minted with expires_at a few seconds ahead work
    until then and are refused afterwards (S3: InvalidAccessKeyId, /storage/: 401)."""
    name = buckets()
    put_objects(name, 1)
    expires = utc_now().replace(microsecond=0) + dt.timedelta(seconds=3)
    key = bucket_key(root, name, "read", expires_at=rfc3339(expires))
    assert parse_time(key["expires_at"]) == expires
    acct = expect(root.post("/storage/access-keys", {"account": new_account_name("exp"),
                                                     "expires_at": rfc3339(expires)}), 201)
    assert parse_time(acct["expires_at"]) == expires
    c = make_client(key["access_key_id"], key["secret_access_key"])
    c.head_object(Bucket=name, Key="obj-0")
    acct_api = Api(acct["access_key_id"], acct["secret_access_key"])
    expect(acct_api.get("/storage/buckets"), 200)
    time.sleep(max(0.0, (expires - utc_now()).total_seconds()) + 1.0)
    with expect_error("InvalidAccessKeyId", 403):
        c.list_objects_v2(Bucket=name)
    expect(acct_api.get("/storage/buckets"), 401)
    with expect_error("InvalidAccessKeyId", 403):
        make_client(acct["access_key_id"], acct["secret_access_key"]).list_buckets()


# --------------------------------------------------------------------------
# account-level keys


def test_account_keys_isolate_buckets(root, new_account, buckets, s3):
    alice, bob = new_account("alice"), new_account("bob")
    a_s3, b_s3 = alice.s3(), bob.s3()
    a_bucket, b_bucket = unique_bucket_name("alice"), unique_bucket_name("bob")
    create_bucket(a_s3, a_bucket)
    buckets.track(alice.api, a_bucket)
    create_bucket(b_s3, b_bucket)
    buckets.track(bob.api, b_bucket)
    root_bucket = buckets()

    a_list, b_list = a_s3.list_buckets(), b_s3.list_buckets()
    assert [b["Name"] for b in a_list["Buckets"]] == [a_bucket]
    assert [b["Name"] for b in b_list["Buckets"]] == [b_bucket]
    assert a_list["Owner"] == {"ID": owner_id(alice.name), "DisplayName": alice.name}
    assert b_list["Owner"] == {"ID": owner_id(bob.name), "DisplayName": bob.name}
    assert a_list["Owner"]["ID"] != b_list["Owner"]["ID"]
    root_list = s3.list_buckets()
    root_names = [b["Name"] for b in root_list["Buckets"]]
    assert root_bucket in root_names and a_bucket not in root_names and b_bucket not in root_names
    assert root_list["Owner"]["DisplayName"] == "root"
    assert root_list["Owner"]["ID"] == owner_id("root")

    a_s3.put_object(Bucket=a_bucket, Key="k", Body=b"alice")
    with expect_error("AccessDenied", 403):
        b_s3.get_object(Bucket=a_bucket, Key="k")
    with expect_error("AccessDenied", 403):
        b_s3.put_object(Bucket=a_bucket, Key="k2", Body=b"bob")
    with expect_error("AccessDenied", 403):
        a_s3.list_objects_v2(Bucket=root_bucket)

    assert [b["name"] for b in expect(alice.api.get("/storage/buckets"), 200)["buckets"]] == [a_bucket]
    assert [b["name"] for b in expect(bob.api.get("/storage/buckets"), 200)["buckets"]] == [b_bucket]
    expect(bob.api.get(bpath(a_bucket)), 404)
    assert expect(alice.api.get(bpath(a_bucket)), 200)["object_count"] == 1
    # an account can mint bucket keys for its own buckets
    key = bucket_key(alice.api, a_bucket, "read")
    assert make_client(key["access_key_id"], key["secret_access_key"]).get_object(
        Bucket=a_bucket, Key="k")["Body"].read() == b"alice"


def test_account_key_minting_rules(root, new_account):
    alice, bob = new_account("alice"), new_account("bob")
    expect(alice.api.post("/storage/access-keys", {"account": bob.name}), 403, "root")
    own = expect(alice.api.post("/storage/access-keys", {"account": alice.name, "name": "ci"}), 201)
    assert own["account"] == alice.name and own["name"] == "ci"
    implicit = expect(alice.api.post("/storage/access-keys", {}), 201)
    assert implicit["account"] == alice.name and implicit["name"] is None
    assert implicit["expires_at"] is None
    # the minted key acts as the same account
    names = expect(Api(implicit["access_key_id"], implicit["secret_access_key"])
                   .get("/storage/access-keys"), 200)["keys"]
    assert {k["account"] for k in names} == {alice.name}

    root_own = expect(root.post("/storage/access-keys", {"name": "root-extra"}), 201)
    assert root_own["account"] == "root"
    for bad in ("bad name", "x" * 129, "", "sl/ash"):
        expect(root.post("/storage/access-keys", {"account": bad}), 400, "account")
    expect(root.post("/storage/access-keys", {"owner": "x"}), 400)
    expect(root.post("/storage/access-keys", {"expires_at": rfc3339(utc_now() - dt.timedelta(hours=1))}), 400)
    expect(root.post("/storage/access-keys", {"expires_at": "2026-13-45"}), 400)
    expect(root.post("/storage/access-keys", {"name": ""}), 400)
    future = rfc3339(utc_now() + dt.timedelta(days=1))
    timed = expect(root.post("/storage/access-keys",
                             {"account": alice.name, "expires_at": future}), 201)
    assert parse_time(timed["expires_at"]) == parse_time(future)
    expect(root.delete(f"/storage/access-keys/{root_own['access_key_id']}"), 204)


def test_account_key_listing_and_revoke(root, new_account):
    alice, bob = new_account("alice"), new_account("bob")
    extra = expect(alice.api.post("/storage/access-keys", {"name": "extra"}), 201)

    a_keys = list_all(alice.api, "/storage/access-keys", "keys", 1)
    assert {k["account"] for k in a_keys} == {alice.name}
    assert {k["access_key_id"] for k in a_keys} == {alice.access_key, extra["access_key_id"]}
    ids = [k["access_key_id"] for k in a_keys]
    assert ids == sorted(ids)
    # a non-root caller's ?account= of another account shows nothing
    assert expect(alice.api.get("/storage/access-keys", params={"account": bob.name}),
                  200)["keys"] == []

    only_bob = expect(root.get("/storage/access-keys", params={"account": bob.name}), 200)
    assert [k["access_key_id"] for k in only_bob["keys"]] == [bob.access_key]
    everything = list_all(root, "/storage/access-keys", "keys", 1000)
    every_id = {k["access_key_id"] for k in everything}
    assert {alice.access_key, bob.access_key, extra["access_key_id"]} <= every_id
    assert {alice.name, bob.name} <= {k["account"] for k in everything}

    expect(bob.api.delete(f"/storage/access-keys/{extra['access_key_id']}"), 404)
    expect(alice.api.delete("/storage/access-keys/CNXNOSUCHKEY00000000"), 404)
    assert expect(alice.api.delete(f"/storage/access-keys/{extra['access_key_id']}"), 204) is None
    revoked = Api(extra["access_key_id"], extra["secret_access_key"])
    expect(revoked.get("/storage/buckets"), 401)
    with expect_error("InvalidAccessKeyId", 403):
        make_client(extra["access_key_id"], extra["secret_access_key"]).list_buckets()
    expect(alice.api.delete(f"/storage/access-keys/{extra['access_key_id']}"), 404)
    # root revokes any account's key
    expect(root.delete(f"/storage/access-keys/{bob.access_key}"), 204)
    expect(bob.api.get("/storage/buckets"), 401)


# --------------------------------------------------------------------------
# presigned URLs


def presign(api: Api, bucket: str, **body) -> dict:
    return expect(api.post(bpath(bucket, "presign"), body), 200)


def test_presign_put_get_head_delete(root, buckets, s3):
    name = buckets()
    before = utc_now()
    put = presign(root, name, key="dir/up load.txt", method="PUT", content_type="text/plain",
                  expires_in=600)
    # signed by the bucket's own presign key, never by the caller's (root) key
    assert put["method"] == "PUT" and put["access_key_id"] != ACCESS_KEY
    assert put["headers"] == {"content-type": "text/plain"}
    url = urlsplit(put["url"])
    # on the gateway that minted it (the request's Host)
    assert any((url.scheme, url.netloc) == urlsplit(e)[:2] for e in ENDPOINTS)
    assert url.path == f"/{name}/dir/up%20load.txt"
    assert "X-Amz-Expires=600" in url.query
    expires = parse_time(put["expires_at"])
    assert before + dt.timedelta(seconds=595) <= expires <= utc_now() + dt.timedelta(seconds=605)

    r = requests.put(put["url"], data=BODY, headers=put["headers"], verify=requests_verify())
    assert r.status_code == 200, r.text
    head = s3.head_object(Bucket=name, Key="dir/up load.txt")
    assert head["ContentType"] == "text/plain" and head["ContentLength"] == len(BODY)

    get = presign(root, name, key="dir/up load.txt", method="get")
    assert get["method"] == "GET" and get["headers"] == {}
    assert "X-Amz-Expires=3600" in get["url"]
    r = requests.get(get["url"], verify=requests_verify())
    assert r.status_code == 200 and r.content == BODY

    hd = presign(root, name, key="dir/up load.txt", method="HEAD", expires_in=1)
    r = requests.head(hd["url"], verify=requests_verify())
    assert r.status_code == 200 and int(r.headers["content-length"]) == len(BODY)

    dl = presign(root, name, key="dir/up load.txt", method="DELETE")
    r = requests.delete(dl["url"], verify=requests_verify())
    assert r.status_code == 204, r.text
    assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 0

    longest = presign(root, name, key="k", method="GET", expires_in=604800)
    assert "X-Amz-Expires=604800" in longest["url"]


def test_presign_errors(root, buckets):
    name = buckets()
    path = bpath(name, "presign")
    expect(root.post(path, {"key": "k", "method": "GET", "expires_in": 604801}), 400, "expires_in")
    expect(root.post(path, {"key": "k", "method": "GET", "expires_in": 0}), 400, "expires_in")
    expect(root.post(path, {"key": "k", "method": "GET", "expires_in": -5}), 400)
    expect(root.post(path, {"key": "k", "method": "POST"}), 400, "method")
    expect(root.post(path, {"key": "k", "method": "GET", "content_type": "text/plain"}), 400)
    expect(root.post(path, {"key": "", "method": "GET"}), 400)
    expect(root.post(path, {"key": "k" * 1025, "method": "GET"}), 400)
    expect(root.post(path, {"key": "k"}), 400)
    expect(root.post(path, {"key": "k", "method": "GET", "bucket": name}), 400)
    expect(root.post(path, {"key": "k", "method": "GET",
                            "access_key_id": "CNXNOSUCHKEY00000000"}), 404)
    expect(root.post(bpath(unique_bucket_name("none"), "presign"),
                     {"key": "k", "method": "GET"}), 404)


def test_presign_with_bucket_keys(root, buckets, s3):
    name = buckets()
    other = buckets()
    s3.put_object(Bucket=name, Key="doc", Body=BODY)
    read = bucket_key(root, name, "read")
    rw = bucket_key(root, name, "read-write")
    foreign = bucket_key(root, other, "read-write")

    get = presign(root, name, key="doc", method="GET", access_key_id=read["access_key_id"])
    assert get["access_key_id"] == read["access_key_id"]
    assert f"X-Amz-Credential={read['access_key_id']}" in get["url"]
    assert requests.get(get["url"], verify=requests_verify()).content == BODY

    expect(root.post(bpath(name, "presign"), {"key": "doc", "method": "PUT",
                                              "access_key_id": read["access_key_id"]}), 403)
    expect(root.post(bpath(name, "presign"), {"key": "doc", "method": "DELETE",
                                              "access_key_id": read["access_key_id"]}), 403)
    expect(root.post(bpath(name, "presign"), {"key": "doc", "method": "GET",
                                              "access_key_id": foreign["access_key_id"]}), 404)

    put = presign(root, name, key="via-rw", method="PUT", access_key_id=rw["access_key_id"])
    r = requests.put(put["url"], data=b"written", verify=requests_verify())
    assert r.status_code == 200, r.text
    assert s3.get_object(Bucket=name, Key="via-rw")["Body"].read() == b"written"

    expect(root.delete(bpath(name, "keys", read["access_key_id"])), 204)
    r = requests.get(get["url"], verify=requests_verify())
    assert r.status_code == 403 and b"InvalidAccessKeyId" in r.content, r.text


def test_presign_by_account_key(new_account, buckets):
    alice = new_account("presigner")
    name = buckets(alice.api)
    alice.s3().put_object(Bucket=name, Key="a", Body=b"alice's")
    doc = presign(alice.api, name, key="a", method="GET")
    assert doc["access_key_id"] != alice.access_key  # the bucket's read-only presign key
    assert requests.get(doc["url"], verify=requests_verify()).content == b"alice's"
    # root's own key is not a key of alice's account
    expect(alice.api.post(bpath(name, "presign"),
                          {"key": "a", "method": "GET", "access_key_id": ACCESS_KEY}), 404)


# --------------------------------------------------------------------------
# Idempotency-Key


def idem(key: str | None = None) -> dict:
    return {"Idempotency-Key": key or f"test-{uuid.uuid4()}"}


def test_idempotent_create_bucket_is_replayed(root, buckets):
    name = unique_bucket_name("idem")
    h = idem()
    first = root.post("/storage/buckets", {"name": name}, headers=h)
    buckets.track(root, name)
    doc = expect(first, 201)
    assert "idempotent-replayed" not in first.headers
    again = root.post("/storage/buckets", {"name": name}, headers=h)
    assert expect(again, 201) == doc
    assert again.headers["idempotent-replayed"] == "true"
    # without the key the same request is a new one: 409
    expect(root.post("/storage/buckets", {"name": name}), 409)


def test_idempotent_bucket_key_mints_once(root, buckets):
    name = buckets()
    h = idem()
    first = expect(root.post(bpath(name, "keys"), {"permission": "read"}, headers=h), 201)
    second_resp = root.post(bpath(name, "keys"), {"permission": "read"}, headers=h)
    second = expect(second_resp, 201)
    assert second_resp.headers["idempotent-replayed"] == "true"
    assert second == first
    keys = expect(root.get(bpath(name, "keys")), 200)["keys"]
    assert [k["access_key_id"] for k in keys] == [first["access_key_id"]]


def test_idempotency_key_reused_for_another_request_is_422(root, buckets):
    name = buckets()
    h = idem()
    expect(root.post(bpath(name, "keys"), {"permission": "read"}, headers=h), 201)
    expect(root.post(bpath(name, "keys"), {"permission": "read-write"}, headers=h), 422)
    expect(root.post(bpath(name, "presign"), {"key": "k", "method": "GET"}, headers=h), 422)
    expect(root.delete(bpath(name), headers=h), 422)
    expect(root.patch(bpath(name), {"versioning": "enabled"}, headers=h), 422)
    assert len(expect(root.get(bpath(name, "keys")), 200)["keys"]) == 1


def test_idempotent_error_is_replayed_without_side_effect(root, buckets):
    name = unique_bucket_name("idem-late")
    h = idem()
    expect(root.delete(bpath(name), headers=h), 404)
    buckets(root, name)
    replay = root.delete(bpath(name), headers=h)
    expect(replay, 404)
    assert replay.headers["idempotent-replayed"] == "true"
    expect(root.get(bpath(name)), 200)
    # a fresh key really deletes
    expect(root.delete(bpath(name), headers=idem()), 204)
    expect(root.get(bpath(name)), 404)


def test_idempotent_delete_replays_204(root, buckets):
    name = buckets()
    key = bucket_key(root, name, "read")
    h = idem()
    expect(root.delete(bpath(name, "keys", key["access_key_id"]), headers=h), 204)
    replay = root.delete(bpath(name, "keys", key["access_key_id"]), headers=h)
    assert expect(replay, 204) is None
    assert replay.headers["idempotent-replayed"] == "true"


def test_idempotency_key_is_per_principal(new_account):
    alice, bob = new_account("alice"), new_account("bob")
    h = idem()
    a = expect(alice.api.post("/storage/access-keys", {}, headers=h), 201)
    b_resp = bob.api.post("/storage/access-keys", {}, headers=h)
    b = expect(b_resp, 201)
    assert "idempotent-replayed" not in b_resp.headers
    assert a["account"] == alice.name and b["account"] == bob.name


def test_invalid_idempotency_key_is_400(root):
    for bad in ("", "has space", "x" * 256, "tab\there", "caf\u00e9".encode("utf-8")):
        resp = root.post("/storage/buckets", {"name": unique_bucket_name("never")},
                         unsigned_headers={"Idempotency-Key": bad})
        expect(resp, 400, "Idempotency-Key")
    ok = "x" * 255
    name = unique_bucket_name("idem-255")
    expect(root.post("/storage/buckets", {"name": name}, headers={"Idempotency-Key": ok}), 201)
    expect(root.delete(bpath(name)), 204)


def test_idempotency_concurrent_duplicates_mint_once(root, buckets):
    """Duplicates racing the first request under one key: each gets either the stored
    answer (201, replayed) or 409 while the first still runs; exactly one key is minted."""
    from concurrent.futures import ThreadPoolExecutor

    name = buckets()
    h = idem()

    def send(_):
        return Api().post(bpath(name, "keys"), {"permission": "read"}, headers=h)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(send, range(8)))
    statuses = sorted(r.status_code for r in results)
    assert set(statuses) <= {201, 409}, statuses
    created = [r for r in results if r.status_code == 201]
    assert created, statuses
    assert len({r.doc["access_key_id"] for r in created}) == 1
    assert sum(1 for r in created if "idempotent-replayed" not in r.headers) <= 1
    for r in results:
        if r.status_code == 409:
            assert "in progress" in r.doc["error"]
    keys = expect(root.get(bpath(name, "keys")), 200)["keys"]
    assert [k["access_key_id"] for k in keys] == [created[0].doc["access_key_id"]]


def test_idempotency_key_ignored_on_get(root, buckets):
    name = buckets()
    h = idem()
    for _ in range(2):
        resp = root.get(bpath(name), headers=h)
        expect(resp, 200)
        assert "idempotent-replayed" not in resp.headers


# --------------------------------------------------------------------------
# bearer JWTs


@needs_jwt
def test_jwt_accounts_see_only_their_own(root, buckets, s3):
    x, y = new_account_name("jwt-x"), new_account_name("jwt-y")
    ax, ay = Api(token=token_for(x)), Api(token=token_for(y))
    bx = buckets(ax, unique_bucket_name("jwt-x"))
    by = buckets(ay, unique_bucket_name("jwt-y"))
    assert [b["name"] for b in expect(ax.get("/storage/buckets"), 200)["buckets"]] == [bx]
    assert [b["name"] for b in expect(ay.get("/storage/buckets"), 200)["buckets"]] == [by]
    expect(ax.get(bpath(by)), 404)
    expect(ay.delete(bpath(bx)), 404)
    assert bx not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    # an account key of the same account sees the same buckets on S3
    kx = expect(ax.post("/storage/access-keys", {"name": "from-jwt"}), 201)
    assert kx["account"] == x
    listing = make_client(kx["access_key_id"], kx["secret_access_key"]).list_buckets()
    assert [b["Name"] for b in listing["Buckets"]] == [bx]
    assert listing["Owner"] == {"ID": owner_id(x), "DisplayName": x}
    # and root sees the account's keys
    listed = expect(root.get("/storage/access-keys", params={"account": x}), 200)["keys"]
    assert [k["access_key_id"] for k in listed] == [kx["access_key_id"]]
    # a bearer caller may not mint for another account
    expect(ax.post("/storage/access-keys", {"account": y}), 403)


def _now() -> int:
    return int(time.time())


JWT_REJECTIONS = {
    "hs256": lambda a: make_jwt({"sub": a, "exp": _now() + 300}, alg="HS256"),
    "alg-none": lambda a: make_jwt({"sub": a, "exp": _now() + 300}, alg="none"),
    "expired": lambda a: make_jwt({"sub": a, "iat": _now() - 600, "exp": _now() - 120}),
    "not-yet-valid": lambda a: make_jwt({"sub": a, "nbf": _now() + 600, "exp": _now() + 900}),
    "no-exp": lambda a: make_jwt({"sub": a}),
    "other-rsa-key": lambda a: make_jwt({"sub": a, "exp": _now() + 300},
                                        private_key_pem=new_rsa_private_pem()),
    "sub-root": lambda a: make_jwt({"sub": "root", "exp": _now() + 300}),
    "sub-invalid": lambda a: make_jwt({"sub": "has space", "exp": _now() + 300}),
    "sub-too-long": lambda a: make_jwt({"sub": "a" * 129, "exp": _now() + 300}),
    "no-sub": lambda a: make_jwt({"exp": _now() + 300}),
    "tampered": lambda a: (lambda t: t[:-6] + ("AAAAAA" if t[-6:] != "AAAAAA" else "BBBBBB"))(
        make_jwt({"sub": a, "exp": _now() + 300})),
    "garbage": lambda a: "not-a-jwt",
}


@needs_jwt
@pytest.mark.parametrize("case", sorted(JWT_REJECTIONS))
def test_jwt_rejected(case):
    token = JWT_REJECTIONS[case](new_account_name("jwt-bad"))
    api = Api(token=token)
    expect(api.get("/storage/buckets"), 401)
    expect(api.post("/storage/buckets", {"name": unique_bucket_name("jwt-never")}), 401)


@needs_jwt
def test_jwt_within_leeway_and_lowercase_scheme_accepted():
    acct = new_account_name("jwt-leeway")
    token = make_jwt({"sub": acct, "exp": _now() - 5})  # 30 s leeway
    expect(Api(token=token).get("/storage/buckets"), 200)
    resp = Api(unsigned=True).get("/storage/buckets",
                                  headers={"Authorization": f"bearer {token_for(acct)}"})
    expect(resp, 200)


@needs_jwt
def test_jwt_presign_uses_the_buckets_presign_keys(root, buckets):
    acct = new_account_name("jwt-presign")
    api = Api(token=token_for(acct))
    name = buckets(api)
    put = presign(api, name, key="p.bin", method="PUT", content_type="application/octet-stream")
    r = requests.put(put["url"], data=BODY, headers=put["headers"], verify=requests_verify())
    assert r.status_code == 200, r.text
    get = presign(api, name, key="p.bin", method="GET")
    assert get["access_key_id"] != put["access_key_id"]  # read URLs get a read-only key
    assert presign(api, name, key="p.bin", method="HEAD")["access_key_id"] == get["access_key_id"]
    assert requests.get(get["url"], verify=requests_verify()).content == BODY
    keys = expect(api.get(bpath(name, "keys")), 200)["keys"]
    assert sorted((k["access_key_id"], k["name"], k["permission"]) for k in keys) == sorted([
        (get["access_key_id"], "presign-read", "read"),
        (put["access_key_id"], "presign-read-write", "read-write")])
    assert expect(api.get("/storage/access-keys"), 200)["keys"] == []
    # revoking it kills the URLs; the next presign mints a new one
    expect(api.delete(bpath(name, "keys", get["access_key_id"])), 204)
    settle()
    r = requests.get(get["url"], verify=requests_verify())
    assert r.status_code == 403 and b"InvalidAccessKeyId" in r.content
    again = presign(api, name, key="p.bin", method="GET")
    assert again["access_key_id"] != get["access_key_id"]
    assert requests.get(again["url"], verify=requests_verify()).content == BODY


# --------------------------------------------------------------------------
# a dedicated server: rate limits, restarts


@pytest.fixture
def dedicated():
    servers: list[DedicatedServer] = []

    def _start(config: str, data_dir: str | None = None) -> DedicatedServer:
        srv = DedicatedServer(config, data_dir).start()
        servers.append(srv)
        return srv

    yield _start
    for srv in reversed(servers):
        srv.cleanup()


def test_rate_limit_429_with_retry_after(dedicated):
    srv = dedicated("[limits]\napi_requests_per_second = 0.5\napi_burst = 3\n")
    root_api = Api(endpoint=srv.endpoint)
    acct = expect(root_api.post("/storage/access-keys", {"account": new_account_name("rl")}), 201)
    expect(root_api.get("/storage/buckets"), 200)
    expect(root_api.get("/storage/buckets"), 200)
    limited = root_api.get("/storage/buckets")
    expect(limited, 429, "rate limit")
    assert int(limited.headers["Retry-After"]) >= 1
    h = idem()
    refused = root_api.post("/storage/access-keys", {}, headers=h)
    expect(refused, 429)
    # per principal: another account is not limited by root's bucket
    other = Api(acct["access_key_id"], acct["secret_access_key"], endpoint=srv.endpoint)
    expect(other.get("/storage/buckets"), 200)
    # after Retry-After the request goes through; the refusal was not stored under its
    # Idempotency-Key, so this is a first run, not a replay
    time.sleep(int(refused.headers["Retry-After"]) + 0.2)
    done = root_api.post("/storage/access-keys", {}, headers=h)
    assert expect(done, 201)["account"] == "root"
    assert "idempotent-replayed" not in done.headers


def test_bearer_token_without_jwt_config_is_401(dedicated):
    srv = dedicated("[limits]\napi_requests_per_second = 0\n")
    token = make_jwt({"sub": "someone", "exp": _now() + 300},
                     private_key_pem=new_rsa_private_pem())
    expect(Api(token=token, endpoint=srv.endpoint).get("/storage/buckets"), 401, "JWT")
    expect(Api(endpoint=srv.endpoint).get("/storage/buckets"), 200)


def test_idempotency_survives_restart(dedicated):
    cfg = "[limits]\napi_requests_per_second = 0\n"
    srv = dedicated(cfg)
    api = Api(endpoint=srv.endpoint)
    name = unique_bucket_name("restart")
    h = idem()
    first = expect(api.post("/storage/buckets", {"name": name}, headers=h), 201)
    srv.stop()
    srv.start()
    api = Api(endpoint=srv.endpoint)
    replay = api.post("/storage/buckets", {"name": name}, headers=h)
    assert expect(replay, 201) == first
    assert replay.headers["idempotent-replayed"] == "true"
    expect(api.post("/storage/buckets", {"name": name + "x"}, headers=h), 422)
    expect(api.delete(bpath(name)), 204)


def test_whoami_tells_each_key_what_it_may_do(root, buckets):
    me = expect(root.get("/storage/whoami"), 200)
    assert me == {"access_key_id": ACCESS_KEY, "kind": "root", "account": "root", "bucket": None, "permission": "full"}
    name = buckets()
    for permission in ("read", "read-write"):
        key = bucket_key(root, name, permission)
        settle()
        as_key = Api(key["access_key_id"], key["secret_access_key"])
        me = expect(as_key.get("/storage/whoami"), 200)
        assert me["kind"] == "bucket" and me["bucket"] == name and me["permission"] == permission, me
        # and nothing else under /storage/
        expect(as_key.get("/storage/buckets"), 403)
    expect(Api(unsigned=True).get("/storage/whoami"), 401)

"""Bucket policies: Get/Put/DeleteBucketPolicy and GetBucketPolicyStatus, and what a policy
decides — Allow to everyone or to another account of the server, Deny over the owner too,
conditions on the caller's address, the transport, the listing prefix and the object's tags —
together with the public access block's BlockPublicPolicy and RestrictPublicBuckets."""

from __future__ import annotations

import json

import pytest
import requests

from mgmt import bpath, expect
from s3util import (
    ENDPOINT,
    IS_HTTPS,
    ON_MOTO,
    VERIFY,
    create_bucket,
    curl,
    delete_bucket_quietly,
    expect_error,
    payload,
    unique_bucket_name,
)

pytestmark = pytest.mark.skipif(
    ON_MOTO, reason="moto neither enforces bucket policies nor has a second account"
)

BODY = payload(3000, seed=52)


def policy(bucket: str, *statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(principal, actions, resources, condition=None, effect="Allow") -> dict:
    st = {"Effect": effect, "Principal": principal, "Action": actions, "Resource": resources}
    if condition:
        st["Condition"] = condition
    return st


def objects(bucket: str, prefix: str = "") -> str:
    return f"arn:aws:s3:::{bucket}/{prefix}*"


def anonymous_get(bucket: str, key: str) -> int:
    verify = True if VERIFY is None else VERIFY
    return requests.get(f"{ENDPOINT}/{bucket}/{key}", verify=verify, timeout=30).status_code


def test_public_read_policy(s3, anon, bucket):
    s3.put_object(Bucket=bucket, Key="site/index.html", Body=BODY)
    doc = policy(bucket, allow("*", "s3:GetObject", objects(bucket)))
    # a new bucket blocks public policies
    with expect_error("AccessDenied", 403):
        s3.put_bucket_policy(Bucket=bucket, Policy=doc)
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=doc)
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == json.loads(doc)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    assert anon.get_object(Bucket=bucket, Key="site/index.html")["Body"].read() == BODY
    got = curl(["--fail", f"{ENDPOINT}/{bucket}/site/index.html"])
    assert got.returncode == 0 and got.stdout == BODY, got.stderr
    # GetObject only: no listing, no writes, no 404 for what is not there
    with expect_error("AccessDenied", 403):
        anon.list_objects_v2(Bucket=bucket)
    with expect_error("AccessDenied", 403):
        anon.put_object(Bucket=bucket, Key="x", Body=b"x")
    assert anonymous_get(bucket, "missing") == 403
    # ACLs stay off: the policy alone opened the bucket
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"][0][
        "ObjectOwnership"] == "BucketOwnerEnforced"
    s3.delete_bucket_policy(Bucket=bucket)
    assert anonymous_get(bucket, "site/index.html") == 403
    with expect_error("NoSuchBucketPolicy", 404):
        s3.get_bucket_policy(Bucket=bucket)


def test_an_account_gets_its_prefix(s3, bob, carol, bucket):
    home = f"home/{bob.name}/"
    s3.put_object(Bucket=bucket, Key="home/other/secret", Body=b"s")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        bucket,
        allow({"AWS": f"arn:aws:iam::{bob.name}:root"}, ["s3:GetObject", "s3:PutObject"],
              objects(bucket, home)),
        allow({"AWS": bob.name}, "s3:ListBucket", f"arn:aws:s3:::{bucket}",
              {"StringLike": {"s3:prefix": [f"{home}*"]}}),
    ))
    # naming one account is not public: the default block lets it through
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    bob.s3.put_object(Bucket=bucket, Key=f"{home}notes.txt", Body=BODY)
    assert bob.s3.get_object(Bucket=bucket, Key=f"{home}notes.txt")["Body"].read() == BODY
    listed = bob.s3.list_objects_v2(Bucket=bucket, Prefix=home)["Contents"]
    assert [o["Key"] for o in listed] == [f"{home}notes.txt"]
    # a missing key he could list is a 404: the lookup is judged as a listing of the key
    with expect_error("NoSuchKey", 404):
        bob.s3.get_object(Bucket=bucket, Key=f"{home}missing")
    with expect_error("AccessDenied", 403):
        bob.s3.get_object(Bucket=bucket, Key="home/other/missing")
    for denied in (
        lambda: bob.s3.get_object(Bucket=bucket, Key="home/other/secret"),
        lambda: bob.s3.put_object(Bucket=bucket, Key="home/other/x", Body=b"x"),
        lambda: bob.s3.list_objects_v2(Bucket=bucket),
        lambda: bob.s3.list_objects_v2(Bucket=bucket, Prefix="home/"),
        lambda: bob.s3.delete_object(Bucket=bucket, Key=f"{home}notes.txt"),
        lambda: bob.s3.get_bucket_policy(Bucket=bucket),
        lambda: carol.s3.get_object(Bucket=bucket, Key=f"{home}notes.txt"),
    ):
        with expect_error("AccessDenied", 403):
            denied()
    # his copy out of the bucket needs only the read the policy gives
    mine = unique_bucket_name("bob-policy-copy")
    create_bucket(bob.s3, mine)
    try:
        bob.s3.copy_object(Bucket=mine, Key="c", CopySource={"Bucket": bucket, "Key": f"{home}notes.txt"})
        with expect_error("AccessDenied", 403):
            bob.s3.copy_object(Bucket=mine, Key="d", CopySource={"Bucket": bucket, "Key": "home/other/secret"})
    finally:
        delete_bucket_quietly(bob.s3, mine)


def test_deny_binds_the_owner_too(s3, bucket):
    for k in ("keep/a", "keep/b", "tmp/c"):
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        bucket, allow("*", "s3:DeleteObject", objects(bucket, "keep/"), effect="Deny"),
    ))
    with expect_error("AccessDenied", 403):
        s3.delete_object(Bucket=bucket, Key="keep/a")
    res = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "keep/b"}, {"Key": "tmp/c"}]})
    assert [e["Key"] for e in res.get("Errors", [])] == ["keep/b"]
    assert [d["Key"] for d in res.get("Deleted", [])] == ["tmp/c"]
    # the owner can always take the policy back
    s3.get_bucket_policy(Bucket=bucket)
    s3.delete_bucket_policy(Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="keep/a")


def test_secure_transport_condition(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"tls")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        bucket, allow("*", "s3:*", [objects(bucket), f"arn:aws:s3:::{bucket}"],
                      {"Bool": {"aws:SecureTransport": "false"}}, effect="Deny"),
    ))
    try:
        if IS_HTTPS:
            assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"tls"
        else:
            with expect_error("AccessDenied", 403):
                s3.get_object(Bucket=bucket, Key="k")
            with expect_error("AccessDenied", 403):
                s3.list_objects_v2(Bucket=bucket)
    finally:
        s3.delete_bucket_policy(Bucket=bucket)


def test_source_ip_condition(s3, anon, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"lan")
    here = policy(bucket, allow("*", "s3:GetObject", objects(bucket),
                                {"IpAddress": {"aws:SourceIp": ["127.0.0.0/8", "::1/128"]}}))
    # limited to an address range, the policy is not public: the default block allows it
    s3.put_bucket_policy(Bucket=bucket, Policy=here)
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    assert anon.get_object(Bucket=bucket, Key="k")["Body"].read() == b"lan"
    elsewhere = policy(bucket, allow("*", "s3:GetObject", objects(bucket),
                                     {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}))
    s3.put_bucket_policy(Bucket=bucket, Policy=elsewhere)
    with expect_error("AccessDenied", 403):
        anon.get_object(Bucket=bucket, Key="k")


def test_existing_object_tag_condition(s3, anon, bucket):
    s3.put_object(Bucket=bucket, Key="open", Body=b"o", Tagging="visibility=public")
    s3.put_object(Bucket=bucket, Key="closed", Body=b"c", Tagging="visibility=private")
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        bucket, allow("*", "s3:GetObject", objects(bucket),
                      {"StringEquals": {"s3:ExistingObjectTag/visibility": "public"}}),
    ))
    assert anon.get_object(Bucket=bucket, Key="open")["Body"].read() == b"o"
    with expect_error("AccessDenied", 403):
        anon.get_object(Bucket=bucket, Key="closed")
    # retagged, it closes
    s3.put_object_tagging(Bucket=bucket, Key="open", Tagging={"TagSet": [{"Key": "visibility", "Value": "private"}]})
    with expect_error("AccessDenied", 403):
        anon.get_object(Bucket=bucket, Key="open")


def test_restrict_public_buckets(s3, anon, bob, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"r")
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(bucket, allow("*", "s3:GetObject", objects(bucket))))
    for who in (anon, bob.s3):
        with expect_error("AccessDenied", 403):
            who.get_object(Bucket=bucket, Key="k")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"r"
    s3.delete_public_access_block(Bucket=bucket)
    assert anon.get_object(Bucket=bucket, Key="k")["Body"].read() == b"r"


def test_malformed_policies(s3, bucket):
    for bad in (
        "not json",
        policy(bucket, allow("*", "s3:GetObject", "arn:aws:s3:::some-other-bucket/*")),
        policy(bucket, allow({"Service": "ec2.amazonaws.com"}, "s3:GetObject", objects(bucket))),
        policy(bucket, allow({"AWS": "bob"}, "iam:PassRole", objects(bucket))),
        policy(bucket, allow({"AWS": "bob"}, "s3:GetObject", objects(bucket), {"StringSoundsLike": {"s3:prefix": "a"}})),
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                                                            "Action": "s3:GetObject"}]}),
    ):
        with expect_error("MalformedPolicy", 400):
            s3.put_bucket_policy(Bucket=bucket, Policy=bad)
    with expect_error("NoSuchBucketPolicy", 404):
        s3.get_bucket_policy_status(Bucket=bucket)


def test_management_api_sets_the_policy(s3, root_api, anon):
    name = unique_bucket_name("mgmt-policy")
    expect(root_api.post("/storage/buckets", {"name": name}), 201)
    try:
        s3.put_object(Bucket=name, Key="k", Body=b"api")
        doc = json.loads(policy(name, allow("*", "s3:GetObject", objects(name))))
        expect(root_api.patch(bpath(name), {"policy": doc}), 400, "block_public_policy")
        opened = expect(root_api.patch(bpath(name), {"public_access_block": None, "policy": doc}), 200)
        assert opened["policy"] == doc
        assert json.loads(s3.get_bucket_policy(Bucket=name)["Policy"]) == doc
        assert anon.get_object(Bucket=name, Key="k")["Body"].read() == b"api"
        expect(root_api.patch(bpath(name), {"policy": {"Statement": "nope"}}), 400, "policy")
        assert expect(root_api.patch(bpath(name), {"policy": None}), 200)["policy"] is None
        with expect_error("AccessDenied", 403):
            anon.get_object(Bucket=name, Key="k")
    finally:
        delete_bucket_quietly(s3, name)


# --------------------------------------------------------------------------
# what a request cannot smuggle past a policy


def add_query(client, operation: str, extra: str):
    """Makes `client` add `extra` to the query of `operation` before it signs."""

    def hook(request, **_):
        request.url += ("&" if "?" in request.url else "?") + extra

    client.meta.events.register(f"before-sign.s3.{operation}", hook)
    return lambda: client.meta.events.unregister(f"before-sign.s3.{operation}", hook)


def test_condition_keys_belong_to_their_actions(s3, bob, bucket):
    s3.put_object(Bucket=bucket, Key="home/other/secret", Body=b"s")
    s3.put_object(Bucket=bucket, Key="public/ok", Body=b"p")
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        bucket,
        allow({"AWS": bob.name}, ["s3:ListBucket", "s3:GetObject"],
              [f"arn:aws:s3:::{bucket}", objects(bucket)],
              {"StringLike": {"s3:prefix": [f"home/{bob.name}/*"]}}),
    ))
    # a GET carries no s3:prefix, whatever its query says
    undo = add_query(bob.s3, "GetObject", f"prefix=home/{bob.name}/")
    try:
        with expect_error("AccessDenied", 403):
            bob.s3.get_object(Bucket=bucket, Key="home/other/secret")
    finally:
        undo()
    # and a Deny on a missing key holds for a GET, query or not
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        bucket, allow("*", "s3:*", objects(bucket), {"StringNotLike": {"s3:prefix": "public/*"}},
                      effect="Deny"),
    ))
    undo = add_query(s3, "GetObject", "prefix=public/")
    try:
        with expect_error("AccessDenied", 403):
            s3.get_object(Bucket=bucket, Key="public/ok")
    finally:
        undo()
        s3.delete_bucket_policy(Bucket=bucket)


def test_a_missing_key_is_judged_as_a_listing_of_itself(s3, bucket):
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(
        bucket,
        allow("*", "s3:GetObject", objects(bucket, "public/")),
        allow("*", "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"StringLike": {"s3:prefix": "public/*"}}),
    ))
    verify = True if VERIFY is None else VERIFY
    head = lambda key: requests.head(f"{ENDPOINT}/{bucket}/{key}?prefix=public/", verify=verify, timeout=30)
    assert head("public/missing").status_code == 404
    assert head("private/missing").status_code == 403


def test_public_policies_cannot_hide(s3, bucket):
    for sneaky in (
        {"IpAddress": {"aws:SourceIp": "0.0.0.0/00"}},
        {"IpAddress": {"aws:SourceIp": ["0.0.0.0/1", "128.0.0.0/1"]}},
        {"StringEqualsIfExists": {"aws:PrincipalAccount": "nobody"}},
    ):
        doc = policy(bucket, allow("*", "s3:GetObject", objects(bucket), sneaky))
        with expect_error("AccessDenied", 403):
            s3.put_bucket_policy(Bucket=bucket, Policy=doc)
    for refused in (
        {"StringEquals": {"aws:SourceVpce": "vpce-1"}},
        {"StringEquals": {"s3:prefix": "${aws:username}/"}},
    ):
        doc = policy(bucket, allow({"AWS": "root"}, "s3:GetObject", objects(bucket), refused))
        with expect_error("MalformedPolicy", 400):
            s3.put_bucket_policy(Bucket=bucket, Policy=doc)
    with expect_error("MalformedPolicy", 400):
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(
            {"Id": "x" * 30000, "Statement": json.loads(policy(bucket, allow("*", "s3:GetObject", objects(bucket))))["Statement"]}))


def test_writes_ask_for_acl_tagging_and_side_rights(s3, open_bucket):
    b = open_bucket()
    s3.put_object(Bucket=b, Key="secret", Body=b"s", Tagging="class=secret")
    s3.put_object(Bucket=b, Key="plain", Body=b"p", Tagging="class=plain")
    s3.put_bucket_policy(Bucket=b, Policy=policy(
        b,
        allow("*", "s3:PutObjectAcl", objects(b), effect="Deny"),
        allow("*", "s3:GetObjectTagging", objects(b),
              {"StringEquals": {"s3:ExistingObjectTag/class": "secret"}}, effect="Deny"),
        allow("*", "s3:PutObject", objects(b),
              {"StringEquals": {"s3:x-amz-acl": "public-read"}}, effect="Deny"),
    ))
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    with expect_error("AccessDenied", 403):
        s3.put_object(Bucket=b, Key="k", Body=b"x", ACL="private")
    with expect_error("AccessDenied", 403):
        s3.get_object_tagging(Bucket=b, Key="secret")
    assert s3.get_object_tagging(Bucket=b, Key="plain")["TagSet"]
    # a form's acl field is what the policy sees, not a header beside it
    s3.put_bucket_policy(Bucket=b, Policy=policy(
        b, allow("*", "s3:PutObject", objects(b),
                 {"StringEquals": {"s3:x-amz-acl": "public-read"}}, effect="Deny"),
    ))
    post = s3.generate_presigned_post(
        b, "form.txt", Fields={"acl": "public-read"}, Conditions=[{"acl": "public-read"}])
    verify = True if VERIFY is None else VERIFY
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f", b"body")},
                      headers={"x-amz-acl": "private"}, verify=verify, timeout=30)
    assert r.status_code == 403, r.text

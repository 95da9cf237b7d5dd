"""Access control lists, object ownership and the public access block, as S3 has them since
2023: new buckets have ACLs disabled (BucketOwnerEnforced) and public access blocked; a bucket
opened up serves anonymous readers (boto3 unsigned and curl) what its ACLs grant, and a second
account of this server what is granted to its canonical ID."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
import requests

from mgmt import Api, bpath, expect
from s3util import (
    ENDPOINT,
    ON_MOTO,
    VERIFY,
    create_bucket,
    curl,
    delete_bucket_quietly,
    expect_error,
    make_client,
    payload,
    unique_bucket_name,
)

pytestmark = pytest.mark.skipif(
    ON_MOTO, reason="moto neither enforces ACLs on other callers nor has a second account"
)

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
BODY = payload(5000, seed=41)


def url(bucket: str, key: str = "") -> str:
    return f"{ENDPOINT}/{bucket}/{key}"


def anonymous_get(bucket: str, key: str) -> requests.Response:
    return requests.get(url(bucket, key), verify=True if VERIFY is None else VERIFY, timeout=30)


def grants(acl: dict) -> set[tuple[str, str]]:
    out = set()
    for g in acl["Grants"]:
        who = g["Grantee"].get("ID") or g["Grantee"].get("URI")
        out.add((who, g["Permission"]))
    return out


# --------------------------------------------------------------------------
# S3's defaults for new buckets


def test_new_buckets_disable_acls_and_block_public_access(s3, bucket):
    oc = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert oc["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    pab = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert pab == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    acl = s3.get_bucket_acl(Bucket=bucket)
    owner = acl["Owner"]["ID"]
    assert grants(acl) == {(owner, "FULL_CONTROL")}
    # the owner-equivalent ACLs still pass; anything else is refused as on S3
    s3.put_object(Bucket=bucket, Key="a", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_object(Bucket=bucket, Key="b", Body=b"x", ACL="private")
    with expect_error("AccessControlListNotSupported", 400):
        s3.put_object(Bucket=bucket, Key="c", Body=b"x", ACL="public-read")
    with expect_error("AccessControlListNotSupported", 400):
        s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    with expect_error("AccessControlListNotSupported", 400):
        s3.put_object_acl(Bucket=bucket, Key="a", ACL="authenticated-read")
    assert grants(s3.get_object_acl(Bucket=bucket, Key="a")) == {(owner, "FULL_CONTROL")}


def test_create_bucket_with_an_acl(s3, bob):
    name = unique_bucket_name("create-acl")
    loc = {"LocationConstraint": s3.meta.region_name}
    with expect_error("InvalidBucketAclWithObjectOwnership", 400):
        s3.create_bucket(Bucket=name, CreateBucketConfiguration=loc, ACL="public-read")
    # a public ACL cannot come with a new bucket: its public access block is on
    with expect_error("InvalidBucketAclWithBlockPublicAccessError", 400):
        s3.create_bucket(
            Bucket=name, CreateBucketConfiguration=loc, ACL="public-read", ObjectOwnership="ObjectWriter"
        )
    try:
        s3.create_bucket(
            Bucket=name,
            CreateBucketConfiguration=loc,
            GrantRead=f'id="{bob.id}"',
            ObjectOwnership="ObjectWriter",
        )
        acl = s3.get_bucket_acl(Bucket=name)
        assert grants(acl) == {(bob.id, "READ")}
        bob.s3.list_objects_v2(Bucket=name)
        with expect_error("AccessDenied", 403):
            bob.s3.put_object(Bucket=name, Key="k", Body=b"x")
    finally:
        delete_bucket_quietly(s3, name)


# --------------------------------------------------------------------------
# anonymous readers


def test_public_read_object_for_anonymous_readers(s3, anon, open_bucket):
    b = open_bucket()
    s3.put_object(Bucket=b, Key="pub.txt", Body=BODY, ACL="public-read")
    s3.put_object(Bucket=b, Key="priv.txt", Body=BODY)
    assert anon.get_object(Bucket=b, Key="pub.txt")["Body"].read() == BODY
    assert anon.head_object(Bucket=b, Key="pub.txt")["ContentLength"] == len(BODY)
    assert anon.get_object(Bucket=b, Key="pub.txt", Range="bytes=10-19")["Body"].read() == BODY[10:20]
    got = curl(["--fail", url(b, "pub.txt")])
    assert got.returncode == 0 and got.stdout == BODY, got.stderr
    with expect_error("AccessDenied", 403):
        anon.get_object(Bucket=b, Key="priv.txt")
    # the bucket itself is not readable: a missing key is a 403 too, and so is a listing
    with expect_error("AccessDenied", 403):
        anon.get_object(Bucket=b, Key="missing")
    with expect_error("AccessDenied", 403):
        anon.list_objects_v2(Bucket=b)
    with expect_error("AccessDenied", 403):
        anon.put_object(Bucket=b, Key="new", Body=b"x")
    with expect_error("AccessDenied", 403):
        anon.get_object_acl(Bucket=b, Key="pub.txt")
    # made private again, it is refused
    s3.put_object_acl(Bucket=b, Key="pub.txt", ACL="private")
    with expect_error("AccessDenied", 403):
        anon.get_object(Bucket=b, Key="pub.txt")
    assert anonymous_get(b, "pub.txt").status_code == 403


def test_public_read_bucket_lists_but_keeps_objects_private(s3, anon, open_bucket):
    b = open_bucket()
    s3.put_object(Bucket=b, Key="a", Body=b"a")
    s3.put_bucket_acl(Bucket=b, ACL="public-read")
    assert [o["Key"] for o in anon.list_objects_v2(Bucket=b)["Contents"]] == ["a"]
    anon.head_bucket(Bucket=b)
    with expect_error("AccessDenied", 403):
        anon.get_object(Bucket=b, Key="a")
    # who may list learns that a key is missing
    with expect_error("NoSuchKey", 404):
        anon.get_object(Bucket=b, Key="missing")
    with expect_error("AccessDenied", 403):
        anon.get_bucket_acl(Bucket=b)
    s3.put_bucket_acl(Bucket=b, ACL="private")
    with expect_error("AccessDenied", 403):
        anon.list_objects_v2(Bucket=b)


def test_public_read_write_bucket_takes_anonymous_writes(s3, anon, open_bucket):
    b = open_bucket()
    s3.put_bucket_acl(Bucket=b, ACL="public-read-write")
    anon.put_object(Bucket=b, Key="drop", Body=b"from nobody")
    # the writer owns what it writes under ObjectWriter: the bucket's owner reads it anyway
    assert s3.get_object(Bucket=b, Key="drop")["Body"].read() == b"from nobody"
    acl = s3.get_object_acl(Bucket=b, Key="drop")
    assert acl["Owner"]["ID"] != s3.get_bucket_acl(Bucket=b)["Owner"]["ID"]
    anon.delete_object(Bucket=b, Key="drop")
    assert "Contents" not in s3.list_objects_v2(Bucket=b)


def test_ignore_public_acls_then_removed(s3, anon, open_bucket):
    b = open_bucket()
    s3.put_object(Bucket=b, Key="pub", Body=b"p", ACL="public-read")
    anon.get_object(Bucket=b, Key="pub")
    s3.put_public_access_block(
        Bucket=b, PublicAccessBlockConfiguration={"IgnorePublicAcls": True}
    )
    got = s3.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"]
    assert got["IgnorePublicAcls"] and not got["BlockPublicAcls"]
    with expect_error("AccessDenied", 403):
        anon.get_object(Bucket=b, Key="pub")
    s3.delete_public_access_block(Bucket=b)
    with expect_error("NoSuchPublicAccessBlockConfiguration", 404):
        s3.get_public_access_block(Bucket=b)
    assert anon.get_object(Bucket=b, Key="pub")["Body"].read() == b"p"


def test_block_public_acls_refuses_public_grants(s3, open_bucket, bob):
    b = open_bucket()
    s3.put_public_access_block(
        Bucket=b, PublicAccessBlockConfiguration={"BlockPublicAcls": True}
    )
    for acl in ("public-read", "public-read-write", "authenticated-read"):
        with expect_error("AccessDenied", 403):
            s3.put_object(Bucket=b, Key="k", Body=b"x", ACL=acl)
        with expect_error("AccessDenied", 403):
            s3.put_bucket_acl(Bucket=b, ACL=acl)
    with expect_error("AccessDenied", 403):
        s3.put_object(Bucket=b, Key="k", Body=b"x", GrantRead=f'uri="{ALL_USERS}"')
    # grants to accounts are not public
    s3.put_object(Bucket=b, Key="k", Body=b"x", GrantRead=f'id="{bob.id}"')
    assert bob.s3.get_object(Bucket=b, Key="k")["Body"].read() == b"x"


# --------------------------------------------------------------------------
# other accounts


def test_grants_to_another_account(s3, bob, carol, open_bucket):
    b = open_bucket()
    s3.put_object(Bucket=b, Key="shared", Body=BODY, GrantRead=f'id="{bob.id}"')
    assert bob.s3.get_object(Bucket=b, Key="shared")["Body"].read() == BODY
    for who in (carol.s3, make_client(unsigned=True)):
        with expect_error("AccessDenied", 403):
            who.get_object(Bucket=b, Key="shared")
    # READ is not READ_ACP or WRITE_ACP
    with expect_error("AccessDenied", 403):
        bob.s3.get_object_acl(Bucket=b, Key="shared")
    with expect_error("AccessDenied", 403):
        bob.s3.put_object_acl(Bucket=b, Key="shared", ACL="public-read")
    s3.put_object_acl(
        Bucket=b, Key="shared", GrantRead=f'id="{bob.id}"', GrantReadACP=f'id="{carol.id}"',
        GrantWriteACP=f'id="{carol.id}"',
    )
    assert (bob.id, "READ") in grants(carol.s3.get_object_acl(Bucket=b, Key="shared"))
    carol.s3.put_object_acl(Bucket=b, Key="shared", GrantRead=f'id="{carol.id}"')
    assert carol.s3.get_object(Bucket=b, Key="shared")["Body"].read() == BODY
    with expect_error("AccessDenied", 403):
        bob.s3.get_object(Bucket=b, Key="shared")
    # the bucket's own settings stay the owner's
    with expect_error("AccessDenied", 403):
        carol.s3.put_bucket_acl(Bucket=b, ACL="private")
    with expect_error("AccessDenied", 403):
        bob.s3.delete_public_access_block(Bucket=b)


def test_authenticated_read(s3, bob, anon, open_bucket):
    b = open_bucket()
    s3.put_object(Bucket=b, Key="k", Body=b"signed only", ACL="authenticated-read")
    assert bob.s3.get_object(Bucket=b, Key="k")["Body"].read() == b"signed only"
    with expect_error("AccessDenied", 403):
        anon.get_object(Bucket=b, Key="k")


def test_write_grant_and_object_ownership(s3, bob, open_bucket):
    owner_id = s3.list_buckets()["Owner"]["ID"]
    for ownership in ("ObjectWriter", "BucketOwnerPreferred"):
        b = open_bucket(ownership)
        s3.put_bucket_acl(Bucket=b, GrantWrite=f'id="{bob.id}"', GrantFullControl=f'id="{owner_id}"')
        bob.s3.put_object(Bucket=b, Key="by-bob", Body=b"1")
        bob.s3.put_object(Bucket=b, Key="handed-over", Body=b"2", ACL="bucket-owner-full-control")
        writer_owned = s3.get_object_acl(Bucket=b, Key="by-bob")["Owner"]["ID"]
        assert writer_owned == bob.id
        handed = s3.get_object_acl(Bucket=b, Key="handed-over")
        if ownership == "BucketOwnerPreferred":
            assert handed["Owner"]["ID"] == owner_id
        else:
            assert handed["Owner"]["ID"] == bob.id
            assert (owner_id, "FULL_CONTROL") in grants(handed)
        # the writer owns its object: it reads it and its ACL
        assert bob.s3.get_object(Bucket=b, Key="by-bob")["Body"].read() == b"1"
        bob.s3.get_object_acl(Bucket=b, Key="by-bob")
        # WRITE lets bob write and delete, not list, tag or lock
        with expect_error("AccessDenied", 403):
            bob.s3.list_objects_v2(Bucket=b)
        with expect_error("AccessDenied", 403):
            bob.s3.put_object(Bucket=b, Key="t", Body=b"x", Tagging="a=b")
        bob.s3.delete_object(Bucket=b, Key="by-bob")
        # multipart uploads carry the ACL to the completed object
        up = bob.s3.create_multipart_upload(Bucket=b, Key="mp", ACL="bucket-owner-full-control")
        part = bob.s3.upload_part(Bucket=b, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"m")
        bob.s3.complete_multipart_upload(
            Bucket=b, Key="mp", UploadId=up["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
        assert (owner_id, "FULL_CONTROL") in grants(s3.get_object_acl(Bucket=b, Key="mp"))


def test_copy_needs_read_on_the_source(s3, bob, open_bucket):
    b = open_bucket()
    s3.put_object(Bucket=b, Key="pub", Body=b"public", ACL="public-read")
    s3.put_object(Bucket=b, Key="priv", Body=b"private")
    mine = unique_bucket_name("bob-copy")
    create_bucket(bob.s3, mine)
    try:
        bob.s3.copy_object(Bucket=mine, Key="c", CopySource={"Bucket": b, "Key": "pub"})
        assert bob.s3.get_object(Bucket=mine, Key="c")["Body"].read() == b"public"
        with expect_error("AccessDenied", 403):
            bob.s3.copy_object(Bucket=mine, Key="d", CopySource={"Bucket": b, "Key": "priv"})
        with expect_error("AccessDenied", 403):
            bob.s3.copy_object(Bucket=mine, Key="d", CopySource={"Bucket": b, "Key": "missing"})
    finally:
        delete_bucket_quietly(bob.s3, mine)


# --------------------------------------------------------------------------
# documents and settings


def test_acl_documents(s3, bob, open_bucket):
    b = open_bucket()
    owner = s3.get_bucket_acl(Bucket=b)["Owner"]
    policy = {
        "Owner": {"ID": owner["ID"]},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "CanonicalUser", "ID": bob.id}, "Permission": "READ"},
            {"Grantee": {"Type": "Group", "URI": AUTHENTICATED}, "Permission": "READ_ACP"},
        ],
    }
    s3.put_bucket_acl(Bucket=b, AccessControlPolicy=policy)
    got = s3.get_bucket_acl(Bucket=b)
    assert grants(got) == {(owner["ID"], "FULL_CONTROL"), (bob.id, "READ"), (AUTHENTICATED, "READ_ACP")}
    assert got["Owner"]["ID"] == owner["ID"]
    # any signed caller may now read the ACL, and bob may list
    assert grants(bob.s3.get_bucket_acl(Bucket=b)) == grants(got)
    bob.s3.list_objects_v2(Bucket=b)
    # an unsigned caller is not an authenticated one
    raw = requests.get(url(b) + "?acl", verify=True if VERIFY is None else VERIFY, timeout=30)
    assert raw.status_code == 403
    email = dict(policy, Grants=[{"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "a@example.com"}, "Permission": "READ"}])
    with expect_error("UnresolvableGrantByEmailAddress", 400):
        s3.put_bucket_acl(Bucket=b, AccessControlPolicy=email)
    wrong_owner = dict(policy, Owner={"ID": bob.id})
    with expect_error("AccessDenied", 403):
        s3.put_bucket_acl(Bucket=b, AccessControlPolicy=wrong_owner)
    with expect_error("InvalidArgument", 400):
        s3.put_bucket_acl(Bucket=b, GrantRead='id="not-an-id"')
    with expect_error("InvalidRequest", 400):
        s3.put_object(Bucket=b, Key="k", Body=b"x", ACL="private", GrantRead=f'id="{bob.id}"')


def test_xml_names_grantee_types(s3, open_bucket):
    b = open_bucket()
    s3.put_bucket_acl(Bucket=b, ACL="public-read")
    signed = s3.generate_presigned_url("get_bucket_acl", Params={"Bucket": b})
    doc = requests.get(signed, verify=True if VERIFY is None else VERIFY, timeout=30)
    assert doc.status_code == 200, doc.text
    root = ET.fromstring(doc.content)
    xsi = "{http://www.w3.org/2001/XMLSchema-instance}type"
    types = {g.find("{*}Grantee").get(xsi) for g in root.iter("{http://s3.amazonaws.com/doc/2006-03-01/}Grant")}
    assert types == {"CanonicalUser", "Group"}


def test_ownership_controls(s3, open_bucket, bob):
    b = open_bucket()
    assert s3.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "ObjectWriter"}
    ]
    s3.put_bucket_acl(Bucket=b, GrantRead=f'id="{bob.id}"')
    # ACLs cannot be switched off while the bucket's ACL grants others
    with expect_error("InvalidBucketAclWithObjectOwnership", 400):
        s3.put_bucket_ownership_controls(
            Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        )
    s3.put_bucket_acl(Bucket=b, ACL="private")
    s3.put_object(Bucket=b, Key="k", Body=b"x", GrantRead=f'id="{bob.id}"')
    assert bob.s3.get_object(Bucket=b, Key="k")["Body"].read() == b"x"
    s3.put_bucket_ownership_controls(
        Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    # the object's grant no longer counts, and its ACL reads as the owner's alone
    with expect_error("AccessDenied", 403):
        bob.s3.get_object(Bucket=b, Key="k")
    assert len(s3.get_object_acl(Bucket=b, Key="k")["Grants"]) == 1
    s3.delete_bucket_ownership_controls(Bucket=b)
    with expect_error("OwnershipControlsNotFoundError", 404):
        s3.get_bucket_ownership_controls(Bucket=b)
    assert bob.s3.get_object(Bucket=b, Key="k")["Body"].read() == b"x"
    with expect_error("MalformedXML", 400):
        s3.put_bucket_ownership_controls(
            Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "Everyone"}]}
        )


def test_management_api_opens_and_closes_a_bucket(s3, root_api, anon):
    name = unique_bucket_name("mgmt-acl")
    expect(root_api.post("/storage/buckets", {"name": name}), 201)
    try:
        doc = expect(root_api.get(bpath(name)), 200)
        assert doc["object_ownership"] == "BucketOwnerEnforced"
        assert doc["public_access_block"]["block_public_acls"] is True
        s3.put_object(Bucket=name, Key="k", Body=b"api")
        # refused as a whole: the block is still on
        expect(root_api.patch(bpath(name), {"acl": "public-read", "versioning": "enabled"}), 400, "block_public_acls")
        assert expect(root_api.get(bpath(name)), 200)["versioning"] == "disabled"
        opened = expect(root_api.patch(bpath(name), {
            "object_ownership": "ObjectWriter", "public_access_block": None, "acl": "public-read",
        }), 200)
        assert {"grantee": {"group": "AllUsers"}, "permission": "READ"} in opened["acl"]["grants"]
        assert [o["Key"] for o in anon.list_objects_v2(Bucket=name)["Contents"]] == ["k"]
        # S3 sees what the API set, and the API what S3 sets
        assert (ALL_USERS, "READ") in grants(s3.get_bucket_acl(Bucket=name))
        s3.put_bucket_acl(Bucket=name, ACL="private")
        assert len(expect(root_api.get(bpath(name)), 200)["acl"]["grants"]) == 1
        expect(root_api.patch(bpath(name), {"acl": {"grants": [
            {"grantee": {"group": "AllUsers"}, "permission": "READ"}]}}), 200)
        anon.list_objects_v2(Bucket=name)
        closed = expect(root_api.patch(bpath(name), {"object_ownership": "BucketOwnerEnforced", "acl": "private"}), 200)
        assert closed["object_ownership"] == "BucketOwnerEnforced"
        with expect_error("AccessDenied", 403):
            anon.list_objects_v2(Bucket=name)
        expect(root_api.patch(bpath(name), {"acl": "world"}), 400, "canned")
        expect(root_api.patch(bpath(name), {"object_ownership": "Mine"}), 400, "object_ownership")
    finally:
        delete_bucket_quietly(s3, name)


# --------------------------------------------------------------------------
# what a grant does not reach


def test_uploads_belong_to_whoever_started_them(s3, bob, open_bucket):
    b = open_bucket()
    owner_id = s3.list_buckets()["Owner"]["ID"]
    s3.put_bucket_acl(Bucket=b, GrantWrite=f'id="{bob.id}"', GrantFullControl=f'id="{owner_id}"')
    mine = s3.create_multipart_upload(Bucket=b, Key="owners")["UploadId"]
    # bob may write to the bucket, not into (or out of) the owner's upload
    with expect_error("NoSuchUpload", 404):
        bob.s3.upload_part(Bucket=b, Key="owners", UploadId=mine, PartNumber=1, Body=b"x")
    with expect_error("NoSuchUpload", 404):
        bob.s3.list_parts(Bucket=b, Key="owners", UploadId=mine)
    with expect_error("NoSuchUpload", 404):
        bob.s3.abort_multipart_upload(Bucket=b, Key="owners", UploadId=mine)
    with expect_error("NoSuchUpload", 404):
        bob.s3.complete_multipart_upload(
            Bucket=b, Key="owners", UploadId=mine,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"0"'}]},
        )
    # his own upload is his; the owner sees who started it and may abort it
    his = bob.s3.create_multipart_upload(Bucket=b, Key="bobs")["UploadId"]
    bob.s3.upload_part(Bucket=b, Key="bobs", UploadId=his, PartNumber=1, Body=b"y")
    assert bob.s3.list_parts(Bucket=b, Key="bobs", UploadId=his)["Initiator"]["ID"] == bob.id
    uploads = {u["UploadId"]: u for u in s3.list_multipart_uploads(Bucket=b)["Uploads"]}
    assert uploads[his]["Initiator"]["ID"] == bob.id
    assert uploads[mine]["Initiator"]["ID"] == owner_id
    s3.abort_multipart_upload(Bucket=b, Key="bobs", UploadId=his)
    s3.abort_multipart_upload(Bucket=b, Key="owners", UploadId=mine)


def test_a_write_grant_does_not_delete_history(s3, bob, open_bucket):
    b = open_bucket()
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=b, Key="k", Body=b"1")["VersionId"]
    s3.put_object(Bucket=b, Key="k", Body=b"2")
    s3.put_bucket_acl(Bucket=b, GrantWrite=f'id="{bob.id}"')
    with expect_error("AccessDenied", 403):
        bob.s3.delete_object(Bucket=b, Key="k", VersionId=v1)
    res = bob.s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "k", "VersionId": v1}]})
    assert [e["Code"] for e in res.get("Errors", [])] == ["AccessDenied"]
    # a plain delete lays a marker, as the grant allows
    bob.s3.delete_object(Bucket=b, Key="k")
    assert s3.get_object(Bucket=b, Key="k", VersionId=v1)["Body"].read() == b"1"


def test_copies_by_others_carry_no_tags_or_locks(s3, bob, open_bucket):
    b = open_bucket()
    s3.put_object(Bucket=b, Key="tagged", Body=b"t", ACL="public-read", Tagging="secret=1")
    mine = unique_bucket_name("bob-tags")
    create_bucket(bob.s3, mine)
    try:
        # bob reads the object, not its tags: a copy into his bucket leaves them behind
        bob.s3.copy_object(Bucket=mine, Key="c", CopySource={"Bucket": b, "Key": "tagged"})
        assert bob.s3.get_object_tagging(Bucket=mine, Key="c")["TagSet"] == []
        head = bob.s3.head_object(Bucket=b, Key="tagged")
        assert "x-amz-tagging-count" not in head["ResponseMetadata"]["HTTPHeaders"]
        # and he may not tag what he writes into someone else's bucket
        s3.put_bucket_acl(Bucket=b, GrantWrite=f'id="{bob.id}"', GrantRead=f'id="{bob.id}"')
        bob.s3.put_object_tagging(Bucket=mine, Key="c", Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
        with expect_error("AccessDenied", 403):
            bob.s3.copy_object(Bucket=b, Key="d", CopySource={"Bucket": mine, "Key": "c"})
        bob.s3.copy_object(
            Bucket=b, Key="d", CopySource={"Bucket": mine, "Key": "c"},
            TaggingDirective="REPLACE", Tagging="",
        )
        assert s3.get_object_tagging(Bucket=b, Key="d")["TagSet"] == []
    finally:
        delete_bucket_quietly(bob.s3, mine)


def test_enforcing_ownership_takes_objects_back(s3, bob, open_bucket):
    b = open_bucket()
    s3.put_bucket_acl(Bucket=b, GrantWrite=f'id="{bob.id}"')
    bob.s3.put_object(Bucket=b, Key="bobs", Body=b"b")
    assert bob.s3.get_object(Bucket=b, Key="bobs")["Body"].read() == b"b"
    s3.put_bucket_acl(Bucket=b, ACL="private")
    s3.put_bucket_ownership_controls(
        Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    with expect_error("AccessDenied", 403):
        bob.s3.get_object(Bucket=b, Key="bobs")
    with expect_error("AccessDenied", 403):
        bob.s3.get_object_acl(Bucket=b, Key="bobs")
    assert s3.get_object_acl(Bucket=b, Key="bobs")["Owner"]["ID"] == s3.list_buckets()["Owner"]["ID"]


def test_anonymous_readers_cannot_override_response_headers(s3, anon, open_bucket):
    b = open_bucket()
    s3.put_object(Bucket=b, Key="page.png", Body=b"<script>", ContentType="image/png", ACL="public-read")
    with expect_error("InvalidRequest", 400):
        anon.get_object(Bucket=b, Key="page.png", ResponseContentType="text/html")
    got = anonymous_get(b, "page.png")
    assert got.status_code == 200 and got.headers["content-type"] == "image/png"


def test_unsigned_form_uploads_to_a_public_write_bucket(s3, open_bucket, bucket):
    verify = True if VERIFY is None else VERIFY
    b = open_bucket()
    s3.put_bucket_acl(Bucket=b, ACL="public-read-write")
    form = {"key": "drops/${filename}", "success_action_status": "201"}
    r = requests.post(f"{ENDPOINT}/{b}", data=form, files={"file": ("note.txt", b"left here")},
                      verify=verify, timeout=30)
    assert r.status_code == 201, r.text
    assert s3.get_object(Bucket=b, Key="drops/note.txt")["Body"].read() == b"left here"
    # a bucket that does not let everyone write refuses it, as does a form signed without policy
    r = requests.post(f"{ENDPOINT}/{bucket}", data=form, files={"file": ("n", b"x")},
                      verify=verify, timeout=30)
    assert r.status_code == 403, r.text
    r = requests.post(f"{ENDPOINT}/{b}", data={**form, "x-amz-signature": "00"},
                      files={"file": ("n", b"x")}, verify=verify, timeout=30)
    assert r.status_code == 403 and b"needs the policy" in r.content, r.text

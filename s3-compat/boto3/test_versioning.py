"""Versioning, as the S3 API reference describes it: Get/PutBucketVersioning, version ids on
writes, versionId on GET/HEAD/DELETE/CopySource, delete markers, ListObjectVersions paging,
the null version (unversioned and suspended buckets), DeleteObjects with versions, and the
way Terraform's force_destroy empties a versioned bucket."""

from __future__ import annotations

import pytest

from s3util import ON_MOTO, expect_error, payload, versions_of


def enable(s3, bucket, status="Enabled"):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def headers(resp) -> dict:
    return resp["ResponseMetadata"]["HTTPHeaders"]


def test_a_new_bucket_is_unversioned_and_lists_null_versions(s3, bucket):
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    for k in ("a", "b/c", "d"):
        put = s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
        assert "VersionId" not in put
    page = s3.list_object_versions(Bucket=bucket)
    got = [(v["Key"], v["VersionId"], v["IsLatest"]) for v in page["Versions"]]
    assert got == [("a", "null", True), ("b/c", "null", True), ("d", "null", True)]
    assert page["IsTruncated"] is False and "DeleteMarkers" not in page
    assert page["Versions"][0]["Size"] == 1 and page["Versions"][0]["ETag"].startswith('"')
    # versionId=null reads and deletes the one version an unversioned key has.
    assert s3.get_object(Bucket=bucket, Key="a", VersionId="null")["Body"].read() == b"a"
    s3.delete_object(Bucket=bucket, Key="a", VersionId="null")
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="a")
    # Prefix and delimiter work as in ListObjects.
    page = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["b/"]
    assert [v["Key"] for v in page["Versions"]] == ["d"]


def test_enabled_keeps_versions_and_reads_them_by_id(s3, bucket):
    enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and "null" not in (v1, v2)
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"two" and got["VersionId"] == v2
    old = s3.get_object(Bucket=bucket, Key="k", VersionId=v1)
    assert old["Body"].read() == b"one" and old["VersionId"] == v1
    assert s3.head_object(Bucket=bucket, Key="k", VersionId=v1)["ContentLength"] == 3
    assert versions_of(s3, bucket) == [("k", v2, True, False), ("k", v1, False, False)]


def test_a_delete_leaves_a_marker_that_hides_the_key(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="k")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert versions_of(s3, bucket) == [("k", marker, True, True), ("k", v1, False, False)]
    # The old version is still there, and removing the marker brings it back.
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"one"
    gone = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    assert gone["VersionId"] == marker
    if not ON_MOTO:  # moto leaves x-amz-delete-marker off
        assert gone["DeleteMarker"] is True
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"


@pytest.mark.moto_gap("moto leaves the delete-marker headers off a 404 and answers a marker by id 404")
def test_a_404_behind_a_delete_marker_says_so(s3, bucket):
    enable(s3, bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"one")
    marker = s3.delete_object(Bucket=bucket, Key="k")["VersionId"]
    for call in (s3.get_object, s3.head_object):
        with expect_error(("NoSuchKey", "404"), 404) as info:
            call(Bucket=bucket, Key="k")
        h = headers(info.value.response)
        assert h.get("x-amz-delete-marker") == "true" and h.get("x-amz-version-id") == marker
    # Named by its version id, a delete marker is 405 (it has no bytes to GET).
    with expect_error(("MethodNotAllowed", "405"), 405):
        s3.get_object(Bucket=bucket, Key="k", VersionId=marker)


def test_deleting_a_version_for_good(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    # The current version goes: the one below becomes current.
    resp = s3.delete_object(Bucket=bucket, Key="k", VersionId=v2)
    assert resp["VersionId"] == v2 and "DeleteMarker" not in resp
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    with expect_error("NoSuchVersion", 404):
        s3.get_object(Bucket=bucket, Key="k", VersionId=v2)
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v1)
    with expect_error(("NoSuchKey", "404"), 404):
        s3.head_object(Bucket=bucket, Key="k")
    assert versions_of(s3, bucket) == []


@pytest.mark.moto_gap("moto accepts any string as a version id")
def test_a_malformed_version_id_is_invalid_argument(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with expect_error("InvalidArgument", 400):
        s3.get_object(Bucket=bucket, Key="k", VersionId="not-a-version")
    with expect_error("InvalidArgument", 400):
        s3.delete_object(Bucket=bucket, Key="k", VersionId="not-a-version")


@pytest.mark.moto_gap("moto drops the versioned object when a suspended PUT writes null")
def test_suspended_writes_the_null_version(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"before")  # the null version
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"versioned")["VersionId"]
    enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"suspended")
    assert put.get("VersionId", "null") == "null"
    # The new null version replaced the old one; the id'd version stays.
    assert versions_of(s3, bucket) == [("k", "null", True, False), ("k", v1, False, False)]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"suspended"
    # A suspended delete leaves a null delete marker.
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"] == "null"
    assert versions_of(s3, bucket) == [("k", "null", True, True), ("k", v1, False, False)]


def test_copy_from_a_version(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="src", Body=b"first")["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"second")
    resp = s3.copy_object(
        Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": v1}
    )
    assert resp["CopySourceVersionId"] == v1 and resp["VersionId"]
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"first"


def test_multipart_complete_makes_a_version(s3, bucket):
    enable(s3, bucket)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    part = s3.upload_part(
        Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"only part"
    )
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert done["VersionId"] and done["VersionId"] != "null"
    assert s3.head_object(Bucket=bucket, Key="mp")["VersionId"] == done["VersionId"]


def test_if_none_match_creates_over_a_delete_marker(s3, bucket):
    enable(s3, bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with expect_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="k", Body=b"y", IfNoneMatch="*")
    s3.delete_object(Bucket=bucket, Key="k")
    s3.put_object(Bucket=bucket, Key="k", Body=b"z", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"z"


def test_delete_objects_with_versions(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="a", Body=b"1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="b", Body=b"2")
    resp = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "a", "VersionId": v1}, {"Key": "b"}]},
    )
    by_key = {d["Key"]: d for d in resp["Deleted"]}
    assert by_key["a"]["VersionId"] == v1 and "DeleteMarker" not in by_key["a"]
    assert by_key["b"]["DeleteMarker"] is True and by_key["b"]["DeleteMarkerVersionId"]
    assert "Errors" not in resp
    assert sorted((k, m) for k, _, _, m in versions_of(s3, bucket)) == [("b", False), ("b", True)]


def test_version_listing_pages_by_key_and_version_marker(s3, bucket):
    enable(s3, bucket)
    want = []
    for key, n in (("a", 3), ("b", 1), ("c", 2)):
        ids = [s3.put_object(Bucket=bucket, Key=key, Body=payload(10, seed=i))["VersionId"]
               for i in range(n)]
        want += [(key, v) for v in reversed(ids)]
    seen, kw = [], {}
    while True:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=2, **kw)
        assert len(page.get("Versions", [])) <= 2
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        if not page["IsTruncated"]:
            break
        kw = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    assert seen == want


@pytest.mark.moto_gap("moto lists the key-marker's own versions again")
def test_a_key_marker_alone_resumes_after_that_key(s3, bucket):
    enable(s3, bucket)
    for key in ("a", "a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    page = s3.list_object_versions(Bucket=bucket, KeyMarker="a")
    assert [v["Key"] for v in page["Versions"]] == ["b", "c"]


@pytest.mark.moto_gap("moto's version pages skip entries deleted between pages")
def test_terraform_force_destroy_empties_a_versioned_bucket(s3, make_bucket):
    name = make_bucket("force-destroy")
    enable(s3, name)
    for i in range(7):
        key = f"dir/k{i % 3}"
        s3.put_object(Bucket=name, Key=key, Body=payload(100, seed=i))
        if i % 2:
            s3.delete_object(Bucket=name, Key=key)
    with expect_error("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=name)
    # force_destroy: ListObjectVersions pages, a DeleteObjects with version ids per page.
    for page in s3.get_paginator("list_object_versions").paginate(
        Bucket=name, PaginationConfig={"PageSize": 4}
    ):
        doomed = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                  for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if doomed:
            resp = s3.delete_objects(Bucket=name, Delete={"Objects": doomed})
            assert "Errors" not in resp, resp["Errors"]
    assert versions_of(s3, name) == []
    s3.delete_bucket(Bucket=name)
    with expect_error(("NoSuchBucket", "404"), 404):
        s3.head_bucket(Bucket=name)


@pytest.mark.moto_gap("moto accepts an empty versioning status")
def test_bad_versioning_configurations(s3, bucket):
    with expect_error("MalformedXML", 400):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "On"})
    enable(s3, bucket)
    enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"

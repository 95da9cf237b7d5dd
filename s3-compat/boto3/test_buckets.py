"""Bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
GetBucketLocation, and the /health endpoint."""

from __future__ import annotations

import json

import pytest

from s3util import (
    ENDPOINT,
    REGION,
    create_bucket,
    delete_bucket_quietly,
    expect_error,
    http,
    unique_bucket_name,
)


def test_create_head_list_delete_bucket(s3):
    name = unique_bucket_name("lifecycle")
    try:
        resp = create_bucket(s3, name)
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200

        head = s3.head_bucket(Bucket=name)
        assert head["ResponseMetadata"]["HTTPStatusCode"] == 200

        listed = s3.list_buckets()
        names = [b["Name"] for b in listed["Buckets"]]
        assert name in names
        entry = next(b for b in listed["Buckets"] if b["Name"] == name)
        assert entry["CreationDate"] is not None
        assert "Owner" in listed and listed["Owner"].get("ID")

        resp = s3.delete_bucket(Bucket=name)
        assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
        with expect_error("404", 404):
            s3.head_bucket(Bucket=name)
        assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    finally:
        delete_bucket_quietly(s3, name)


def test_list_buckets_sorted_and_creation_date_recent(s3, make_bucket):
    import datetime as dt

    made = sorted(make_bucket(f"sort-{i}") for i in range(3))
    listed = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    mine = [n for n in listed if n in made]
    assert mine == made, "ListBuckets must return buckets in lexicographic order"
    now = dt.datetime.now(dt.timezone.utc)
    for b in s3.list_buckets()["Buckets"]:
        if b["Name"] in made:
            age = abs((now - b["CreationDate"]).total_seconds())
            assert age < 15 * 60, f"CreationDate off by {age}s"


def test_get_bucket_location(s3, bucket):
    loc = s3.get_bucket_location(Bucket=bucket)
    assert loc["LocationConstraint"] == REGION


def test_get_bucket_location_missing_bucket(s3):
    with expect_error("NoSuchBucket", 404):
        s3.get_bucket_location(Bucket=unique_bucket_name("missing"))


def test_create_existing_bucket_is_already_owned(s3, bucket):
    with expect_error("BucketAlreadyOwnedByYou", 409):
        create_bucket(s3, bucket)
    # still there and usable
    s3.head_bucket(Bucket=bucket)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("Upper-Case-Name", id="uppercase", marks=pytest.mark.moto_gap("accepts upper case")),
        pytest.param("ab", id="too-short"),
        pytest.param("b" * 64, id="too-long"),
        pytest.param("under_score", id="underscore", marks=pytest.mark.moto_gap("accepts _")),
        pytest.param("-leading-dash", id="leading-dash", marks=pytest.mark.moto_gap("accepts leading -")),
        pytest.param("trailing-dash-", id="trailing-dash", marks=pytest.mark.moto_gap("accepts trailing -")),
        pytest.param("double..dot", id="double-dot", marks=pytest.mark.moto_gap("accepts ..")),
        pytest.param("192.168.5.4", id="ip-address", marks=pytest.mark.moto_gap("accepts IP-shaped names")),
    ],
)
def test_invalid_bucket_name(s3, name):
    try:
        with expect_error("InvalidBucketName", 400):
            create_bucket(s3, name)
    finally:
        # if a broken server accepted it, do not leak it
        delete_bucket_quietly(s3, name)


def test_bucket_name_length_limits_accepted(s3):
    import uuid

    shortest = uuid.uuid4().hex[:3]
    longest = (unique_bucket_name("longest") + "-" + "x" * 63)[:63]
    for name in (shortest, longest):
        assert len(name) in (3, 63)
        try:
            create_bucket(s3, name)
            s3.head_bucket(Bucket=name)
        finally:
            delete_bucket_quietly(s3, name)


def test_dotted_bucket_name_path_style(s3):
    name = unique_bucket_name("dotted").replace("-", ".", 2)
    try:
        create_bucket(s3, name)
        s3.put_object(Bucket=name, Key="k", Body=b"dotted")
        assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"dotted"
    finally:
        delete_bucket_quietly(s3, name)


def test_delete_missing_bucket(s3):
    with expect_error("NoSuchBucket", 404):
        s3.delete_bucket(Bucket=unique_bucket_name("missing"))


def test_head_missing_bucket_is_404_without_body(s3):
    name = unique_bucket_name("missing")
    with expect_error("404", 404):
        s3.head_bucket(Bucket=name)
    resp = http("HEAD", f"{ENDPOINT}/{name}")
    assert resp.status in (403, 404)  # anonymous: S3 may say 403 before 404
    assert resp.data == b""


def test_delete_non_empty_bucket(s3, bucket):
    s3.put_object(Bucket=bucket, Key="keep-me", Body=b"x")
    with expect_error("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=bucket)
    # nothing lost
    assert s3.get_object(Bucket=bucket, Key="keep-me")["Body"].read() == b"x"


def test_delete_bucket_after_emptying(s3):
    name = unique_bucket_name("emptied")
    try:
        create_bucket(s3, name)
        s3.put_object(Bucket=name, Key="a", Body=b"1")
        s3.put_object(Bucket=name, Key="b/c", Body=b"2")
        s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "a"}, {"Key": "b/c"}]})
        s3.delete_bucket(Bucket=name)
        with expect_error("404", 404):
            s3.head_bucket(Bucket=name)
    finally:
        delete_bucket_quietly(s3, name)


def test_recreate_deleted_bucket_is_empty(s3):
    name = unique_bucket_name("recreate")
    try:
        create_bucket(s3, name)
        s3.put_object(Bucket=name, Key="old", Body=b"old")
        s3.delete_object(Bucket=name, Key="old")
        s3.delete_bucket(Bucket=name)
        create_bucket(s3, name)
        assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 0
    finally:
        delete_bucket_quietly(s3, name)


@pytest.mark.moto_gap("moto has no GET /health")
def test_health_without_auth():
    resp = http("GET", f"{ENDPOINT}/health")
    assert resp.status == 200
    body = json.loads(resp.data)
    assert body["status"] == "healthy"


def test_list_buckets_pages_with_max_buckets(s3, make_bucket):
    made = sorted(make_bucket(f"page-{i}") for i in range(5))
    prefix = made[0][: len(made[0]) - 2]
    mine = [n for n in made if n.startswith(prefix)]
    seen, token, pages = [], None, 0
    while True:
        kw = {"MaxBuckets": 2, "Prefix": prefix}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_buckets(**kw)
        pages += 1
        assert len(page["Buckets"]) <= 2
        seen += [b["Name"] for b in page["Buckets"]]
        token = page.get("ContinuationToken")
        if not token:
            break
    assert seen == mine
    assert pages == (len(mine) + 1) // 2
    assert [b["Name"] for b in s3.get_paginator("list_buckets").paginate(
        Prefix=prefix, PaginationConfig={"PageSize": 3}
    ).build_full_result()["Buckets"]] == mine

"""Tagging, as the S3 API reference describes it: the x-amz-tagging header on PutObject,
CreateMultipartUpload and CopyObject (with x-amz-tagging-directive), Get/Put/DeleteObjectTagging
on the latest version and on a version by id, x-amz-tagging-count on GET and HEAD, the tag
limits (10 per object, 50 per bucket, 128-character keys, 256-character values, unique keys,
no `aws:` keys), and Get/Put/DeleteBucketTagging with NoSuchTagSet.

Where S3's documentation names no error code, the expected one is what S3 was observed to
answer: more than 10 object tags is 400 BadRequest "Object tags cannot be greater than 10"
(PutObject's header and PutObjectTagging alike), more than 50 bucket tags is 400 BadRequest
"Bucket tag count cannot be greater than 50", and a duplicate key in the x-amz-tagging header
is 400 InvalidArgument ("... URLEncoded URL query parameters without tag name duplicates")."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest

from s3util import ON_MOTO, expect_error, make_client


@pytest.fixture(scope="module")
def raw():
    """A client without botocore's parameter validation, which refuses an empty tag key."""
    return make_client(parameter_validation=False)


def enable(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def status(resp) -> int:
    return resp["ResponseMetadata"]["HTTPStatusCode"]


def tag_set(pairs: dict) -> dict:
    return {"TagSet": [{"Key": k, "Value": v} for k, v in pairs.items()]}


def tags_of(s3, bucket, key, **kw) -> dict:
    """The object's tags as a dict (S3 gives no order guarantee for a TagSet)."""
    resp = s3.get_object_tagging(Bucket=bucket, Key=key, **kw)
    return {t["Key"]: t["Value"] for t in resp["TagSet"]}


def bucket_tags_of(s3, bucket) -> dict:
    return {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}


def header(pairs) -> str:
    """x-amz-tagging: URL query form, spaces as %20."""
    return urlencode(pairs, quote_via=quote)


# --------------------------------------------------------------------------
# tags on write, tag count on read


def test_put_object_with_tagging_header_sets_tags_and_tag_count(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="k1=v1&k2=v2")
    assert tags_of(s3, bucket, "k") == {"k1": "v1", "k2": "v2"}
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 2
    assert s3.head_object(Bucket=bucket, Key="k")["TagCount"] == 2
    # An untagged object has an empty TagSet and no x-amz-tagging-count.
    s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    resp = s3.get_object_tagging(Bucket=bucket, Key="plain")
    assert resp["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="plain")
    assert "TagCount" not in s3.head_object(Bucket=bucket, Key="plain")


def test_tagging_header_is_url_decoded(s3, bucket):
    tags = {"with space": "x=y z", "path/like:key": "v+1@x", "unicode-\u00e9\u65e5": "\u00fc"}
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging=header(tags))
    assert tags_of(s3, bucket, "k") == tags
    # A key without "=" has the empty value.
    s3.put_object(Bucket=bucket, Key="bare", Body=b"x", Tagging="foo=bar&bar")
    assert tags_of(s3, bucket, "bare") == {"foo": "bar", "bar": ""}


def test_put_get_delete_object_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="old=1")
    put = s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set({"a": "1", "b": ""}))
    assert status(put) == 200
    # PutObjectTagging replaces the whole set.
    assert tags_of(s3, bucket, "k") == {"a": "1", "b": ""}
    assert s3.head_object(Bucket=bucket, Key="k")["TagCount"] == 2
    deleted = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert status(deleted) == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert "TagCount" not in s3.head_object(Bucket=bucket, Key="k")
    # The object itself is untouched.
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


@pytest.mark.moto_gap("moto answers PutObjectTagging with an empty TagSet with a 500")
def test_put_object_tagging_with_an_empty_tag_set_clears(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1&b=2")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": []})
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="k")


def test_overwriting_an_object_replaces_its_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"y")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []


def test_tags_are_per_version(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="a=1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"2", Tagging="b=2&c=3")["VersionId"]
    latest = s3.get_object_tagging(Bucket=bucket, Key="k")
    assert latest["VersionId"] == v2
    assert {t["Key"]: t["Value"] for t in latest["TagSet"]} == {"b": "2", "c": "3"}
    old = s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=v1)
    assert old["VersionId"] == v1 and old["TagSet"] == [{"Key": "a", "Value": "1"}]
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["TagCount"] == 1
    assert s3.head_object(Bucket=bucket, Key="k", VersionId=v2)["TagCount"] == 2

    # Put on the old version touches only it, and names it in the response.
    put = s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=v1, Tagging=tag_set({"x": "y"}))
    if not ON_MOTO:  # moto leaves x-amz-version-id off the tagging responses
        assert put["VersionId"] == v1
    assert tags_of(s3, bucket, "k", VersionId=v1) == {"x": "y"}
    assert tags_of(s3, bucket, "k") == {"b": "2", "c": "3"}
    # Put without a version id acts on the latest and names it.
    put = s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set({"z": "9"}))
    if not ON_MOTO:
        assert put["VersionId"] == v2
    assert tags_of(s3, bucket, "k", VersionId=v2) == {"z": "9"}

    deleted = s3.delete_object_tagging(Bucket=bucket, Key="k", VersionId=v1)
    if not ON_MOTO:
        assert deleted["VersionId"] == v1
    assert tags_of(s3, bucket, "k", VersionId=v1) == {}
    assert tags_of(s3, bucket, "k") == {"z": "9"}
    deleted = s3.delete_object_tagging(Bucket=bucket, Key="k")
    if not ON_MOTO:
        assert deleted["VersionId"] == v2
    assert tags_of(s3, bucket, "k") == {}


# --------------------------------------------------------------------------
# limits


def test_object_tag_limits_at_the_edge_pass(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    ten = {f"k{i}": f"v{i}" for i in range(10)}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(ten))
    assert tags_of(s3, bucket, "k") == ten
    assert s3.head_object(Bucket=bucket, Key="k")["TagCount"] == 10
    widest = {"K" * 128: "V" * 256, "empty-value": ""}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(widest))
    assert tags_of(s3, bucket, "k") == widest
    # The limits count characters, not bytes.
    wide_unicode = {"\u00e9" * 128: "\u00fc" * 256}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(wide_unicode))
    assert tags_of(s3, bucket, "k") == wide_unicode


KEY_129 = [{"Key": "k" * 129, "Value": "v"}]
VALUE_257 = [{"Key": "k", "Value": "v" * 257}]
DUPLICATE_KEYS = [{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}]
AWS_PREFIX = [{"Key": "aws:reserved", "Value": "v"}]
EMPTY_KEY = [{"Key": "", "Value": "v"}]
EMPTY_KEY_GAP = "moto answers a tag with an empty key with a 500"


@pytest.mark.parametrize(
    "tags",
    [
        pytest.param(KEY_129, id="key-129"),
        pytest.param(VALUE_257, id="value-257"),
        pytest.param(
            DUPLICATE_KEYS, id="duplicate-keys",
            marks=pytest.mark.moto_gap("moto accepts duplicate keys in PutObjectTagging"),
        ),
        pytest.param(AWS_PREFIX, id="aws-prefix"),
        pytest.param(EMPTY_KEY, id="empty-key", marks=pytest.mark.moto_gap(EMPTY_KEY_GAP)),
    ],
)
def test_put_object_tagging_rejects_an_invalid_tag(s3, raw, bucket, tags):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="keep=me")
    with expect_error("InvalidTag", 400):
        raw.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tags})
    # A rejected put leaves the old set.
    assert tags_of(s3, bucket, "k") == {"keep": "me"}


def test_put_object_tagging_rejects_more_than_ten_tags(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="keep=me")
    eleven = {f"k{i}": "v" for i in range(11)}
    with expect_error("BadRequest", 400):
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(eleven))
    assert tags_of(s3, bucket, "k") == {"keep": "me"}


@pytest.mark.moto_gap("moto does not validate the x-amz-tagging header")
@pytest.mark.parametrize(
    "tagging",
    [
        pytest.param(header({"k" * 129: "v"}), id="key-129"),
        pytest.param(header({"k": "v" * 257}), id="value-257"),
        pytest.param(header({"aws:reserved": "v"}), id="aws-prefix"),
    ],
)
def test_tagging_header_rejects_an_invalid_tag(s3, bucket, tagging):
    with expect_error("InvalidTag", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging=tagging)
    with expect_error(("NoSuchKey", "404"), 404):
        s3.head_object(Bucket=bucket, Key="k")


def test_tagging_header_at_the_limits_passes(s3, bucket):
    s3.put_object(
        Bucket=bucket, Key="ten", Body=b"x", Tagging=header({f"k{i}": "v" for i in range(10)})
    )
    assert s3.head_object(Bucket=bucket, Key="ten")["TagCount"] == 10
    s3.put_object(Bucket=bucket, Key="wide", Body=b"x", Tagging=header({"K" * 128: "V" * 256}))
    assert tags_of(s3, bucket, "wide") == {"K" * 128: "V" * 256}


@pytest.mark.moto_gap("moto does not validate the x-amz-tagging header")
def test_tagging_header_with_more_than_ten_tags_is_bad_request(s3, bucket):
    with expect_error("BadRequest", 400):
        s3.put_object(
            Bucket=bucket, Key="k", Body=b"x", Tagging=header({f"k{i}": "v" for i in range(11)})
        )
    with expect_error(("NoSuchKey", "404"), 404):
        s3.head_object(Bucket=bucket, Key="k")


@pytest.mark.moto_gap("moto does not validate the x-amz-tagging header")
def test_tagging_header_with_a_duplicate_key_is_invalid_argument(s3, bucket):
    # S3: "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query
    # parameters without tag name duplicates", 400 InvalidArgument.
    with expect_error("InvalidArgument", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1&a=2")
    with expect_error(("NoSuchKey", "404"), 404):
        s3.head_object(Bucket=bucket, Key="k")


# --------------------------------------------------------------------------
# copy and multipart


def test_copy_object_tagging_directive(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"x", Tagging="a=1&b=2")
    src = {"Bucket": bucket, "Key": "src"}
    # COPY is the default: the source's tags come along.
    s3.copy_object(Bucket=bucket, Key="default", CopySource=src)
    assert tags_of(s3, bucket, "default") == {"a": "1", "b": "2"}
    s3.copy_object(Bucket=bucket, Key="copy", CopySource=src, TaggingDirective="COPY")
    assert tags_of(s3, bucket, "copy") == {"a": "1", "b": "2"}
    # REPLACE takes the request's tags ...
    s3.copy_object(
        Bucket=bucket, Key="replace", CopySource=src, TaggingDirective="REPLACE", Tagging="c=3"
    )
    assert tags_of(s3, bucket, "replace") == {"c": "3"}
    assert s3.head_object(Bucket=bucket, Key="replace")["TagCount"] == 1
    # ... and none at all when the request has none.
    s3.copy_object(Bucket=bucket, Key="none", CopySource=src, TaggingDirective="REPLACE")
    assert tags_of(s3, bucket, "none") == {}
    assert "TagCount" not in s3.head_object(Bucket=bucket, Key="none")
    # The source keeps its own.
    assert tags_of(s3, bucket, "src") == {"a": "1", "b": "2"}


def test_copy_object_copies_the_tags_of_the_source_version(s3, bucket):
    enable(s3, bucket)
    v1 = s3.put_object(Bucket=bucket, Key="src", Body=b"1", Tagging="old=1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"2", Tagging="new=2")
    s3.copy_object(
        Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": v1}
    )
    assert tags_of(s3, bucket, "dst") == {"old": "1"}


def test_multipart_upload_carries_the_tags(s3, bucket):
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="a=1&b=two%20words")
    part = s3.upload_part(
        Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"only part"
    )
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert tags_of(s3, bucket, "mp") == {"a": "1", "b": "two words"}
    assert s3.head_object(Bucket=bucket, Key="mp")["TagCount"] == 2


# --------------------------------------------------------------------------
# missing objects and versions


def test_tagging_a_missing_key_is_no_such_key(s3, bucket):
    with expect_error("NoSuchKey", 404):
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    with expect_error("NoSuchKey", 404):
        s3.put_object_tagging(Bucket=bucket, Key="missing", Tagging=tag_set({"a": "1"}))


def other_keys_version(s3, bucket) -> str:
    """A well-formed version id that belongs to another key."""
    enable(s3, bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    return s3.put_object(Bucket=bucket, Key="other", Body=b"y")["VersionId"]


def test_tagging_a_missing_version_is_no_such_version(s3, bucket):
    elsewhere = other_keys_version(s3, bucket)
    with expect_error("NoSuchVersion", 404):
        s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=elsewhere)
    with expect_error("NoSuchVersion", 404):
        s3.put_object_tagging(
            Bucket=bucket, Key="k", VersionId=elsewhere, Tagging=tag_set({"a": "1"})
        )
    assert tags_of(s3, bucket, "other") == {}


@pytest.mark.moto_gap("moto answers DeleteObjectTagging of a missing key or version with a 500")
def test_delete_object_tagging_of_a_missing_key_or_version(s3, bucket):
    with expect_error("NoSuchKey", 404):
        s3.delete_object_tagging(Bucket=bucket, Key="missing")
    elsewhere = other_keys_version(s3, bucket)
    with expect_error("NoSuchVersion", 404):
        s3.delete_object_tagging(Bucket=bucket, Key="k", VersionId=elsewhere)


# --------------------------------------------------------------------------
# bucket tagging


def test_put_get_delete_bucket_tagging(s3, bucket):
    with expect_error("NoSuchTagSet", 404):
        s3.get_bucket_tagging(Bucket=bucket)
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set({"team": "storage", "env": "dev"}))
    assert bucket_tags_of(s3, bucket) == {"team": "storage", "env": "dev"}
    # A put replaces the whole set.
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set({"cost-center": "42"}))
    assert bucket_tags_of(s3, bucket) == {"cost-center": "42"}
    deleted = s3.delete_bucket_tagging(Bucket=bucket)
    assert status(deleted) == 204
    with expect_error("NoSuchTagSet", 404):
        s3.get_bucket_tagging(Bucket=bucket)


@pytest.mark.moto_gap("moto leaves <Value> off a bucket tag whose value is empty")
def test_a_bucket_tag_may_have_an_empty_value(s3, bucket):
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set({"flag": "", "k": "v"}))
    assert bucket_tags_of(s3, bucket) == {"flag": "", "k": "v"}


def test_bucket_tags_do_not_tag_objects(s3, bucket):
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set({"b": "1"}))
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []


def test_bucket_tag_limits_at_the_edge_pass(s3, bucket):
    fifty = {f"key-{i}": f"value-{i}" for i in range(50)}
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set(fifty))
    assert bucket_tags_of(s3, bucket) == fifty
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set({"K" * 128: "V" * 256}))
    assert bucket_tags_of(s3, bucket) == {"K" * 128: "V" * 256}


@pytest.mark.moto_gap("moto accepts more than 50 bucket tags")
def test_more_than_fifty_bucket_tags_is_bad_request(s3, bucket):
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set({"keep": "me"}))
    fifty_one = {f"key-{i}": "v" for i in range(51)}
    with expect_error("BadRequest", 400):
        s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set(fifty_one))
    assert bucket_tags_of(s3, bucket) == {"keep": "me"}


@pytest.mark.parametrize(
    "tags",
    [
        pytest.param(
            KEY_129, id="key-129",
            marks=pytest.mark.moto_gap("moto accepts a 129-character bucket tag key"),
        ),
        pytest.param(
            VALUE_257, id="value-257",
            marks=pytest.mark.moto_gap("moto accepts a 257-character bucket tag value"),
        ),
        pytest.param(DUPLICATE_KEYS, id="duplicate-keys"),
        pytest.param(AWS_PREFIX, id="aws-prefix"),
        pytest.param(EMPTY_KEY, id="empty-key", marks=pytest.mark.moto_gap(EMPTY_KEY_GAP)),
    ],
)
def test_put_bucket_tagging_rejects_an_invalid_tag(s3, raw, bucket, tags):
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set({"keep": "me"}))
    with expect_error("InvalidTag", 400):
        raw.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    assert bucket_tags_of(s3, bucket) == {"keep": "me"}


def test_bucket_tagging_on_a_missing_bucket(s3):
    with expect_error("NoSuchBucket", 404):
        s3.get_bucket_tagging(Bucket="cnx-no-such-bucket-tagging-0000")
    with expect_error("NoSuchBucket", 404):
        s3.put_bucket_tagging(Bucket="cnx-no-such-bucket-tagging-0000", Tagging=tag_set({"a": "b"}))

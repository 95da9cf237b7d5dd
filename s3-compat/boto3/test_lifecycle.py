"""Lifecycle, as the S3 API reference describes it: Get/Put/DeleteBucketLifecycleConfiguration
(and DeleteBucketLifecycle) with every filter form (Prefix, Tag, ObjectSizeGreaterThan,
ObjectSizeLessThan, And, the empty Filter, the legacy rule-level Prefix) and every action this
server offers (Expiration by Days, Date or ExpiredObjectDeleteMarker, NoncurrentVersionExpiration
with NewerNoncurrentVersions, AbortIncompleteMultipartUpload); the configurations S3 refuses and
their error codes; the x-amz-expiration header on PutObject, HeadObject, GetObject, CopyObject and
CompleteMultipartUpload; and what the background worker does to objects, versions, delete
markers and uploads.

Where the API reference names no error code, the expected one is what S3 was observed to answer:
a rule with neither Filter nor Prefix, and ExpiredObjectDeleteMarker with Days (or Date), are
MalformedXML; a rule with no action is InvalidRequest ("At least one action needs to be
specified in a rule"); a configuration mixing a rule-level Prefix (lifecycle V1) with a Filter
or with NewerNoncurrentVersions (V2 only) is InvalidRequest ("... can only be used in Lifecycle
V2"); GetBucketLifecycleConfiguration gives a rule put with a rule-level Prefix back that way,
without a Filter. Transitions are refused with 501 NotImplemented: this server has one storage
class (S3 itself accepts them).

S3_LIFECYCLE_DAY_SECS is the length of a lifecycle day on the server under test (the suite
runner sets it for cnx-storage; unset against moto or a real S3, where a day is 24 h). The
worker tests run only when it is set and at most 5 s; they poll for the expected state. Each
waits for a key that sorts after the ones it expects to survive, so by the time it sees that key
go, the worker's pass (which walks keys in order) has judged the survivors too."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import time
from email.utils import parsedate_to_datetime

import pytest

from s3util import (
    ACCESS_KEY,
    ENDPOINT,
    REGION,
    SECRET_KEY,
    b64,
    expect_error,
    http,
    http_date,
    payload,
    unique_bucket_name,
    versions_of,
)
from sigv4raw import Signer

UTC = dt.timezone.utc
FAR_DATE = dt.datetime(2100, 1, 1, tzinfo=UTC)
FAR = http_date(FAR_DATE)  # its HTTP-date form, as x-amz-expiration gives it
# Expiration Days far enough out that nothing expires while a test looks at the header, even
# with a one-second lifecycle day (3000 days: 50 minutes there, 2034 with real days).
FAR_DAYS = 3000


def _day_secs() -> float | None:
    raw = os.environ.get("S3_LIFECYCLE_DAY_SECS", "").strip()
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value > 0 else None


DAY_SECS = _day_secs()
# How long a worker test waits for the state it expects: two lifecycle days (the rule's day
# rounded up to the next day boundary), a pass interval, and headroom for a slow machine.
WAIT_SECS = 10 + 3 * (DAY_SECS or 0)

needs_worker = pytest.mark.skipif(
    DAY_SECS is None or DAY_SECS > 5,
    reason="needs a lifecycle worker with a short day: S3_LIFECYCLE_DAY_SECS is "
    + ("unset (a real S3 or moto, where a lifecycle day is 24 h)" if DAY_SECS is None
       else f"{DAY_SECS:g}, more than 5"),
)
no_header_on_moto = pytest.mark.moto_gap("moto sends no x-amz-expiration for lifecycle rules")


# --------------------------------------------------------------------------
# helpers


def rule(rule_id: str | None = None, status: str = "Enabled", **parts) -> dict:
    """A LifecycleRule as boto3 takes it; Filter defaults to the empty filter unless a
    rule-level Prefix or an explicit Filter=None is given."""
    out = {"Status": status, **parts}
    if rule_id is not None:
        out["ID"] = rule_id
    if "Prefix" not in parts and "Filter" not in parts:
        out["Filter"] = {}
    if out.get("Filter", {}) is None:
        del out["Filter"]
    return out


def days(n: int) -> dict:
    return {"Days": n}


def put_rules(s3, bucket, *rules):
    return s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": list(rules)}
    )


def rules_of(s3, bucket) -> list:
    return s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]


def status(resp) -> int:
    return resp["ResponseMetadata"]["HTTPStatusCode"]


def enable_versioning(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


def midnight(days_from_today: int = 0) -> dt.datetime:
    today = dt.datetime.now(UTC).date() + dt.timedelta(days=days_from_today)
    return dt.datetime(today.year, today.month, today.day, tzinfo=UTC)


EXPIRATION = re.compile(r'^expiry-date="([^"]+)", rule-id="([^"]*)"$')


def expiration(resp) -> tuple[str, str] | None:
    """(expiry-date, rule-id) of a response's x-amz-expiration, or None without one."""
    header = resp.get("Expiration")
    if header is None:
        return None
    m = EXPIRATION.match(header)
    assert m, f"x-amz-expiration not in S3's form: {header!r}"
    return m.group(1), m.group(2)


def last_modified_ms(s3, bucket, key) -> int:
    """LastModified as ListObjectsV2 gives it (to the millisecond where the server keeps it)."""
    for entry in s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", []):
        if entry["Key"] == key:
            return round(entry["LastModified"].timestamp() * 1000)
    raise AssertionError(f"{key} is not listed")


def assert_days_expiry(s3, bucket, key, resp, n_days: int, rule_id: str):
    """The header of a Days rule: last-modified + n days, rounded up to the next day boundary
    (a midnight UTC with real days); exact only where the day length is known."""
    got = expiration(resp)
    assert got is not None, f"no x-amz-expiration: {resp['ResponseMetadata']['HTTPHeaders']}"
    date, rid = got
    assert rid == rule_id
    when = parsedate_to_datetime(date)
    assert http_date(when) == date, f"expiry-date is not an HTTP date: {date!r}"
    lm = last_modified_ms(s3, bucket, key)
    if DAY_SECS is None:
        assert when.timestamp() * 1000 > lm, (date, lm)
        return
    day_ms = round(DAY_SECS * 1000)
    due = lm + n_days * day_ms
    expected_ms = -(-due // day_ms) * day_ms
    assert date == http_date(dt.datetime.fromtimestamp(expected_ms / 1000, UTC)), (date, lm)


def eventually(check, what: str):
    """Polls `check` every 0.2 s until it returns something truthy (returned), for WAIT_SECS."""
    deadline = time.monotonic() + WAIT_SECS
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"the lifecycle worker did not get there in {WAIT_SECS:g} s: {what}")
        time.sleep(0.2)


def keys_of(s3, bucket) -> list[str]:
    return [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    ]


def upload_keys(s3, bucket) -> list[str]:
    return [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def raw_put_lifecycle(bucket: str, body: bytes):
    """PUT ?lifecycle with a body boto3 cannot produce; returns (status, error code)."""
    url = f"{ENDPOINT}/{bucket}?lifecycle"
    headers, _ = Signer(ACCESS_KEY, SECRET_KEY, REGION).sign_headers(
        "PUT",
        url,
        {"content-md5": b64(hashlib.md5(body).digest()), "content-type": "application/xml"},
        hashlib.sha256(body).hexdigest(),
    )
    resp = http("PUT", url, body=body, headers=headers)
    m = re.search(rb"<Code>([^<]*)</Code>", resp.data)
    return resp.status, (m.group(1).decode() if m else "")


@pytest.fixture
def lock_bucket(s3, request):
    """A bucket created with Object Lock; emptied at the end with legal holds turned off and
    GOVERNANCE retention bypassed."""
    name = unique_bucket_name(request.node.originalname)
    s3.create_bucket(
        Bucket=name,
        CreateBucketConfiguration={"LocationConstraint": REGION},
        ObjectLockEnabledForBucket=True,
    )
    yield name
    pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=name))
    versions = [v for p in pages for v in p.get("Versions", [])]
    markers = [m for p in pages for m in p.get("DeleteMarkers", [])]
    for v in versions:
        head = s3.head_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
        if head.get("ObjectLockLegalHoldStatus") == "ON":
            s3.put_object_legal_hold(
                Bucket=name, Key=v["Key"], VersionId=v["VersionId"], LegalHold={"Status": "OFF"}
            )
    for entry in versions + markers:
        s3.delete_object(
            Bucket=name, Key=entry["Key"], VersionId=entry["VersionId"],
            BypassGovernanceRetention=True,
        )
    s3.delete_bucket(Bucket=name)


# --------------------------------------------------------------------------
# configuration


def test_a_bucket_without_rules_has_no_lifecycle_configuration(s3, bucket):
    with expect_error("NoSuchLifecycleConfiguration", 404):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    # Deleting a configuration that is not there is not an error.
    assert status(s3.delete_bucket_lifecycle(Bucket=bucket)) == 204


def test_lifecycle_of_a_missing_bucket_is_no_such_bucket(s3):
    missing = unique_bucket_name("missing")
    with expect_error("NoSuchBucket", 404):
        s3.get_bucket_lifecycle_configuration(Bucket=missing)
    with expect_error("NoSuchBucket", 404):
        put_rules(s3, missing, rule("r", Expiration=days(1)))
    with expect_error("NoSuchBucket", 404):
        s3.delete_bucket_lifecycle(Bucket=missing)


def test_put_get_delete_round_trip(s3, bucket):
    rules = [
        rule("prefix", Filter={"Prefix": "logs/"}, Expiration=days(30)),
        rule("tag", Filter={"Tag": {"Key": "ttl", "Value": "short"}}, Expiration=days(7)),
        rule(
            "and",
            Filter={"And": {"Prefix": "a/", "Tags": [
                {"Key": "k1", "Value": "v1"}, {"Key": "k2", "Value": "v2"},
            ]}},
            Expiration=days(5),
        ),
        rule("date", "Disabled", Filter={"Prefix": "d/"}, Expiration={"Date": FAR_DATE}),
        rule(
            "markers",
            Filter={"Prefix": "m/"},
            Expiration={"ExpiredObjectDeleteMarker": True},
            NoncurrentVersionExpiration={"NoncurrentDays": 10},
        ),
        rule("uploads", Filter={"Prefix": "up/"},
             AbortIncompleteMultipartUpload={"DaysAfterInitiation": 3}),
    ]
    assert status(put_rules(s3, bucket, *rules)) == 200
    assert rules_of(s3, bucket) == rules
    deleted = s3.delete_bucket_lifecycle(Bucket=bucket)
    assert status(deleted) == 204
    with expect_error("NoSuchLifecycleConfiguration", 404):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)


@pytest.mark.moto_gap("moto drops ObjectSize filters and NewerNoncurrentVersions")
def test_size_filters_and_newer_noncurrent_versions_round_trip(s3, bucket):
    rules = [
        rule("gt", Filter={"ObjectSizeGreaterThan": 1024}, Expiration=days(30)),
        rule("lt", "Disabled", Filter={"ObjectSizeLessThan": 4096}, Expiration=days(30)),
        rule(
            "and",
            Filter={"And": {
                "Prefix": "a/",
                "Tags": [{"Key": "k", "Value": "v"}],
                "ObjectSizeGreaterThan": 1,
                "ObjectSizeLessThan": 100,
            }},
            Expiration=days(2),
        ),
        rule(
            "sizes",
            Filter={"And": {"ObjectSizeGreaterThan": 10, "ObjectSizeLessThan": 20}},
            NoncurrentVersionExpiration={"NoncurrentDays": 3, "NewerNoncurrentVersions": 5},
        ),
    ]
    put_rules(s3, bucket, *rules)
    assert rules_of(s3, bucket) == rules


@pytest.mark.moto_gap("moto leaves a rule put without an ID without one")
def test_a_rule_without_an_id_is_given_one(s3, bucket):
    put_rules(s3, bucket, rule(Filter={"Prefix": "x/"}, Expiration=days(1)),
              rule("named", Filter={"Prefix": "y/"}, Expiration=days(2)))
    first, second = rules_of(s3, bucket)
    assert isinstance(first.get("ID"), str) and first["ID"] and first["ID"] != "named"
    assert first["Filter"] == {"Prefix": "x/"} and first["Expiration"] == {"Days": 1}
    assert second["ID"] == "named"


def test_a_rule_level_prefix_is_given_back_as_put(s3, bucket):
    # The original (V1) form: Prefix on the rule, no Filter.
    put_rules(s3, bucket, rule("legacy", Prefix="old/", Expiration=days(30)))
    (got,) = rules_of(s3, bucket)
    assert got.get("Prefix") == "old/" and "Filter" not in got, got
    assert got["Expiration"] == {"Days": 30} and got["ID"] == "legacy"


def test_an_empty_filter_applies_to_every_object(s3, bucket):
    put_rules(s3, bucket, rule("all", Filter={}, Expiration=days(30)))
    (got,) = rules_of(s3, bucket)
    # S3 shows the empty filter as <Filter/> or as <Filter><Prefix/></Filter>.
    assert got["Filter"] in ({}, {"Prefix": ""}), got


def test_put_replaces_the_whole_configuration(s3, bucket):
    put_rules(s3, bucket, rule("a", Filter={"Prefix": "a/"}, Expiration=days(1)),
              rule("b", Filter={"Prefix": "b/"}, Expiration=days(2)))
    replacement = rule("c", Filter={"Prefix": "c/"}, Expiration=days(3))
    put_rules(s3, bucket, replacement)
    assert rules_of(s3, bucket) == [replacement]


@pytest.mark.moto_gap("moto drops the old configuration and keeps the rules before the bad one")
def test_a_refused_put_keeps_the_configuration(s3, bucket):
    kept = rule("kept", Filter={"Prefix": "k/"}, Expiration=days(9))
    put_rules(s3, bucket, kept)
    with expect_error("MalformedXML", 400):
        put_rules(s3, bucket, rule("new", Expiration=days(1)),
                  rule("bad", Filter={"Prefix": "a/", "Tag": {"Key": "k", "Value": "v"}},
                       Expiration=days(2)))
    assert rules_of(s3, bucket) == [kept]


def test_ids_up_to_255_characters(s3, bucket):
    long_id = "i" * 255
    put_rules(s3, bucket, rule(long_id, Expiration=days(1)))
    assert rules_of(s3, bucket)[0]["ID"] == long_id


def _moto(reason: str):
    return pytest.mark.moto_gap(reason)


REFUSED = [
    # Structure the schema does not allow: MalformedXML.
    pytest.param([rule("r", "On", Expiration=days(1))], "MalformedXML",
                 marks=_moto("moto stores any Status"), id="status-not-enabled-or-disabled"),
    pytest.param([rule("r", Expiration={"Days": 1, "Date": FAR_DATE})], "MalformedXML",
                 marks=_moto("moto accepts Days with Date"), id="days-and-date"),
    pytest.param([rule("r", Filter={"Prefix": "a/", "Tag": {"Key": "k", "Value": "v"}},
                       Expiration=days(1))], "MalformedXML", id="filter-prefix-and-tag"),
    pytest.param([rule("r", Filter={"ObjectSizeGreaterThan": 1, "ObjectSizeLessThan": 9},
                       Expiration=days(1))], "MalformedXML",
                 marks=_moto("moto ignores ObjectSize filters"), id="filter-two-sizes"),
    pytest.param([rule("r", Filter={"Prefix": "a/", "ObjectSizeLessThan": 9},
                       Expiration=days(1))], "MalformedXML",
                 marks=_moto("moto ignores ObjectSize filters"), id="filter-prefix-and-size"),
    pytest.param([rule("r", Filter=None, Expiration=days(1))], "MalformedXML",
                 id="neither-filter-nor-prefix"),
    pytest.param([rule("r", Expiration={"Days": 1, "ExpiredObjectDeleteMarker": True})],
                 "MalformedXML", id="expired-object-delete-marker-with-days"),
    pytest.param([rule("r", Expiration={"Date": FAR_DATE, "ExpiredObjectDeleteMarker": True})],
                 "MalformedXML", marks=_moto("moto accepts ExpiredObjectDeleteMarker with Date"),
                 id="expired-object-delete-marker-with-date"),
    # Values out of range: InvalidArgument.
    pytest.param([rule("r", Expiration=days(0))], "InvalidArgument",
                 marks=_moto("moto accepts Days 0"), id="days-0"),
    pytest.param([rule("r", NoncurrentVersionExpiration={"NoncurrentDays": 0})],
                 "InvalidArgument", marks=_moto("moto accepts NoncurrentDays 0"),
                 id="noncurrent-days-0"),
    pytest.param([rule("r", AbortIncompleteMultipartUpload={"DaysAfterInitiation": 0})],
                 "InvalidArgument", marks=_moto("moto accepts DaysAfterInitiation 0"),
                 id="days-after-initiation-0"),
    pytest.param([rule("r", Expiration={"Date": dt.datetime(2100, 1, 1, 12, tzinfo=UTC)})],
                 "InvalidArgument", marks=_moto("moto accepts a Date that is not midnight"),
                 id="date-not-midnight"),
    pytest.param([rule("r", Expiration=days(1)), rule("r", Expiration=days(2))],
                 "InvalidArgument", marks=_moto("moto accepts duplicate rule IDs"),
                 id="duplicate-ids"),
    pytest.param([rule("i" * 256, Expiration=days(1))], "InvalidArgument",
                 marks=_moto("moto accepts IDs over 255 characters"), id="id-256-characters"),
    pytest.param([rule("r", Filter={"And": {"Prefix": "a/", "ObjectSizeGreaterThan": 100,
                                            "ObjectSizeLessThan": 100}}, Expiration=days(1))],
                 "InvalidArgument", marks=_moto("moto ignores ObjectSize filters"),
                 id="size-less-than-equal-to-greater-than"),
    pytest.param([rule("r", Filter={"And": {"Prefix": "a/", "ObjectSizeGreaterThan": 100,
                                            "ObjectSizeLessThan": 50}}, Expiration=days(1))],
                 "InvalidArgument", marks=_moto("moto ignores ObjectSize filters"),
                 id="size-less-than-below-greater-than"),
    pytest.param([rule("r", NoncurrentVersionExpiration={"NoncurrentDays": 1,
                                                        "NewerNoncurrentVersions": 0})],
                 "InvalidArgument", marks=_moto("moto ignores NewerNoncurrentVersions"),
                 id="newer-noncurrent-versions-0"),
    # Combinations S3 does not offer: InvalidRequest.
    pytest.param([rule("r", Filter={"Tag": {"Key": "k", "Value": "v"}},
                       Expiration={"ExpiredObjectDeleteMarker": True})], "InvalidRequest",
                 marks=_moto("moto accepts ExpiredObjectDeleteMarker with a tag filter"),
                 id="expired-object-delete-marker-with-tag"),
    pytest.param([rule("r", Filter={"And": {"Prefix": "a/", "Tags": [
                     {"Key": "k", "Value": "v"}]}},
                       Expiration={"ExpiredObjectDeleteMarker": True})], "InvalidRequest",
                 marks=_moto("moto accepts ExpiredObjectDeleteMarker with a tag filter"),
                 id="expired-object-delete-marker-with-and-tags"),
    pytest.param([rule("r", Filter={"Tag": {"Key": "k", "Value": "v"}},
                       AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1})],
                 "InvalidRequest",
                 marks=_moto("moto accepts AbortIncompleteMultipartUpload with a tag filter"),
                 id="abort-incomplete-upload-with-tag"),
    pytest.param([rule("r", Filter={"Prefix": "a/"})], "InvalidRequest",
                 marks=_moto("moto accepts a rule without an action"), id="no-action"),
    pytest.param([rule("v1", Prefix="a/", Expiration=days(1)),
                  rule("v2", Filter={"Prefix": "b/"}, Expiration=days(1))], "InvalidRequest",
                 marks=_moto("moto accepts rule-level Prefix rules next to Filter rules"),
                 id="v1-prefix-rule-with-v2-filter-rule"),
    pytest.param([rule("v1", Prefix="a/", NoncurrentVersionExpiration={
                      "NoncurrentDays": 1, "NewerNoncurrentVersions": 2})], "InvalidRequest",
                 marks=_moto("moto ignores NewerNoncurrentVersions"),
                 id="v1-prefix-rule-with-newer-noncurrent-versions"),
]


@pytest.mark.parametrize("rules, code", REFUSED)
def test_refused_configurations(s3, bucket, rules, code):
    with expect_error(code, 400):
        put_rules(s3, bucket, *rules)
    with expect_error("NoSuchLifecycleConfiguration", 404):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)


def test_rule_prefix_together_with_filter_is_refused(s3, bucket):
    # The reference says a rule has a Filter or (deprecated) a Prefix; S3 refuses both, with
    # MalformedXML or, taking the rule for lifecycle V1, "Filter element can only be used in
    # Lifecycle V2" (InvalidRequest).
    with expect_error(("MalformedXML", "InvalidRequest"), 400):
        put_rules(s3, bucket, rule("r", Prefix="a/", Filter={"Prefix": "a/"}, Expiration=days(1)))
    with expect_error("NoSuchLifecycleConfiguration", 404):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)


@pytest.mark.moto_gap("moto accepts an empty LifecycleConfiguration")
def test_a_configuration_without_rules_is_malformed(s3, bucket):
    with expect_error("MalformedXML", 400):
        put_rules(s3, bucket)


@pytest.mark.moto_gap("moto answers a body that is not XML with a 500")
def test_a_body_that_is_not_xml_is_malformed(s3, bucket):
    assert raw_put_lifecycle(bucket, b"<LifecycleConfiguration><Rule>") == (400, "MalformedXML")
    assert raw_put_lifecycle(bucket, b"not xml at all") == (400, "MalformedXML")
    with expect_error("NoSuchLifecycleConfiguration", 404):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)


@pytest.mark.moto_gap("moto stores storage-class transitions")
@pytest.mark.parametrize(
    "action",
    [
        pytest.param({"Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}, id="transition"),
        pytest.param(
            {"NoncurrentVersionTransitions": [{"NoncurrentDays": 30, "StorageClass": "GLACIER"}]},
            id="noncurrent-version-transition",
        ),
    ],
)
def test_transitions_are_not_implemented(s3, bucket, action):
    # This server has one storage class (not S3 behaviour: S3 accepts transitions).
    with expect_error("NotImplemented", 501):
        put_rules(s3, bucket, rule("r", Expiration=days(365), **action))
    with expect_error("NoSuchLifecycleConfiguration", 404):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)


@pytest.mark.moto_gap("moto accepts more than 1000 rules")
def test_at_most_1000_rules(s3, bucket):
    many = [rule(f"r{i:04}", Filter={"Prefix": f"p{i:04}/"}, Expiration=days(30))
            for i in range(1001)]
    put_rules(s3, bucket, *many[:1000])
    assert len(rules_of(s3, bucket)) == 1000
    with expect_error("InvalidArgument", 400):
        put_rules(s3, bucket, *many)
    assert len(rules_of(s3, bucket)) == 1000


# --------------------------------------------------------------------------
# x-amz-expiration


@no_header_on_moto
def test_expiration_header_of_a_days_rule(s3, bucket):
    put_rules(s3, bucket, rule("days", Filter={"Prefix": "logs/"}, Expiration=days(FAR_DAYS)))
    put = s3.put_object(Bucket=bucket, Key="logs/a", Body=b"x")
    assert_days_expiry(s3, bucket, "logs/a", put, FAR_DAYS, "days")
    head = s3.head_object(Bucket=bucket, Key="logs/a")
    got = s3.get_object(Bucket=bucket, Key="logs/a")
    assert got["Body"].read() == b"x"
    assert expiration(head) == expiration(got) == expiration(put)


@no_header_on_moto
def test_expiration_header_of_a_date_rule_is_the_date(s3, bucket):
    put_rules(s3, bucket, rule("date", Filter={"Prefix": "d/"}, Expiration={"Date": FAR_DATE}))
    put = s3.put_object(Bucket=bucket, Key="d/k", Body=b"x")
    want = (FAR, "date")
    assert expiration(put) == want
    assert expiration(s3.head_object(Bucket=bucket, Key="d/k")) == want
    assert expiration(s3.get_object(Bucket=bucket, Key="d/k")) == want


@no_header_on_moto
def test_expiration_header_on_copy_and_complete_multipart_upload(s3, bucket):
    put_rules(s3, bucket, rule("date", Filter={"Prefix": "d/"}, Expiration={"Date": FAR_DATE}))
    want = (FAR, "date")
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    copied = s3.copy_object(Bucket=bucket, Key="d/copy", CopySource={"Bucket": bucket, "Key": "src"})
    assert expiration(copied) == want
    # The copy's header is about the destination: a copy out of the rule's prefix has none.
    out = s3.copy_object(Bucket=bucket, Key="elsewhere", CopySource={"Bucket": bucket, "Key": "d/copy"})
    assert expiration(out) is None
    up = s3.create_multipart_upload(Bucket=bucket, Key="d/mp")
    part = s3.upload_part(Bucket=bucket, Key="d/mp", UploadId=up["UploadId"], PartNumber=1,
                          Body=payload(1000))
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="d/mp", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert expiration(done) == want
    assert expiration(s3.head_object(Bucket=bucket, Key="d/mp")) == want


@no_header_on_moto
def test_the_earliest_rule_wins(s3, bucket):
    early = dt.datetime(2090, 1, 1, tzinfo=UTC)
    put_rules(
        s3, bucket,
        rule("late", Expiration={"Date": FAR_DATE}),
        rule("early", Filter={"Prefix": "e/"}, Expiration={"Date": early}),
        rule("off", "Disabled", Filter={"Prefix": "e/"},
             Expiration={"Date": dt.datetime(2080, 1, 1, tzinfo=UTC)}),
        rule("short", Filter={"Prefix": "d/"}, Expiration=days(FAR_DAYS)),
        rule("long", Filter={"Prefix": "d/"}, Expiration=days(FAR_DAYS + 1000)),
    )
    put = s3.put_object(Bucket=bucket, Key="e/k", Body=b"x")
    assert expiration(put) == (http_date(early), "early")
    put = s3.put_object(Bucket=bucket, Key="other", Body=b"x")
    assert expiration(put) == (FAR, "late")
    put = s3.put_object(Bucket=bucket, Key="d/k", Body=b"x")
    assert_days_expiry(s3, bucket, "d/k", put, FAR_DAYS, "short")


@no_header_on_moto
def test_expiration_header_follows_tag_and_size_filters(s3, bucket):
    put_rules(
        s3, bucket,
        rule("tagged", Filter={"Tag": {"Key": "ttl", "Value": "short"}},
             Expiration={"Date": FAR_DATE}),
        rule("sized", Filter={"And": {"Prefix": "s/", "ObjectSizeGreaterThan": 10,
                                      "ObjectSizeLessThan": 100}},
             Expiration={"Date": FAR_DATE}),
    )
    tagged = s3.put_object(Bucket=bucket, Key="t1", Body=b"x", Tagging="ttl=short&other=1")
    assert expiration(tagged) == (FAR, "tagged")
    assert expiration(s3.put_object(Bucket=bucket, Key="t2", Body=b"x", Tagging="ttl=long")) is None
    assert expiration(s3.put_object(Bucket=bucket, Key="t3", Body=b"x")) is None
    # Tagging an object afterwards brings it under the rule.
    s3.put_object_tagging(Bucket=bucket, Key="t3",
                          Tagging={"TagSet": [{"Key": "ttl", "Value": "short"}]})
    assert expiration(s3.head_object(Bucket=bucket, Key="t3"))[1] == "tagged"
    assert expiration(s3.put_object(Bucket=bucket, Key="s/mid", Body=payload(50)))[1] == "sized"
    for size in (10, 100):  # both bounds are exclusive
        assert expiration(s3.put_object(Bucket=bucket, Key="s/edge", Body=payload(size))) is None


@no_header_on_moto
def test_no_expiration_header_without_a_matching_enabled_expiration_rule(s3, bucket):
    enable_versioning(s3, bucket)
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert expiration(put) is None  # no configuration at all
    put_rules(
        s3, bucket,
        rule("other-prefix", Filter={"Prefix": "p/"}, Expiration={"Date": FAR_DATE}),
        rule("disabled", "Disabled", Expiration={"Date": FAR_DATE}),
        rule("markers", Expiration={"ExpiredObjectDeleteMarker": True}),
        rule("noncurrent", NoncurrentVersionExpiration={"NoncurrentDays": 1}),
        rule("uploads", AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1}),
    )
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert expiration(put) is None
    assert expiration(s3.head_object(Bucket=bucket, Key="k")) is None
    assert expiration(s3.get_object(Bucket=bucket, Key="k")) is None
    # Under the rule, but read by version id: no header.
    vid = s3.put_object(Bucket=bucket, Key="p/k", Body=b"x")["VersionId"]
    assert expiration(s3.head_object(Bucket=bucket, Key="p/k"))[1] == "other-prefix"
    assert expiration(s3.head_object(Bucket=bucket, Key="p/k", VersionId=vid)) is None
    assert expiration(s3.get_object(Bucket=bucket, Key="p/k", VersionId=vid)) is None


@no_header_on_moto
def test_a_rule_level_prefix_selects_objects(s3, bucket):
    put_rules(s3, bucket, rule("legacy", Prefix="old/", Expiration={"Date": FAR_DATE}))
    assert expiration(s3.put_object(Bucket=bucket, Key="old/k", Body=b"x"))[1] == "legacy"
    assert expiration(s3.put_object(Bucket=bucket, Key="new/k", Body=b"x")) is None


@no_header_on_moto
def test_expiration_header_goes_with_the_configuration(s3, bucket):
    put_rules(s3, bucket, rule("date", Expiration={"Date": FAR_DATE}))
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert expiration(s3.head_object(Bucket=bucket, Key="k"))[1] == "date"
    s3.delete_bucket_lifecycle(Bucket=bucket)
    assert expiration(s3.head_object(Bucket=bucket, Key="k")) is None


# --------------------------------------------------------------------------
# the worker


@needs_worker
def test_worker_expires_current_objects_by_prefix(s3, bucket):
    put_rules(s3, bucket, rule("p", Filter={"Prefix": "p/"}, Expiration=days(1)))
    # Every key the rule leaves alone sorts before the ones it expires.
    for key in ("a/keep", "o/p/x", "p", "p/a", "p/sub/b"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    eventually(lambda: not any(k.startswith("p/") for k in keys_of(s3, bucket)), "p/* expired")
    assert keys_of(s3, bucket) == ["a/keep", "o/p/x", "p"]
    # In an unversioned bucket the objects are gone, with no delete marker.
    assert [v[0] for v in versions_of(s3, bucket)] == ["a/keep", "o/p/x", "p"]


@needs_worker
def test_worker_expires_at_once_after_a_past_date(s3, bucket):
    put_rules(s3, bucket, rule("past", Filter={"Prefix": "old/"}, Expiration={"Date": midnight(-1)}))
    s3.put_object(Bucket=bucket, Key="new/x", Body=b"x")
    s3.put_object(Bucket=bucket, Key="old/x", Body=b"x")
    eventually(lambda: "old/x" not in keys_of(s3, bucket), "old/x expired")
    assert keys_of(s3, bucket) == ["new/x"]


@needs_worker
def test_worker_expires_only_tagged_objects(s3, bucket):
    put_rules(s3, bucket, rule("tag", Filter={"Tag": {"Key": "ttl", "Value": "short"}},
                               Expiration=days(1)))
    s3.put_object(Bucket=bucket, Key="a", Body=b"x", Tagging="ttl=short")
    s3.put_object(Bucket=bucket, Key="b", Body=b"x", Tagging="ttl=long")
    s3.put_object(Bucket=bucket, Key="c", Body=b"x")
    s3.put_object(Bucket=bucket, Key="d", Body=b"x", Tagging="other=1&ttl=short")
    eventually(lambda: keys_of(s3, bucket) == ["b", "c"], "a and d expired")


@needs_worker
def test_worker_applies_size_filters(s3, bucket):
    put_rules(
        s3, bucket,
        rule("between", Filter={"And": {"Prefix": "s/", "ObjectSizeGreaterThan": 10,
                                        "ObjectSizeLessThan": 100}}, Expiration=days(1)),
        rule("tiny", Filter={"ObjectSizeLessThan": 3}, Expiration=days(1)),
    )
    sizes = {"o/50": 50, "s/005": 5, "s/010": 10, "s/050": 50, "s/100": 100, "s/200": 200,
             "tiny": 2}
    for key, size in sizes.items():
        s3.put_object(Bucket=bucket, Key=key, Body=payload(size))
    eventually(lambda: "tiny" not in keys_of(s3, bucket), "tiny expired")
    assert keys_of(s3, bucket) == ["o/50", "s/005", "s/010", "s/100", "s/200"]


@needs_worker
def test_worker_lays_a_delete_marker_in_a_versioned_bucket(s3, bucket):
    enable_versioning(s3, bucket)
    put_rules(s3, bucket, rule("v", Filter={"Prefix": "v/"}, Expiration=days(1)))
    keep = s3.put_object(Bucket=bucket, Key="a/keep", Body=b"x")["VersionId"]
    v1 = s3.put_object(Bucket=bucket, Key="v/k", Body=b"x")["VersionId"]
    eventually(lambda: keys_of(s3, bucket) == ["a/keep"], "v/k expired")
    (a, marker, old) = versions_of(s3, bucket)
    assert a == ("a/keep", keep, True, False)
    assert marker[0] == "v/k" and marker[2:] == (True, True)
    assert old == ("v/k", v1, False, False)
    assert s3.get_object(Bucket=bucket, Key="v/k", VersionId=v1)["Body"].read() == b"x"


@needs_worker
def test_worker_expires_noncurrent_versions_keeping_the_newest(s3, bucket):
    enable_versioning(s3, bucket)
    put_rules(
        s3, bucket,
        rule("all", Filter={"Prefix": "all/"}, NoncurrentVersionExpiration={"NoncurrentDays": 1}),
        rule("keep2", Filter={"Prefix": "keep2/"},
             NoncurrentVersionExpiration={"NoncurrentDays": 1, "NewerNoncurrentVersions": 2}),
    )
    all_ids = [s3.put_object(Bucket=bucket, Key="all/k", Body=bytes([i]))["VersionId"]
               for i in range(3)]
    kept_ids = [s3.put_object(Bucket=bucket, Key="keep2/k", Body=bytes([i]))["VersionId"]
                for i in range(4)]
    eventually(
        lambda: len(versions_of(s3, bucket, Prefix="all/")) == 1
        and len(versions_of(s3, bucket, Prefix="keep2/")) == 3,
        "noncurrent versions expired",
    )
    assert versions_of(s3, bucket) == [
        ("all/k", all_ids[2], True, False),
        ("keep2/k", kept_ids[3], True, False),
        ("keep2/k", kept_ids[2], False, False),
        ("keep2/k", kept_ids[1], False, False),
    ]


@needs_worker
def test_worker_removes_a_delete_marker_only_when_no_version_is_below_it(s3, bucket):
    enable_versioning(s3, bucket)
    put_rules(s3, bucket, rule("markers", Expiration={"ExpiredObjectDeleteMarker": True}))
    covered = s3.put_object(Bucket=bucket, Key="covered", Body=b"x")["VersionId"]
    covering = s3.delete_object(Bucket=bucket, Key="covered")["VersionId"]
    lone = s3.put_object(Bucket=bucket, Key="lone", Body=b"x")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="lone")
    s3.delete_object(Bucket=bucket, Key="lone", VersionId=lone)
    eventually(lambda: not versions_of(s3, bucket, Prefix="lone"), "the lone delete marker removed")
    assert versions_of(s3, bucket) == [
        ("covered", covering, True, True),
        ("covered", covered, False, False),
    ]


@needs_worker
def test_worker_aborts_stale_multipart_uploads(s3, bucket):
    put_rules(s3, bucket, rule("uploads", Filter={"Prefix": "stale/"},
                               AbortIncompleteMultipartUpload={"DaysAfterInitiation": 1}))
    fresh = s3.create_multipart_upload(Bucket=bucket, Key="fresh/b")["UploadId"]
    stale = s3.create_multipart_upload(Bucket=bucket, Key="stale/a")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="stale/a", UploadId=stale, PartNumber=1, Body=b"part")
    try:
        eventually(lambda: upload_keys(s3, bucket) == ["fresh/b"], "stale/a aborted")
        with expect_error("NoSuchUpload", 404):
            s3.list_parts(Bucket=bucket, Key="stale/a", UploadId=stale)
        assert s3.list_parts(Bucket=bucket, Key="fresh/b", UploadId=fresh).get("Parts", []) == []
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key="fresh/b", UploadId=fresh)


@needs_worker
def test_worker_ignores_a_disabled_rule(s3, bucket):
    put_rules(s3, bucket,
              rule("off", "Disabled", Filter={"Prefix": "off/"}, Expiration=days(1)),
              rule("on", Filter={"Prefix": "on/"}, Expiration=days(1)))
    s3.put_object(Bucket=bucket, Key="off/x", Body=b"x")
    s3.put_object(Bucket=bucket, Key="on/x", Body=b"x")
    eventually(lambda: "on/x" not in keys_of(s3, bucket), "on/x expired")
    assert keys_of(s3, bucket) == ["off/x"]


@needs_worker
def test_worker_leaves_locked_versions(s3, lock_bucket):
    put_rules(s3, lock_bucket, rule("nc", NoncurrentVersionExpiration={"NoncurrentDays": 1}))
    until = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(hours=1)
    held = s3.put_object(Bucket=lock_bucket, Key="held", Body=b"1",
                         ObjectLockLegalHoldStatus="ON")["VersionId"]
    retained = s3.put_object(Bucket=lock_bucket, Key="retained", Body=b"1",
                             ObjectLockMode="GOVERNANCE",
                             ObjectLockRetainUntilDate=until)["VersionId"]
    free = s3.put_object(Bucket=lock_bucket, Key="zz-free", Body=b"1")["VersionId"]
    current = {k: s3.put_object(Bucket=lock_bucket, Key=k, Body=b"2")["VersionId"]
               for k in ("held", "retained", "zz-free")}
    eventually(lambda: len(versions_of(s3, lock_bucket, Prefix="zz-free")) == 1,
               "the unlocked noncurrent version removed")
    assert versions_of(s3, lock_bucket) == [
        ("held", current["held"], True, False),
        ("held", held, False, False),
        ("retained", current["retained"], True, False),
        ("retained", retained, False, False),
        ("zz-free", current["zz-free"], True, False),
    ]
    assert free not in [v[1] for v in versions_of(s3, lock_bucket)]

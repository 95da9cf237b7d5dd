"""Object Lock, as the S3 API reference describes it: CreateBucket with
x-amz-bucket-object-lock-enabled, Get/PutObjectLockConfiguration and default retention,
enabling lock on an existing versioned bucket, the retention and legal-hold headers on
PutObject, CopyObject and CreateMultipartUpload, Get/PutObjectRetention (GOVERNANCE with
and without x-amz-bypass-governance-retention, COMPLIANCE), Get/PutObjectLegalHold, and
what a lock does to DeleteObject and DeleteObjects on a version.

Lock buckets outlive their test: a COMPLIANCE version cannot be deleted before its
retain-until date, so every lock bucket is emptied and deleted when the module ends, after
legal holds are turned off and the (few seconds of) COMPLIANCE retention has run out."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from botocore.exceptions import ClientError

from s3util import ON_MOTO, REGION, error_code, expect_error, unique_bucket_name

UTC = dt.timezone.utc
# COMPLIANCE retention in these tests: long enough that a loaded CI machine still asserts
# against a future date (a shortened date must not slip into the past), short enough to wait out.
COMPLIANCE_SECONDS = 10


def now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


def later(**delta) -> dt.datetime:
    return now() + dt.timedelta(**delta)


def compliance_until() -> dt.datetime:
    return later(seconds=COMPLIANCE_SECONDS)


def lock_state(resp) -> tuple:
    """(mode, retain-until, legal hold) from a HEAD/GET response."""
    return (
        resp.get("ObjectLockMode"),
        resp.get("ObjectLockRetainUntilDate"),
        resp.get("ObjectLockLegalHoldStatus"),
    )


def assert_about(when: dt.datetime, expected: dt.datetime, slack: float = 120.0):
    assert abs((when - expected).total_seconds()) <= slack, (when, expected)


def create_lock_bucket(s3, name: str):
    """s3util.create_bucket, with Object Lock enabled at creation."""
    return s3.create_bucket(
        Bucket=name,
        CreateBucketConfiguration={"LocationConstraint": REGION},
        ObjectLockEnabledForBucket=True,
    )


def purge_lock_bucket(s3, name: str) -> None:
    """Deletes a lock bucket: legal holds off, COMPLIANCE retention waited out, then every
    version and delete marker deleted with BypassGovernanceRetention."""
    try:
        pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=name))
    except ClientError as e:
        if error_code(e) in ("NoSuchBucket", "404"):
            return
        raise
    versions = [v for p in pages for v in p.get("Versions", [])]
    markers = [m for p in pages for m in p.get("DeleteMarkers", [])]
    wait_until = None
    for v in versions:
        head = s3.head_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
        mode, until, hold = lock_state(head)
        if hold == "ON":
            s3.put_object_legal_hold(
                Bucket=name, Key=v["Key"], VersionId=v["VersionId"], LegalHold={"Status": "OFF"}
            )
        if mode == "COMPLIANCE" and until is not None:
            wait_until = until if wait_until is None else max(wait_until, until)
    if wait_until is not None:
        time.sleep(max(0.0, (wait_until - dt.datetime.now(UTC)).total_seconds() + 0.5))
    for entry in versions + markers:
        s3.delete_object(
            Bucket=name, Key=entry["Key"], VersionId=entry["VersionId"],
            BypassGovernanceRetention=True,
        )
    s3.delete_bucket(Bucket=name)


@pytest.fixture(scope="module")
def lock_buckets(s3):
    created: list[str] = []
    yield created
    failures = []
    for name in created:
        try:
            purge_lock_bucket(s3, name)
        except ClientError as e:  # keep cleaning the others
            failures.append((name, e.response.get("Error")))
    assert not failures, f"lock buckets left behind: {failures}"


@pytest.fixture
def make_lock_bucket(s3, request, lock_buckets):
    """Factory: make_lock_bucket() -> a new bucket created with Object Lock enabled."""

    def _make(hint: str | None = None) -> str:
        name = unique_bucket_name(hint or request.node.originalname or request.node.name)
        create_lock_bucket(s3, name)
        lock_buckets.append(name)
        return name

    return _make


@pytest.fixture
def lock_bucket(make_lock_bucket):
    return make_lock_bucket()


def default_retention(s3, bucket, **retention):
    s3.put_object_lock_configuration(
        Bucket=bucket,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": retention},
        },
    )


def put_locked(s3, bucket, key, mode, until, body=b"locked") -> str:
    return s3.put_object(
        Bucket=bucket, Key=key, Body=body, ObjectLockMode=mode, ObjectLockRetainUntilDate=until
    )["VersionId"]


def lock_of(s3, bucket, key, **kw) -> tuple:
    """(mode, retain-until) as HEAD shows them."""
    head = s3.head_object(Bucket=bucket, Key=key, **kw)
    return head.get("ObjectLockMode"), head.get("ObjectLockRetainUntilDate")


def retention_of(s3, bucket, key, **kw) -> tuple:
    r = s3.get_object_retention(Bucket=bucket, Key=key, **kw)["Retention"]
    return r["Mode"], r["RetainUntilDate"]


def set_retention(s3, bucket, key, mode, until, **kw):
    return s3.put_object_retention(
        Bucket=bucket, Key=key, Retention={"Mode": mode, "RetainUntilDate": until}, **kw
    )


def legal_hold(s3, bucket, key, status, **kw):
    return s3.put_object_legal_hold(Bucket=bucket, Key=key, LegalHold={"Status": status}, **kw)


# --------------------------------------------------------------------------
# bucket configuration


def test_a_lock_bucket_is_versioned_and_has_no_rule(s3, lock_bucket):
    assert s3.get_bucket_versioning(Bucket=lock_bucket)["Status"] == "Enabled"
    cfg = s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"]
    assert cfg["ObjectLockEnabled"] == "Enabled"
    assert "Rule" not in cfg
    # Without a default rule a new version carries no lock.
    put = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x")
    assert put["VersionId"] and put["VersionId"] != "null"
    assert lock_state(s3.head_object(Bucket=lock_bucket, Key="k")) == (None, None, None)


def test_a_bucket_without_lock_has_no_lock_configuration(s3, bucket):
    with expect_error("ObjectLockConfigurationNotFoundError", 404):
        s3.get_object_lock_configuration(Bucket=bucket)


@pytest.mark.moto_gap("moto writes the unset one of Days/Years as 0 in DefaultRetention")
def test_get_object_lock_configuration_shows_the_default_rule(s3, lock_bucket):
    default_retention(s3, lock_bucket, Mode="GOVERNANCE", Days=1)
    cfg = s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"]
    assert cfg == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
    }
    default_retention(s3, lock_bucket, Mode="COMPLIANCE", Years=2)
    cfg = s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"]
    assert cfg["Rule"] == {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 2}}
    # Putting a configuration without a Rule removes the default.
    s3.put_object_lock_configuration(
        Bucket=lock_bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
    )
    cfg = s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"]
    assert cfg == {"ObjectLockEnabled": "Enabled"}


def test_default_retention_applies_to_new_objects(s3, lock_bucket):
    default_retention(s3, lock_bucket, Mode="GOVERNANCE", Days=1)
    s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x")
    mode, until = lock_of(s3, lock_bucket, "k")
    assert mode == "GOVERNANCE"
    assert_about(until, now() + dt.timedelta(days=1))
    # Explicit headers take precedence over the default.
    explicit = later(hours=2)
    put_locked(s3, lock_bucket, "explicit", "GOVERNANCE", explicit)
    assert lock_of(s3, lock_bucket, "explicit") == ("GOVERNANCE", explicit)


@pytest.mark.moto_gap("moto refuses PutObjectLockConfiguration on a bucket that is not empty")
def test_changing_the_default_rule_leaves_existing_versions(s3, lock_bucket):
    s3.put_object(Bucket=lock_bucket, Key="before", Body=b"x")
    default_retention(s3, lock_bucket, Mode="GOVERNANCE", Days=1)
    s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x")
    mode, until = lock_of(s3, lock_bucket, "k")
    default_retention(s3, lock_bucket, Mode="GOVERNANCE", Days=2)
    assert lock_of(s3, lock_bucket, "k") == (mode, until)
    assert lock_of(s3, lock_bucket, "before") == (None, None)
    s3.put_object(Bucket=lock_bucket, Key="after", Body=b"x")
    assert_about(lock_of(s3, lock_bucket, "after")[1], now() + dt.timedelta(days=2))


def test_default_retention_in_years(s3, lock_bucket):
    default_retention(s3, lock_bucket, Mode="GOVERNANCE", Years=1)
    s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x")
    until = s3.head_object(Bucket=lock_bucket, Key="k")["ObjectLockRetainUntilDate"]
    # A year is 365 or 366 days.
    assert 364 * 86400 < (until - now()).total_seconds() < 367 * 86400


@pytest.mark.moto_gap("moto accepts Days with Years, and Days 0")
def test_a_default_retention_is_days_or_years_and_positive(s3, lock_bucket):
    with expect_error("MalformedXML", 400):
        default_retention(s3, lock_bucket, Mode="GOVERNANCE", Days=1, Years=1)
    with expect_error("InvalidArgument", 400):
        default_retention(s3, lock_bucket, Mode="GOVERNANCE", Days=0)
    cfg = s3.get_object_lock_configuration(Bucket=lock_bucket)["ObjectLockConfiguration"]
    assert "Rule" not in cfg


def test_lock_can_be_enabled_on_a_versioned_bucket(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(
        Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
    )
    cfg = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]
    assert cfg["ObjectLockEnabled"] == "Enabled"


@pytest.mark.moto_gap("moto answers InvalidBucketState with 400, not 409")
def test_lock_cannot_be_enabled_without_versioning(s3, bucket):
    with expect_error("InvalidBucketState", 409):
        s3.put_object_lock_configuration(
            Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
        )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    with expect_error("InvalidBucketState", 409):
        s3.put_object_lock_configuration(
            Bucket=bucket, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}
        )
    with expect_error("ObjectLockConfigurationNotFoundError", 404):
        s3.get_object_lock_configuration(Bucket=bucket)


@pytest.mark.moto_gap("moto lets versioning be suspended on a lock bucket")
def test_versioning_cannot_be_suspended_on_a_lock_bucket(s3, lock_bucket):
    with expect_error("InvalidBucketState", 409):
        s3.put_bucket_versioning(
            Bucket=lock_bucket, VersioningConfiguration={"Status": "Suspended"}
        )
    assert s3.get_bucket_versioning(Bucket=lock_bucket)["Status"] == "Enabled"


# --------------------------------------------------------------------------
# lock headers on writes


def test_put_object_with_retention_headers(s3, lock_bucket):
    until = later(hours=1)
    vid = put_locked(s3, lock_bucket, "k", "GOVERNANCE", until)
    assert lock_state(s3.head_object(Bucket=lock_bucket, Key="k")) == ("GOVERNANCE", until, None)
    got = s3.get_object(Bucket=lock_bucket, Key="k", VersionId=vid)
    assert got["Body"].read() == b"locked"
    assert lock_state(got) == ("GOVERNANCE", until, None)


@pytest.mark.moto_gap("moto does not validate the retention headers")
def test_retention_headers_come_together_and_in_the_future(s3, lock_bucket):
    with expect_error("InvalidArgument", 400):
        s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE")
    with expect_error("InvalidArgument", 400):
        s3.put_object(
            Bucket=lock_bucket, Key="k", Body=b"x", ObjectLockRetainUntilDate=later(hours=1)
        )
    with expect_error("InvalidArgument", 400):
        put_locked(s3, lock_bucket, "k", "GOVERNANCE", now() - dt.timedelta(hours=1))
    assert s3.list_object_versions(Bucket=lock_bucket).get("Versions", []) == []


def test_lock_headers_on_a_bucket_without_lock_are_invalid_request(s3, bucket):
    with expect_error("InvalidRequest", 400):
        put_locked(s3, bucket, "k", "GOVERNANCE", later(hours=1))
    with expect_error("InvalidRequest", 400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON")
    with expect_error(("NoSuchKey", "404"), 404):
        s3.head_object(Bucket=bucket, Key="k")


@pytest.mark.moto_gap(
    "moto refuses CopyObject into a default-retention bucket without Content-MD5 "
    "(MissingUploadObjectWithObjectLockHeaders)"
)
def test_copy_into_a_lock_bucket_takes_the_default_retention(s3, bucket, lock_bucket):
    default_retention(s3, lock_bucket, Mode="GOVERNANCE", Days=1)
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    s3.copy_object(Bucket=lock_bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    head = s3.head_object(Bucket=lock_bucket, Key="dst")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert_about(head["ObjectLockRetainUntilDate"], now() + dt.timedelta(days=1))
    # The source bucket has no lock and its object none.
    assert lock_state(s3.head_object(Bucket=bucket, Key="src")) == (None, None, None)


@pytest.mark.moto_gap("moto drops CreateMultipartUpload's lock headers")
def test_multipart_upload_with_lock_headers(s3, lock_bucket):
    until = later(hours=1)
    up = s3.create_multipart_upload(
        Bucket=lock_bucket, Key="mp", ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=until, ObjectLockLegalHoldStatus="ON",
    )
    part = s3.upload_part(
        Bucket=lock_bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"only part"
    )
    done = s3.complete_multipart_upload(
        Bucket=lock_bucket, Key="mp", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    head = s3.head_object(Bucket=lock_bucket, Key="mp", VersionId=done["VersionId"])
    assert lock_state(head) == ("GOVERNANCE", until, "ON")


# --------------------------------------------------------------------------
# deleting locked versions


def test_governance_blocks_deleting_a_version_unless_bypassed(s3, lock_bucket):
    vid = put_locked(s3, lock_bucket, "k", "GOVERNANCE", later(hours=1))
    with expect_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid)
    # A delete without a version id only adds a delete marker: the version stays.
    deleted = s3.delete_object(Bucket=lock_bucket, Key="k")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"] != vid
    assert s3.get_object(Bucket=lock_bucket, Key="k", VersionId=vid)["Body"].read() == b"locked"
    # With the bypass header the version goes.
    gone = s3.delete_object(
        Bucket=lock_bucket, Key="k", VersionId=vid, BypassGovernanceRetention=True
    )
    assert gone["VersionId"] == vid
    with expect_error("NoSuchVersion", 404):
        s3.get_object(Bucket=lock_bucket, Key="k", VersionId=vid)


def test_compliance_blocks_deleting_a_version_even_with_bypass(s3, lock_bucket):
    vid = put_locked(s3, lock_bucket, "k", "COMPLIANCE", compliance_until())
    with expect_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid)
    with expect_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid, BypassGovernanceRetention=True)
    assert s3.delete_object(Bucket=lock_bucket, Key="k")["DeleteMarker"] is True
    assert s3.head_object(Bucket=lock_bucket, Key="k", VersionId=vid)["ObjectLockMode"] == "COMPLIANCE"


def test_delete_objects_reports_locked_versions(s3, lock_bucket):
    plain = s3.put_object(Bucket=lock_bucket, Key="plain", Body=b"x")["VersionId"]
    gov = put_locked(s3, lock_bucket, "gov", "GOVERNANCE", later(hours=1))
    comp = put_locked(s3, lock_bucket, "comp", "COMPLIANCE", compliance_until())
    doomed = [
        {"Key": "plain", "VersionId": plain},
        {"Key": "gov", "VersionId": gov},
        {"Key": "comp", "VersionId": comp},
    ]
    resp = s3.delete_objects(Bucket=lock_bucket, Delete={"Objects": doomed})
    assert [(d["Key"], d["VersionId"]) for d in resp.get("Deleted", [])] == [("plain", plain)]
    errors = {e["Key"]: e for e in resp.get("Errors", [])}
    assert sorted(errors) == ["comp", "gov"]
    assert {k: e["Code"] for k, e in errors.items()} == {"comp": "AccessDenied", "gov": "AccessDenied"}
    # With the bypass the GOVERNANCE version goes; the COMPLIANCE one still may not.
    resp = s3.delete_objects(
        Bucket=lock_bucket, Delete={"Objects": doomed[1:]}, BypassGovernanceRetention=True
    )
    assert [(d["Key"], d["VersionId"]) for d in resp.get("Deleted", [])] == [("gov", gov)]
    assert [(e["Key"], e["Code"]) for e in resp.get("Errors", [])] == [("comp", "AccessDenied")]
    left = s3.list_object_versions(Bucket=lock_bucket)["Versions"]
    assert [(v["Key"], v["VersionId"]) for v in left] == [("comp", comp)]
    # Each <Error> names the version it failed on.
    if not ON_MOTO:  # moto leaves VersionId off DeleteObjects' errors
        assert errors["gov"].get("VersionId") == gov and errors["comp"].get("VersionId") == comp
        assert resp["Errors"][0].get("VersionId") == comp


# --------------------------------------------------------------------------
# retention


@pytest.mark.moto_gap("moto lets GOVERNANCE retention be shortened without the bypass header")
def test_governance_retention_extends_freely_and_shortens_only_with_bypass(s3, lock_bucket):
    first = later(hours=1)
    put_locked(s3, lock_bucket, "k", "GOVERNANCE", first)
    longer = later(hours=2)
    set_retention(s3, lock_bucket, "k", "GOVERNANCE", longer)
    assert lock_of(s3, lock_bucket, "k") == ("GOVERNANCE", longer)
    with expect_error("AccessDenied", 403):
        set_retention(s3, lock_bucket, "k", "GOVERNANCE", first)
    assert lock_of(s3, lock_bucket, "k") == ("GOVERNANCE", longer)
    set_retention(s3, lock_bucket, "k", "GOVERNANCE", first, BypassGovernanceRetention=True)
    assert lock_of(s3, lock_bucket, "k") == ("GOVERNANCE", first)


def test_retention_can_be_set_on_an_unlocked_object(s3, lock_bucket):
    s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x")
    until = later(hours=1)
    set_retention(s3, lock_bucket, "k", "GOVERNANCE", until)
    assert lock_of(s3, lock_bucket, "k") == ("GOVERNANCE", until)


@pytest.mark.moto_gap("moto accepts a retain-until date in the past")
def test_a_retention_date_in_the_past_is_invalid_argument(s3, lock_bucket):
    s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x")
    with expect_error("InvalidArgument", 400):
        set_retention(s3, lock_bucket, "k", "GOVERNANCE", now() - dt.timedelta(hours=1))
    assert lock_of(s3, lock_bucket, "k") == (None, None)


@pytest.mark.moto_gap("moto lets COMPLIANCE retention be shortened and weakened")
def test_compliance_retention_only_grows(s3, lock_bucket):
    until = compliance_until()
    put_locked(s3, lock_bucket, "k", "GOVERNANCE", until)
    # GOVERNANCE -> COMPLIANCE strengthens the lock: allowed.
    set_retention(s3, lock_bucket, "k", "COMPLIANCE", until)
    assert lock_of(s3, lock_bucket, "k") == ("COMPLIANCE", until)
    with expect_error("AccessDenied", 403):
        set_retention(s3, lock_bucket, "k", "COMPLIANCE", until - dt.timedelta(seconds=2),
                      BypassGovernanceRetention=True)
    with expect_error("AccessDenied", 403):
        set_retention(s3, lock_bucket, "k", "GOVERNANCE", until, BypassGovernanceRetention=True)
    assert lock_of(s3, lock_bucket, "k") == ("COMPLIANCE", until)
    # Extending is allowed.
    longer = until + dt.timedelta(seconds=1)
    set_retention(s3, lock_bucket, "k", "COMPLIANCE", longer)
    assert lock_of(s3, lock_bucket, "k") == ("COMPLIANCE", longer)


GET_RETENTION_GAP = "moto has no GetObjectRetention (GET ?retention answers the object, a 500)"


@pytest.mark.moto_gap(GET_RETENTION_GAP)
def test_get_object_retention(s3, lock_bucket):
    until = later(hours=1)
    v1 = put_locked(s3, lock_bucket, "k", "GOVERNANCE", until)
    assert retention_of(s3, lock_bucket, "k") == ("GOVERNANCE", until)
    # A version without retention has no lock configuration.
    v2 = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"newer")["VersionId"]
    with expect_error("NoSuchObjectLockConfiguration", 404):
        s3.get_object_retention(Bucket=lock_bucket, Key="k")
    with expect_error("NoSuchObjectLockConfiguration", 404):
        s3.get_object_retention(Bucket=lock_bucket, Key="k", VersionId=v2)
    assert retention_of(s3, lock_bucket, "k", VersionId=v1) == ("GOVERNANCE", until)
    longer = later(hours=3)
    set_retention(s3, lock_bucket, "k", "GOVERNANCE", longer, VersionId=v1)
    assert retention_of(s3, lock_bucket, "k", VersionId=v1) == ("GOVERNANCE", longer)


def test_retention_acts_on_a_version_by_id(s3, lock_bucket):
    until = later(hours=1)
    v1 = put_locked(s3, lock_bucket, "k", "GOVERNANCE", until)
    v2 = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"newer")["VersionId"]
    assert lock_of(s3, lock_bucket, "k", VersionId=v1) == ("GOVERNANCE", until)
    assert lock_of(s3, lock_bucket, "k") == (None, None)
    longer = later(hours=3)
    set_retention(s3, lock_bucket, "k", "GOVERNANCE", longer, VersionId=v1)
    assert lock_of(s3, lock_bucket, "k", VersionId=v1) == ("GOVERNANCE", longer)
    assert lock_of(s3, lock_bucket, "k", VersionId=v2) == (None, None)
    # The newer version is not locked: it deletes; the older one does not.
    s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=v2)
    with expect_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=v1)
    # And a retention put on the newer version by id locks only it.
    v3 = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"newest")["VersionId"]
    set_retention(s3, lock_bucket, "k", "GOVERNANCE", until, VersionId=v3)
    assert lock_of(s3, lock_bucket, "k") == ("GOVERNANCE", until)
    assert lock_of(s3, lock_bucket, "k", VersionId=v1) == ("GOVERNANCE", longer)


@pytest.mark.moto_gap(GET_RETENTION_GAP)
def test_get_object_retention_needs_a_lock_bucket(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with expect_error("InvalidRequest", 400):
        s3.get_object_retention(Bucket=bucket, Key="k")


@pytest.mark.moto_gap("moto accepts PutObjectRetention on a bucket without Object Lock")
def test_retention_and_legal_hold_need_a_lock_bucket(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with expect_error("InvalidRequest", 400):
        set_retention(s3, bucket, "k", "GOVERNANCE", later(hours=1))
    with expect_error("InvalidRequest", 400):
        s3.get_object_legal_hold(Bucket=bucket, Key="k")
    with expect_error("InvalidRequest", 400):
        legal_hold(s3, bucket, "k", "ON")


# --------------------------------------------------------------------------
# legal hold


def test_legal_hold_blocks_deleting_a_version_until_turned_off(s3, lock_bucket):
    vid = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x")["VersionId"]
    legal_hold(s3, lock_bucket, "k", "ON")
    hold = s3.get_object_legal_hold(Bucket=lock_bucket, Key="k")["LegalHold"]
    assert hold == {"Status": "ON"}
    head = s3.head_object(Bucket=lock_bucket, Key="k")
    assert lock_state(head) == (None, None, "ON")
    with expect_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid)
    with expect_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid, BypassGovernanceRetention=True)
    legal_hold(s3, lock_bucket, "k", "OFF", VersionId=vid)
    assert s3.get_object_legal_hold(Bucket=lock_bucket, Key="k", VersionId=vid)["LegalHold"] == {
        "Status": "OFF"
    }
    assert s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=vid)["VersionId"] == vid
    assert s3.list_object_versions(Bucket=lock_bucket).get("Versions", []) == []


def test_put_object_with_a_legal_hold(s3, lock_bucket):
    vid = s3.put_object(
        Bucket=lock_bucket, Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON"
    )["VersionId"]
    assert lock_state(s3.head_object(Bucket=lock_bucket, Key="k")) == (None, None, "ON")
    hold = s3.get_object_legal_hold(Bucket=lock_bucket, Key="k", VersionId=vid)["LegalHold"]
    assert hold == {"Status": "ON"}
    # The hold is independent of retention: there is none.
    assert lock_of(s3, lock_bucket, "k", VersionId=vid) == (None, None)


def test_legal_hold_is_per_version(s3, lock_bucket):
    v1 = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=lock_bucket, Key="k", Body=b"2")["VersionId"]
    legal_hold(s3, lock_bucket, "k", "ON", VersionId=v1)
    assert s3.head_object(Bucket=lock_bucket, Key="k", VersionId=v1)["ObjectLockLegalHoldStatus"] == "ON"
    assert "ObjectLockLegalHoldStatus" not in s3.head_object(Bucket=lock_bucket, Key="k", VersionId=v2)
    s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=v2)
    with expect_error("AccessDenied", 403):
        s3.delete_object(Bucket=lock_bucket, Key="k", VersionId=v1)


@pytest.mark.moto_gap("moto answers GetObjectLegalHold of a version that never had one with 200")
def test_get_object_legal_hold_without_one(s3, lock_bucket):
    s3.put_object(Bucket=lock_bucket, Key="k", Body=b"x")
    with expect_error("NoSuchObjectLockConfiguration", 404):
        s3.get_object_legal_hold(Bucket=lock_bucket, Key="k")

"""Multipart uploads: the low-level API (create / upload_part / upload_part_copy /
complete / abort / list_parts / list_multipart_uploads) and its errors, boto3's
transfer manager (upload_file / download_file / *_fileobj), multipart checksums
(COMPOSITE "-N" and FULL_OBJECT) and GET/HEAD ?partNumber.

Every non-last part must be >= 5 MiB, so the tests that complete several parts
use 5 MiB parts; listing and error tests use tiny parts (sizes are only checked
by CompleteMultipartUpload). Big transfer-manager files live in pytest's tmp_path.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
from urllib.parse import unquote_plus

import pytest
from boto3.s3.transfer import TransferConfig

from s3util import (
    ACCESS_KEY,
    CHECKSUM_FIELD,
    ENDPOINT,
    REGION,
    SECRET_KEY,
    RequestRecorder,
    checksum_b64,
    expect_error,
    http,
    make_client,
    payload,
    quoted_md5,
)
from sigv4raw import (
    STREAMING_SIGNED,
    STREAMING_SIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
    Signer,
    key_path,
    signed_chunked_body,
)

MIB = 1024 * 1024
PART_1 = payload(5 * MIB, seed=101)
PART_2 = payload(5 * MIB, seed=102)
TAIL = payload(123_457, seed=103)
COMPOSITE_ALGORITHMS = ["CRC32", "CRC32C", "SHA1", "SHA256"]


# ---------------------------------------------------------------- helpers


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def composite_checksum(algorithm: str, parts: list[bytes]) -> str:
    raw = b"".join(base64.b64decode(checksum_b64(algorithm, p)) for p in parts)
    return f"{checksum_b64(algorithm, raw)}-{len(parts)}"


def chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def random_file(path, size: int) -> str:
    """Writes `size` random bytes; returns their sha256."""
    h = hashlib.sha256()
    with open(path, "wb") as fh:
        left = size
        while left:
            block = os.urandom(min(left, 4 * MIB))
            h.update(block)
            fh.write(block)
            left -= len(block)
    return h.hexdigest()


def abort_all(client, bucket: str) -> None:
    page = client.list_multipart_uploads(Bucket=bucket)
    for u in page.get("Uploads", []):
        try:
            client.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
        except Exception:  # noqa: BLE001 - best effort cleanup
            pass


@pytest.fixture
def mpu_bucket(s3, bucket):
    """A bucket whose unfinished uploads are aborted before it is deleted."""
    yield bucket
    abort_all(s3, bucket)


@pytest.fixture(scope="module")
def plain():
    """A client that adds no checksum of its own (parts carry none unless asked)."""
    return make_client(request_checksum_calculation="when_required")


def upload_parts(client, bucket, key, upload_id, parts, **kw):
    """Uploads parts 1..N; returns the CompletedPart list (ETag + any checksum)."""
    done = []
    for n, data in enumerate(parts, start=1):
        resp = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=n, Body=data, **kw)
        assert resp["ETag"] == quoted_md5(data)
        entry = {"PartNumber": n, "ETag": resp["ETag"]}
        for field in CHECKSUM_FIELD.values():
            if field in resp:
                entry[field] = resp[field]
        done.append(entry)
    return done


def complete(client, bucket, key, upload_id, parts, **kw):
    return client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}, **kw
    )


def multipart_object(client, bucket, key, parts, **create_kw):
    up = client.create_multipart_upload(Bucket=bucket, Key=key, **create_kw)
    done = upload_parts(client, bucket, key, up["UploadId"], parts)
    return complete(client, bucket, key, up["UploadId"], done)


# ---------------------------------------------------------------- low level: happy paths


def test_create_upload_complete_round_trip(s3, plain, mpu_bucket):
    key = "dir/multi part+key.bin"
    up = s3.create_multipart_upload(
        Bucket=mpu_bucket,
        Key=key,
        ContentType="application/x-multi",
        CacheControl="max-age=30",
        ContentDisposition='attachment; filename="m.bin"',
        Metadata={"colour": "green", "stage": "initiate"},
    )
    assert up["Bucket"] == mpu_bucket and up["Key"] == key and up["UploadId"]
    listed = s3.list_multipart_uploads(Bucket=mpu_bucket)
    assert [(u["Key"], u["UploadId"]) for u in listed["Uploads"]] == [(key, up["UploadId"])]

    parts = [PART_1, PART_2, TAIL]
    done = upload_parts(plain, mpu_bucket, key, up["UploadId"], parts)
    resp = complete(plain, mpu_bucket, key, up["UploadId"], done)
    assert resp["ETag"] == multipart_etag(parts)
    assert resp["Bucket"] == mpu_bucket and resp["Key"] == key
    assert resp["Location"]

    data = b"".join(parts)
    got = s3.get_object(Bucket=mpu_bucket, Key=key)
    assert got["Body"].read() == data
    assert got["ContentLength"] == len(data)
    assert got["ETag"] == multipart_etag(parts)
    # metadata and content headers are fixed when the upload is created
    assert got["ContentType"] == "application/x-multi"
    assert got["CacheControl"] == "max-age=30"
    assert got["ContentDisposition"] == 'attachment; filename="m.bin"'
    assert got["Metadata"] == {"colour": "green", "stage": "initiate"}

    # the upload is gone once completed
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=mpu_bucket)
    with expect_error("NoSuchUpload", 404):
        s3.list_parts(Bucket=mpu_bucket, Key=key, UploadId=up["UploadId"])
    listing = s3.list_objects_v2(Bucket=mpu_bucket)["Contents"]
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listing] == [(key, len(data), multipart_etag(parts))]


def test_single_small_part(plain, mpu_bucket):
    """The last part may be small; an upload of one small part is the degenerate case."""
    resp = multipart_object(plain, mpu_bucket, "one", [b"just one small part"])
    assert resp["ETag"] == multipart_etag([b"just one small part"])
    assert plain.get_object(Bucket=mpu_bucket, Key="one")["Body"].read() == b"just one small part"


def test_complete_replaces_existing_object(plain, mpu_bucket):
    plain.put_object(Bucket=mpu_bucket, Key="k", Body=b"old", Metadata={"old": "yes"})
    multipart_object(plain, mpu_bucket, "k", [PART_1, TAIL], Metadata={"new": "yes"})
    got = plain.get_object(Bucket=mpu_bucket, Key="k")
    assert got["Body"].read() == PART_1 + TAIL
    assert got["Metadata"] == {"new": "yes"}


def test_upload_part_again_replaces_it(plain, mpu_bucket):
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="re")
    uid = up["UploadId"]
    first = plain.upload_part(Bucket=mpu_bucket, Key="re", UploadId=uid, PartNumber=1, Body=b"first")
    second = plain.upload_part(Bucket=mpu_bucket, Key="re", UploadId=uid, PartNumber=1, Body=b"second!")
    parts = plain.list_parts(Bucket=mpu_bucket, Key="re", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, second["ETag"], 7)]
    with expect_error("InvalidPart", 400):
        complete(plain, mpu_bucket, "re", uid, [{"PartNumber": 1, "ETag": first["ETag"]}])
    complete(plain, mpu_bucket, "re", uid, [{"PartNumber": 1, "ETag": second["ETag"]}])
    assert plain.get_object(Bucket=mpu_bucket, Key="re")["Body"].read() == b"second!"


def complete_parts_2_and_7(client, bucket):
    """Uploads parts 2, 5 and 7 and completes with 2 and 7 only."""
    up = client.create_multipart_upload(Bucket=bucket, Key="gaps")
    uid = up["UploadId"]
    etags = {}
    for n, data in [(2, PART_1), (5, b"left out"), (7, TAIL)]:
        etags[n] = client.upload_part(Bucket=bucket, Key="gaps", UploadId=uid, PartNumber=n, Body=data)["ETag"]
    return complete(client, bucket, "gaps", uid, [{"PartNumber": n, "ETag": etags[n]} for n in (2, 7)])


def test_complete_with_a_subset_of_parts(plain, mpu_bucket):
    """Part numbers need not be contiguous; uploaded parts left out are discarded."""
    resp = complete_parts_2_and_7(plain, mpu_bucket)
    assert resp["ETag"] == multipart_etag([PART_1, TAIL])
    assert plain.get_object(Bucket=mpu_bucket, Key="gaps")["Body"].read() == PART_1 + TAIL
    assert "Uploads" not in plain.list_multipart_uploads(Bucket=mpu_bucket)


@pytest.mark.moto_gap("PartsCount counts every uploaded part, not the completed ones")
def test_parts_count_is_completed_parts(plain, mpu_bucket):
    complete_parts_2_and_7(plain, mpu_bucket)
    head = plain.head_object(Bucket=mpu_bucket, Key="gaps", PartNumber=2)
    assert head["PartsCount"] == 2
    assert head["ContentLength"] == len(TAIL)


def test_complete_accepts_unquoted_etags(plain, mpu_bucket):
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="uq")
    done = upload_parts(plain, mpu_bucket, "uq", up["UploadId"], [PART_1, TAIL])
    for p in done:
        p["ETag"] = p["ETag"].strip('"')
    resp = complete(plain, mpu_bucket, "uq", up["UploadId"], done)
    assert resp["ETag"] == multipart_etag([PART_1, TAIL])


def test_empty_last_part(plain, mpu_bucket):
    resp = multipart_object(plain, mpu_bucket, "empty-last", [PART_1, b""])
    assert resp["ETag"] == multipart_etag([PART_1, b""])
    got = plain.get_object(Bucket=mpu_bucket, Key="empty-last")
    assert got["ContentLength"] == len(PART_1)
    assert got["Body"].read() == PART_1


def test_several_uploads_for_one_key_are_independent(plain, mpu_bucket):
    a = plain.create_multipart_upload(Bucket=mpu_bucket, Key="same")["UploadId"]
    b = plain.create_multipart_upload(Bucket=mpu_bucket, Key="same")["UploadId"]
    assert a != b
    done_a = upload_parts(plain, mpu_bucket, "same", a, [b"from a"])
    done_b = upload_parts(plain, mpu_bucket, "same", b, [b"from b"])
    assert plain.list_parts(Bucket=mpu_bucket, Key="same", UploadId=a)["Parts"][0]["ETag"] == quoted_md5(b"from a")
    complete(plain, mpu_bucket, "same", b, done_b)
    # a is still in progress and can complete afterwards; the last completion wins
    assert [u["UploadId"] for u in plain.list_multipart_uploads(Bucket=mpu_bucket)["Uploads"]] == [a]
    complete(plain, mpu_bucket, "same", a, done_a)
    assert plain.get_object(Bucket=mpu_bucket, Key="same")["Body"].read() == b"from a"


# ---------------------------------------------------------------- low level: errors


def test_complete_invalid_part(plain, mpu_bucket):
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="bad")
    uid = up["UploadId"]
    done = upload_parts(plain, mpu_bucket, "bad", uid, [PART_1, TAIL])
    with expect_error("InvalidPart", 400):  # wrong ETag
        complete(plain, mpu_bucket, "bad", uid, [done[0], {"PartNumber": 2, "ETag": quoted_md5(b"nope")}])
    with expect_error("InvalidPart", 400):  # part never uploaded
        complete(plain, mpu_bucket, "bad", uid, [done[0], done[1], {"PartNumber": 3, "ETag": done[1]["ETag"]}])
    # a failed completion leaves the upload intact
    assert len(plain.list_parts(Bucket=mpu_bucket, Key="bad", UploadId=uid)["Parts"]) == 2
    with expect_error("NoSuchKey", 404):
        plain.get_object(Bucket=mpu_bucket, Key="bad")
    complete(plain, mpu_bucket, "bad", uid, done)
    assert plain.get_object(Bucket=mpu_bucket, Key="bad")["Body"].read() == PART_1 + TAIL


@pytest.mark.moto_gap("accepts a descending parts list")
def test_complete_invalid_part_order(plain, mpu_bucket):
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="order")
    done = upload_parts(plain, mpu_bucket, "order", up["UploadId"], [PART_1, PART_2])
    with expect_error("InvalidPartOrder", 400):
        complete(plain, mpu_bucket, "order", up["UploadId"], [done[1], done[0]])
    with expect_error("InvalidPartOrder", 400):
        complete(plain, mpu_bucket, "order", up["UploadId"], [done[0], done[0]])


def test_complete_entity_too_small(plain, mpu_bucket):
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="small")
    uid = up["UploadId"]
    done = upload_parts(plain, mpu_bucket, "small", uid, [b"x" * (5 * MIB - 1), TAIL])
    with expect_error("EntityTooSmall", 400):
        complete(plain, mpu_bucket, "small", uid, done)
    with expect_error("NoSuchKey", 404):
        plain.get_object(Bucket=mpu_bucket, Key="small")
    # the same small part is fine as the last one
    complete(plain, mpu_bucket, "small", uid, done[:1])
    assert plain.head_object(Bucket=mpu_bucket, Key="small")["ContentLength"] == 5 * MIB - 1


def test_complete_without_parts_is_malformed(plain, mpu_bucket):
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="none")
    upload_parts(plain, mpu_bucket, "none", up["UploadId"], [b"x"])
    with expect_error(("MalformedXML", "InvalidRequest"), 400):
        complete(plain, mpu_bucket, "none", up["UploadId"], [])


@pytest.mark.moto_gap("UploadPart to an unknown upload id is a 500")
def test_no_such_upload(s3, plain, mpu_bucket):
    bogus = "0123456789abcdef0123456789abcdef"
    with expect_error("NoSuchUpload", 404):
        plain.upload_part(Bucket=mpu_bucket, Key="k", UploadId=bogus, PartNumber=1, Body=b"x")
    with expect_error("NoSuchUpload", 404):
        s3.list_parts(Bucket=mpu_bucket, Key="k", UploadId=bogus)
    with expect_error("NoSuchUpload", 404):
        complete(plain, mpu_bucket, "k", bogus, [{"PartNumber": 1, "ETag": quoted_md5(b"x")}])
    with expect_error("NoSuchUpload", 404):
        s3.abort_multipart_upload(Bucket=mpu_bucket, Key="k", UploadId=bogus)


@pytest.mark.moto_gap("an upload id works under any key")
def test_upload_id_belongs_to_its_key(plain, mpu_bucket):
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="mine")
    done = upload_parts(plain, mpu_bucket, "mine", up["UploadId"], [b"x"])
    with expect_error("NoSuchUpload", 404):
        plain.upload_part(Bucket=mpu_bucket, Key="other", UploadId=up["UploadId"], PartNumber=1, Body=b"x")
    with expect_error("NoSuchUpload", 404):
        complete(plain, mpu_bucket, "other", up["UploadId"], done)
    with expect_error("NoSuchUpload", 404):
        plain.list_parts(Bucket=mpu_bucket, Key="other", UploadId=up["UploadId"])


def test_upload_in_missing_bucket(plain, mpu_bucket):
    with expect_error("NoSuchBucket", 404):
        plain.create_multipart_upload(Bucket=mpu_bucket + "-missing", Key="k")


@pytest.mark.parametrize(
    "number", [pytest.param(0, marks=pytest.mark.moto_gap("partNumber=0 is NoSuchUpload")), 10001]
)
def test_part_number_out_of_range(plain, mpu_bucket, number):
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="pn")
    with expect_error("InvalidArgument", 400):
        plain.upload_part(Bucket=mpu_bucket, Key="pn", UploadId=up["UploadId"], PartNumber=number, Body=b"x")


def test_highest_part_number(plain, mpu_bucket):
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="pn")
    r = plain.upload_part(Bucket=mpu_bucket, Key="pn", UploadId=up["UploadId"], PartNumber=10000, Body=b"x")
    complete(plain, mpu_bucket, "pn", up["UploadId"], [{"PartNumber": 10000, "ETag": r["ETag"]}])
    assert plain.get_object(Bucket=mpu_bucket, Key="pn")["Body"].read() == b"x"


def test_abort(s3, plain, mpu_bucket):
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="gone")
    uid = up["UploadId"]
    upload_parts(plain, mpu_bucket, "gone", uid, [PART_1, TAIL])
    resp = s3.abort_multipart_upload(Bucket=mpu_bucket, Key="gone", UploadId=uid)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=mpu_bucket)
    with expect_error("NoSuchUpload", 404):
        s3.list_parts(Bucket=mpu_bucket, Key="gone", UploadId=uid)
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=mpu_bucket, Key="gone")
    assert s3.list_objects_v2(Bucket=mpu_bucket)["KeyCount"] == 0


@pytest.mark.moto_gap("UploadPart / CompleteMultipartUpload of an aborted upload is a 500")
def test_upload_part_and_complete_after_abort(plain, mpu_bucket):
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="gone")
    done = upload_parts(plain, mpu_bucket, "gone", up["UploadId"], [b"early"])
    plain.abort_multipart_upload(Bucket=mpu_bucket, Key="gone", UploadId=up["UploadId"])
    with expect_error("NoSuchUpload", 404):
        plain.upload_part(Bucket=mpu_bucket, Key="gone", UploadId=up["UploadId"], PartNumber=2, Body=b"late")
    with expect_error("NoSuchUpload", 404):
        complete(plain, mpu_bucket, "gone", up["UploadId"], done)
    with expect_error("NoSuchKey", 404):
        plain.get_object(Bucket=mpu_bucket, Key="gone")


def test_abort_leaves_existing_object(plain, mpu_bucket):
    plain.put_object(Bucket=mpu_bucket, Key="keep", Body=b"original")
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="keep")
    upload_parts(plain, mpu_bucket, "keep", up["UploadId"], [b"replacement"])
    plain.abort_multipart_upload(Bucket=mpu_bucket, Key="keep", UploadId=up["UploadId"])
    assert plain.get_object(Bucket=mpu_bucket, Key="keep")["Body"].read() == b"original"


def test_uploads_are_not_objects(plain, mpu_bucket):
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="pending")
    upload_parts(plain, mpu_bucket, "pending", up["UploadId"], [b"x"])
    assert plain.list_objects_v2(Bucket=mpu_bucket)["KeyCount"] == 0
    with expect_error("NoSuchKey", 404):
        plain.get_object(Bucket=mpu_bucket, Key="pending")


# ---------------------------------------------------------------- ListParts


@pytest.mark.moto_gap("PartNumberMarker is taken as an index, not a part number")
def test_list_parts_pagination(plain, mpu_bucket):
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="lp")
    uid = up["UploadId"]
    sizes = {1: 10, 2: 20, 3: 30, 5: 50, 8: 80}
    etags = {}
    for n, size in sizes.items():
        etags[n] = plain.upload_part(
            Bucket=mpu_bucket, Key="lp", UploadId=uid, PartNumber=n, Body=b"p" * size
        )["ETag"]

    full = plain.list_parts(Bucket=mpu_bucket, Key="lp", UploadId=uid)
    assert full["Bucket"] == mpu_bucket and full["Key"] == "lp" and full["UploadId"] == uid
    assert full["IsTruncated"] is False
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in full["Parts"]] == [
        (n, sizes[n], etags[n]) for n in sorted(sizes)
    ]
    assert all(p["LastModified"] for p in full["Parts"])
    assert full["StorageClass"] == "STANDARD"

    seen = []
    marker = 0
    pages = 0
    while True:
        page = plain.list_parts(Bucket=mpu_bucket, Key="lp", UploadId=uid, MaxParts=2, PartNumberMarker=marker)
        pages += 1
        assert page["MaxParts"] == 2
        assert page["PartNumberMarker"] == marker
        seen += [p["PartNumber"] for p in page["Parts"]]
        assert len(page["Parts"]) <= 2
        if not page["IsTruncated"]:
            break
        marker = page["NextPartNumberMarker"]
        assert marker == page["Parts"][-1]["PartNumber"]
    assert seen == sorted(sizes)
    assert pages == 3

    after = plain.list_parts(Bucket=mpu_bucket, Key="lp", UploadId=uid, PartNumberMarker=3)
    assert [p["PartNumber"] for p in after["Parts"]] == [5, 8]


def test_list_parts_of_empty_upload(plain, mpu_bucket):
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="empty")
    resp = plain.list_parts(Bucket=mpu_bucket, Key="empty", UploadId=up["UploadId"])
    assert resp.get("Parts", []) == []
    assert resp["IsTruncated"] is False


def test_list_parts_paginator(plain, mpu_bucket):
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="pg")
    for n in range(1, 8):
        plain.upload_part(Bucket=mpu_bucket, Key="pg", UploadId=up["UploadId"], PartNumber=n, Body=b"x" * n)
    pages = plain.get_paginator("list_parts").paginate(
        Bucket=mpu_bucket, Key="pg", UploadId=up["UploadId"], PaginationConfig={"PageSize": 3}
    )
    numbers = [p["PartNumber"] for page in pages for p in page.get("Parts", [])]
    assert numbers == list(range(1, 8))


# ---------------------------------------------------------------- ListMultipartUploads


def _uploads(page):
    return [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]


def test_list_multipart_uploads_fields(s3, plain, mpu_bucket):
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="f/one")
    page = s3.list_multipart_uploads(Bucket=mpu_bucket)
    assert page["Bucket"] == mpu_bucket
    assert page["IsTruncated"] is False
    assert page["MaxUploads"] == 1000
    (u,) = page["Uploads"]
    assert (u["Key"], u["UploadId"]) == ("f/one", up["UploadId"])
    assert u["Initiated"] is not None
    assert u["StorageClass"] == "STANDARD"
    assert u["Initiator"]["ID"] and u["Owner"]["ID"]


def _tree_of_uploads(client, bucket):
    return {
        key: client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        for key in ["a/1", "a/2", "a/deep/3", "b/1", "c", "d+e f"]
    }


def test_list_multipart_uploads_prefix(s3, plain, mpu_bucket):
    ids = _tree_of_uploads(plain, mpu_bucket)
    full = s3.list_multipart_uploads(Bucket=mpu_bucket)
    assert _uploads(full) == [(k, ids[k]) for k in sorted(ids)]
    page = s3.list_multipart_uploads(Bucket=mpu_bucket, Prefix="a/")
    assert _uploads(page) == [(k, ids[k]) for k in ["a/1", "a/2", "a/deep/3"]]
    page = s3.list_multipart_uploads(Bucket=mpu_bucket, Prefix="zzz")
    assert "Uploads" not in page


@pytest.mark.moto_gap("ListMultipartUploads ignores Delimiter and echoes no Prefix")
def test_list_multipart_uploads_delimiter(s3, plain, mpu_bucket):
    ids = _tree_of_uploads(plain, mpu_bucket)
    page = s3.list_multipart_uploads(Bucket=mpu_bucket, Prefix="a/")
    assert page["Prefix"] == "a/"

    page = s3.list_multipart_uploads(Bucket=mpu_bucket, Delimiter="/")
    assert _uploads(page) == [("c", ids["c"]), ("d+e f", ids["d+e f"])]
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["a/", "b/"]
    assert page["Delimiter"] == "/"

    page = s3.list_multipart_uploads(Bucket=mpu_bucket, Prefix="a/", Delimiter="/")
    assert _uploads(page) == [("a/1", ids["a/1"]), ("a/2", ids["a/2"])]
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["a/deep/"]


@pytest.mark.moto_gap("ListMultipartUploads ignores KeyMarker")
def test_list_multipart_uploads_key_marker(s3, plain, mpu_bucket):
    ids = {k: plain.create_multipart_upload(Bucket=mpu_bucket, Key=k)["UploadId"] for k in ["k1", "k2", "k3"]}
    page = s3.list_multipart_uploads(Bucket=mpu_bucket, KeyMarker="k1")
    assert _uploads(page) == [("k2", ids["k2"]), ("k3", ids["k3"])]
    assert page["KeyMarker"] == "k1"


@pytest.mark.moto_gap("ListMultipartUploads ignores MaxUploads")
def test_list_multipart_uploads_pagination(s3, plain, mpu_bucket):
    created = []
    for key in ["p1", "p2", "p2", "p2", "p3", "p4"]:
        created.append((key, plain.create_multipart_upload(Bucket=mpu_bucket, Key=key)["UploadId"]))
    full = _uploads(s3.list_multipart_uploads(Bucket=mpu_bucket))
    assert sorted(full) == sorted(created)

    seen = []
    kw = {}
    pages = 0
    while True:
        page = s3.list_multipart_uploads(Bucket=mpu_bucket, MaxUploads=2, **kw)
        pages += 1
        assert page["MaxUploads"] == 2
        assert len(page.get("Uploads", [])) <= 2
        seen += _uploads(page)
        if not page["IsTruncated"]:
            break
        assert page["NextKeyMarker"] == page["Uploads"][-1]["Key"]
        assert page["NextUploadIdMarker"] == page["Uploads"][-1]["UploadId"]
        kw = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}
    assert seen == full
    assert pages == 3

    paged = s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=mpu_bucket, PaginationConfig={"PageSize": 4}
    )
    assert [(u["Key"], u["UploadId"]) for p in paged for u in p.get("Uploads", [])] == full


def test_list_multipart_uploads_same_key_in_initiation_order(s3, plain, mpu_bucket):
    """S3: uploads of one key are listed in ascending order of initiation time."""
    created = []
    for _ in range(5):
        created.append(plain.create_multipart_upload(Bucket=mpu_bucket, Key="same")["UploadId"])
        time.sleep(0.01)
    listed = s3.list_multipart_uploads(Bucket=mpu_bucket)["Uploads"]
    assert [u["UploadId"] for u in listed] == created
    initiated = [u["Initiated"] for u in listed]
    assert initiated == sorted(initiated)


@pytest.mark.moto_gap("ListMultipartUploads ignores encoding-type=url")
def test_list_multipart_uploads_encoding_type_url(s3, plain, mpu_bucket):
    key = "sp ace/\u00fcml+aut"
    uid = plain.create_multipart_upload(Bucket=mpu_bucket, Key=key)["UploadId"]
    page = s3.list_multipart_uploads(Bucket=mpu_bucket, Prefix="sp ace/")
    assert _uploads(page) == [(key, uid)]
    # unlike ListObjects, botocore neither asks for nor decodes encoding-type=url here
    page = s3.list_multipart_uploads(Bucket=mpu_bucket, EncodingType="url")
    assert page["EncodingType"] == "url"
    (listed,) = page["Uploads"]
    assert listed["Key"] != key and unquote_plus(listed["Key"]) == key


# ---------------------------------------------------------------- UploadPartCopy


@pytest.fixture
def copy_source(plain, mpu_bucket):
    data = payload(11 * MIB + 4321, seed=104)
    plain.put_object(Bucket=mpu_bucket, Key="source", Body=data)
    return data


def test_upload_part_copy_with_ranges(plain, mpu_bucket, copy_source):
    data = copy_source
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="assembled")
    uid = up["UploadId"]
    src = {"Bucket": mpu_bucket, "Key": "source"}
    cut = 6 * MIB
    r1 = plain.upload_part_copy(
        Bucket=mpu_bucket, Key="assembled", UploadId=uid, PartNumber=1,
        CopySource=src, CopySourceRange=f"bytes=0-{cut - 1}",
    )
    r2 = plain.upload_part_copy(
        Bucket=mpu_bucket, Key="assembled", UploadId=uid, PartNumber=2,
        CopySource=src, CopySourceRange=f"bytes={cut}-{len(data) - 1}",
    )
    assert r1["CopyPartResult"]["ETag"] == quoted_md5(data[:cut])
    assert r2["CopyPartResult"]["ETag"] == quoted_md5(data[cut:])
    assert r1["CopyPartResult"]["LastModified"] is not None
    r3 = plain.upload_part(Bucket=mpu_bucket, Key="assembled", UploadId=uid, PartNumber=3, Body=b"tail")

    parts = plain.list_parts(Bucket=mpu_bucket, Key="assembled", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, cut), (2, len(data) - cut), (3, 4)]

    resp = complete(plain, mpu_bucket, "assembled", uid, [
        {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]},
        {"PartNumber": 3, "ETag": r3["ETag"]},
    ])
    assert resp["ETag"] == multipart_etag([data[:cut], data[cut:], b"tail"])
    assert plain.get_object(Bucket=mpu_bucket, Key="assembled")["Body"].read() == data + b"tail"


def test_upload_part_copy_whole_object_and_from_multipart_source(plain, mpu_bucket, make_bucket):
    multipart_object(plain, mpu_bucket, "mp-src", [PART_1, TAIL])
    other = make_bucket("mpu-copy-dest")
    up = plain.create_multipart_upload(Bucket=other, Key="dst")
    uid = up["UploadId"]
    try:
        # no range: the whole source (itself a multipart object, crossing its part boundary)
        r1 = plain.upload_part_copy(
            Bucket=other, Key="dst", UploadId=uid, PartNumber=1, CopySource={"Bucket": mpu_bucket, "Key": "mp-src"}
        )
        r2 = plain.upload_part_copy(
            Bucket=other, Key="dst", UploadId=uid, PartNumber=2, CopySource=f"{mpu_bucket}/mp-src",
            CopySourceRange=f"bytes={5 * MIB - 10}-{5 * MIB + 9}",
        )
        assert r1["CopyPartResult"]["ETag"] == quoted_md5(PART_1 + TAIL)
        complete(plain, other, "dst", uid, [
            {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]},
        ])
    finally:
        abort_all(plain, other)
    whole = PART_1 + TAIL
    assert plain.get_object(Bucket=other, Key="dst")["Body"].read() == whole + whole[5 * MIB - 10 : 5 * MIB + 10]


@pytest.mark.moto_gap("accepts a copy-source-range beyond the source")
def test_upload_part_copy_range_beyond_source(plain, mpu_bucket):
    plain.put_object(Bucket=mpu_bucket, Key="small-src", Body=b"0123456789")
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="dst")
    src = {"Bucket": mpu_bucket, "Key": "small-src"}
    # AWS: 400 InvalidArgument "Range specified is not valid for source object of size: 10"
    with expect_error("InvalidArgument", 400):
        plain.upload_part_copy(
            Bucket=mpu_bucket, Key="dst", UploadId=up["UploadId"], PartNumber=1,
            CopySource=src, CopySourceRange="bytes=5-10",
        )


@pytest.mark.moto_gap("a missing copy source is a bare 404 without NoSuchKey")
def test_upload_part_copy_errors(plain, mpu_bucket):
    plain.put_object(Bucket=mpu_bucket, Key="src", Body=b"0123456789")
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="dst")
    with expect_error("NoSuchKey", 404):
        plain.upload_part_copy(
            Bucket=mpu_bucket, Key="dst", UploadId=up["UploadId"], PartNumber=1,
            CopySource={"Bucket": mpu_bucket, "Key": "missing"},
        )
    with expect_error("NoSuchUpload", 404):
        plain.upload_part_copy(
            Bucket=mpu_bucket, Key="dst", UploadId="0123456789abcdef0123456789abcdef", PartNumber=1,
            CopySource={"Bucket": mpu_bucket, "Key": "src"},
        )


def test_upload_part_copy_small_range(plain, mpu_bucket):
    plain.put_object(Bucket=mpu_bucket, Key="src", Body=b"0123456789")
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="dst")
    r = plain.upload_part_copy(
        Bucket=mpu_bucket, Key="dst", UploadId=up["UploadId"], PartNumber=1,
        CopySource={"Bucket": mpu_bucket, "Key": "src"}, CopySourceRange="bytes=3-3",
    )
    assert r["CopyPartResult"]["ETag"] == quoted_md5(b"3")
    complete(plain, mpu_bucket, "dst", up["UploadId"], [{"PartNumber": 1, "ETag": r["CopyPartResult"]["ETag"]}])
    assert plain.get_object(Bucket=mpu_bucket, Key="dst")["Body"].read() == b"3"


# ---------------------------------------------------------------- GET / HEAD ?partNumber


@pytest.fixture
def three_parts(plain, mpu_bucket):
    parts = [PART_1, PART_2, TAIL]
    resp = multipart_object(plain, mpu_bucket, "parts", parts)
    return parts, resp["ETag"]


@pytest.mark.moto_gap("answers ?partNumber of a multipart object with 200, not 206")
@pytest.mark.parametrize("number", [1, 2, 3])
def test_get_object_part_number(s3, mpu_bucket, three_parts, number):
    parts, etag = three_parts
    total = sum(len(p) for p in parts)
    start = sum(len(p) for p in parts[: number - 1])
    want = parts[number - 1]
    got = s3.get_object(Bucket=mpu_bucket, Key="parts", PartNumber=number)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["PartsCount"] == 3
    assert got["ContentLength"] == len(want)
    assert got["ContentRange"] == f"bytes {start}-{start + len(want) - 1}/{total}"
    assert got["ETag"] == etag
    assert got["Body"].read() == want

    head = s3.head_object(Bucket=mpu_bucket, Key="parts", PartNumber=number)
    assert head["PartsCount"] == 3
    assert head["ContentLength"] == len(want)
    assert head["ETag"] == etag


@pytest.mark.moto_gap("serves a partNumber beyond the last part")
def test_get_object_part_number_out_of_range(s3, mpu_bucket, three_parts):
    with expect_error(("InvalidPartNumber", "InvalidRange"), 416):
        s3.get_object(Bucket=mpu_bucket, Key="parts", PartNumber=4)
    with expect_error(("InvalidPartNumber", "InvalidRange", "416"), 416):
        s3.head_object(Bucket=mpu_bucket, Key="parts", PartNumber=4)


def test_get_single_part_object_part_number(s3, mpu_bucket):
    s3.put_object(Bucket=mpu_bucket, Key="plain", Body=b"not multipart")
    got = s3.get_object(Bucket=mpu_bucket, Key="plain", PartNumber=1)
    assert got["Body"].read() == b"not multipart"
    assert got["ContentLength"] == len(b"not multipart")
    head = s3.head_object(Bucket=mpu_bucket, Key="plain")
    assert "PartsCount" not in head


# ---------------------------------------------------------------- checksums (low level)


COMPOSITE_GAP = "COMPOSITE checksums lack the -N suffix (CRC32C also differs)"


@pytest.mark.moto_gap(COMPOSITE_GAP + "; no ChecksumAlgorithm in ListParts")
@pytest.mark.parametrize("algorithm", COMPOSITE_ALGORITHMS)
def test_composite_checksum(mpu_bucket, algorithm):
    client = make_client()
    field = CHECKSUM_FIELD[algorithm]
    parts = [PART_1, TAIL]
    up = client.create_multipart_upload(Bucket=mpu_bucket, Key="c", ChecksumAlgorithm=algorithm)
    assert up["ChecksumAlgorithm"] == algorithm
    uid = up["UploadId"]
    done = upload_parts(client, mpu_bucket, "c", uid, parts, ChecksumAlgorithm=algorithm)
    assert [p[field] for p in done] == [checksum_b64(algorithm, p) for p in parts]

    listed = client.list_parts(Bucket=mpu_bucket, Key="c", UploadId=uid)
    assert listed["ChecksumAlgorithm"] == algorithm
    assert [p[field] for p in listed["Parts"]] == [checksum_b64(algorithm, p) for p in parts]
    uploads = client.list_multipart_uploads(Bucket=mpu_bucket)["Uploads"]
    assert uploads[0]["ChecksumAlgorithm"] == algorithm

    resp = complete(client, mpu_bucket, "c", uid, done)
    expected = composite_checksum(algorithm, parts)
    assert resp[field] == expected
    assert resp["ChecksumType"] == "COMPOSITE"
    head = client.head_object(Bucket=mpu_bucket, Key="c", ChecksumMode="ENABLED")
    assert head[field] == expected
    assert head["ChecksumType"] == "COMPOSITE"
    got = client.get_object(Bucket=mpu_bucket, Key="c", ChecksumMode="ENABLED")
    assert got[field] == expected
    assert got["Body"].read() == PART_1 + TAIL


@pytest.mark.moto_gap("no FULL_OBJECT multipart checksums")
@pytest.mark.parametrize(
    "algorithm,checksum_type",
    [("CRC64NVME", None), ("CRC64NVME", "FULL_OBJECT"), ("CRC32", "FULL_OBJECT"), ("CRC32C", "FULL_OBJECT")],
)
def test_full_object_checksum(mpu_bucket, algorithm, checksum_type):
    client = make_client()
    field = CHECKSUM_FIELD[algorithm]
    parts = [PART_1, PART_2, TAIL]
    extra = {"ChecksumType": checksum_type} if checksum_type else {}
    up = client.create_multipart_upload(Bucket=mpu_bucket, Key="f", ChecksumAlgorithm=algorithm, **extra)
    assert up["ChecksumAlgorithm"] == algorithm
    assert up["ChecksumType"] == "FULL_OBJECT"
    done = upload_parts(client, mpu_bucket, "f", up["UploadId"], parts, ChecksumAlgorithm=algorithm)
    resp = complete(client, mpu_bucket, "f", up["UploadId"], done)
    whole = b"".join(parts)
    assert resp[field] == checksum_b64(algorithm, whole)
    assert resp["ChecksumType"] == "FULL_OBJECT"
    head = client.head_object(Bucket=mpu_bucket, Key="f", ChecksumMode="ENABLED")
    assert head[field] == checksum_b64(algorithm, whole)
    assert head["ChecksumType"] == "FULL_OBJECT"
    got = client.get_object(Bucket=mpu_bucket, Key="f", ChecksumMode="ENABLED")
    assert got["Body"].read() == whole  # botocore validates the full-object checksum


@pytest.mark.moto_gap("no default CRC64NVME checksum for multipart objects")
def test_default_checksum_is_crc64nvme_full_object(plain, mpu_bucket):
    """No algorithm anywhere: S3 still records a full-object CRC64NVME."""
    parts = [PART_1, TAIL]
    multipart_object(plain, mpu_bucket, "d", parts)
    head = plain.head_object(Bucket=mpu_bucket, Key="d", ChecksumMode="ENABLED")
    assert head["ChecksumCRC64NVME"] == checksum_b64("CRC64NVME", PART_1 + TAIL)
    assert head["ChecksumType"] == "FULL_OBJECT"


@pytest.mark.moto_gap("does not echo a part checksum sent without x-amz-sdk-checksum-algorithm")
def test_precomputed_part_checksum(mpu_bucket):
    client = make_client()
    up = client.create_multipart_upload(Bucket=mpu_bucket, Key="pre", ChecksumAlgorithm="SHA256")
    value = checksum_b64("SHA256", TAIL)
    resp = client.upload_part(
        Bucket=mpu_bucket, Key="pre", UploadId=up["UploadId"], PartNumber=1, Body=TAIL, ChecksumSHA256=value
    )
    assert resp["ChecksumSHA256"] == value
    complete(client, mpu_bucket, "pre", up["UploadId"], [
        {"PartNumber": 1, "ETag": resp["ETag"], "ChecksumSHA256": value}
    ])
    head = client.head_object(Bucket=mpu_bucket, Key="pre", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == composite_checksum("SHA256", [TAIL])


@pytest.mark.moto_gap("does not verify x-amz-checksum-* values")
@pytest.mark.parametrize("algorithm", ["CRC32", "CRC64NVME", "SHA256"])
def test_wrong_part_checksum_is_bad_digest(mpu_bucket, algorithm):
    client = make_client()
    field = CHECKSUM_FIELD[algorithm]
    up = client.create_multipart_upload(Bucket=mpu_bucket, Key="w", ChecksumAlgorithm=algorithm)
    with expect_error("BadDigest", 400):
        client.upload_part(
            Bucket=mpu_bucket, Key="w", UploadId=up["UploadId"], PartNumber=1, Body=TAIL,
            **{field: checksum_b64(algorithm, b"other bytes")},
        )
    listed = client.list_parts(Bucket=mpu_bucket, Key="w", UploadId=up["UploadId"])
    assert listed.get("Parts", []) == []


@pytest.mark.moto_gap("accepts a part checksum of another algorithm than the upload's")
def test_part_checksum_of_another_algorithm(mpu_bucket):
    client = make_client()
    up = client.create_multipart_upload(Bucket=mpu_bucket, Key="x", ChecksumAlgorithm="SHA256")
    with expect_error("InvalidRequest", 400):
        client.upload_part(
            Bucket=mpu_bucket, Key="x", UploadId=up["UploadId"], PartNumber=1, Body=TAIL, ChecksumAlgorithm="CRC32"
        )


@pytest.mark.moto_gap("accepts any checksum algorithm / type combination")
@pytest.mark.parametrize(
    "algorithm,checksum_type", [("SHA256", "FULL_OBJECT"), ("SHA1", "FULL_OBJECT"), ("CRC64NVME", "COMPOSITE")]
)
def test_unsupported_checksum_type(plain, mpu_bucket, algorithm, checksum_type):
    with expect_error("InvalidRequest", 400):
        plain.create_multipart_upload(
            Bucket=mpu_bucket, Key="t", ChecksumAlgorithm=algorithm, ChecksumType=checksum_type
        )


@pytest.mark.moto_gap("does not check part checksums in CompleteMultipartUpload")
def test_complete_with_wrong_part_checksum(mpu_bucket):
    client = make_client()
    up = client.create_multipart_upload(Bucket=mpu_bucket, Key="cw", ChecksumAlgorithm="CRC32C")
    done = upload_parts(client, mpu_bucket, "cw", up["UploadId"], [PART_1, TAIL], ChecksumAlgorithm="CRC32C")
    done[1]["ChecksumCRC32C"] = checksum_b64("CRC32C", b"not the part")
    # AWS: "One or more of the specified parts could not be found ..." (or BadDigest)
    with expect_error(("InvalidPart", "BadDigest"), 400):
        complete(client, mpu_bucket, "cw", up["UploadId"], done)


@pytest.mark.moto_gap("does not require part checksums in CompleteMultipartUpload")
def test_complete_composite_without_part_checksums(mpu_bucket):
    client = make_client()
    up = client.create_multipart_upload(Bucket=mpu_bucket, Key="cm", ChecksumAlgorithm="SHA1")
    done = upload_parts(client, mpu_bucket, "cm", up["UploadId"], [PART_1, TAIL], ChecksumAlgorithm="SHA1")
    bare = [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in done]
    # AWS: "The upload was created using a sha1 checksum. The complete request must
    # include the checksum for each part. It was missing for part 1 in the request."
    with expect_error("InvalidRequest", 400):
        complete(client, mpu_bucket, "cm", up["UploadId"], bare)


def test_default_client_low_level_flow(s3, mpu_bucket):
    """boto3's defaults: no algorithm on create, CRC32 added to every UploadPart."""
    rec = RequestRecorder(s3)
    up = s3.create_multipart_upload(Bucket=mpu_bucket, Key="dflt")
    done = upload_parts(s3, mpu_bucket, "dflt", up["UploadId"], [PART_1, TAIL])
    _, _, headers = rec.last("PUT")
    assert headers.get("x-amz-sdk-checksum-algorithm") == "CRC32"
    resp = complete(s3, mpu_bucket, "dflt", up["UploadId"], done)
    assert resp["ETag"] == multipart_etag([PART_1, TAIL])
    got = s3.get_object(Bucket=mpu_bucket, Key="dflt", ChecksumMode="ENABLED")
    assert got["Body"].read() == PART_1 + TAIL  # whatever checksum is returned must be right


# ---------------------------------------------------------------- UploadPart payload modes (raw SigV4)


def raw_upload_part(bucket, key, upload_id, number, data, mode, checksum=None):
    signer = Signer(ACCESS_KEY, SECRET_KEY, REGION)
    url = ENDPOINT + key_path(bucket, key) + f"?partNumber={number}&uploadId={upload_id}"
    headers = {}
    if mode in (STREAMING_SIGNED, STREAMING_SIGNED_TRAILER):
        trailers = None
        if checksum:
            trailers = [(f"x-amz-checksum-{checksum.lower()}", checksum_b64(checksum, data))]
            headers["x-amz-trailer"] = trailers[0][0]
            headers["x-amz-sdk-checksum-algorithm"] = checksum
        headers["content-encoding"] = "aws-chunked"
        headers["x-amz-decoded-content-length"] = str(len(data))
        probe = signed_chunked_body(signer, "0" * 64, data, 65536, trailers)
        headers["content-length"] = str(len(probe))
        signed, seed = signer.sign_headers("PUT", url, headers, mode)
        body = signed_chunked_body(signer, seed, data, 65536, trailers)
    else:
        headers["content-length"] = str(len(data))
        signed, _ = signer.sign_headers("PUT", url, headers, mode)
        body = data
    return http("PUT", url, body=body, headers=signed)


@pytest.mark.parametrize(
    "mode,checksum",
    [
        (UNSIGNED_PAYLOAD, None),
        ("literal", None),
        (STREAMING_SIGNED, None),
        pytest.param(STREAMING_SIGNED_TRAILER, "CRC32C", marks=pytest.mark.moto_gap(COMPOSITE_GAP)),
    ],
    ids=["unsigned", "literal-sha256", "signed-chunks", "signed-trailer"],
)
def test_upload_part_payload_modes(plain, mpu_bucket, mode, checksum):
    extra = {"ChecksumAlgorithm": checksum} if checksum else {}
    up = plain.create_multipart_upload(Bucket=mpu_bucket, Key="raw", **extra)
    uid = up["UploadId"]
    parts = [PART_1, TAIL]
    done = []
    for n, data in enumerate(parts, start=1):
        m = hashlib.sha256(data).hexdigest() if mode == "literal" else mode
        resp = raw_upload_part(mpu_bucket, "raw", uid, n, data, m, checksum)
        assert resp.status == 200, resp.data
        assert resp.headers.get("ETag") == quoted_md5(data)
        entry = {"PartNumber": n, "ETag": resp.headers["ETag"]}
        if checksum:
            value = resp.headers.get(f"x-amz-checksum-{checksum.lower()}")
            assert value == checksum_b64(checksum, data)
            entry[CHECKSUM_FIELD[checksum]] = value
        done.append(entry)
    complete(plain, mpu_bucket, "raw", uid, done)
    assert plain.get_object(Bucket=mpu_bucket, Key="raw")["Body"].read() == PART_1 + TAIL
    if checksum:
        head = plain.head_object(Bucket=mpu_bucket, Key="raw", ChecksumMode="ENABLED")
        assert head[CHECKSUM_FIELD[checksum]] == composite_checksum(checksum, parts)


# ---------------------------------------------------------------- transfer manager

TRANSFER = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=10)


def test_upload_file_download_file_50mib(mpu_bucket, tmp_path):
    client = make_client()
    rec = RequestRecorder(client)
    src = tmp_path / "src.bin"
    digest = random_file(src, 50 * MIB)
    client.upload_file(str(src), mpu_bucket, "big/50mib.bin", Config=TRANSFER)
    posts = [r for r in rec.requests if r[0] == "POST"]
    assert len(posts) == 2  # CreateMultipartUpload + CompleteMultipartUpload
    assert sum(1 for r in rec.requests if r[0] == "PUT" and "partNumber=" in r[1]) == 7

    head = client.head_object(Bucket=mpu_bucket, Key="big/50mib.bin")
    assert head["ContentLength"] == 50 * MIB
    assert head["ETag"].endswith('-7"')
    assert head["ETag"] == multipart_etag(chunks(src.read_bytes(), 8 * MIB))

    dst = tmp_path / "dst.bin"
    client.download_file(mpu_bucket, "big/50mib.bin", str(dst), Config=TRANSFER)
    assert sha256_file(dst) == digest
    assert "Uploads" not in client.list_multipart_uploads(Bucket=mpu_bucket)


def test_upload_fileobj_download_fileobj(mpu_bucket, tmp_path):
    import io

    client = make_client()
    data = os.urandom(20 * MIB + 17)
    client.upload_fileobj(
        io.BytesIO(data), mpu_bucket, "fo.bin", Config=TRANSFER, ExtraArgs={"Metadata": {"via": "fileobj"}}
    )
    head = client.head_object(Bucket=mpu_bucket, Key="fo.bin")
    assert head["ETag"] == multipart_etag(chunks(data, 8 * MIB))
    assert head["Metadata"] == {"via": "fileobj"}
    out = io.BytesIO()
    client.download_fileobj(mpu_bucket, "fo.bin", out, Config=TRANSFER)
    assert hashlib.sha256(out.getvalue()).hexdigest() == hashlib.sha256(data).hexdigest()


@pytest.mark.moto_gap(COMPOSITE_GAP)
def test_transfer_manager_default_crc32(mpu_bucket, tmp_path):
    """boto3's transfer manager asks for CRC32 by default: a COMPOSITE CRC32 of the parts."""
    client = make_client()
    rec = RequestRecorder(client)
    src = tmp_path / "crc.bin"
    random_file(src, 17 * MIB + 5)
    client.upload_file(str(src), mpu_bucket, "crc.bin", Config=TRANSFER)
    create = next(r for r in rec.requests if r[0] == "POST" and r[1].endswith("?uploads"))
    assert create[2].get("x-amz-checksum-algorithm") == "CRC32"
    parts = chunks(src.read_bytes(), 8 * MIB)
    head = client.head_object(Bucket=mpu_bucket, Key="crc.bin", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == composite_checksum("CRC32", parts)
    assert head["ChecksumType"] == "COMPOSITE"
    dst = tmp_path / "crc.out"
    client.download_file(mpu_bucket, "crc.bin", str(dst), Config=TRANSFER)
    assert dst.read_bytes() == src.read_bytes()


@pytest.mark.moto_gap(COMPOSITE_GAP)
@pytest.mark.parametrize("algorithm", ["CRC32C", "SHA256"])
def test_transfer_manager_checksum_algorithm(mpu_bucket, tmp_path, algorithm):
    client = make_client()
    src = tmp_path / "alg.bin"
    random_file(src, 16 * MIB + 1)
    client.upload_file(str(src), mpu_bucket, "alg.bin", Config=TRANSFER, ExtraArgs={"ChecksumAlgorithm": algorithm})
    parts = chunks(src.read_bytes(), 8 * MIB)
    assert len(parts) == 3
    head = client.head_object(Bucket=mpu_bucket, Key="alg.bin", ChecksumMode="ENABLED")
    assert head[CHECKSUM_FIELD[algorithm]] == composite_checksum(algorithm, parts)
    assert head["ChecksumType"] == "COMPOSITE"
    got = client.get_object(Bucket=mpu_bucket, Key="alg.bin", ChecksumMode="ENABLED")
    assert hashlib.sha256(got["Body"].read()).hexdigest() == hashlib.sha256(src.read_bytes()).hexdigest()


@pytest.mark.moto_gap("no FULL_OBJECT multipart checksums")
def test_transfer_manager_full_object_crc32(mpu_bucket, tmp_path):
    """A full-object checksum handed to upload_file makes s3transfer ask for FULL_OBJECT."""
    client = make_client()
    rec = RequestRecorder(client)
    src = tmp_path / "full.bin"
    random_file(src, 16 * MIB + 3)
    whole = checksum_b64("CRC32", src.read_bytes())
    client.upload_file(str(src), mpu_bucket, "full.bin", Config=TRANSFER, ExtraArgs={"ChecksumCRC32": whole})
    create = next(r for r in rec.requests if r[0] == "POST" and r[1].endswith("?uploads"))
    assert create[2].get("x-amz-checksum-type") == "FULL_OBJECT"
    head = client.head_object(Bucket=mpu_bucket, Key="full.bin", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == whole
    assert head["ChecksumType"] == "FULL_OBJECT"


@pytest.mark.moto_gap("does not verify the full-object checksum sent with CompleteMultipartUpload")
def test_complete_with_wrong_full_object_checksum(mpu_bucket):
    client = make_client()
    up = client.create_multipart_upload(
        Bucket=mpu_bucket, Key="fw", ChecksumAlgorithm="CRC64NVME", ChecksumType="FULL_OBJECT"
    )
    done = upload_parts(client, mpu_bucket, "fw", up["UploadId"], [PART_1, TAIL], ChecksumAlgorithm="CRC64NVME")
    # AWS: 400 BadDigest "The crc64nvme you specified did not match the calculated checksum."
    with expect_error("BadDigest", 400):
        complete(
            client, mpu_bucket, "fw", up["UploadId"], done,
            ChecksumCRC64NVME=checksum_b64("CRC64NVME", b"not the object"), ChecksumType="FULL_OBJECT",
        )
    with expect_error("NoSuchKey", 404):
        client.get_object(Bucket=mpu_bucket, Key="fw")


@pytest.mark.moto_gap("does not check part checksums in CompleteMultipartUpload")
def test_reuploaded_part_replaces_its_checksum(mpu_bucket):
    """A part uploaded again under the same number takes the new bytes' checksum: the
    Complete that lists the old checksum is refused, the one with the new is the object's."""
    client = make_client()
    up = client.create_multipart_upload(Bucket=mpu_bucket, Key="re", ChecksumAlgorithm="CRC32")
    first = upload_parts(client, mpu_bucket, "re", up["UploadId"], [PART_1, TAIL], ChecksumAlgorithm="CRC32")
    again = client.upload_part(Bucket=mpu_bucket, Key="re", UploadId=up["UploadId"], PartNumber=2,
                               Body=b"another tail", ChecksumAlgorithm="CRC32")
    assert again["ChecksumCRC32"] == checksum_b64("CRC32", b"another tail")
    listed = client.list_parts(Bucket=mpu_bucket, Key="re", UploadId=up["UploadId"])["Parts"]
    assert [p["ChecksumCRC32"] for p in listed] == [first[0]["ChecksumCRC32"], again["ChecksumCRC32"]]
    with expect_error(("InvalidPart", "BadDigest"), 400):
        complete(client, mpu_bucket, "re", up["UploadId"], first)
    done = [first[0], {"PartNumber": 2, "ETag": again["ETag"], "ChecksumCRC32": again["ChecksumCRC32"]}]
    complete(client, mpu_bucket, "re", up["UploadId"], done)
    head = client.head_object(Bucket=mpu_bucket, Key="re", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == composite_checksum("CRC32", [PART_1, b"another tail"])
    assert client.get_object(Bucket=mpu_bucket, Key="re")["Body"].read() == PART_1 + b"another tail"

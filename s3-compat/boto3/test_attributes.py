"""GetObjectAttributes, as the S3 API reference describes it: ETag (unquoted), Checksum,
ObjectParts paged by MaxParts / PartNumberMarker, StorageClass and ObjectSize, of the current
object or a version, without reading its bytes; and a part's own checksum on a GET by part
number."""

from __future__ import annotations

import pytest

from s3util import ON_MOTO, checksum_b64, expect_error, md5_hex, payload

ALL = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]
PART = 5 * 1024 * 1024


def upload_parts(s3, bucket, key, bodies, algorithm="CRC32"):
    mp = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=algorithm)
    parts = []
    for n, body in enumerate(bodies, start=1):
        r = s3.upload_part(Bucket=bucket, Key=key, UploadId=mp["UploadId"], PartNumber=n,
                           Body=body, ChecksumAlgorithm=algorithm)
        parts.append({"PartNumber": n, "ETag": r["ETag"],
                      f"Checksum{algorithm}": r[f"Checksum{algorithm}"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=mp["UploadId"],
                                 MultipartUpload={"Parts": parts})
    return parts


def test_single_part_object(s3, bucket):
    body = payload(1000, seed=3)
    s3.put_object(Bucket=bucket, Key="one", Body=body, ChecksumAlgorithm="SHA256")
    a = s3.get_object_attributes(Bucket=bucket, Key="one", ObjectAttributes=ALL)
    assert a["ETag"] == md5_hex(body), "unquoted"
    assert a["Checksum"]["ChecksumSHA256"] == checksum_b64("SHA256", body)
    assert a["StorageClass"] == "STANDARD"
    assert a["ObjectSize"] == 1000
    assert "ObjectParts" not in a, "only a multipart object has parts"
    assert a["LastModified"] == s3.head_object(Bucket=bucket, Key="one")["LastModified"]


def test_only_the_attributes_asked_for(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"abc")
    a = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectSize"])
    assert a["ObjectSize"] == 3
    assert not {"ETag", "Checksum", "StorageClass"} & set(a)


@pytest.mark.moto_gap("moto leaves ObjectParts out")
def test_multipart_object_parts_page(s3, bucket):
    bodies = [payload(PART, seed=1), payload(PART, seed=2), b"tail"]
    parts = upload_parts(s3, bucket, "mp", bodies)
    a = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=ALL, MaxParts=2)
    assert a["ETag"].endswith("-3") and not a["ETag"].startswith('"')
    assert a["ObjectSize"] == 2 * PART + 4
    assert a["Checksum"]["ChecksumType"] == "COMPOSITE"
    assert "-" not in a["Checksum"]["ChecksumCRC32"], "the part count is in ObjectParts"
    p = a["ObjectParts"]
    assert p["TotalPartsCount"] == 3 and p["IsTruncated"] is True
    assert p["MaxParts"] == 2 and p["NextPartNumberMarker"] == 2
    assert [(x["PartNumber"], x["Size"]) for x in p["Parts"]] == [(1, PART), (2, PART)]
    assert [x["ChecksumCRC32"] for x in p["Parts"]] == [q["ChecksumCRC32"] for q in parts[:2]]
    rest = s3.get_object_attributes(Bucket=bucket, Key="mp", ObjectAttributes=["ObjectParts"],
                                    MaxParts=2, PartNumberMarker=2)["ObjectParts"]
    assert rest["IsTruncated"] is False
    assert [(x["PartNumber"], x["Size"]) for x in rest["Parts"]] == [(3, 4)]


@pytest.mark.moto_gap("moto answers a part GET with the whole object's checksum")
def test_get_by_part_number_returns_that_parts_checksum(s3, bucket):
    parts = upload_parts(s3, bucket, "mp", [payload(PART, seed=4), b"last part"])
    got = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2, ChecksumMode="ENABLED")
    assert got["Body"].read() == b"last part"
    assert got["ChecksumCRC32"] == parts[1]["ChecksumCRC32"]


def test_of_a_version(s3, bucket):
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"three")
    a = s3.get_object_attributes(Bucket=bucket, Key="k", VersionId=v1,
                                 ObjectAttributes=["ETag", "ObjectSize"])
    assert (a["ETag"], a["ObjectSize"]) == (md5_hex(b"one"), 3)
    assert a["VersionId"] == v1
    current = s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["ObjectSize"])
    assert current["ObjectSize"] == 5


def test_missing_key_and_delete_marker(s3, bucket):
    with expect_error("NoSuchKey", 404):
        s3.get_object_attributes(Bucket=bucket, Key="absent", ObjectAttributes=["ETag"])
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=bucket, Key="gone", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="gone")
    with expect_error("NoSuchKey", 404):
        s3.get_object_attributes(Bucket=bucket, Key="gone", ObjectAttributes=["ETag"])


@pytest.mark.moto_gap("moto accepts unknown attribute names")
def test_unknown_attribute_is_invalid_argument(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with expect_error("InvalidArgument", 400):
        s3.get_object_attributes(Bucket=bucket, Key="k", ObjectAttributes=["Colour"])

"""Buckets and single objects with minio-py: make/list/remove bucket, put/get/stat/remove."""

from __future__ import annotations

import io
import os

import pytest
from minio import S3Error
from minio.deleteobjects import DeleteObject

from mutil import MiB, REGION, get_bytes, md5, put_bytes, sha, unique_bucket


@pytest.mark.group("buckets")
def test_make_list_remove_bucket(client):
    name = unique_bucket("lifecycle")
    client.make_bucket(name)
    try:
        assert client.bucket_exists(name)
        listed = {b.name: b for b in client.list_buckets()}
        assert name in listed
        assert listed[name].creation_date is not None
    finally:
        client.remove_bucket(name)
    assert not client.bucket_exists(name)
    assert name not in {b.name for b in client.list_buckets()}


@pytest.mark.group("buckets")
def test_make_bucket_with_location(client):
    name = unique_bucket("location")
    client.make_bucket(name, location=REGION)
    try:
        assert client.bucket_exists(name)
    finally:
        client.remove_bucket(name)


@pytest.mark.group("objects")
def test_put_get_stat_remove_with_metadata(client, bucket):
    data = b"0123456789abcdefghijklmnopqrstuvwxyz"
    result = put_bytes(
        client, bucket, "meta/alpha.txt", data,
        content_type="text/x-cnx",
        metadata={"colour": "blue", "x-amz-meta-size": "large", "Cache-Control": "max-age=60",
                  "Content-Disposition": 'attachment; filename="a.txt"'},
    )
    assert result.etag == md5(data)
    st = client.stat_object(bucket, "meta/alpha.txt")
    assert st.size == len(data)
    assert st.etag == md5(data)
    assert st.content_type == "text/x-cnx"
    assert st.last_modified is not None
    assert st.metadata.get("x-amz-meta-colour") == "blue"
    assert st.metadata.get("x-amz-meta-size") == "large"
    assert st.metadata.get("Cache-Control") == "max-age=60"
    assert st.metadata.get("Content-Disposition") == 'attachment; filename="a.txt"'
    resp = client.get_object(bucket, "meta/alpha.txt")
    try:
        assert resp.status == 200
        assert resp.read() == data
        assert resp.headers.get("x-amz-meta-colour") == "blue"
        assert resp.headers.get("Content-Type") == "text/x-cnx"
    finally:
        resp.close()
        resp.release_conn()
    client.remove_object(bucket, "meta/alpha.txt")
    with pytest.raises(S3Error) as err:
        client.stat_object(bucket, "meta/alpha.txt")
    assert err.value.code == "NoSuchKey"


@pytest.mark.group("objects")
@pytest.mark.parametrize(
    "name,size",
    [("empty.txt", 0), ("small.bin", 1024), ("big 5 MiB.bin", 5 * MiB + 7), ("résumé-日本.txt", 13)],
    ids=["empty", "1KiB", "5MiB", "unicode"],
)
def test_fput_fget_round_trip(client, bucket, workdir, name, size):
    data = os.urandom(size)
    src = os.path.join(workdir, "up-" + name)
    with open(src, "wb") as fh:
        fh.write(data)
    client.fput_object(bucket, f"files/{name}", src)
    dst = os.path.join(workdir, "down-" + name)
    client.fget_object(bucket, f"files/{name}", dst)
    with open(dst, "rb") as fh:
        assert sha(fh.read()) == sha(data)
    assert client.stat_object(bucket, f"files/{name}").size == size


@pytest.mark.group("objects")
def test_overwrite_returns_latest(client, bucket):
    put_bytes(client, bucket, "over.txt", b"first")
    put_bytes(client, bucket, "over.txt", b"second and longer")
    assert get_bytes(client, bucket, "over.txt") == b"second and longer"
    assert client.stat_object(bucket, "over.txt").size == 17


@pytest.mark.group("objects")
def test_remove_objects_batch(client, bucket):
    keys = [f"batch/{i:02d} key.txt" for i in range(30)]
    for key in keys:
        put_bytes(client, bucket, key, key.encode())
    put_bytes(client, bucket, "keep.txt", b"keep")
    # a key that does not exist is "deleted" too (S3 DeleteObjects is idempotent)
    errors = list(client.remove_objects(bucket, [DeleteObject(k) for k in keys + ["batch/missing"]]))
    assert errors == []
    assert [o.object_name for o in client.list_objects(bucket, recursive=True)] == ["keep.txt"]


@pytest.mark.group("objects")
def test_put_object_stream_length_known(client, bucket):
    data = os.urandom(300_000)
    client.put_object(bucket, "stream.bin", io.BytesIO(data), len(data))
    assert get_bytes(client, bucket, "stream.bin") == data

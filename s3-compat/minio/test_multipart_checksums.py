"""minio-py's multipart transfer manager (put_object part_size, fput_object, compose_object) and ETags."""

from __future__ import annotations

import io
import os
import re

import pytest
from minio.commonconfig import ComposeSource

from mutil import MiB, Trace, get_bytes, md5, multipart_etag, put_bytes, sha

SIZE = 12 * MiB + 321
PART = 5 * MiB


@pytest.fixture(scope="module")
def data():
    return os.urandom(SIZE)


def part_numbers(trace: Trace) -> list[int]:
    return sorted(int(n) for n in re.findall(r"^PUT \S*[?&]partNumber=(\d+)", trace.getvalue(), re.M))


@pytest.mark.group("multipart")
def test_put_object_known_length_in_parts(client, bucket, data):
    trace = Trace()
    client.trace_on(trace)
    try:
        result = client.put_object(bucket, "mp/known.bin", io.BytesIO(data), len(data), part_size=PART)
    finally:
        client.trace_off()
    assert part_numbers(trace) == [1, 2, 3]
    assert result.etag == multipart_etag(data, PART)
    st = client.stat_object(bucket, "mp/known.bin")
    assert st.size == SIZE
    assert st.etag == multipart_etag(data, PART)
    assert sha(get_bytes(client, bucket, "mp/known.bin")) == sha(data)


@pytest.mark.group("multipart")
def test_put_object_unknown_length_stream(client, bucket, data):
    result = client.put_object(bucket, "mp/stream.bin", io.BytesIO(data), -1, part_size=PART,
                               metadata={"colour": "blue"}, content_type="application/x-cnx")
    assert result.etag.endswith("-3")
    st = client.stat_object(bucket, "mp/stream.bin")
    assert st.size == SIZE
    assert st.metadata.get("x-amz-meta-colour") == "blue"
    assert st.content_type == "application/x-cnx"
    assert sha(get_bytes(client, bucket, "mp/stream.bin")) == sha(data)


@pytest.mark.group("multipart")
def test_fput_object_parallel_parts(client, bucket, data, workdir):
    src = os.path.join(workdir, "mp-src.bin")
    with open(src, "wb") as fh:
        fh.write(data)
    client.fput_object(bucket, "mp/file.bin", src, part_size=PART, num_parallel_uploads=3)
    dst = os.path.join(workdir, "mp-dst.bin")
    client.fget_object(bucket, "mp/file.bin", dst)
    with open(dst, "rb") as fh:
        assert sha(fh.read()) == sha(data)
    assert client.stat_object(bucket, "mp/file.bin").etag == multipart_etag(data, PART)


@pytest.mark.group("multipart")
def test_compose_object(client, bucket, data):
    # server-side multipart: UploadPartCopy of whole objects and of a byte range
    put_bytes(client, bucket, "parts/a.bin", data[:PART])
    put_bytes(client, bucket, "parts/b.bin", data[PART:])
    sources = [
        ComposeSource(bucket, "parts/a.bin"),
        ComposeSource(bucket, "parts/b.bin", offset=0, length=PART),
        ComposeSource(bucket, "parts/b.bin", offset=PART),
    ]
    result = client.compose_object(bucket, "mp/composed.bin", sources)
    assert result.etag.endswith("-3")
    assert sha(get_bytes(client, bucket, "mp/composed.bin")) == sha(data)


@pytest.mark.group("multipart")
def test_no_multipart_upload_left_behind(client, bucket, data):
    client.put_object(bucket, "mp/x.bin", io.BytesIO(data), len(data), part_size=PART)
    # minio-py has no public ListMultipartUploads; its internal call is the one its API uses
    uploads = client._list_multipart_uploads(bucket).uploads  # noqa: SLF001
    assert uploads == []


@pytest.mark.group("checksums")
def test_single_part_etag_is_md5(client, bucket):
    payload = os.urandom(100_000)
    result = put_bytes(client, bucket, "sum/one.bin", payload)
    assert result.etag == md5(payload)
    assert client.stat_object(bucket, "sum/one.bin").etag == md5(payload)
    listed = {o.object_name: o.etag for o in client.list_objects(bucket, prefix="sum/")}
    assert listed == {"sum/one.bin": md5(payload)}


@pytest.mark.group("checksums")
def test_multipart_etag_is_md5_of_part_md5s(client, bucket, data):
    client.put_object(bucket, "sum/mp.bin", io.BytesIO(data), len(data), part_size=PART)
    want = multipart_etag(data, PART)
    assert client.stat_object(bucket, "sum/mp.bin").etag == want
    assert {o.object_name: o.etag for o in client.list_objects(bucket, prefix="sum/")} == {"sum/mp.bin": want}

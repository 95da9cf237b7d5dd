"""The shared hard keys (s3-compat/keys/hard-keys.json) round-tripped with minio-py.

Per key: put_object, list_objects (encoding-type=url and plain), get_object,
stat_object, copy_object (to a second bucket, same key), presigned_get_object fetched
with urllib, remove_object -- and the key must be gone from both listings.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest
from minio.commonconfig import CopySource

from mutil import get_bytes, http, load_hard_keys, put_bytes, unique_bucket, empty_and_remove

KEYS = load_hard_keys()


@pytest.fixture(scope="module")
def key_buckets(client):
    a, b = unique_bucket("keys"), unique_bucket("keys-copy")
    client.make_bucket(a)
    client.make_bucket(b)
    yield a, b
    empty_and_remove(client, a)
    empty_and_remove(client, b)


def listed(client, bucket: str, key: str, url_encoding: bool) -> list[str]:
    return [o.object_name for o in client.list_objects(bucket, prefix=key, recursive=True,
                                                        use_url_encoding_type=url_encoding)]


@pytest.mark.group("hard keys")
@pytest.mark.parametrize("key", [k["key"] for k in KEYS], ids=[k["name"] for k in KEYS])
def test_hard_key(client, key_buckets, key):
    bucket, other = key_buckets
    data = f"hard key {key!r}".encode()
    try:
        put_bytes(client, bucket, key, data)
    except ValueError as exc:  # minio-py validates object names before sending
        pytest.skip(f"minio-py refuses this object name client-side: {exc}")
    assert listed(client, bucket, key, True) == [key]
    assert listed(client, bucket, key, False) == [key]
    assert get_bytes(client, bucket, key) == data
    assert client.stat_object(bucket, key).size == len(data)
    client.copy_object(other, key, CopySource(bucket, key))
    assert get_bytes(client, other, key) == data
    url = client.presigned_get_object(bucket, key)
    assert unquote(urlsplit(url).path) == f"/{bucket}/{key}"
    status, _, body = http("GET", url)
    assert (status, body) == (200, data)
    client.remove_object(bucket, key)
    client.remove_object(other, key)
    assert listed(client, bucket, key, True) == []
    assert listed(client, other, key, False) == []

"""list_objects: prefix/delimiter, recursive, v1/v2, encoding-type, >1,000 keys; remove_objects past 1,000."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from minio.deleteobjects import DeleteObject

from mutil import Trace, put_bytes

TREE = {
    "tree/a/f1.bin": b"1" * 3000,
    "tree/a/f2.bin": b"2" * 6000,
    "tree/a/deep/g.bin": b"g" * 700,
    "tree/b/h.txt": b"b\n",
    "tree/with space/i j.txt": b"spaced\n",
    "tree/top+plus.txt": b"top\n",
}
MANY = [f"many/f{i:04d}.txt" for i in range(1050)]


@pytest.fixture(scope="module")
def listing_bucket(client, module_bucket):
    for key, data in TREE.items():
        put_bytes(client, module_bucket, key, data)
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: put_bytes(client, module_bucket, k, k.encode()), MANY))
    return module_bucket


def names(objs) -> list[str]:
    return [o.object_name for o in objs]


@pytest.mark.group("list")
def test_list_prefix_and_delimiter(client, listing_bucket):
    objs = list(client.list_objects(listing_bucket, prefix="tree/"))
    assert sorted((o.object_name, o.is_dir) for o in objs) == [
        ("tree/a/", True), ("tree/b/", True), ("tree/top+plus.txt", False), ("tree/with space/", True)]
    sizes = {o.object_name: o.size for o in client.list_objects(listing_bucket, prefix="tree/a/")}
    assert sizes == {"tree/a/deep/": None, "tree/a/f1.bin": 3000, "tree/a/f2.bin": 6000}
    # a bare prefix matches by prefix
    assert names(client.list_objects(listing_bucket, prefix="tree/to")) == ["tree/top+plus.txt"]


@pytest.mark.group("list")
def test_list_recursive(client, listing_bucket):
    objs = list(client.list_objects(listing_bucket, prefix="tree/", recursive=True))
    assert sorted(names(objs)) == sorted(TREE)
    for o in objs:
        assert o.size == len(TREE[o.object_name])
        assert o.etag and o.last_modified is not None


@pytest.mark.group("list")
def test_list_start_after(client, listing_bucket):
    got = names(client.list_objects(listing_bucket, prefix="many/", recursive=True, start_after="many/f1040.txt"))
    assert got == MANY[1041:]
    got = names(client.list_objects(listing_bucket, prefix="many/", recursive=True, use_api_v1=True,
                                    start_after="many/f1040.txt"))
    assert got == MANY[1041:]


@pytest.mark.group("list")
@pytest.mark.parametrize("api_v1", [False, True], ids=["v2", "v1"])
@pytest.mark.parametrize("url_encoding", [True, False], ids=["encoding-type=url", "plain"])
def test_list_past_1000_keys(client, listing_bucket, api_v1, url_encoding):
    trace = Trace()
    client.trace_on(trace)
    try:
        got = names(client.list_objects(listing_bucket, prefix="many/", recursive=True, use_api_v1=api_v1,
                                        use_url_encoding_type=url_encoding))
    finally:
        client.trace_off()
    assert got == MANY
    pages = trace.requests("GET")
    assert len(pages) == 2, pages
    if api_v1:
        assert "marker=" in pages[1] and "list-type" not in pages[1]
    else:
        assert "list-type=2" in pages[1] and "continuation-token=" in pages[1]
    assert ("encoding-type=url" in pages[0]) == url_encoding


@pytest.mark.group("list")
def test_list_prefix_within_many(client, listing_bucket):
    assert names(client.list_objects(listing_bucket, prefix="many/f10", recursive=True)) == MANY[1000:]
    top = list(client.list_objects(listing_bucket))
    assert sorted((o.object_name, o.is_dir) for o in top) == [("many/", True), ("tree/", True)]


@pytest.mark.group("objects")
def test_remove_objects_past_1000(client, listing_bucket):
    trace = Trace()
    client.trace_on(trace)
    try:
        errors = list(client.remove_objects(listing_bucket, (DeleteObject(k) for k in MANY)))
    finally:
        client.trace_off()
    assert errors == []
    posts = trace.requests("POST")
    assert len(posts) == 2 and all("delete" in p for p in posts), posts
    assert names(client.list_objects(listing_bucket, prefix="many/", recursive=True)) == []

"""pytest hooks and fixtures for the cnx-storage boto3 compatibility suite.

See s3util.py for the environment variables and helpers.
"""

from __future__ import annotations

import uuid

import pytest

from mgmt import Api, expect

from s3util import (
    ACCESS_KEY,
    ENDPOINT,
    IS_HTTPS,
    ON_MOTO,
    ORACLE,
    REGION,
    SECRET_KEY,
    VERIFY,
    create_bucket,
    delete_bucket_quietly,
    make_client,
    unique_bucket_name,
)


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "moto_gap(reason): expectation is S3 behaviour that moto does not implement; "
        "skipped when S3_ORACLE=moto",
    )
    config.addinivalue_line("markers", "https_only: needs an https endpoint")
    if not (ENDPOINT and ACCESS_KEY and SECRET_KEY):
        raise pytest.UsageError(
            "set S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY (see s3-compat/run)"
        )


def pytest_report_header(config):
    return (
        f"s3 endpoint: {ENDPOINT} region={REGION} verify={VERIFY!r} "
        f"oracle={ORACLE or 'none'}"
    )


def pytest_collection_modifyitems(config, items):
    for item in items:
        if ON_MOTO:
            for mark in item.iter_markers("moto_gap"):
                reason = mark.args[0] if mark.args else mark.kwargs.get("reason", "")
                item.add_marker(pytest.mark.skip(reason=f"moto gap: {reason}"))
                break
        if not IS_HTTPS and item.get_closest_marker("https_only"):
            item.add_marker(pytest.mark.skip(reason="needs an https endpoint"))


@pytest.fixture(scope="session")
def s3():
    return make_client()


@pytest.fixture
def make_bucket(s3, request):
    """Factory: make_bucket() -> new bucket name, deleted with its contents afterwards."""
    created: list[str] = []

    def _make(hint: str | None = None) -> str:
        name = unique_bucket_name(hint or request.node.originalname or request.node.name)
        create_bucket(s3, name)
        created.append(name)
        return name

    yield _make
    for name in reversed(created):
        delete_bucket_quietly(s3, name)


@pytest.fixture
def bucket(make_bucket):
    return make_bucket()




# --------------------------------------------------------------------------
# other callers: accounts of this server, and the anonymous one (access control, policies)


class Account:
    """A second account of the server: its name, an S3 client signing as it, its canonical ID."""

    def __init__(self, name: str, key: dict):
        self.name = name
        self.key = key
        self.s3 = make_client(key["access_key_id"], key["secret_access_key"])
        self.id = self.s3.list_buckets()["Owner"]["ID"]


@pytest.fixture(scope="module")
def root_api():
    return Api()


@pytest.fixture(scope="module")
def bob(root_api):
    name = f"bob-{uuid.uuid4().hex[:10]}"
    key = expect(root_api.post("/storage/access-keys", {"account": name}), 201)
    return Account(name, key)


@pytest.fixture(scope="module")
def carol(root_api):
    name = f"carol-{uuid.uuid4().hex[:10]}"
    key = expect(root_api.post("/storage/access-keys", {"account": name}), 201)
    return Account(name, key)


@pytest.fixture(scope="module")
def anon():
    return make_client(unsigned=True)


@pytest.fixture
def open_bucket(s3, request):
    """Factory: a bucket with ACLs enabled (ObjectWriter, or the ownership given) and no
    public access block, deleted with its contents afterwards."""
    made = []

    def _make(ownership: str = "ObjectWriter") -> str:
        name = unique_bucket_name(request.node.name)
        s3.create_bucket(
            Bucket=name,
            CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name},
            ObjectOwnership=ownership,
        )
        made.append(name)
        s3.delete_public_access_block(Bucket=name)
        return name

    yield _make
    for name in made:
        delete_bucket_quietly(s3, name)



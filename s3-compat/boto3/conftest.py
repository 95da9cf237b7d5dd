"""pytest hooks and fixtures for the cnx-storage boto3 compatibility suite.

See s3util.py for the environment variables and helpers.
"""

from __future__ import annotations

import pytest

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



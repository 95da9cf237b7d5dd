"""/storage/metrics: the scrape parses with Prometheus' own OpenMetrics parser, names the
families the README lists for Grafana, and its counters move with the requests this test
makes (each gateway counts what it served, so requests and scrapes go to one gateway)."""

from __future__ import annotations

import boto3
import pytest
import requests
from botocore.config import Config
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from s3util import (
    ACCESS_KEY,
    ENDPOINTS,
    ON_MOTO,
    REGION,
    SECRET_KEY,
    VERIFY,
    delete_bucket_quietly,
    unique_bucket_name,
)

pytestmark = pytest.mark.skipif(ON_MOTO, reason="cnx-storage's own route")

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"

# The families the README's Grafana list names.
FAMILIES = {
    "cnx_requests": "counter",
    "cnx_request_duration_seconds": "histogram",
    "cnx_received_bytes": "counter",
    "cnx_sent_bytes": "counter",
    "cnx_open_connections": "gauge",
    "cnx_connections": "counter",
    "cnx_build": "info",
    "cnx_uptime_seconds": "gauge",
    "cnx_gc_queue_blobs": "gauge",
    "cnx_gc_swept_blobs": "counter",
    "cnx_checksum_failures": "counter",
}


def scrape(endpoint: str) -> dict:
    resp = requests.get(f"{endpoint}/storage/metrics", verify=VERIFY, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == OPENMETRICS
    return {f.name: f for f in text_string_to_metric_families(resp.text)}


def value(families: dict, family: str, sample: str, **labels) -> float:
    """The sample's value (0 when the series does not exist yet)."""
    f = families.get(family)
    if f is None:
        return 0.0
    for s in f.samples:
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return 0.0


def pinned_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        verify=VERIFY,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_scrape_parses_and_its_counters_move(endpoint):
    # A family shows once it has a series: the first scrape is counted in the second.
    scrape(endpoint)
    before = scrape(endpoint)
    for name, kind in FAMILIES.items():
        assert name in before, f"{name} missing: {sorted(before)}"
        assert before[name].type == kind, (name, before[name].type)
    index = before["cnx_build"].samples[0].labels["index"]
    assert index in ("rocksdb", "postgres")
    engine = "cnx_rocksdb_write_stall_seconds" if index == "rocksdb" else "cnx_postgres_pool_connections"
    assert engine in before, sorted(before)

    s3 = pinned_client(endpoint)
    bucket = unique_bucket_name("metrics")
    s3.create_bucket(Bucket=bucket)
    try:
        body = b"m" * 10_000
        s3.put_object(Bucket=bucket, Key="k", Body=body)
        assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body
        with pytest.raises(s3.exceptions.NoSuchKey):
            s3.get_object(Bucket=bucket, Key="absent")
        after = scrape(endpoint)
    finally:
        for key in ("k",):
            s3.delete_object(Bucket=bucket, Key=key)
        delete_bucket_quietly(s3, bucket)

    def moved(sample: str, family: str = "cnx_requests", **labels) -> float:
        return value(after, family, sample, **labels) - value(before, family, sample, **labels)

    assert moved("cnx_requests_total", surface="s3", op="PutObject", status="2xx") >= 1
    assert moved("cnx_requests_total", surface="s3", op="GetObject", status="2xx") >= 1
    assert moved("cnx_requests_total", surface="s3", op="GetObject", status="4xx") >= 1
    assert moved("cnx_requests_total", surface="metrics", op="Metrics", status="2xx") >= 1
    assert moved(
        "cnx_request_duration_seconds_count", "cnx_request_duration_seconds", surface="s3", op="PutObject"
    ) >= 1
    assert moved("cnx_received_bytes_total", "cnx_received_bytes") >= len(body)
    assert moved("cnx_sent_bytes_total", "cnx_sent_bytes") >= len(body)
    assert value(after, "cnx_open_connections", "cnx_open_connections") >= 1
    assert value(after, "cnx_uptime_seconds", "cnx_uptime_seconds") > 0

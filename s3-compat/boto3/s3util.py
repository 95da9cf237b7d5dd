"""Helpers for the cnx-storage boto3 compatibility suite (fixtures live in conftest.py).

Environment:
  S3_ENDPOINT    http(s)://127.0.0.1:PORT of the server under test (required)
  S3_ENDPOINTS   comma-separated endpoints of gateways sharing one index: boto3 clients and
                 the management helper then send each request to the next one in turn
  S3_ACCESS_KEY  access key of a principal allowed to create buckets (required)
  S3_SECRET_KEY  its secret (required)
  S3_REGION      signing region, default in-mum
  S3_VERIFY      path to a CA bundle for https, or "false" to skip verification
  S3_SIGV2       "1" when the server accepts Signature V2 (its config says [s3] sigv2 = true)
  S3_ORACLE      "moto" when the suite runs against moto instead of cnx-storage;
                 tests marked @pytest.mark.moto_gap("why") are then skipped.

Every test that touches S3 gets its own uniquely named bucket (fixture `bucket`,
or `make_bucket` for more) and everything it created is deleted afterwards.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import itertools
import os
import re
import shutil
import subprocess
import time
import uuid
import zlib
from contextlib import contextmanager
from urllib.parse import urlsplit

import boto3
import pytest
import urllib3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("S3_ENDPOINT", "").rstrip("/")
ACCESS_KEY = os.environ.get("S3_ACCESS_KEY", "")
SECRET_KEY = os.environ.get("S3_SECRET_KEY", "")
REGION = os.environ.get("S3_REGION", "in-mum") or "in-mum"
ORACLE = os.environ.get("S3_ORACLE", "")
# "1" when the server under test is configured to accept Signature V2 ([s3] sigv2 = true).
SIGV2 = os.environ.get("S3_SIGV2", "") == "1"
_VERIFY_RAW = os.environ.get("S3_VERIFY", "")
if _VERIFY_RAW.lower() in ("false", "0", "no", "off"):
    VERIFY: bool | str | None = False
elif _VERIFY_RAW:
    VERIFY = _VERIFY_RAW
else:
    VERIFY = None
ENDPOINTS = [e.strip().rstrip("/") for e in os.environ.get("S3_ENDPOINTS", "").split(",") if e.strip()]
ENDPOINTS = ENDPOINTS or [ENDPOINT]
# Gateways over one index see a key revoked, a bucket deleted or a bucket's setting changed
# through another within a second (their caches follow counters in the index); one server
# sees it at once.
PROPAGATION_SECS = 1.0 if len(ENDPOINTS) > 1 else 0.0
IS_HTTPS = ENDPOINT.startswith("https://")
ON_MOTO = ORACLE == "moto"

# Hard keys: every one of them must survive PUT/GET/HEAD/LIST/COPY/DELETE
# byte-exact. Ids keep pytest's output readable.
HARD_KEYS = [
    pytest.param("with space.txt", id="space"),
    pytest.param("  lead and trail spaces  ", id="outer-spaces"),
    pytest.param("plus+sign+key", id="plus"),
    pytest.param("percent%literal", id="percent"),
    pytest.param("percent%20encoded-looking", id="percent20"),
    pytest.param("equals=sign&amp=x", id="equals-amp"),
    pytest.param("tilde~key", id="tilde"),
    pytest.param("unicode-\u00fcn\u00efc\u00f8d\u00e9-\u65e5\u672c\u8a9e-\u0939\u093f\u0928\u094d\u0926\u0940", id="unicode"),
    pytest.param("emoji-\U0001f600\U0001f680\U0001f9ea", id="emoji"),
    pytest.param("double//slash", id="double-slash"),
    pytest.param("/leading-slash", id="leading-slash"),
    pytest.param("trailing-slash/", id="trailing-slash"),
    pytest.param("dot/./segment", id="dot-segment"),
    pytest.param("dotdot/../segment", id="dotdot-segment"),
    pytest.param("xml<special>&\"quote'apos", id="xml-special"),
    pytest.param("question?mark#hash", id="query-chars"),
    pytest.param("punct !$'()*,;:@[]^`{|}\\", id="punctuation"),
    pytest.param("k" * 1024, id="1024-ascii"),
    pytest.param("\u00e9" * 512, id="1024-bytes-utf8"),
]


def sibling_key(key: str, tag: str = "copy") -> str:
    """A different key derived from `key` that still fits S3's 1024-byte limit."""
    candidate = f"{key}.{tag}"
    if len(candidate.encode()) <= 1024:
        return candidate
    return tag + key[len(tag):]


# --------------------------------------------------------------------------
# clients

_turn = itertools.count()


def settle() -> None:
    """Waits out the time a change made through one gateway takes to reach the others."""
    if PROPAGATION_SECS:
        time.sleep(PROPAGATION_SECS)


def next_endpoint() -> str:
    """The endpoint the next request goes to: ENDPOINT, or each of ENDPOINTS in turn."""
    return ENDPOINTS[next(_turn) % len(ENDPOINTS)]


def _round_robin(request, **_):
    """before-sign hook: moves the request to the next gateway before it is signed (the
    signature covers the Host header, as behind a load balancer that keeps it)."""
    for endpoint in ENDPOINTS:
        if request.url.startswith(endpoint + "/") or request.url == endpoint:
            request.url = next_endpoint() + request.url[len(endpoint):]
            return



def make_client(
    access_key: str | None = None,
    secret_key: str | None = None,
    region: str | None = None,
    unsigned: bool = False,
    signature_version: str = "s3v4",
    **config_kwargs,
):
    """A path-style S3 client (SigV4 unless `signature_version` says otherwise, e.g. "s3"
    for Signature V2); extra kwargs go to botocore Config."""
    s3_cfg = {"addressing_style": "path"}
    s3_cfg.update(config_kwargs.pop("s3", {}))
    cfg = Config(
        s3=s3_cfg,
        signature_version=UNSIGNED if unsigned else signature_version,
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=10,
        read_timeout=60,
        **config_kwargs,
    )
    client = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name=region or REGION,
        aws_access_key_id=ACCESS_KEY if access_key is None else access_key,
        aws_secret_access_key=SECRET_KEY if secret_key is None else secret_key,
        verify=VERIFY,
        config=cfg,
    )
    if len(ENDPOINTS) > 1:
        client.meta.events.register("before-sign.s3", _round_robin)
    return client


# --------------------------------------------------------------------------
# buckets


def unique_bucket_name(hint: str = "t") -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", hint.lower()).strip("-") or "t"
    slug = re.sub(r"-+", "-", slug)[:36].strip("-")
    return f"cnx-{slug}-{uuid.uuid4().hex[:12]}"


def empty_bucket(client, name: str) -> None:
    """Deletes every version and delete marker, as Terraform's force_destroy does:
    ListObjectVersions pages, each followed by one DeleteObjects naming the versions."""
    for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
        doomed = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if doomed:
            client.delete_objects(Bucket=name, Delete={"Objects": doomed, "Quiet": True})


def delete_bucket_quietly(client, name: str) -> None:
    try:
        empty_bucket(client, name)
        client.delete_bucket(Bucket=name)
    except ClientError as e:
        if error_code(e) not in ("NoSuchBucket", "404"):
            raise


def create_bucket(client, name: str):
    return client.create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION}
    )


# --------------------------------------------------------------------------
# errors


def error_code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def error_status(exc: ClientError) -> int:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)


@contextmanager
def expect_error(code, status: int | None = None):
    """Assert that the block raises ClientError with this code (or one of a tuple)."""
    codes = (code,) if isinstance(code, str) else tuple(code)
    with pytest.raises(ClientError) as info:
        yield info
    got = error_code(info.value)
    assert got in codes, f"expected error {codes}, got {got!r}: {info.value.response}"
    if status is not None:
        assert error_status(info.value) == status, info.value.response


# --------------------------------------------------------------------------
# raw HTTP and curl


_POOL = None


def http_pool() -> urllib3.PoolManager:
    global _POOL
    if _POOL is None:
        if IS_HTTPS and VERIFY is False:
            urllib3.disable_warnings()
            _POOL = urllib3.PoolManager(cert_reqs="CERT_NONE")
        elif IS_HTTPS and isinstance(VERIFY, str):
            _POOL = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=VERIFY)
        else:
            _POOL = urllib3.PoolManager()
    return _POOL


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None):
    """Plain HTTP request (no signing); returns a urllib3 response with .data loaded.

    The path and query are sent exactly as given: no dot-segment removal, no
    re-encoding (PoolManager.request would normalise /./ and /../ away).
    """
    parts = urlsplit(url)
    pool = http_pool().connection_from_url(url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return pool.urlopen(
        method,
        target,
        body=body,
        headers=headers or {},
        redirect=False,
        retries=False,
        preload_content=True,
        decode_content=False,
        assert_same_host=False,
    )


def curl_base() -> list[str]:
    if shutil.which("curl") is None:
        pytest.skip("curl not installed")
    cmd = ["curl", "--silent", "--show-error", "--globoff", "--path-as-is"]
    if IS_HTTPS:
        if VERIFY is False:
            cmd.append("--insecure")
        elif isinstance(VERIFY, str):
            cmd += ["--cacert", VERIFY]
    return cmd


def curl(args: list[str], timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        curl_base() + args, capture_output=True, timeout=timeout, check=False
    )


def endpoint_hostport() -> str:
    return urlsplit(ENDPOINT).netloc


# --------------------------------------------------------------------------
# checksums


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def quoted_md5(data: bytes) -> str:
    return f'"{md5_hex(data)}"'


def checksum_b64(algorithm: str, data: bytes) -> str:
    algorithm = algorithm.upper()
    if algorithm == "CRC32":
        return b64((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big"))
    if algorithm == "CRC32C":
        from awscrt import checksums

        return b64(checksums.crc32c(data).to_bytes(4, "big"))
    if algorithm == "CRC64NVME":
        from awscrt import checksums

        return b64(checksums.crc64nvme(data).to_bytes(8, "big"))
    if algorithm == "SHA1":
        return b64(hashlib.sha1(data).digest())
    if algorithm == "SHA256":
        return b64(hashlib.sha256(data).digest())
    raise ValueError(algorithm)


CHECKSUM_FIELD = {
    "CRC32": "ChecksumCRC32",
    "CRC32C": "ChecksumCRC32C",
    "CRC64NVME": "ChecksumCRC64NVME",
    "SHA1": "ChecksumSHA1",
    "SHA256": "ChecksumSHA256",
}


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic, incompressible-ish test data."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def http_date(when: dt.datetime) -> str:
    when = when.astimezone(dt.timezone.utc)
    return when.strftime("%a, %d %b %Y %H:%M:%S GMT")


class RequestRecorder:
    """Records the headers of every request a client sends (before-send hook)."""

    def __init__(self, client):
        self.requests = []
        client.meta.events.register("before-send.s3", self._record)

    def _record(self, request, **kwargs):
        self.requests.append(
            (
                request.method,
                request.url,
                {
                    k.lower(): (v.decode() if isinstance(v, bytes) else v)
                    for k, v in request.headers.items()
                },
            )
        )

    def last(self, method: str | None = None):
        for req in reversed(self.requests):
            if method is None or req[0] == method:
                return req
        raise AssertionError("no request recorded")


def versions_of(s3, bucket, **kw) -> list[tuple]:
    """[(key, version id, is latest, is delete marker)] in listing order (all pages)."""
    out = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, **kw):
        entries = [(v, False) for v in page.get("Versions", [])]
        entries += [(m, True) for m in page.get("DeleteMarkers", [])]
        # boto3 splits versions from markers; put them back in S3's order: keys in order,
        # each key's latest first, then newest first.
        entries.sort(
            key=lambda e: (e[0]["Key"], not e[0]["IsLatest"], -e[0]["LastModified"].timestamp())
        )
        out += [(e["Key"], e["VersionId"], e["IsLatest"], marker) for e, marker in entries]
    return out

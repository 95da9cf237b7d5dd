"""Helpers for the MinIO Python SDK suite (env: s3-compat/SUITES.md).

  S3_ENDPOINT    http(s)://127.0.0.1:PORT (required)
  S3_ACCESS_KEY  / S3_SECRET_KEY (required)
  S3_REGION      default in-mum
  S3_CA_BUNDLE   PEM to trust for https (S3_VERIFY accepted as a fallback; "false" = no verification)
  S3_RESULTS     where conftest.py writes the results JSON
  S3_WORKDIR     scratch directory
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import secrets
import ssl
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject

ENDPOINT = os.environ.get("S3_ENDPOINT", "").rstrip("/")
ACCESS_KEY = os.environ.get("S3_ACCESS_KEY", "")
SECRET_KEY = os.environ.get("S3_SECRET_KEY", "")
REGION = os.environ.get("S3_REGION", "") or "in-mum"
_CA = os.environ.get("S3_CA_BUNDLE", "") or os.environ.get("S3_VERIFY", "")
INSECURE = _CA.lower() in ("false", "0", "no", "off")
CA_BUNDLE = "" if INSECURE else _CA
IS_HTTPS = ENDPOINT.startswith("https://")
NETLOC = urlsplit(ENDPOINT).netloc

MiB = 1024 * 1024


def http_pool() -> urllib3.PoolManager:
    """The urllib3 pool minio uses: trusts S3_CA_BUNDLE for https; no retries on HTTP status."""
    kwargs = dict(
        timeout=urllib3.Timeout(connect=10, read=120),
        maxsize=32,
        retries=urllib3.Retry(total=1, connect=1, read=0, status=0, backoff_factor=0.1, redirect=False),
    )
    if IS_HTTPS:
        if INSECURE:
            kwargs["cert_reqs"] = "CERT_NONE"
        else:
            kwargs["cert_reqs"] = "CERT_REQUIRED"
            if CA_BUNDLE:
                kwargs["ca_certs"] = CA_BUNDLE
    return urllib3.PoolManager(**kwargs)


def make_client(access_key: str | None = None, secret_key: str | None = None) -> Minio:
    return Minio(
        NETLOC,
        access_key=ACCESS_KEY if access_key is None else access_key,
        secret_key=SECRET_KEY if secret_key is None else secret_key,
        secure=IS_HTTPS,
        region=REGION,
        http_client=http_pool(),
    )


def unique_bucket(tag: str = "") -> str:
    slug = re.sub(r"[^a-z0-9-]+", "-", tag.lower()).strip("-")[:30].strip("-")
    return "-".join(p for p in ("minio", slug, secrets.token_hex(5)) if p)


def empty_and_remove(client: Minio, bucket: str) -> None:
    try:
        if not client.bucket_exists(bucket):
            return
        names = [o.object_name for o in client.list_objects(bucket, recursive=True)]
        errors = list(client.remove_objects(bucket, (DeleteObject(n) for n in names)))
        for err in errors:  # fall back to single deletes
            client.remove_object(bucket, err.name)
        client.remove_bucket(bucket)
    except Exception:  # noqa: BLE001 - best-effort cleanup
        pass


def put_bytes(client: Minio, bucket: str, key: str, data: bytes, **kwargs):
    return client.put_object(bucket, key, io.BytesIO(data), len(data), **kwargs)


def get_bytes(client: Minio, bucket: str, key: str, **kwargs) -> bytes:
    resp = client.get_object(bucket, key, **kwargs)
    try:
        return resp.read()
    finally:
        resp.close()
        resp.release_conn()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def multipart_etag(data: bytes, part_size: int) -> str:
    digests = b"".join(hashlib.md5(data[i:i + part_size]).digest() for i in range(0, len(data), part_size))
    count = (len(data) + part_size - 1) // part_size
    return f"{hashlib.md5(digests).hexdigest()}-{count}"


def ssl_context():
    if not IS_HTTPS:
        return None
    if INSECURE:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=CA_BUNDLE or None)


def http(method: str, url: str, data: bytes | None = None, headers: dict | None = None):
    """Plain urllib request (for presigned URLs) -> (status, headers, body)."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, context=ssl_context(), timeout=60) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


class Trace(io.StringIO):
    """minio's trace_on() stream: the request lines it saw."""

    def requests(self, method: str | None = None) -> list[str]:
        lines = re.findall(r"^(?:GET|PUT|POST|DELETE|HEAD) \S+ HTTP/1\.1$", self.getvalue(), re.M)
        return [ln for ln in lines if method is None or ln.startswith(method + " ")]


def load_hard_keys() -> list[dict]:
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "keys", "hard-keys.json"), encoding="utf-8") as fh:
        return json.load(fh)["keys"]

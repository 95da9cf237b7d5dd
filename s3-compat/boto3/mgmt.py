"""Client and contract checker for the cnx-storage management API (/storage/...).

Every response an `Api` receives is checked against openapi/storage.yaml: the operation
is found by path template + method, the status must be documented for it, headers the
document marks required must be present and valid, and the JSON body is validated with
jsonschema's Draft 2020-12 validator (format checker on) after resolving $refs.

Environment, besides s3util's:
  CNX_JWT_PRIVATE_KEY  PEM RSA private key whose public half is the server's
                       [auth.jwt] public_key (set by s3-compat/run); JWT tests skip without it
  CNX_BINARY           the cnx-storage binary (set by s3-compat/run); tests that start a
                       dedicated server skip without it
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import pytest
import requests
import yaml
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from s3util import ACCESS_KEY, ENDPOINT, REGION, SECRET_KEY, VERIFY, next_endpoint

SPEC_PATH = Path(__file__).resolve().parents[2] / "openapi" / "storage.yaml"
SPEC_URI = "urn:cnx-storage:openapi:storage"
JWT_PRIVATE_KEY = os.environ.get("CNX_JWT_PRIVATE_KEY", "")
BINARY = os.environ.get("CNX_BINARY", "")


def owner_id(account: str) -> str:
    return hashlib.sha256(f"cnx-storage/owner/{account}".encode()).hexdigest()


# --------------------------------------------------------------------------
# the OpenAPI document


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class Spec:
    def __init__(self, path: Path = SPEC_PATH):
        with open(path, encoding="utf-8") as f:
            self.doc = yaml.safe_load(f)
        self.registry = Registry().with_resource(
            SPEC_URI, DRAFT202012.create_resource(self.doc)
        )
        self.templates = []
        for template in self.doc["paths"]:
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            self.templates.append((re.compile(regex), template))

    def pointer(self, ptr: str):
        node = self.doc
        for token in ptr.lstrip("#/").split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[token]
        return node

    def deref(self, ptr: str):
        """(pointer, node) following Reference Objects."""
        node = self.pointer(ptr)
        while isinstance(node, dict) and "$ref" in node:
            ptr = node["$ref"]
            assert ptr.startswith("#/"), ptr
            node = self.pointer(ptr)
        return ptr, node

    def template_for(self, path: str) -> str | None:
        for regex, template in self.templates:
            if regex.match(path):
                return template
        return None

    @lru_cache(maxsize=None)
    def validator(self, schema_ptr: str) -> Draft202012Validator:
        return Draft202012Validator(
            {"$ref": f"{SPEC_URI}{schema_ptr}"},
            registry=self.registry,
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )

    def validate_schema(self, schema_ptr: str, instance, what: str) -> None:
        errors = sorted(
            self.validator(schema_ptr).iter_errors(instance), key=lambda e: list(e.path)
        )
        if errors:
            lines = [
                f"  at /{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:10]
            ]
            raise AssertionError(
                f"{what} does not match {schema_ptr}:\n"
                + "\n".join(lines)
                + f"\nbody: {json.dumps(instance)[:2000]}"
            )

    def component(self, name: str, instance, what: str = "instance") -> None:
        self.validate_schema(f"#/components/schemas/{name}", instance, what)

    def check_response(self, resp: requests.Response):
        """Validates one real response; returns its parsed JSON body (None without one)."""
        method = resp.request.method.lower()
        path = urlsplit(resp.request.url).path
        what = f"{resp.request.method} {path} -> {resp.status_code}"
        template = self.template_for(path)
        assert template is not None, f"{what}: path is not in {SPEC_PATH.name}"
        path_item = self.doc["paths"][template]
        assert method in path_item, f"{what}: method not documented for {template}"
        op_ptr = f"#/paths/{_escape(template)}/{method}"
        responses = path_item[method]["responses"]
        status = str(resp.status_code)
        assert status in responses, (
            f"{what}: status {status} is not documented for {method.upper()} {template} "
            f"(documented: {sorted(responses)}); body: {resp.text[:500]}"
        )
        resp_ptr, response = self.deref(f"{op_ptr}/responses/{status}")
        for name, header in (response.get("headers") or {}).items():
            _, header = self.deref(header["$ref"]) if "$ref" in header else (None, header)
            value = resp.headers.get(name)
            if value is None:
                assert not header.get("required"), f"{what}: required header {name} missing"
                continue
            schema = header.get("schema", {})
            instance = value
            if schema.get("type") == "integer":
                assert re.fullmatch(r"[0-9]+", value), f"{what}: header {name}={value!r}"
                instance = int(value)
            errors = list(Draft202012Validator(schema).iter_errors(instance))
            assert not errors, f"{what}: header {name}={value!r}: {errors[0].message}"
        content = response.get("content")
        if not content:
            assert resp.content == b"", f"{what}: undocumented body {resp.content[:200]!r}"
            return None
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        assert ctype in content, f"{what}: content-type {ctype!r} not in {sorted(content)}"
        try:
            body = resp.json()
        except ValueError as e:
            raise AssertionError(f"{what}: body is not JSON: {resp.text[:300]!r}") from e
        media_ptr = f"{resp_ptr}/content/{_escape(ctype)}/schema"
        self.validate_schema(media_ptr, body, what)
        return body


_SPEC: Spec | None = None


def spec() -> Spec:
    global _SPEC
    if _SPEC is None:
        _SPEC = Spec()
    return _SPEC


# --------------------------------------------------------------------------
# HTTP client


def _verify():
    return True if VERIFY is None else VERIFY


class Api:
    """Signs with SigV4 (service cloudnx) or sends a bearer token; validates every response."""

    def __init__(
        self,
        access_key: str | None = None,
        secret_key: str | None = None,
        *,
        token: str | None = None,
        service: str = "cloudnx",
        endpoint: str | None = None,
        unsigned: bool = False,
    ):
        self.access_key = ACCESS_KEY if access_key is None else access_key
        self.secret_key = SECRET_KEY if secret_key is None else secret_key
        self.token = token
        self.service = service
        # None: each request goes to the next of S3_ENDPOINTS' gateways
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self.unsigned = unsigned
        self.session = requests.Session()
        # passed on every request: a session-level verify loses to REQUESTS_CA_BUNDLE
        self.verify = _verify()

    def url(self, path: str, params: dict | None = None) -> str:
        url = (self.endpoint or next_endpoint()) + path
        if params:
            url += "?" + urlencode(params, quote_via=quote)
        return url

    def request(
        self,
        method: str,
        path: str,
        body=None,
        *,
        params: dict | None = None,
        headers: dict | None = None,
        data: bytes | None = None,
        unsigned_headers: dict | None = None,
        validate: bool = True,
    ) -> requests.Response:
        """`body` is sent as JSON; `data` as raw bytes; `unsigned_headers` are added after
        signing (for values botocore cannot sign). The response gets `.doc`, its JSON."""
        headers = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        data = data or b""
        url = self.url(path, params)
        if self.token is not None:
            headers["Authorization"] = f"Bearer {self.token}"
        elif not self.unsigned:
            req = AWSRequest(method=method, url=url, data=data, headers=headers)
            # service s3 is signed as S3 clients do (with x-amz-content-sha256)
            signer = S3SigV4Auth if self.service == "s3" else SigV4Auth
            signer(
                Credentials(self.access_key, self.secret_key), self.service, REGION
            ).add_auth(req)
            headers = dict(req.headers.items())
        headers.update(unsigned_headers or {})
        resp = self.session.request(
            method, url, data=data, headers=headers, allow_redirects=False, timeout=60,
            verify=self.verify,
        )
        assert resp.status_code < 500, (
            f"{method} {path}: server error {resp.status_code}: {resp.text[:500]}"
        )
        resp.doc = spec().check_response(resp) if validate else _json_or_none(resp)
        return resp

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def _json_or_none(resp: requests.Response):
    try:
        return resp.json()
    except ValueError:
        return None


def expect(resp: requests.Response, status: int, contains: str | None = None):
    """Asserts the status (and for errors a substring of the message); returns the body."""
    assert resp.status_code == status, (
        f"{resp.request.method} {resp.request.url}: expected {status}, got "
        f"{resp.status_code}: {resp.text[:500]}"
    )
    if contains is not None:
        assert contains.lower() in resp.doc["error"].lower(), resp.doc
    return resp.doc


def bpath(bucket: str, *rest: str) -> str:
    parts = [quote(bucket, safe="")] + [quote(r, safe="") for r in rest]
    return "/storage/buckets/" + "/".join(parts)


def list_all(api: Api, path: str, field: str, limit: int, **params) -> list[dict]:
    """Follows next_cursor through every page, checking each page is at most `limit` long."""
    items: list[dict] = []
    cursor = None
    for _ in range(1000):
        q = {"limit": limit, **params}
        if cursor:
            q["cursor"] = cursor
        doc = expect(api.get(path, params=q), 200)
        assert len(doc[field]) <= limit
        items += doc[field]
        cursor = doc["next_cursor"]
        if cursor is None:
            return items
        assert doc[field], "a page with a next_cursor must not be empty"
    raise AssertionError("pagination does not end")


# --------------------------------------------------------------------------
# JWTs (RS256 signed with cryptography; HS256 / none for negative cases)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def make_jwt(
    claims: dict,
    *,
    alg: str = "RS256",
    private_key_pem: bytes | None = None,
    hs_secret: bytes = b"not-the-issuer-secret",
    kid: str | None = None,
) -> str:
    header = {"alg": alg, "typ": "JWT"}
    if kid:
        header["kid"] = kid
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    if alg == "RS256":
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        if private_key_pem is None:
            if not JWT_PRIVATE_KEY:
                pytest.skip("CNX_JWT_PRIVATE_KEY is not set (s3-compat/run sets it)")
            private_key_pem = Path(JWT_PRIVATE_KEY).read_bytes()
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        sig = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    elif alg == "HS256":
        sig = hmac.new(hs_secret, signing_input.encode(), hashlib.sha256).digest()
    elif alg == "none":
        sig = b""
    else:
        raise ValueError(alg)
    return signing_input + "." + _b64url(sig)


def new_rsa_private_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def token_for(account: str, lifetime: int = 300, **extra) -> str:
    now = int(time.time())
    return make_jwt({"sub": account, "iat": now, "exp": now + lifetime, **extra})


# --------------------------------------------------------------------------
# a dedicated server (for rate limits, restarts)


class DedicatedServer:
    """cnx-storage on 127.0.0.1:0 (plain http) with its own data dir and config."""

    def __init__(self, config: str, data_dir: str | None = None):
        if not BINARY:
            pytest.skip("CNX_BINARY is not set (s3-compat/run sets it)")
        self.own_dir = data_dir is None
        self.dir = data_dir or tempfile.mkdtemp(prefix="cnx-mgmt-")
        self.config = config
        self.proc = None
        self.endpoint = ""

    def start(self) -> "DedicatedServer":
        cfg = os.path.join(self.dir, "config.toml")
        with open(cfg, "w", encoding="utf-8") as f:
            f.write(self.config)
        env = dict(
            os.environ,
            CNX_ROOT_ACCESS_KEY=ACCESS_KEY,
            CNX_ROOT_SECRET_KEY=SECRET_KEY,
            CNX_REGION=REGION,
        )
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.proc = subprocess.Popen(
            [BINARY, "serve", "--listen", "127.0.0.1:0", "--data-dir",
             os.path.join(self.dir, "data"), "--config", cfg],
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
        )
        deadline = time.monotonic() + 60
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 1)
            if ready:
                line = self.proc.stdout.readline()
                if not line:
                    break
                m = re.match(rb"^listening on (\S+)$", line.strip())
                if m:
                    self.endpoint = "http://" + m.group(1).decode()
                    return self
            if self.proc.poll() is not None:
                break
        self.stop()
        raise AssertionError(f"dedicated server did not start (last line {line!r})")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.stderr.close()
            self.proc = None

    def cleanup(self) -> None:
        self.stop()
        if self.own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

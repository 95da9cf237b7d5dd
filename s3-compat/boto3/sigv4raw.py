"""A small independent SigV4 signer for requests boto3 cannot produce:
signed aws-chunked bodies (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]),
unsigned trailers over plain http, literal/unsigned payload hashes, skewed
clocks and deliberately broken signatures.

Written from the AWS SigV4 description; test_chunked.py checks it against
AWS's published chunked-upload example before using it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, urlsplit

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def uri_encode(value: str, slash: bool = False) -> str:
    """RFC 3986 encoding as SigV4 wants it (A-Z a-z 0-9 - _ . ~ unreserved)."""
    return quote(value, safe="-_.~" + ("/" if slash else ""))


def key_path(bucket: str, key: str) -> str:
    return "/" + uri_encode(bucket) + "/" + uri_encode(key, slash=True)


@dataclass
class Signer:
    access_key: str
    secret_key: str
    region: str
    service: str = "s3"
    when: dt.datetime | None = None  # UTC; default now
    amz_date: str = field(init=False, default="")
    scope: str = field(init=False, default="")
    signing_key: bytes = field(init=False, default=b"")

    def __post_init__(self):
        when = self.when or dt.datetime.now(dt.timezone.utc)
        if when.tzinfo is not None:
            when = when.astimezone(dt.timezone.utc)
        self.amz_date = when.strftime("%Y%m%dT%H%M%SZ")
        day = self.amz_date[:8]
        self.scope = f"{day}/{self.region}/{self.service}/aws4_request"
        k = _hmac(("AWS4" + self.secret_key).encode(), day)
        k = _hmac(k, self.region)
        k = _hmac(k, self.service)
        self.signing_key = _hmac(k, "aws4_request")

    def sign(self, string_to_sign: str) -> str:
        return hmac.new(self.signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()

    # ------------------------------------------------------------ requests

    @staticmethod
    def canonical_query(query: list[tuple[str, str]]) -> str:
        pairs = sorted((uri_encode(k), uri_encode(v)) for k, v in query)
        return "&".join(f"{k}={v}" for k, v in pairs)

    def sign_headers(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        payload_hash: str,
        query: list[tuple[str, str]] | None = None,
    ) -> tuple[dict[str, str], str]:
        """Adds x-amz-date, x-amz-content-sha256, host and Authorization.

        `url` carries scheme://host:port, the already-encoded path and maybe an
        encoded query string; extra `query` pairs are given unencoded (and must
        then also be sent). Returns (headers, seed_signature).
        """
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True) + list(query or [])
        out = dict(headers)
        out["host"] = parts.netloc
        out["x-amz-date"] = self.amz_date
        out["x-amz-content-sha256"] = payload_hash
        names = sorted(k.lower() for k in out)
        lowered = {k.lower(): " ".join(str(v).strip().split()) for k, v in out.items()}
        canonical_headers = "".join(f"{n}:{lowered[n]}\n" for n in names)
        signed_headers = ";".join(names)
        canonical_request = "\n".join(
            [
                method,
                parts.path or "/",
                self.canonical_query(query),
                canonical_headers,
                signed_headers,
                payload_hash,
            ]
        )
        sts = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                self.amz_date,
                self.scope,
                hashlib.sha256(canonical_request.encode()).hexdigest(),
            ]
        )
        signature = self.sign(sts)
        out["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.access_key}/{self.scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )
        del out["host"]  # the HTTP client sends it
        return out, signature

    # ------------------------------------------------------------ chunks

    def chunk_signature(self, previous: str, data: bytes) -> str:
        sts = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                self.amz_date,
                self.scope,
                previous,
                EMPTY_SHA256,
                hashlib.sha256(data).hexdigest(),
            ]
        )
        return self.sign(sts)

    def trailer_signature(self, previous: str, trailers: list[tuple[str, str]]) -> str:
        canonical = "".join(f"{k.lower()}:{v.strip()}\n" for k, v in trailers)
        sts = "\n".join(
            [
                "AWS4-HMAC-SHA256-TRAILER",
                self.amz_date,
                self.scope,
                previous,
                hashlib.sha256(canonical.encode()).hexdigest(),
            ]
        )
        return self.sign(sts)


def split_chunks(data: bytes, chunk_size: int) -> list[bytes]:
    return [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]


def signed_chunked_body(
    signer: Signer,
    seed: str,
    data: bytes,
    chunk_size: int,
    trailers: list[tuple[str, str]] | None = None,
    corrupt_chunk: int | None = None,
) -> bytes:
    """aws-chunked body with chained chunk signatures and optional signed trailer."""
    out = bytearray()
    previous = seed
    for i, chunk in enumerate(split_chunks(data, chunk_size) + [b""]):
        sig = signer.chunk_signature(previous, chunk)
        previous = sig
        sent = chunk
        if corrupt_chunk == i and chunk:
            sent = bytes([chunk[0] ^ 0x01]) + chunk[1:]
        out += f"{len(chunk):x};chunk-signature={sig}\r\n".encode()
        if chunk:
            out += sent + b"\r\n"
    if trailers is not None:
        for k, v in trailers:
            out += f"{k}:{v}\r\n".encode()
        out += f"x-amz-trailer-signature:{signer.trailer_signature(previous, trailers)}\r\n".encode()
        out += b"\r\n"
    else:
        out += b"\r\n"
    return bytes(out)


def unsigned_chunked_body(data: bytes, chunk_size: int, trailers: list[tuple[str, str]]) -> bytes:
    out = bytearray()
    for chunk in split_chunks(data, chunk_size):
        out += f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    out += b"0\r\n"
    for k, v in trailers:
        out += f"{k}:{v}\r\n".encode()
    out += b"\r\n"
    return bytes(out)

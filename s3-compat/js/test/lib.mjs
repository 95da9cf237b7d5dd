// Shared helpers for the aws-sdk-js v3 suite (see ../README.md).
//
// Environment (set by s3-compat/run, see s3-compat/SUITES.md):
//   S3_ENDPOINT    http(s)://127.0.0.1:PORT (required)
//   S3_ACCESS_KEY  access key allowed to create buckets (required)
//   S3_SECRET_KEY  its secret (required)
//   S3_REGION      signing region, default in-mum
//   S3_CA_BUNDLE   PEM of the server's self-signed certificate when https
//                  (S3_VERIFY, the boto3 spelling, is accepted too; "false" disables verification)
//   S3_WORKDIR     scratch directory (default: the OS temp dir)
//
// Every test gets its own uniquely named bucket ("aws-sdk-js-<hint>-<random>"),
// emptied (objects and unfinished multipart uploads) and deleted afterwards.

import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { test } from "node:test";

import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  S3Client,
  paginateListObjectsV2,
} from "@aws-sdk/client-s3";
import { NodeHttpHandler } from "@smithy/node-http-handler";

export const CLIENT_NAME = "aws-sdk-js";
export const ENDPOINT = (process.env.S3_ENDPOINT || "").replace(/\/+$/, "");
export const ACCESS_KEY = process.env.S3_ACCESS_KEY || "";
export const SECRET_KEY = process.env.S3_SECRET_KEY || "";
export const REGION = process.env.S3_REGION || "in-mum";
export const IS_HTTPS = ENDPOINT.startsWith("https://");
export const WORKDIR = process.env.S3_WORKDIR || os.tmpdir();
export const MIB = 1024 * 1024;

if (!ENDPOINT || !ACCESS_KEY || !SECRET_KEY) {
  throw new Error("set S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY (see s3-compat/js/README.md)");
}

// ------------------------------------------------------------------ TLS

function tlsSettings() {
  const raw = process.env.S3_CA_BUNDLE || process.env.S3_VERIFY || "";
  if (["false", "0", "no", "off"].includes(raw.toLowerCase())) return { rejectUnauthorized: false };
  if (raw) return { ca: fs.readFileSync(raw) };
  return {};
}
export const TLS = tlsSettings();

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 64, ...TLS });

// ------------------------------------------------------------------ clients

/** A path-style SigV4 client; `overrides` go to the S3Client config. */
export function makeClient(overrides = {}) {
  const { accessKeyId, secretAccessKey, ...config } = overrides;
  return new S3Client({
    endpoint: ENDPOINT,
    region: REGION,
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: {
      accessKeyId: accessKeyId ?? ACCESS_KEY,
      secretAccessKey: secretAccessKey ?? SECRET_KEY,
    },
    requestHandler: new NodeHttpHandler({
      httpAgent,
      httpsAgent,
      connectionTimeout: 10_000,
      requestTimeout: 60_000,
    }),
    ...config,
  });
}

export const s3 = makeClient();

/** Records method, path, query and headers of every request a client sends. */
export function recordRequests(client) {
  const requests = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      const r = args.request;
      requests.push({
        method: r.method,
        path: r.path,
        query: { ...r.query },
        headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k.toLowerCase(), v])),
      });
      return next(args);
    },
    { step: "finalizeRequest", priority: "low", name: "cnxRecordRequests" },
  );
  return requests;
}

// ------------------------------------------------------------------ buckets

export function uniqueBucketName(hint = "t") {
  let slug = hint
    .toLowerCase()
    .replace(/^\[[^\]]*\]\s*/, "")
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "");
  slug = (slug || "t").slice(0, 30).replace(/-$/, "");
  return `${CLIENT_NAME}-${slug}-${crypto.randomBytes(5).toString("hex")}`;
}

export async function createBucket(name, client = s3) {
  return client.send(
    new CreateBucketCommand({ Bucket: name, CreateBucketConfiguration: { LocationConstraint: REGION } }),
  );
}

/** Deletes every object (DeleteObjects, 1,000 a batch) and aborts unfinished uploads. */
export async function emptyBucket(name, client = s3) {
  const keys = [];
  for await (const page of paginateListObjectsV2({ client }, { Bucket: name })) {
    for (const o of page.Contents ?? []) keys.push(o.Key);
  }
  for (let i = 0; i < keys.length; i += 1000) {
    const batch = keys.slice(i, i + 1000);
    const resp = await client.send(
      new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
    );
    for (const e of resp.Errors ?? []) {
      await client.send(new DeleteObjectCommand({ Bucket: name, Key: e.Key }));
    }
  }
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: name }));
  for (const u of uploads.Uploads ?? []) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: name, Key: u.Key, UploadId: u.UploadId }));
  }
}

export async function deleteBucketQuietly(name, client = s3) {
  try {
    await emptyBucket(name, client);
    await client.send(new DeleteBucketCommand({ Bucket: name }));
  } catch (err) {
    if (err?.name !== "NoSuchBucket") throw err;
  }
}

// ------------------------------------------------------------------ tests

export const GROUPS = [
  "auth/presign",
  "buckets",
  "objects",
  "conditional/range",
  "copy",
  "list",
  "multipart",
  "checksums",
  "errors",
  "management",
  "hard keys",
];

/**
 * s3test("[group] name", async ({ bucket, makeBucket, s3 }) => ...)
 *
 * The "[group] " prefix maps the test to its results group (run.mjs / reporter.mjs).
 * A fresh bucket is created unless opts.bucket === false; every bucket made through
 * makeBucket() is emptied and deleted afterwards. A cleanup failure fails a test
 * that otherwise passed (a server that cannot delete is a finding too).
 */
export function s3test(name, fn, opts = {}) {
  const match = /^\[([^\]]+)\] /.exec(name);
  if (!match || !GROUPS.includes(match[1])) throw new Error(`test name needs a known [group] prefix: ${name}`);
  test(name, { timeout: opts.timeout ?? 60_000, skip: opts.skip }, async (t) => {
    const made = [];
    const makeBucket = async (hint = name) => {
      const bucketName = uniqueBucketName(hint);
      await createBucket(bucketName);
      made.push(bucketName);
      return bucketName;
    };
    let ok = false;
    try {
      const bucket = opts.bucket === false ? undefined : await makeBucket(name);
      await fn({ t, s3, bucket, makeBucket });
      ok = true;
    } finally {
      for (const b of made.reverse()) {
        try {
          await deleteBucketQuietly(b);
        } catch (err) {
          if (ok) throw new Error(`cleanup of bucket ${b} failed: ${err?.name}: ${err?.message}`, { cause: err });
        }
      }
    }
  });
}

/** Awaits `promise`, which must reject with an S3 error of this name (or one of these) and status. */
export async function expectError(promise, name, status) {
  const names = Array.isArray(name) ? name : [name];
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected error ${names.join("|")}, but the call succeeded`);
  const got = err.name;
  const gotStatus = err.$metadata?.httpStatusCode;
  assert.ok(
    names.includes(got),
    `expected error ${names.join("|")}, got ${got} (HTTP ${gotStatus}): ${err.message}`,
  );
  if (status !== undefined) {
    assert.equal(gotStatus, status, `expected HTTP ${status} for ${got}, got ${gotStatus}`);
  }
  return err;
}

/** Awaits `promise`, which must fail with this HTTP status (any error name). */
export async function expectStatus(promise, status) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected HTTP ${status}, but the call succeeded`);
  assert.equal(err.$metadata?.httpStatusCode, status, `expected HTTP ${status}, got ${err.name}: ${err.message}`);
  return err;
}

// ------------------------------------------------------------------ bodies

export async function bodyBytes(resp) {
  return Buffer.from(await resp.Body.transformToByteArray());
}

/** Deterministic incompressible bytes (sha256 counter stream). */
export function payload(size, seed = 0) {
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  for (let i = 0; off < size; i++) {
    const block = crypto.createHash("sha256").update(`${seed}:${i}`).digest();
    off += block.copy(out, off, 0, Math.min(32, size - off));
  }
  return out;
}

export function md5Hex(data) {
  return crypto.createHash("md5").update(data).digest("hex");
}

export function quotedMd5(data) {
  return `"${md5Hex(data)}"`;
}

export function multipartEtag(parts) {
  const digests = Buffer.concat(parts.map((p) => crypto.createHash("md5").update(p).digest()));
  return `"${md5Hex(digests)}-${parts.length}"`;
}

/** A scratch file under S3_WORKDIR, removed by the caller. */
export function scratchFile(data, name = "upload.bin") {
  const dir = fs.mkdtempSync(path.join(WORKDIR, "aws-sdk-js-"));
  const file = path.join(dir, name);
  fs.writeFileSync(file, data);
  return { file, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** Runs fn over items with at most `limit` in flight. */
export async function mapLimit(items, limit, fn) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// ------------------------------------------------------------------ checksums

function crcTable32(poly) {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}
const CRC32_TABLE = crcTable32(0xedb88320);
const CRC32C_TABLE = crcTable32(0x82f63b78);

function crc32With(table, data) {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return out;
}

const CRC64_POLY = 0x9a6c9329ac4bc9b5n;
const CRC64_TABLE = (() => {
  const table = new Array(256);
  for (let n = 0n; n < 256n; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ CRC64_POLY : c >> 1n;
    table[Number(n)] = c;
  }
  return table;
})();

function crc64nvme(data) {
  const mask = 0xffffffffffffffffn;
  let c = mask;
  for (let i = 0; i < data.length; i++) c = CRC64_TABLE[Number((c ^ BigInt(data[i])) & 0xffn)] ^ (c >> 8n);
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE((c ^ mask) & mask);
  return out;
}

/** Raw checksum bytes of `data` for an S3 ChecksumAlgorithm. */
export function checksumRaw(algorithm, data) {
  switch (algorithm) {
    case "CRC32":
      return crc32With(CRC32_TABLE, data);
    case "CRC32C":
      return crc32With(CRC32C_TABLE, data);
    case "CRC64NVME":
      return crc64nvme(data);
    case "SHA1":
      return crypto.createHash("sha1").update(data).digest();
    case "SHA256":
      return crypto.createHash("sha256").update(data).digest();
    default:
      throw new Error(`unknown checksum algorithm ${algorithm}`);
  }
}

/** Base64 checksum as S3 sends it in x-amz-checksum-*. */
export function checksumB64(algorithm, data) {
  return checksumRaw(algorithm, data).toString("base64");
}

/** S3's composite multipart checksum: checksum of the part checksums, "-N". */
export function compositeChecksum(algorithm, parts) {
  const joined = Buffer.concat(parts.map((p) => checksumRaw(algorithm, p)));
  return `${checksumB64(algorithm, joined)}-${parts.length}`;
}

export const CHECKSUM_FIELD = {
  CRC32: "ChecksumCRC32",
  CRC32C: "ChecksumCRC32C",
  CRC64NVME: "ChecksumCRC64NVME",
  SHA1: "ChecksumSHA1",
  SHA256: "ChecksumSHA256",
};

// ------------------------------------------------------------------ keys

export function loadHardKeys() {
  const file = new URL("../../keys/hard-keys.json", import.meta.url);
  return JSON.parse(fs.readFileSync(file, "utf8")).keys;
}

/** A different key derived from `key` that still fits S3's 1,024-byte limit. */
export function siblingKey(key, tag = "copy") {
  const candidate = `${key}.${tag}`;
  if (Buffer.byteLength(candidate) <= 1024) return candidate;
  return tag + key.slice(tag.length);
}

/** CopySource for CopyObject: the SDK sends it verbatim, so the key is URL-encoded here. */
export function copySource(bucket, key) {
  return `${bucket}/${encodeURIComponent(key)}`;
}

/** Decodes a key from a ListObjects response made with EncodingType "url" (the SDK does not). */
export function decodeUrlKey(value) {
  return decodeURIComponent(value.replace(/\+/g, " "));
}

// ------------------------------------------------------------------ raw HTTP for presigned URLs

/**
 * Sends a presigned URL with global fetch, the way a browser or app would.
 * WHATWG URL parsing (used by fetch) removes "." and ".." path segments, which would
 * change the signed path of keys like "a/../b"; those URLs go through node:http(s)
 * with the path sent byte for byte instead. Returns { status, headers (Headers-like get), body Buffer }.
 */
export async function sendPresigned(url, { method = "GET", headers = {}, body } = {}) {
  const rawTarget = url.replace(/^https?:\/\/[^/]+/, "");
  const parsed = new URL(url);
  if (parsed.pathname + parsed.search === rawTarget) {
    const resp = await fetch(url, { method, headers, body, redirect: "manual" });
    const data = Buffer.from(await resp.arrayBuffer());
    return { status: resp.status, headers: resp.headers, body: data, via: "fetch" };
  }
  return rawRequest(url, { method, headers, body });
}

/** One request with node:http(s), path sent verbatim (no dot-segment removal). */
export function rawRequest(url, { method = "GET", headers = {}, body } = {}) {
  const target = url.replace(/^https?:\/\/[^/]+/, "") || "/";
  const { hostname, port, protocol } = new URL(url);
  const mod = protocol === "https:" ? https : http;
  const hdrs = { ...headers };
  if (body !== undefined) hdrs["content-length"] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const req = mod.request(
      { method, hostname, port, path: target, headers: hdrs, agent: false, ...(protocol === "https:" ? TLS : {}) },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () =>
          resolve({
            status: res.statusCode,
            headers: { get: (name) => res.headers[name.toLowerCase()] ?? null },
            body: Buffer.concat(chunks),
            via: "node:http",
          }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.setTimeout(60_000, () => req.destroy(new Error("request timed out")));
    req.end(body);
  });
}

/** The <Code> of an S3 XML error body. */
export function xmlErrorCode(body) {
  const m = /<Code>([^<]*)<\/Code>/.exec(body.toString("utf8"));
  return m ? m[1] : "";
}

// Objects: PutObject / GetObject / HeadObject / DeleteObject, metadata round trip,
// bodies of every kind the SDK takes, DeleteObjects.
import assert from "node:assert/strict";
import fs from "node:fs";
import { Readable } from "node:stream";
import zlib from "node:zlib";

import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  NotFound,
  PutObjectCommand,
} from "@aws-sdk/client-s3";

import { bodyBytes, expectError, payload, quotedMd5, s3test, scratchFile } from "./lib.mjs";

s3test("[objects] put, get, head and delete round trip", async ({ s3, bucket }) => {
  const body = payload(100_000, 1);
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "obj.bin", Body: body }));
  assert.equal(put.ETag, quotedMd5(body));

  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "obj.bin" }));
  assert.equal(got.$metadata.httpStatusCode, 200);
  assert.deepEqual(await bodyBytes(got), body);
  assert.equal(got.ETag, quotedMd5(body));
  assert.equal(got.ContentLength, body.length);
  assert.equal(got.AcceptRanges, "bytes");
  assert.ok(got.LastModified instanceof Date && !Number.isNaN(got.LastModified.getTime()));
  assert.ok(got.$metadata.requestId, "no x-amz-request-id");

  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "obj.bin" }));
  assert.equal(head.ContentLength, body.length);
  assert.equal(head.ETag, quotedMd5(body));
  assert.equal(head.LastModified.getTime(), got.LastModified.getTime());

  const deleted = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "obj.bin" }));
  assert.equal(deleted.$metadata.httpStatusCode, 204);
  const err = await expectError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: "obj.bin" })), "NoSuchKey", 404);
  assert.ok(err instanceof NoSuchKey, "error is not the SDK's NoSuchKey class");
  const headErr = await expectError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "obj.bin" })), "NotFound", 404);
  assert.ok(headErr instanceof NotFound);
});

s3test("[objects] empty object and PutObject without a body", async ({ s3, bucket }) => {
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "empty", Body: "" }));
  assert.equal(put.ETag, '"d41d8cd98f00b204e9800998ecf8427e"');
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "empty" }));
  assert.equal(got.ContentLength, 0);
  assert.equal((await bodyBytes(got)).length, 0);

  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "nobody" }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "nobody" }));
  assert.equal(head.ContentLength, 0);
});

s3test("[objects] string, Uint8Array, file stream and Readable bodies", async ({ s3, bucket }) => {
  const text = "héllo wörld ✓ — utf-8 string body";
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "string", Body: text }));
  const gotText = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "string" }));
  assert.equal(await gotText.Body.transformToString(), text);

  const bytes = new Uint8Array(Array.from({ length: 256 * 64 }, (_, i) => i % 256));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "bytes", Body: bytes }));
  assert.deepEqual(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "bytes" }))), Buffer.from(bytes));

  const big = payload(3 * 1024 * 1024 + 17, 2);
  const { file, cleanup } = scratchFile(big);
  try {
    const put = await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: "from-file", Body: fs.createReadStream(file), ContentLength: big.length }),
    );
    assert.equal(put.ETag, quotedMd5(big));
    assert.deepEqual(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "from-file" }))), big);
  } finally {
    cleanup();
  }

  const streamed = payload(200_000, 3);
  const stream = Readable.from(
    (function* () {
      for (let i = 0; i < streamed.length; i += 16_384) yield streamed.subarray(i, i + 16_384);
    })(),
  );
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: "readable", Body: stream, ContentLength: streamed.length }),
  );
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "readable" }));
  assert.deepEqual(await bodyBytes(got), streamed);
  assert.equal(got.ContentEncoding, undefined, "aws-chunked leaked into the stored Content-Encoding");
});

s3test("[objects] metadata and standard headers round trip byte-exact", async ({ s3, bucket }) => {
  const body = zlib.gzipSync(Buffer.from("hello metadata ".repeat(100)));
  const expires = new Date(Date.UTC(2031, 4, 17, 8, 9, 10));
  const headers = {
    ContentType: "text/plain; charset=utf-8",
    ContentEncoding: "gzip",
    ContentDisposition: "attachment; filename=\"report 2024.txt\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt",
    ContentLanguage: "en-IN",
    CacheControl: "max-age=3600, must-revalidate",
    Expires: expires,
  };
  const metadata = {
    alpha: "one",
    "with-dash": "Value With  Spaces and symbols !#$%&*+-.^_`|~",
    number: "12345",
    mixedcase: "CaSe PrEsErVeD",
    "json-ish": '{"a":[1,2]}',
  };
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "meta", Body: body, Metadata: metadata, ...headers }));

  for (const resp of [
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "meta" })),
    await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "meta" })),
  ]) {
    assert.deepEqual(resp.Metadata, metadata);
    assert.equal(resp.ContentType, headers.ContentType);
    assert.equal(resp.ContentEncoding, "gzip");
    assert.equal(resp.ContentDisposition, headers.ContentDisposition);
    assert.equal(resp.ContentLanguage, "en-IN");
    assert.equal(resp.CacheControl, headers.CacheControl);
    assert.equal(resp.ExpiresString, expires.toUTCString());
    assert.equal(resp.Expires?.getTime(), expires.getTime());
    if (resp.Body) assert.deepEqual(await bodyBytes(resp), body, "body must be stored as sent, not decompressed");
  }
});

s3test("[objects] metadata names come back lower-cased", async ({ s3, bucket }) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "x", Metadata: { "CamelCase-Name": "V" } }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "k" }));
  assert.deepEqual(head.Metadata, { "camelcase-name": "V" });
});

s3test("[objects] overwrite replaces body and metadata", async ({ s3, bucket }) => {
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "first", Metadata: { gen: "1" }, ContentType: "text/plain" }),
  );
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "second version", Metadata: { other: "2" } }));
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "k" }));
  assert.equal(await got.Body.transformToString(), "second version");
  assert.deepEqual(got.Metadata, { other: "2" });
  assert.notEqual(got.ContentType, "text/plain");
});

s3test("[objects] deleting a missing key is 204", async ({ s3, bucket }) => {
  const resp = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "never-existed" }));
  assert.equal(resp.$metadata.httpStatusCode, 204);
});

s3test("[objects] DeleteObjects reports deleted keys, a missing key included", async ({ s3, bucket }) => {
  const keys = Array.from({ length: 25 }, (_, i) => `multi/${String(i).padStart(3, "0")}`);
  await Promise.all(keys.map((k) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: k }))));
  const resp = await s3.send(
    new DeleteObjectsCommand({
      Bucket: bucket,
      Delete: { Objects: [...keys.slice(0, 20), "multi/absent"].map((Key) => ({ Key })) },
    }),
  );
  assert.deepEqual(resp.Deleted.map((d) => d.Key).sort(), [...keys.slice(0, 20), "multi/absent"].sort());
  assert.equal(resp.Errors, undefined);
  const remaining = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  assert.deepEqual(
    remaining.Contents.map((o) => o.Key),
    keys.slice(20),
  );
});

s3test("[objects] DeleteObjects in Quiet mode lists no Deleted entries", async ({ s3, bucket }) => {
  for (const k of ["q1", "q2"]) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: "x" }));
  const resp = await s3.send(
    new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: "q1" }, { Key: "q2" }], Quiet: true } }),
  );
  assert.ok(!resp.Deleted?.length, `Quiet mode listed ${JSON.stringify(resp.Deleted)}`);
  assert.ok(!resp.Errors?.length);
  assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount, 0);
});

s3test("[objects] keys that differ only in encoding are distinct objects", async ({ s3, bucket }) => {
  const keys = ["a b", "a+b", "a%20b", "a%2Bb", "A b"];
  for (const [i, k] of keys.entries()) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: String(i) }));
  for (const [i, k] of keys.entries()) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
    assert.equal(await got.Body.transformToString(), String(i), `wrong body for ${k}`);
  }
  const listed = (await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents.map((o) => o.Key);
  assert.deepEqual(listed, [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
});

s3test("[objects] a key over 1,024 bytes is KeyTooLongError", async ({ s3, bucket }) => {
  await expectError(
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k".repeat(1025), Body: "x" })),
    "KeyTooLongError",
    400,
  );
});

// Range GETs, conditional GET/HEAD/PUT, response-* overrides.
import assert from "node:assert/strict";

import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";

import { bodyBytes, expectError, expectStatus, payload, quotedMd5, s3test } from "./lib.mjs";

const BODY = payload(10_000, 7);

async function putObj(s3, bucket, key = "obj") {
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: BODY, ContentType: "application/x-obj" }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  return { etag: put.ETag, mtime: head.LastModified };
}

s3test("[conditional/range] range GET returns 206 with the exact slice", async ({ s3, bucket }) => {
  await putObj(s3, bucket);
  const cases = [
    ["bytes=0-9", 0, 9],
    ["bytes=100-199", 100, 199],
    ["bytes=9990-", 9990, 9999],
    ["bytes=-5", 9995, 9999],
    ["bytes=9000-20000", 9000, 9999],
  ];
  for (const [range, start, end] of cases) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "obj", Range: range }));
    assert.equal(got.$metadata.httpStatusCode, 206, range);
    assert.equal(got.ContentRange, `bytes ${start}-${end}/${BODY.length}`, range);
    assert.equal(got.ContentLength, end - start + 1, range);
    assert.deepEqual(await bodyBytes(got), BODY.subarray(start, end + 1), range);
  }
});

s3test("[conditional/range] unsatisfiable range is InvalidRange 416", async ({ s3, bucket }) => {
  await putObj(s3, bucket);
  await expectError(
    s3.send(new GetObjectCommand({ Bucket: bucket, Key: "obj", Range: "bytes=20000-30000" })),
    "InvalidRange",
    416,
  );
});

s3test("[conditional/range] range GET of a 6 MiB object streams the exact slice", async ({ s3, bucket }) => {
  const big = payload(6 * 1024 * 1024 + 11, 8);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "big", Body: big }));
  const start = 5 * 1024 * 1024 - 3;
  const end = 6 * 1024 * 1024 + 5;
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "big", Range: `bytes=${start}-${end}` }));
  assert.deepEqual(await bodyBytes(got), big.subarray(start, end + 1));
});

s3test("[conditional/range] If-None-Match with the current ETag is 304", async ({ s3, bucket }) => {
  const { etag } = await putObj(s3, bucket);
  const err = await expectStatus(s3.send(new GetObjectCommand({ Bucket: bucket, Key: "obj", IfNoneMatch: etag })), 304);
  assert.equal(err.$response?.headers?.etag, etag, "304 must carry the ETag");
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "obj", IfNoneMatch: '"0123456789abcdef0123456789abcdef"' }));
  assert.deepEqual(await bodyBytes(got), BODY);
  await expectStatus(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "obj", IfNoneMatch: etag })), 304);
});

s3test("[conditional/range] If-Match mismatch is PreconditionFailed 412", async ({ s3, bucket }) => {
  const { etag } = await putObj(s3, bucket);
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "obj", IfMatch: etag }));
  assert.deepEqual(await bodyBytes(got), BODY);
  await expectError(
    s3.send(new GetObjectCommand({ Bucket: bucket, Key: "obj", IfMatch: '"0123456789abcdef0123456789abcdef"' })),
    "PreconditionFailed",
    412,
  );
  await expectStatus(
    s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "obj", IfMatch: '"0123456789abcdef0123456789abcdef"' })),
    412,
  );
});

s3test("[conditional/range] If-Modified-Since and If-Unmodified-Since", async ({ s3, bucket }) => {
  const { mtime } = await putObj(s3, bucket);
  const before = new Date(mtime.getTime() - 3600_000);
  const after = new Date(mtime.getTime() + 3600_000);
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "obj", IfModifiedSince: before }));
  assert.equal(got.$metadata.httpStatusCode, 200);
  await bodyBytes(got);
  await expectStatus(s3.send(new GetObjectCommand({ Bucket: bucket, Key: "obj", IfModifiedSince: after })), 304);
  const ok = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "obj", IfUnmodifiedSince: after }));
  await bodyBytes(ok);
  await expectError(
    s3.send(new GetObjectCommand({ Bucket: bucket, Key: "obj", IfUnmodifiedSince: before })),
    "PreconditionFailed",
    412,
  );
});

s3test("[conditional/range] If-Match on a range GET", async ({ s3, bucket }) => {
  const { etag } = await putObj(s3, bucket);
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "obj", IfMatch: etag, Range: "bytes=0-3" }));
  assert.equal(got.$metadata.httpStatusCode, 206);
  assert.deepEqual(await bodyBytes(got), BODY.subarray(0, 4));
});

s3test("[conditional/range] conditional PutObject: If-None-Match * and If-Match", async ({ s3, bucket }) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "cas", Body: "v1", IfNoneMatch: "*" }));
  await expectError(
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: "cas", Body: "v2", IfNoneMatch: "*" })),
    "PreconditionFailed",
    412,
  );
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "cas" }));
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "cas", Body: "v2", IfMatch: head.ETag }));
  assert.equal(put.ETag, quotedMd5(Buffer.from("v2")));
  await expectError(
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: "cas", Body: "v3", IfMatch: head.ETag })),
    "PreconditionFailed",
    412,
  );
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "cas" }));
  assert.equal(await got.Body.transformToString(), "v2");
});

s3test("[conditional/range] response-* overrides on GetObject", async ({ s3, bucket }) => {
  await putObj(s3, bucket);
  const got = await s3.send(
    new GetObjectCommand({
      Bucket: bucket,
      Key: "obj",
      ResponseContentType: "text/x-override",
      ResponseContentDisposition: 'attachment; filename="o.bin"',
      ResponseCacheControl: "no-cache",
      ResponseContentLanguage: "hi",
    }),
  );
  assert.equal(got.ContentType, "text/x-override");
  assert.equal(got.ContentDisposition, 'attachment; filename="o.bin"');
  assert.equal(got.CacheControl, "no-cache");
  assert.equal(got.ContentLanguage, "hi");
  await bodyBytes(got);
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "obj" }));
  assert.equal(head.ContentType, "application/x-obj", "overrides must not change the stored object");
});

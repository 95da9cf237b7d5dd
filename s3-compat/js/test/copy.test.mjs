// CopyObject: same and cross bucket, metadata directives, copy-source conditions, errors.
// The SDK sends CopySource verbatim: the key is URL-encoded by the caller (copySource()).
import assert from "node:assert/strict";

import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";

import { bodyBytes, copySource, expectError, payload, quotedMd5, s3test, uniqueBucketName } from "./lib.mjs";

const BODY = payload(70_000, 9);
const META = { colour: "blue", owner: "team-a" };
const HEADERS = {
  ContentType: "application/x-source",
  ContentDisposition: 'inline; filename="src.bin"',
  ContentLanguage: "mr",
  CacheControl: "private, max-age=60",
};

async function putSource(s3, bucket, key = "src/object") {
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: BODY, Metadata: META, ...HEADERS }));
  return put.ETag;
}

s3test("[copy] CopyObject in one bucket keeps body and metadata", async ({ s3, bucket }) => {
  const etag = await putSource(s3, bucket);
  const resp = await s3.send(
    new CopyObjectCommand({ Bucket: bucket, Key: "dst/copy", CopySource: copySource(bucket, "src/object") }),
  );
  assert.equal(resp.CopyObjectResult.ETag, quotedMd5(BODY));
  assert.ok(resp.CopyObjectResult.LastModified instanceof Date);
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "dst/copy" }));
  assert.deepEqual(await bodyBytes(got), BODY);
  assert.equal(got.ETag, etag);
  assert.deepEqual(got.Metadata, META);
  assert.equal(got.ContentType, HEADERS.ContentType);
  assert.equal(got.ContentDisposition, HEADERS.ContentDisposition);
  assert.equal(got.ContentLanguage, HEADERS.ContentLanguage);
  assert.equal(got.CacheControl, HEADERS.CacheControl);
  const src = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "src/object" }));
  assert.deepEqual(await bodyBytes(src), BODY, "source changed");
});

s3test("[copy] CopyObject across buckets", async ({ s3, bucket, makeBucket }) => {
  await putSource(s3, bucket);
  const other = await makeBucket("copy-dest");
  await s3.send(new CopyObjectCommand({ Bucket: other, Key: "copied", CopySource: copySource(bucket, "src/object") }));
  assert.deepEqual(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: other, Key: "copied" }))), BODY);
});

s3test("[copy] MetadataDirective REPLACE sets new metadata and headers", async ({ s3, bucket }) => {
  await putSource(s3, bucket);
  await s3.send(
    new CopyObjectCommand({
      Bucket: bucket,
      Key: "replaced",
      CopySource: copySource(bucket, "src/object"),
      MetadataDirective: "REPLACE",
      Metadata: { fresh: "1" },
      ContentType: "text/x-new",
      CacheControl: "no-store",
    }),
  );
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "replaced" }));
  assert.deepEqual(head.Metadata, { fresh: "1" });
  assert.equal(head.ContentType, "text/x-new");
  assert.equal(head.CacheControl, "no-store");
  assert.equal(head.ContentDisposition, undefined);
});

s3test("[copy] copying an object onto itself with REPLACE updates its metadata", async ({ s3, bucket }) => {
  await putSource(s3, bucket);
  await s3.send(
    new CopyObjectCommand({
      Bucket: bucket,
      Key: "src/object",
      CopySource: copySource(bucket, "src/object"),
      MetadataDirective: "REPLACE",
      Metadata: { updated: "true" },
      ContentType: "text/plain",
    }),
  );
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "src/object" }));
  assert.deepEqual(got.Metadata, { updated: "true" });
  assert.equal(got.ContentType, "text/plain");
  assert.deepEqual(await bodyBytes(got), BODY);
  await expectError(
    s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "src/object", CopySource: copySource(bucket, "src/object") })),
    "InvalidRequest",
    400,
  );
});

s3test("[copy] CopySource with encoded special characters and a version-less leading slash", async ({ s3, bucket }) => {
  const key = "dir/na me+plus%&é.txt";
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: "encoded" }));
  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "out1", CopySource: copySource(bucket, key) }));
  await s3.send(
    new CopyObjectCommand({ Bucket: bucket, Key: "out2", CopySource: `/${bucket}/${encodeURI(key).replace(/[+&]/g, encodeURIComponent)}` }),
  );
  for (const k of ["out1", "out2"]) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: k }));
    assert.equal(await got.Body.transformToString(), "encoded", k);
  }
});

s3test("[copy] copy-source conditions: If-Match and If-None-Match", async ({ s3, bucket }) => {
  const etag = await putSource(s3, bucket);
  const src = copySource(bucket, "src/object");
  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "c1", CopySource: src, CopySourceIfMatch: etag }));
  await expectError(
    s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "c2", CopySource: src, CopySourceIfMatch: '"deadbeef"' })),
    "PreconditionFailed",
    412,
  );
  await expectError(
    s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "c3", CopySource: src, CopySourceIfNoneMatch: etag })),
    "PreconditionFailed",
    412,
  );
  await expectError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: "c2" })), "NoSuchKey", 404);
});

s3test("[copy] missing source key, source bucket and destination bucket", async ({ s3, bucket }) => {
  await putSource(s3, bucket);
  await expectError(
    s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "dst", CopySource: copySource(bucket, "absent") })),
    "NoSuchKey",
    404,
  );
  await expectError(
    s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "dst", CopySource: copySource(uniqueBucketName("nosrc"), "k") })),
    "NoSuchBucket",
    404,
  );
  await expectError(
    s3.send(
      new CopyObjectCommand({ Bucket: uniqueBucketName("nodst"), Key: "dst", CopySource: copySource(bucket, "src/object") }),
    ),
    "NoSuchBucket",
    404,
  );
});

// Presigned URLs from @aws-sdk/s3-request-presigner, sent with global fetch.
import assert from "node:assert/strict";

import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

import {
  ENDPOINT,
  bodyBytes,
  expectError,
  makeClient,
  payload,
  quotedMd5,
  s3test,
  sendPresigned,
  xmlErrorCode,
} from "./lib.mjs";

const BODY = payload(50_000, 31);

// Since 3.729 the SDK's default checksum mode (WHEN_SUPPORTED) signs the CRC32 of the
// (absent, so empty) body into a presigned PutObject URL (x-amz-checksum-crc32=AAAAAA==),
// which breaks any upload with a real body. The documented fix is a presigning client
// with requestChecksumCalculation "WHEN_REQUIRED" (aws/aws-sdk-js-v3#6994).
const presigner = makeClient({ requestChecksumCalculation: "WHEN_REQUIRED" });

s3test("[auth/presign] presigned GET with fetch", async ({ s3, bucket }) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "dir/get me.bin", Body: BODY, ContentType: "application/x-get" }));
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: "dir/get me.bin" }), { expiresIn: 300 });
  assert.ok(url.startsWith(`${ENDPOINT}/${bucket}/dir/get%20me.bin?`), url);
  const params = new URL(url).searchParams;
  assert.equal(params.get("X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
  assert.equal(params.get("X-Amz-Expires"), "300");
  assert.ok(params.get("X-Amz-Signature"));

  const resp = await fetch(url);
  assert.equal(resp.status, 200);
  assert.deepEqual(Buffer.from(await resp.arrayBuffer()), BODY);
  assert.equal(resp.headers.get("etag"), quotedMd5(BODY));
  assert.equal(resp.headers.get("content-type"), "application/x-get");
  assert.equal(resp.headers.get("content-length"), String(BODY.length));
});

s3test("[auth/presign] presigned GET with a Range header and response-* overrides", async ({ s3, bucket }) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "r", Body: BODY }));
  const url = await getSignedUrl(
    s3,
    new GetObjectCommand({ Bucket: bucket, Key: "r", ResponseContentDisposition: 'attachment; filename="r.bin"' }),
    { expiresIn: 300 },
  );
  const resp = await fetch(url, { headers: { range: "bytes=10-19" } });
  assert.equal(resp.status, 206);
  assert.deepEqual(Buffer.from(await resp.arrayBuffer()), BODY.subarray(10, 20));
  assert.equal(resp.headers.get("content-disposition"), 'attachment; filename="r.bin"');
});

s3test("[auth/presign] presigned PUT with fetch", async ({ s3, bucket }) => {
  const url = await getSignedUrl(presigner, new PutObjectCommand({ Bucket: bucket, Key: "up/put me.bin" }), { expiresIn: 300 });
  assert.ok(!/x-amz-checksum-crc32=/i.test(url), `WHEN_REQUIRED presign carries no checksum: ${url}`);
  const resp = await fetch(url, { method: "PUT", body: BODY });
  assert.equal(resp.status, 200, await resp.text());
  assert.equal(resp.headers.get("etag"), quotedMd5(BODY));
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "up/put me.bin" }));
  assert.deepEqual(await bodyBytes(got), BODY);
});

s3test("[auth/presign] presigned PUT with a signed Content-Type", async ({ s3, bucket }) => {
  // the presigner signs only "host" unless told otherwise
  const url = await getSignedUrl(presigner, new PutObjectCommand({ Bucket: bucket, Key: "typed", ContentType: "text/csv" }), {
    expiresIn: 300,
    signableHeaders: new Set(["content-type"]),
  });
  assert.equal(new URL(url).searchParams.get("X-Amz-SignedHeaders"), "content-type;host");
  const ok = await fetch(url, { method: "PUT", body: "a,b\n1,2\n", headers: { "content-type": "text/csv" } });
  assert.equal(ok.status, 200, await ok.text());
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "typed" }));
  assert.equal(head.ContentType, "text/csv");

  const other = await fetch(url, { method: "PUT", body: "x", headers: { "content-type": "application/json" } });
  assert.equal(other.status, 403, "a different Content-Type breaks the signature");
  assert.equal(xmlErrorCode(Buffer.from(await other.arrayBuffer())), "SignatureDoesNotMatch");
  const still = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "typed" }));
  assert.equal(await still.Body.transformToString(), "a,b\n1,2\n");
});

s3test("[auth/presign] presigned PUT stores metadata the presigner hoisted into the query", async ({ s3, bucket }) => {
  // getSignedUrl moves x-amz-meta-* headers into the query string (covered by the
  // signature); S3 applies them as if they had been sent as headers (aws-sdk-js-v3#4694)
  const url = await getSignedUrl(
    presigner,
    new PutObjectCommand({ Bucket: bucket, Key: "meta", Metadata: { origin: "presigned", "two-words": "a b" } }),
    { expiresIn: 300 },
  );
  const query = new URL(url).searchParams;
  assert.equal(query.get("x-amz-meta-origin"), "presigned");
  const put = await fetch(url, { method: "PUT", body: "m" });
  assert.equal(put.status, 200, await put.text());
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "meta" }));
  assert.deepEqual(head.Metadata, { origin: "presigned", "two-words": "a b" });
});

s3test("[auth/presign] presigned HEAD and DELETE", async ({ s3, bucket }) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "hd", Body: BODY }));
  const head = await fetch(await getSignedUrl(s3, new HeadObjectCommand({ Bucket: bucket, Key: "hd" }), { expiresIn: 60 }), {
    method: "HEAD",
  });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), String(BODY.length));
  const del = await fetch(await getSignedUrl(s3, new DeleteObjectCommand({ Bucket: bucket, Key: "hd" }), { expiresIn: 60 }), {
    method: "DELETE",
  });
  assert.equal(del.status, 204);
  await expectError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "hd" })), "NotFound", 404);
});

s3test("[auth/presign] the method is part of the signature", async ({ s3, bucket }) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "m", Body: "keep" }));
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: "m" }), { expiresIn: 60 });
  const resp = await fetch(url, { method: "DELETE" });
  assert.equal(resp.status, 403);
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "m" }));
  assert.equal(await got.Body.transformToString(), "keep");
});

s3test("[auth/presign] expired, tampered, wrong-secret and unknown-key URLs are refused", async ({ s3, bucket }) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "a", Body: "a" }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "b", Body: "b" }));

  const expired = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: "a" }), {
    expiresIn: 60,
    signingDate: new Date(Date.now() - 3600_000),
  });
  let resp = await sendPresigned(expired);
  assert.equal(resp.status, 403);
  assert.equal(xmlErrorCode(resp.body), "AccessDenied");

  const good = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: "a" }), { expiresIn: 60 });
  const tampered = good.replace(`/${bucket}/a?`, `/${bucket}/b?`);
  assert.notEqual(tampered, good);
  resp = await sendPresigned(tampered);
  assert.equal(resp.status, 403);
  assert.equal(xmlErrorCode(resp.body), "SignatureDoesNotMatch");

  const wrongSecret = makeClient({ secretAccessKey: "wrong-secret-0000000000000000000000000000" });
  resp = await sendPresigned(await getSignedUrl(wrongSecret, new GetObjectCommand({ Bucket: bucket, Key: "a" }), { expiresIn: 60 }));
  assert.equal(resp.status, 403);
  assert.equal(xmlErrorCode(resp.body), "SignatureDoesNotMatch");

  const unknownKey = makeClient({ accessKeyId: "AKIDUNKNOWNJS0000000" });
  resp = await sendPresigned(await getSignedUrl(unknownKey, new GetObjectCommand({ Bucket: bucket, Key: "a" }), { expiresIn: 60 }));
  assert.equal(resp.status, 403);
  assert.equal(xmlErrorCode(resp.body), "InvalidAccessKeyId");

  resp = await sendPresigned(good.split("?")[0]);
  assert.equal(resp.status, 403, "an unsigned request is denied");
  assert.equal(xmlErrorCode(resp.body), "AccessDenied");
});

s3test("[auth/presign] a week-long URL is accepted", async ({ s3, bucket }) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "week", Body: "w" }));
  const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: "week" }), { expiresIn: 604800 });
  const resp = await fetch(url);
  assert.equal(resp.status, 200);
  assert.equal(await resp.text(), "w");
});

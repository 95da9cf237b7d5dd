// Errors a user of the SDK sees: NoSuchKey, NoSuchBucket, NotFound on HEAD,
// SignatureDoesNotMatch / InvalidAccessKeyId with bad credentials, and the error shape.
import assert from "node:assert/strict";

import {
  DeleteBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchBucket,
  NoSuchKey,
  PutObjectCommand,
  S3ServiceException,
} from "@aws-sdk/client-s3";

import { expectError, expectStatus, makeClient, s3test, uniqueBucketName } from "./lib.mjs";

s3test("[errors] NoSuchKey on GetObject carries the SDK error shape", async ({ s3, bucket }) => {
  const err = await expectError(s3.send(new GetObjectCommand({ Bucket: bucket, Key: "missing/key.txt" })), "NoSuchKey", 404);
  assert.ok(err instanceof NoSuchKey);
  assert.ok(err instanceof S3ServiceException);
  assert.equal(err.$fault, "client");
  assert.ok(err.message, "error has a message");
  assert.ok(err.$metadata.requestId, "error has a request id");
  assert.ok(
    err.Key === "missing/key.txt" || String(err.Resource ?? "").includes("missing/key.txt"),
    `the error names the key (Key ${err.Key}, Resource ${err.Resource})`,
  );
});

s3test("[errors] HeadObject of a missing key is NotFound without a body", async ({ s3, bucket }) => {
  const err = await expectError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "missing" })), "NotFound", 404);
  assert.equal(err.$fault, "client");
});

s3test(
  "[errors] NoSuchBucket on object, list and bucket operations",
  async ({ s3 }) => {
    const name = uniqueBucketName("missing");
    const err = await expectError(s3.send(new ListObjectsV2Command({ Bucket: name })), "NoSuchBucket", 404);
    assert.ok(err instanceof NoSuchBucket);
    assert.ok(err.BucketName === name || String(err.Resource ?? "").includes(name), "the error names the bucket");
    await expectError(s3.send(new GetObjectCommand({ Bucket: name, Key: "k" })), "NoSuchBucket", 404);
    await expectError(s3.send(new PutObjectCommand({ Bucket: name, Key: "k", Body: "x" })), "NoSuchBucket", 404);
    await expectError(s3.send(new DeleteBucketCommand({ Bucket: name })), "NoSuchBucket", 404);
    await expectError(s3.send(new HeadBucketCommand({ Bucket: name })), "NotFound", 404);
  },
  { bucket: false },
);

s3test("[errors] a wrong secret is SignatureDoesNotMatch 403", async ({ bucket }) => {
  const bad = makeClient({ secretAccessKey: "wrong-secret-0000000000000000000000000000" });
  const err = await expectError(bad.send(new ListObjectsV2Command({ Bucket: bucket })), "SignatureDoesNotMatch", 403);
  assert.equal(err.$fault, "client");
  await expectError(bad.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "x" })), "SignatureDoesNotMatch", 403);
  await expectError(bad.send(new GetObjectCommand({ Bucket: bucket, Key: "k" })), "SignatureDoesNotMatch", 403);
  // HEAD has no body: the SDK only has the status (it names the error "Unknown")
  await expectStatus(bad.send(new HeadObjectCommand({ Bucket: bucket, Key: "k" })), 403);
});

s3test("[errors] an unknown access key is InvalidAccessKeyId 403", async ({ bucket }) => {
  const bad = makeClient({ accessKeyId: "AKIDUNKNOWNJS0000000" });
  await expectError(bad.send(new ListObjectsV2Command({ Bucket: bucket })), "InvalidAccessKeyId", 403);
});

s3test("[errors] a client signing for another region is refused", async ({ bucket }) => {
  const bad = makeClient({ region: "us-east-2" });
  await expectError(
    bad.send(new ListObjectsV2Command({ Bucket: bucket })),
    "AuthorizationHeaderMalformed",
    400,
  );
});

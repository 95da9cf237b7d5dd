// Flexible checksums: the SDK's default CRC32 on PutObject (header for buffers,
// aws-chunked trailer for streams), ChecksumAlgorithm on PutObject and multipart,
// ChecksumMode ENABLED on GetObject/HeadObject (the SDK validates the body), BadDigest.
import assert from "node:assert/strict";
import { Readable } from "node:stream";

import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";

import {
  CHECKSUM_FIELD,
  MIB,
  bodyBytes,
  checksumB64,
  compositeChecksum,
  copySource,
  expectError,
  makeClient,
  payload,
  recordRequests,
  s3test,
} from "./lib.mjs";

s3test("[checksums] default CRC32 on PutObject, echoed and validated on GetObject", async ({ bucket }) => {
  const client = makeClient();
  const requests = recordRequests(client);
  const body = payload(300_000, 21);
  const crc = checksumB64("CRC32", body);

  const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: "crc", Body: body }));
  const sent = requests.at(-1).headers;
  assert.equal(sent["x-amz-sdk-checksum-algorithm"], "CRC32");
  assert.equal(sent["x-amz-checksum-crc32"], crc, "the SDK sends CRC32 of the body by default");
  assert.equal(put.ChecksumCRC32, crc);
  assert.equal(put.ChecksumType, "FULL_OBJECT");

  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "crc", ChecksumMode: "ENABLED" }));
  assert.equal(got.ChecksumCRC32, crc);
  assert.deepEqual(await bodyBytes(got), body); // the SDK validates while reading
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: "crc", ChecksumMode: "ENABLED" }));
  assert.equal(head.ChecksumCRC32, crc);
  const plain = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: "crc" }));
  assert.equal(plain.ChecksumCRC32, undefined, "checksums only with x-amz-checksum-mode: ENABLED");
});

s3test("[checksums] default CRC32 of a streamed PutObject travels as an aws-chunked trailer", async ({ bucket }) => {
  const client = makeClient();
  const requests = recordRequests(client);
  const body = payload(2 * MIB + 3, 22);
  const stream = Readable.from(
    (function* () {
      for (let i = 0; i < body.length; i += 64 * 1024) yield body.subarray(i, i + 64 * 1024);
    })(),
  );
  const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: "trailer", Body: stream, ContentLength: body.length }));
  const sent = requests.at(-1).headers;
  assert.equal(sent["x-amz-trailer"], "x-amz-checksum-crc32");
  assert.match(sent["content-encoding"] ?? "", /aws-chunked/);
  assert.equal(sent["x-amz-decoded-content-length"], String(body.length));
  assert.equal(put.ChecksumCRC32, checksumB64("CRC32", body));

  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "trailer", ChecksumMode: "ENABLED" }));
  assert.equal(got.ChecksumCRC32, checksumB64("CRC32", body));
  assert.equal(got.ContentEncoding, undefined, "aws-chunked must not be stored as Content-Encoding");
  assert.equal(got.ContentLength, body.length);
  assert.deepEqual(await bodyBytes(got), body);
});

for (const algorithm of ["SHA256", "SHA1", "CRC32C", "CRC64NVME"]) {
  s3test(`[checksums] ChecksumAlgorithm ${algorithm} on PutObject, ChecksumMode ENABLED on GetObject`, async ({ s3, bucket }) => {
    const body = payload(150_000, 23);
    const field = CHECKSUM_FIELD[algorithm];
    const expected = checksumB64(algorithm, body);
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: body, ChecksumAlgorithm: algorithm }));
    assert.equal(put[field], expected);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "k", ChecksumMode: "ENABLED" }));
    assert.equal(got[field], expected);
    assert.deepEqual(await bodyBytes(got), body);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "k", ChecksumMode: "ENABLED" }));
    assert.equal(head[field], expected);
  });
}

s3test("[checksums] a wrong precomputed ChecksumSHA256 is BadDigest and stores nothing", async ({ s3, bucket }) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: "old" }));
  await expectError(
    s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "k",
        Body: "new body",
        ChecksumSHA256: checksumB64("SHA256", Buffer.from("something else")),
      }),
    ),
    "BadDigest",
    400,
  );
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "k" }));
  assert.equal(await got.Body.transformToString(), "old");
});

s3test("[checksums] a correct precomputed ChecksumCRC32C is accepted and returned", async ({ s3, bucket }) => {
  const body = Buffer.from("precomputed crc32c");
  const value = checksumB64("CRC32C", body);
  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "k", Body: body, ChecksumCRC32C: value }));
  assert.equal(put.ChecksumCRC32C, value);
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "k", ChecksumMode: "ENABLED" }));
  assert.equal(head.ChecksumCRC32C, value);
});

s3test("[checksums] multipart with ChecksumAlgorithm SHA256 records a composite checksum", async ({ s3, bucket }) => {
  const parts = [payload(5 * MIB, 24), payload(70_000, 25)];
  const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "mp", ChecksumAlgorithm: "SHA256" }));
  assert.equal(up.ChecksumAlgorithm, "SHA256");
  const done = [];
  for (const [i, data] of parts.entries()) {
    const resp = await s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: "mp", UploadId: up.UploadId, PartNumber: i + 1, Body: data, ChecksumAlgorithm: "SHA256" }),
    );
    assert.equal(resp.ChecksumSHA256, checksumB64("SHA256", data));
    done.push({ PartNumber: i + 1, ETag: resp.ETag, ChecksumSHA256: resp.ChecksumSHA256 });
  }
  const complete = await s3.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: "mp", UploadId: up.UploadId, MultipartUpload: { Parts: done } }),
  );
  assert.equal(complete.ChecksumSHA256, compositeChecksum("SHA256", parts));
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "mp", ChecksumMode: "ENABLED" }));
  assert.equal(head.ChecksumSHA256, compositeChecksum("SHA256", parts));
  assert.equal(head.ChecksumType, "COMPOSITE");
  // the SDK skips validating composite ("-N") checksums but must still read the body
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "mp", ChecksumMode: "ENABLED" }));
  assert.deepEqual(await bodyBytes(got), Buffer.concat(parts));
});

s3test("[checksums] CopyObject keeps the source checksum", async ({ s3, bucket }) => {
  const body = payload(40_000, 26);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "src", Body: body, ChecksumAlgorithm: "SHA256" }));
  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: "dst", CopySource: copySource(bucket, "src") }));
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "dst", ChecksumMode: "ENABLED" }));
  assert.equal(head.ChecksumSHA256, checksumB64("SHA256", body));
});

// Multipart: lib-storage's Upload (the SDK's transfer manager) and the low-level API
// (CreateMultipartUpload / UploadPart / ListParts / CompleteMultipartUpload / Abort).
import assert from "node:assert/strict";
import { Readable } from "node:stream";

import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

import {
  MIB,
  bodyBytes,
  compositeChecksum,
  expectError,
  multipartEtag,
  payload,
  quotedMd5,
  recordRequests,
  makeClient,
  s3test,
} from "./lib.mjs";

const PART_1 = payload(5 * MIB, 101);
const TAIL = payload(MIB + 17, 103);

s3test(
  "[multipart] lib-storage Upload: 12 MiB body, partSize 5 MiB, queueSize 4",
  async ({ bucket }) => {
    const client = makeClient();
    const requests = recordRequests(client);
    const body = payload(12 * MIB, 11);
    const progress = [];
    const upload = new Upload({
      client,
      params: { Bucket: bucket, Key: "big/upload.bin", Body: body, ContentType: "application/x-big", Metadata: { via: "lib-storage" } },
      partSize: 5 * MIB,
      queueSize: 4,
      leavePartsOnError: false,
    });
    upload.on("httpUploadProgress", (p) => progress.push(p));
    const result = await upload.done();

    const parts = [body.subarray(0, 5 * MIB), body.subarray(5 * MIB, 10 * MIB), body.subarray(10 * MIB)];
    assert.equal(result.ETag, multipartEtag(parts));
    assert.equal(result.Key, "big/upload.bin");
    assert.equal(requests.filter((r) => r.method === "PUT" && r.query.partNumber).length, 3, "three UploadPart calls");
    assert.ok(progress.length >= 3 && progress.at(-1).loaded === body.length, "progress reaches the total");

    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "big/upload.bin", ChecksumMode: "ENABLED" }));
    assert.deepEqual(await bodyBytes(got), body);
    assert.equal(got.ETag, multipartEtag(parts));
    assert.equal(got.ContentType, "application/x-big");
    assert.deepEqual(got.Metadata, { via: "lib-storage" });

    // lib-storage asks for CRC32 on CreateMultipartUpload (the SDK's default checksum)
    const create = requests.find((r) => r.method === "POST" && "uploads" in r.query);
    assert.equal(create.headers["x-amz-checksum-algorithm"], "CRC32");
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: "big/upload.bin", ChecksumMode: "ENABLED" }));
    assert.equal(head.ContentLength, body.length);
    assert.equal(head.ChecksumCRC32, compositeChecksum("CRC32", parts));
    assert.equal(head.ChecksumType, "COMPOSITE");

    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    assert.equal(uploads.Uploads, undefined, "no unfinished uploads left behind");
  },
  { timeout: 120_000 },
);

s3test(
  "[multipart] lib-storage Upload from a stream of unknown length",
  async ({ s3, bucket }) => {
    const body = payload(11 * MIB + 5, 12);
    const stream = Readable.from(
      (function* () {
        for (let i = 0; i < body.length; i += 256 * 1024) yield body.subarray(i, i + 256 * 1024);
      })(),
    );
    const result = await new Upload({
      client: s3,
      params: { Bucket: bucket, Key: "stream.bin", Body: stream },
      partSize: 5 * MIB,
      queueSize: 2,
    }).done();
    assert.match(result.ETag, /-3"$/);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "stream.bin" }));
    assert.deepEqual(await bodyBytes(got), body);
  },
  { timeout: 120_000 },
);

s3test("[multipart] lib-storage Upload below partSize is a single PutObject", async ({ bucket }) => {
  const client = makeClient();
  const requests = recordRequests(client);
  const body = payload(MIB, 13);
  const result = await new Upload({ client, params: { Bucket: bucket, Key: "small.bin", Body: body }, partSize: 5 * MIB }).done();
  assert.equal(result.ETag, quotedMd5(body));
  assert.ok(!requests.some((r) => "uploads" in r.query), "no CreateMultipartUpload for a single part");
  const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: "small.bin" }));
  assert.deepEqual(await bodyBytes(got), body);
});

s3test("[multipart] low-level create, upload parts, list parts, complete", async ({ s3, bucket }) => {
  const key = "manual/obj.bin";
  const up = await s3.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: "application/x-manual", Metadata: { m: "1" } }),
  );
  assert.ok(up.UploadId);
  assert.equal(up.Key, key);
  assert.equal(up.Bucket, bucket);

  const listedUploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  assert.deepEqual(
    listedUploads.Uploads.map((u) => [u.Key, u.UploadId]),
    [[key, up.UploadId]],
  );

  const done = [];
  for (const [i, data] of [PART_1, TAIL].entries()) {
    const resp = await s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: up.UploadId, PartNumber: i + 1, Body: data }),
    );
    assert.equal(resp.ETag, quotedMd5(data));
    done.push({ PartNumber: i + 1, ETag: resp.ETag, ...(resp.ChecksumCRC32 && { ChecksumCRC32: resp.ChecksumCRC32 }) });
  }

  const parts = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: up.UploadId }));
  assert.deepEqual(
    parts.Parts.map((p) => [p.PartNumber, p.Size, p.ETag]),
    [
      [1, PART_1.length, quotedMd5(PART_1)],
      [2, TAIL.length, quotedMd5(TAIL)],
    ],
  );

  const complete = await s3.send(
    new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: up.UploadId, MultipartUpload: { Parts: done } }),
  );
  assert.equal(complete.ETag, multipartEtag([PART_1, TAIL]));
  assert.equal(complete.Key, key);

  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }));
  assert.deepEqual(await bodyBytes(got), Buffer.concat([PART_1, TAIL]));
  assert.equal(got.ContentType, "application/x-manual");
  assert.deepEqual(got.Metadata, { m: "1" });
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  assert.equal(uploads.Uploads, undefined);
});

s3test("[multipart] AbortMultipartUpload, then NoSuchUpload", async ({ s3, bucket }) => {
  const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "aborted" }));
  await s3.send(new UploadPartCommand({ Bucket: bucket, Key: "aborted", UploadId: up.UploadId, PartNumber: 1, Body: TAIL }));
  const aborted = await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: "aborted", UploadId: up.UploadId }));
  assert.equal(aborted.$metadata.httpStatusCode, 204);
  await expectError(
    s3.send(new UploadPartCommand({ Bucket: bucket, Key: "aborted", UploadId: up.UploadId, PartNumber: 2, Body: "x" })),
    "NoSuchUpload",
    404,
  );
  await expectError(
    s3.send(new ListPartsCommand({ Bucket: bucket, Key: "aborted", UploadId: up.UploadId })),
    "NoSuchUpload",
    404,
  );
  await expectError(s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "aborted" })), "NotFound", 404);
});

s3test("[multipart] completing with a too-small part is EntityTooSmall, a wrong ETag is InvalidPart", async ({ s3, bucket }) => {
  const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: "small-parts" }));
  const done = [];
  for (const [i, data] of [TAIL, TAIL].entries()) {
    const resp = await s3.send(
      new UploadPartCommand({ Bucket: bucket, Key: "small-parts", UploadId: up.UploadId, PartNumber: i + 1, Body: data }),
    );
    done.push({ PartNumber: i + 1, ETag: resp.ETag, ChecksumCRC32: resp.ChecksumCRC32 });
  }
  await expectError(
    s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: "small-parts",
        UploadId: up.UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }] },
      }),
    ),
    "InvalidPart",
    400,
  );
  await expectError(
    s3.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: "small-parts", UploadId: up.UploadId, MultipartUpload: { Parts: done } }),
    ),
    "EntityTooSmall",
    400,
  );
});

// Every key of s3-compat/keys/hard-keys.json round-tripped through the SDK:
// PutObject, ListObjectsV2 plain and with EncodingType url (decoded here: the SDK
// does not), GetObject, HeadObject, CopyObject, a presigned GET, DeleteObject / DeleteObjects.
// One result per key, named "hard key <name>".
import assert from "node:assert/strict";

import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

import {
  bodyBytes,
  copySource,
  decodeUrlKey,
  loadHardKeys,
  quotedMd5,
  s3test,
  sendPresigned,
  siblingKey,
} from "./lib.mjs";

const show = (k) => JSON.stringify(k.length > 60 ? `${k.slice(0, 57)}...` : k);

for (const { name, key } of loadHardKeys()) {
  s3test(`[hard keys] hard key ${name}`, async ({ s3, bucket }) => {
    const body = Buffer.from(`body of ${name}: ${key}`);

    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: { k: "v" } }));
    assert.equal(put.ETag, quotedMd5(body), "PutObject ETag");

    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual(listed.Contents?.map((o) => o.Key), [key], "ListObjectsV2 returns the key as stored");
    const byPrefix = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key }));
    assert.deepEqual(byPrefix.Contents?.map((o) => o.Key), [key], "ListObjectsV2 with Prefix=key");

    const encoded = await s3.send(new ListObjectsV2Command({ Bucket: bucket, EncodingType: "url" }));
    assert.equal(encoded.EncodingType, "url");
    assert.deepEqual(encoded.Contents?.map((o) => decodeUrlKey(o.Key)), [key], "EncodingType url, decoded");
    const encodedPrefix = await s3.send(new ListObjectsV2Command({ Bucket: bucket, EncodingType: "url", Prefix: key }));
    assert.deepEqual(encodedPrefix.Contents?.map((o) => decodeUrlKey(o.Key)), [key], "EncodingType url with Prefix=key");
    assert.equal(decodeUrlKey(encodedPrefix.Prefix), key, "Prefix is url-encoded too");

    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    assert.deepEqual(await bodyBytes(got), body, "GetObject body");
    assert.deepEqual(got.Metadata, { k: "v" });
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(head.ContentLength, body.length);

    const copy = siblingKey(key);
    const copied = await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: copy, CopySource: copySource(bucket, key) }));
    assert.equal(copied.CopyObjectResult.ETag, quotedMd5(body));
    assert.deepEqual(await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: copy }))), body, "copy body");

    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 300 });
    const presigned = await sendPresigned(url);
    assert.equal(presigned.status, 200, `presigned GET (${presigned.via}) of ${show(key)}: ${presigned.body}`);
    assert.deepEqual(presigned.body, body, "presigned GET body");

    const del = await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    assert.equal(del.$metadata.httpStatusCode, 204);
    const batch = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: copy }] } }));
    assert.deepEqual(batch.Deleted?.map((d) => d.Key), [copy], "DeleteObjects echoes the key");
    assert.ok(!batch.Errors?.length);
    const after = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.equal(after.KeyCount, 0, `left behind: ${JSON.stringify(after.Contents?.map((o) => o.Key))}`);
  });
}

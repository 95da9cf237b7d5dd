// ListObjectsV2 (and v1): prefix, delimiter, MaxKeys / ContinuationToken / StartAfter,
// paginateListObjectsV2 past 1,000 keys, EncodingType url (the SDK leaves keys encoded).
import assert from "node:assert/strict";

import {
  DeleteObjectsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  paginateListObjectsV2,
} from "@aws-sdk/client-s3";

import { decodeUrlKey, mapLimit, quotedMd5, s3test } from "./lib.mjs";

const TREE = ["a.txt", "dir1/b.txt", "dir1/c.txt", "dir1/sub/d.txt", "dir2/e.txt", "z.txt"];

async function putTree(s3, bucket, keys = TREE) {
  await mapLimit(keys, 8, (k) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: k })));
}
const keysOf = (resp) => (resp.Contents ?? []).map((o) => o.Key);
const prefixesOf = (resp) => (resp.CommonPrefixes ?? []).map((p) => p.Prefix);

s3test("[list] ListObjectsV2 of a whole bucket", async ({ s3, bucket }) => {
  const empty = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  assert.equal(empty.KeyCount, 0);
  assert.equal(empty.Contents, undefined);
  assert.equal(empty.IsTruncated, false);

  await putTree(s3, bucket);
  const resp = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  assert.deepEqual(keysOf(resp), TREE);
  assert.equal(resp.KeyCount, TREE.length);
  assert.equal(resp.IsTruncated, false);
  assert.equal(resp.NextContinuationToken, undefined);
  assert.equal(resp.Name, bucket);
  assert.equal(resp.MaxKeys, 1000);
  for (const o of resp.Contents) {
    assert.equal(o.Size, Buffer.byteLength(o.Key));
    assert.equal(o.ETag, quotedMd5(Buffer.from(o.Key)));
    assert.ok(o.LastModified instanceof Date);
    assert.equal(o.StorageClass, "STANDARD");
    assert.equal(o.Owner, undefined, "Owner only with FetchOwner");
  }
  const owned = await s3.send(new ListObjectsV2Command({ Bucket: bucket, FetchOwner: true }));
  assert.ok(owned.Contents.every((o) => o.Owner?.ID), "FetchOwner: every entry has an Owner ID");
});

s3test("[list] prefix and delimiter", async ({ s3, bucket }) => {
  await putTree(s3, bucket);
  let resp = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "dir1/" }));
  assert.deepEqual(keysOf(resp), ["dir1/b.txt", "dir1/c.txt", "dir1/sub/d.txt"]);
  assert.equal(resp.Prefix, "dir1/");

  resp = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: "/" }));
  assert.deepEqual(keysOf(resp), ["a.txt", "z.txt"]);
  assert.deepEqual(prefixesOf(resp), ["dir1/", "dir2/"]);
  assert.equal(resp.KeyCount, 4);
  assert.equal(resp.Delimiter, "/");

  resp = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "dir1/", Delimiter: "/" }));
  assert.deepEqual(keysOf(resp), ["dir1/b.txt", "dir1/c.txt"]);
  assert.deepEqual(prefixesOf(resp), ["dir1/sub/"]);

  resp = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "dir", Delimiter: "/" }));
  assert.deepEqual(keysOf(resp), []);
  assert.deepEqual(prefixesOf(resp), ["dir1/", "dir2/"]);

  resp = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "nomatch" }));
  assert.equal(resp.KeyCount, 0);
});

s3test("[list] MaxKeys, ContinuationToken and StartAfter", async ({ s3, bucket }) => {
  await putTree(s3, bucket);
  const seen = [];
  let token;
  let pages = 0;
  do {
    const resp = await s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 4, ContinuationToken: token }));
    pages++;
    assert.ok(resp.KeyCount <= 4);
    if (token) assert.equal(resp.ContinuationToken, token);
    seen.push(...keysOf(resp));
    token = resp.IsTruncated ? resp.NextContinuationToken : undefined;
    if (resp.IsTruncated) assert.ok(token, "truncated page without NextContinuationToken");
  } while (token);
  assert.equal(pages, 2);
  assert.deepEqual(seen, TREE);

  const after = await s3.send(new ListObjectsV2Command({ Bucket: bucket, StartAfter: "dir1/c.txt" }));
  assert.deepEqual(keysOf(after), ["dir1/sub/d.txt", "dir2/e.txt", "z.txt"]);
  assert.equal(after.StartAfter, "dir1/c.txt");

  const grouped = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: "/", MaxKeys: 3 }));
  assert.deepEqual([...keysOf(grouped), ...prefixesOf(grouped)].sort(), ["a.txt", "dir1/", "dir2/"]);
  assert.equal(grouped.IsTruncated, true);
});

s3test(
  "[list] paginateListObjectsV2 past 1,000 keys, then DeleteObjects in batches of 1,000",
  async ({ s3, bucket }) => {
    const keys = Array.from({ length: 1050 }, (_, i) => `many/${String(i).padStart(5, "0")}`);
    await mapLimit(keys, 32, (Key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: "." })));

    const pageSizes = [];
    const listed = [];
    for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: "many/" })) {
      pageSizes.push(page.KeyCount);
      listed.push(...keysOf(page));
    }
    assert.deepEqual(pageSizes, [1000, 50]);
    assert.deepEqual(listed, keys);

    const smaller = [];
    for await (const page of paginateListObjectsV2({ client: s3, pageSize: 400 }, { Bucket: bucket })) {
      smaller.push(page.KeyCount);
    }
    assert.deepEqual(smaller, [400, 400, 250]);

    const withDelimiter = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: "/" }));
    assert.deepEqual(prefixesOf(withDelimiter), ["many/"]);

    let deleted = 0;
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      const resp = await s3.send(
        new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })) } }),
      );
      assert.ok(!resp.Errors?.length, JSON.stringify(resp.Errors?.slice(0, 3)));
      deleted += resp.Deleted.length;
    }
    assert.equal(deleted, 1050);
    assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).KeyCount, 0);
  },
  { timeout: 120_000 },
);

s3test("[list] EncodingType url returns encoded keys and prefixes the caller decodes", async ({ s3, bucket }) => {
  const keys = ["dir one/a+b.txt", "dir one/sub dir/x.txt", "plain.txt", "percent%41.txt", "ünï/çødé.txt"];
  await putTree(s3, bucket, keys);
  const resp = await s3.send(new ListObjectsV2Command({ Bucket: bucket, EncodingType: "url" }));
  assert.equal(resp.EncodingType, "url");
  const raw = keysOf(resp);
  assert.ok(raw.includes("plain.txt"));
  assert.ok(!raw.includes("dir one/a+b.txt"), "keys must come back encoded");
  assert.ok(raw.some((k) => k.includes("%2B")), `'+' must be encoded as %2B: ${raw}`);
  assert.deepEqual(raw.map(decodeUrlKey), [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));

  const grouped = await s3.send(
    new ListObjectsV2Command({ Bucket: bucket, EncodingType: "url", Prefix: "dir one/", Delimiter: "/" }),
  );
  assert.deepEqual(keysOf(grouped).map(decodeUrlKey), ["dir one/a+b.txt"]);
  assert.deepEqual(prefixesOf(grouped).map(decodeUrlKey), ["dir one/sub dir/"]);
  assert.equal(decodeUrlKey(grouped.Prefix), "dir one/");
});

s3test("[list] ListObjects v1 with Marker, Prefix and Delimiter", async ({ s3, bucket }) => {
  await putTree(s3, bucket);
  const all = await s3.send(new ListObjectsCommand({ Bucket: bucket }));
  assert.deepEqual(keysOf(all), TREE);
  assert.equal(all.IsTruncated, false);
  const marked = await s3.send(new ListObjectsCommand({ Bucket: bucket, Marker: "dir1/c.txt" }));
  assert.deepEqual(keysOf(marked), ["dir1/sub/d.txt", "dir2/e.txt", "z.txt"]);
  const grouped = await s3.send(new ListObjectsCommand({ Bucket: bucket, Prefix: "dir1/", Delimiter: "/" }));
  assert.deepEqual(keysOf(grouped), ["dir1/b.txt", "dir1/c.txt"]);
  assert.deepEqual(prefixesOf(grouped), ["dir1/sub/"]);
  const truncated = await s3.send(new ListObjectsCommand({ Bucket: bucket, MaxKeys: 2, Delimiter: "/" }));
  assert.equal(truncated.IsTruncated, true);
  assert.ok(truncated.NextMarker, "v1 with a delimiter returns NextMarker when truncated");
});

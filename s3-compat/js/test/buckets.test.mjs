// Buckets: CreateBucket, HeadBucket, ListBuckets, GetBucketLocation, DeleteBucket.
import assert from "node:assert/strict";

import {
  DeleteBucketCommand,
  GetBucketLocationCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  PutObjectCommand,
  GetObjectCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  paginateListBuckets,
} from "@aws-sdk/client-s3";

import {
  REGION,
  bodyBytes,
  createBucket,
  deleteBucketQuietly,
  expectError,
  s3test,
  uniqueBucketName,
} from "./lib.mjs";

s3test(
  "[buckets] create, head, list and delete a bucket",
  async ({ s3 }) => {
    const name = uniqueBucketName("lifecycle");
    try {
      const created = await createBucket(name);
      assert.equal(created.$metadata.httpStatusCode, 200);
      assert.equal(created.Location, `/${name}`);

      const head = await s3.send(new HeadBucketCommand({ Bucket: name }));
      assert.equal(head.$metadata.httpStatusCode, 200);
      assert.equal(head.BucketRegion, REGION);

      const listed = await s3.send(new ListBucketsCommand({}));
      const entry = listed.Buckets.find((b) => b.Name === name);
      assert.ok(entry, `${name} missing from ListBuckets`);
      assert.ok(entry.CreationDate instanceof Date);
      assert.ok(Math.abs(Date.now() - entry.CreationDate.getTime()) < 15 * 60_000, "CreationDate is not recent");
      assert.ok(listed.Owner?.ID, "ListBuckets has no Owner ID");

      const deleted = await s3.send(new DeleteBucketCommand({ Bucket: name }));
      assert.equal(deleted.$metadata.httpStatusCode, 204);
      await expectError(s3.send(new HeadBucketCommand({ Bucket: name })), "NotFound", 404);
      const after = await s3.send(new ListBucketsCommand({}));
      assert.ok(!after.Buckets.some((b) => b.Name === name), "deleted bucket still listed");
    } finally {
      await deleteBucketQuietly(name);
    }
  },
  { bucket: false },
);

s3test("[buckets] ListBuckets is sorted by name", async ({ s3, makeBucket }) => {
  const made = [await makeBucket("sort-a"), await makeBucket("sort-b"), await makeBucket("sort-c")].sort();
  const listed = (await s3.send(new ListBucketsCommand({}))).Buckets.map((b) => b.Name);
  assert.deepEqual(
    listed.filter((n) => made.includes(n)),
    made,
  );
  const sorted = [...listed].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  assert.deepEqual(listed, sorted, "ListBuckets must be in lexicographic order");
});

s3test("[buckets] paginateListBuckets (MaxBuckets / ContinuationToken) walks every bucket", async ({ s3, makeBucket }) => {
  const made = [await makeBucket("page-a"), await makeBucket("page-b"), await makeBucket("page-c")];
  const paged = [];
  let pages = 0;
  for await (const page of paginateListBuckets({ client: s3, pageSize: 2 }, {})) {
    pages++;
    assert.ok((page.Buckets ?? []).length <= 2, `MaxBuckets=2 page has ${page.Buckets?.length} buckets`);
    for (const b of page.Buckets ?? []) paged.push(b.Name);
  }
  assert.ok(pages >= 2, "three or more buckets in pages of two need several pages");
  for (const n of made) assert.ok(paged.includes(n), `${n} missing from paginated ListBuckets`);
  assert.equal(new Set(paged).size, paged.length, "a bucket was listed twice across pages");
});

s3test("[buckets] GetBucketLocation returns the region", async ({ s3, bucket }) => {
  const loc = await s3.send(new GetBucketLocationCommand({ Bucket: bucket }));
  assert.equal(loc.LocationConstraint, REGION);
});

s3test("[buckets] creating an existing bucket is BucketAlreadyOwnedByYou", async ({ s3, bucket }) => {
  await expectError(createBucket(bucket), "BucketAlreadyOwnedByYou", 409);
  const head = await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  assert.equal(head.$metadata.httpStatusCode, 200);
});

s3test("[buckets] deleting a non-empty bucket is BucketNotEmpty", async ({ s3, bucket }) => {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "keep-me", Body: "x" }));
  await expectError(s3.send(new DeleteBucketCommand({ Bucket: bucket })), "BucketNotEmpty", 409);
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "keep-me" }));
  assert.equal((await bodyBytes(got)).toString(), "x");
});

s3test(
  "[buckets] a bucket emptied with DeleteObjects can be deleted and re-created empty",
  async ({ s3 }) => {
    const name = uniqueBucketName("recreate");
    try {
      await createBucket(name);
      await s3.send(new PutObjectCommand({ Bucket: name, Key: "a", Body: "1" }));
      await s3.send(new PutObjectCommand({ Bucket: name, Key: "b/c", Body: "2" }));
      await s3.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: [{ Key: "a" }, { Key: "b/c" }] } }));
      await s3.send(new DeleteBucketCommand({ Bucket: name }));
      await createBucket(name);
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: name }));
      assert.equal(listed.KeyCount, 0);
    } finally {
      await deleteBucketQuietly(name);
    }
  },
  { bucket: false },
);

s3test(
  "[buckets] invalid bucket names are rejected with InvalidBucketName",
  async ({ s3 }) => {
    // names the SDK's path-style endpoint rules still let through to the server
    for (const name of ["under_score-" + Date.now(), "double..dot-" + Date.now(), "trailing-dash-"]) {
      try {
        await expectError(createBucket(name), "InvalidBucketName", 400);
      } finally {
        await deleteBucketQuietly(name).catch(() => {});
      }
    }
  },
  { bucket: false },
);

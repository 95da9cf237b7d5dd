-- Until the PostgreSQL index can be chosen in the config, this file may still change; from
-- then on, never: a change is a new migration.
--
-- Keys, the key ring and idempotency records. Records are kept as the bytes the RocksDB
-- index holds (JSON, its "v" first), with the columns SQL needs beside them. Text that is
-- compared or ordered is COLLATE "C": byte order, as the RocksDB index lists it.

CREATE TABLE access_keys (
  access_key_id text COLLATE "C" PRIMARY KEY,
  -- A bucket key's bucket: deleting the bucket deletes its keys.
  bucket_id bytea,
  doc bytea NOT NULL
);
CREATE INDEX access_keys_bucket ON access_keys (bucket_id) WHERE bucket_id IS NOT NULL;

CREATE TABLE kms_keys (
  id text COLLATE "C" PRIMARY KEY,
  doc bytea NOT NULL
);

CREATE TABLE idempotency (
  slot bytea PRIMARY KEY,
  expires_ms bigint NOT NULL,
  doc bytea NOT NULL
);
CREATE INDEX idempotency_expiry ON idempotency (expires_ms);

-- Buckets by id; the name is unique among live buckets.
CREATE TABLE buckets (
  id bytea PRIMARY KEY,
  name text COLLATE "C" NOT NULL UNIQUE,
  doc bytea NOT NULL
);

-- Exact usage, spread over a few rows per bucket so that concurrent commits to one bucket
-- do not queue on one row; a bucket's usage is the sum of its rows.
CREATE TABLE bucket_usage (
  bucket_id bytea NOT NULL REFERENCES buckets ON DELETE CASCADE,
  shard smallint NOT NULL,
  bytes bigint NOT NULL,
  objects bigint NOT NULL,
  PRIMARY KEY (bucket_id, shard)
);

-- The current version of each key (a delete marker included). Keys are bytea: S3 orders
-- them by their UTF-8 bytes, and a key may hold U+0000, which text cannot.
CREATE TABLE objects (
  bucket_id bytea NOT NULL REFERENCES buckets,
  key bytea NOT NULL,
  doc bytea NOT NULL,
  PRIMARY KEY (bucket_id, key)
);

CREATE TABLE uploads (
  upload_id text COLLATE "C" PRIMARY KEY,
  bucket_id bytea NOT NULL REFERENCES buckets,
  key bytea NOT NULL,
  doc bytea NOT NULL
);
CREATE UNIQUE INDEX uploads_listed ON uploads (bucket_id, key, upload_id);

-- Noncurrent versions of a key, newest first by their sort key (see meta::versions).
CREATE TABLE versions (
  bucket_id bytea NOT NULL REFERENCES buckets,
  key bytea NOT NULL,
  sort bytea NOT NULL,
  doc bytea NOT NULL,
  PRIMARY KEY (bucket_id, key, sort)
);

-- The bytes of objects small enough for the index, and the chunk checksums of blobs.
CREATE TABLE inline_blobs (
  blob text COLLATE "C" PRIMARY KEY,
  data bytea NOT NULL
);
CREATE TABLE blob_sums (
  blob text COLLATE "C" PRIMARY KEY,
  sums bytea NOT NULL
);

-- The gateways at work: each registers at start under a fresh id and beats while it runs.
-- The blobs a gateway had staged are reclaimed only once it has stopped beating.
CREATE TABLE gateways (
  id bytea PRIMARY KEY,
  started_ms bigint NOT NULL,
  heartbeat_ms bigint NOT NULL
);

-- Blobs being written (by the gateway named), and blobs waiting to be deleted.
CREATE TABLE staged (
  blob text COLLATE "C" PRIMARY KEY,
  gateway bytea NOT NULL,
  staged_ms bigint NOT NULL,
  upload text
);
CREATE INDEX staged_by_gateway ON staged (gateway);
CREATE TABLE gc (
  blob text COLLATE "C" PRIMARY KEY,
  queued_ms bigint NOT NULL,
  upload text
);
CREATE INDEX gc_due ON gc (queued_ms, blob);

-- The parts of multipart uploads; they go with their upload.
CREATE TABLE parts (
  upload_id text COLLATE "C" NOT NULL REFERENCES uploads ON DELETE CASCADE,
  part_number int NOT NULL,
  doc bytea NOT NULL,
  PRIMARY KEY (upload_id, part_number)
);

-- What several gateways over one database share besides the records.

-- Counters of changes that gateways' in-memory caches must see (src/meta/gens.rs): a commit
-- that revokes a key, changes a KMS key's state, or changes or deletes a bucket raises its
-- kind's counter in the same transaction; every gateway polls them.
CREATE TABLE cache_gen (
  kind text COLLATE "C" PRIMARY KEY,
  gen bigint NOT NULL
);
INSERT INTO cache_gen (kind, gen) VALUES ('keys', 0), ('kms', 0), ('buckets', 0);

-- An Idempotency-Key whose first request is still running has a row with an empty doc,
-- held by the gateway running it: a retry anywhere is told to wait, and the claim lapses
-- with its expiry or when its gateway is gone.
ALTER TABLE idempotency ADD COLUMN holder bytea;

-- The sweeper of one gateway claims the queue entries it is deleting, so others pass them by.
ALTER TABLE gc ADD COLUMN claimed_until_ms bigint NOT NULL DEFAULT 0;

-- Blobs a gateway has been reading for a while: the sweepers leave them alone until the
-- lease runs out (reads shorter than the sweep's grace need none).
CREATE TABLE blob_leases (
  blob text COLLATE "C" NOT NULL,
  gateway bytea NOT NULL,
  until_ms bigint NOT NULL,
  PRIMARY KEY (blob, gateway)
);

-- Periodic work one gateway does for all (lifecycle, scrub): who does it, until when.
CREATE TABLE leader_leases (
  name text COLLATE "C" PRIMARY KEY,
  holder bytea NOT NULL,
  until_ms bigint NOT NULL
);

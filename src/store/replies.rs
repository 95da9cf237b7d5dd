//! Replies kept for `Idempotency-Key` replays.

use super::Store;
use crate::error::Result;
use crate::meta::{IdempotencyClaim, IdempotencyRecord, RECORD_VERSION};

/// How long a reply is kept: a day, as the seed promises.
const TTL_MS: i64 = 24 * 3600 * 1000;
/// How long a claim holds at most if its request neither finishes nor its gateway dies (a
/// dead gateway's claims lapse with it): longer than any management request runs.
const CLAIM_HOLD_MS: i64 = 15 * 60 * 1000;

impl Store {
    /// The reply kept under `slot`, unless it has expired.
    pub async fn idempotency_reply(&self, slot: [u8; 32]) -> Result<Option<IdempotencyRecord>> {
        let now = crate::clock::now_ms();
        self.blocking(move |m| m.get_idempotency(&slot, now)).await
    }

    /// Claims `slot` for a request about to run, as `claim` (see
    /// [`crate::meta::AccessStore::claim_idempotency`]).
    pub async fn claim_idempotency(
        &self,
        slot: [u8; 32],
        claim: [u8; 16],
    ) -> Result<IdempotencyClaim> {
        let now = crate::clock::now_ms();
        self.blocking(move |m| m.claim_idempotency(&slot, &claim, now, CLAIM_HOLD_MS))
            .await
    }

    /// Drops the claim `claim` if its request kept no reply.
    pub async fn release_idempotency(&self, slot: [u8; 32], claim: [u8; 16]) -> Result<()> {
        self.blocking(move |m| m.release_idempotency(&slot, &claim))
            .await
    }

    /// Keeps a reply (`body` sealed by the caller when it carries a secret) under `slot` for
    /// a day, with the fingerprint of the request it answered.
    pub async fn keep_idempotency_reply(
        &self,
        slot: [u8; 32],
        fingerprint: String,
        status: u16,
        body: String,
    ) -> Result<()> {
        let rec = IdempotencyRecord {
            v: RECORD_VERSION,
            fingerprint,
            status,
            body,
            expires_at_ms: crate::clock::now_ms() + TTL_MS,
        };
        self.blocking(move |m| m.put_idempotency(&slot, &rec)).await
    }
}

//! Replies kept for `Idempotency-Key` replays.

use super::Store;
use crate::error::Result;
use crate::meta::{IdempotencyRecord, RECORD_VERSION};

/// How long a reply is kept: a day, as the seed promises.
const TTL_MS: i64 = 24 * 3600 * 1000;

impl Store {
    /// The reply kept under `slot`, unless it has expired.
    pub async fn idempotency_reply(&self, slot: [u8; 32]) -> Result<Option<IdempotencyRecord>> {
        let now = crate::clock::now_ms();
        self.blocking(move |m| m.get_idempotency(&slot, now)).await
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

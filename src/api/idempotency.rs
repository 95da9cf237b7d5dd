//! `Idempotency-Key` on mutating management routes: the first response under a key is kept in
//! the index for 24 hours; the same request again gets it back without a second side effect,
//! a different request under the same key gets 422, and one arriving while the first still
//! runs gets 409.

use std::sync::Arc;

use http::StatusCode;
use sha2::{Digest as _, Sha256};

use super::error::{ApiError, ApiResult};
use super::reply::Reply;
use crate::web::AppState;

const MAX_KEY_LEN: usize = 255;

/// A claimed key: the first request under it is running. Dropping releases the claim.
pub struct Claim {
    state: Arc<AppState>,
    slot: [u8; 32],
    fingerprint: String,
}

pub enum Outcome {
    /// Run the request, then [`Claim::finish`].
    Run(Claim),
    /// The stored response of the same earlier request.
    Replay(Reply),
}

/// Looks the key up for `principal`; `request` is everything that makes two requests the same.
pub async fn begin(
    state: &Arc<AppState>,
    principal: &str,
    key: &str,
    request: &[&[u8]],
) -> ApiResult<Outcome> {
    if key.is_empty() || key.len() > MAX_KEY_LEN || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::bad_request(format!(
            "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
        )));
    }
    let slot: [u8; 32] = Sha256::new()
        .chain_update(principal)
        .chain_update([0])
        .chain_update(key)
        .finalize()
        .into();
    let mut fp = Sha256::new();
    for part in request {
        fp.update((part.len() as u64).to_be_bytes());
        fp.update(part);
    }
    let fingerprint = hex::encode(fp.finalize());
    if let Some(reply) = stored_reply(state, slot, &fingerprint).await? {
        return Ok(Outcome::Replay(reply));
    }
    let claimed = match state.idempotency_inflight.lock() {
        Ok(mut set) => set.insert(slot),
        Err(_) => false,
    };
    if !claimed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "a request with this Idempotency-Key is still in progress; retry later",
        ));
    }
    let claim = Claim {
        state: state.clone(),
        slot,
        fingerprint,
    };
    // The first request may have finished between the lookup above and the claim: its record
    // is written before its claim is released, so a second lookup under the claim sees it.
    if let Some(reply) = stored_reply(state, slot, &claim.fingerprint).await? {
        return Ok(Outcome::Replay(reply));
    }
    Ok(Outcome::Run(claim))
}

/// The kept reply under `slot`, if any; 422 when it was kept for a different request.
async fn stored_reply(
    state: &Arc<AppState>,
    slot: [u8; 32],
    fingerprint: &str,
) -> ApiResult<Option<Reply>> {
    let Some(rec) = state.store.idempotency_reply(slot).await? else {
        return Ok(None);
    };
    if rec.fingerprint != fingerprint {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "this Idempotency-Key was used for a different request in the last 24 hours",
        ));
    }
    let bound = hex::encode(slot);
    let body = if rec.body.is_empty() {
        None
    } else {
        // Records kept before replies were sealed hold plain JSON (they expire in a day).
        let text = if rec.body.starts_with('{') || rec.body.starts_with('[') {
            rec.body.clone()
        } else {
            state.keys.open(&bound, &rec.body).ok_or_else(|| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the stored response does not open with this master key",
                )
            })?
        };
        Some(serde_json::from_str(&text).map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("stored response is unreadable: {e}"),
            )
        })?)
    };
    let status = StatusCode::from_u16(rec.status).unwrap_or(StatusCode::OK);
    Ok(Some(Reply { status, body }))
}

impl Claim {
    /// Keeps the outcome for replay. Server errors and rate-limit refusals are not kept: the
    /// client should be able to retry them under the same key.
    pub async fn finish(self, result: &ApiResult<Reply>) -> ApiResult<()> {
        let (status, body) = match result {
            Ok(r) => (
                r.status,
                r.body.as_ref().map(|b| b.to_string()).unwrap_or_default(),
            ),
            Err(e) => (
                e.status,
                serde_json::json!({ "error": e.message }).to_string(),
            ),
        };
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Ok(());
        }
        // Responses may carry a freshly minted secret: none is kept in the clear.
        let body = if body.is_empty() {
            body
        } else {
            self.state.keys.seal(&hex::encode(self.slot), &body)?
        };
        self.state
            .store
            .keep_idempotency_reply(self.slot, self.fingerprint.clone(), status.as_u16(), body)
            .await?;
        Ok(())
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if let Ok(mut set) = self.state.idempotency_inflight.lock() {
            set.remove(&self.slot);
        }
    }
}

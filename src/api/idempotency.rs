//! `Idempotency-Key` on mutating management routes: the first response under a key is kept in
//! the index for 24 hours; the same request again gets it back without a second side effect,
//! a different request under the same key gets 422, and one arriving while the first still
//! runs gets 409.

use std::sync::Arc;

use http::StatusCode;
use sha2::{Digest as _, Sha256};

use super::error::{ApiError, ApiResult};
use super::reply::Reply;
use crate::meta::{IdempotencyClaim, IdempotencyRecord};
use crate::web::AppState;

const MAX_KEY_LEN: usize = 255;

/// A claimed key: the first request under it is running. Dropping releases the claim.
pub struct Claim {
    state: Arc<AppState>,
    slot: [u8; 32],
    /// Names this claim, so its release never drops a claim another request took over.
    token: [u8; 16],
    fingerprint: String,
    /// Its reply is kept (which replaced the claim): nothing is left to release.
    kept: bool,
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
    if let Some(rec) = state.store.idempotency_reply(slot).await? {
        return replay(state, slot, &fingerprint, &rec).map(Outcome::Replay);
    }
    // The claim is in the index, so a retry that reaches another gateway waits for this one.
    let token: [u8; 16] = rand::random();
    match state.store.claim_idempotency(slot, token).await? {
        IdempotencyClaim::Claimed => Ok(Outcome::Run(Claim {
            state: state.clone(),
            slot,
            token,
            fingerprint,
            kept: false,
        })),
        // The first request finished between the lookup above and the claim.
        IdempotencyClaim::Kept(rec) => replay(state, slot, &fingerprint, &rec).map(Outcome::Replay),
        IdempotencyClaim::Running => Err(ApiError::new(
            StatusCode::CONFLICT,
            "a request with this Idempotency-Key is still in progress; retry later",
        )),
    }
}

/// The kept reply `rec` under `slot`; 422 when it was kept for a different request.
fn replay(
    state: &Arc<AppState>,
    slot: [u8; 32],
    fingerprint: &str,
    rec: &IdempotencyRecord,
) -> ApiResult<Reply> {
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
    Ok(Reply { status, body })
}

impl Claim {
    /// Keeps the outcome for replay. Server errors and rate-limit refusals are not kept: the
    /// client should be able to retry them under the same key.
    pub async fn finish(mut self, result: &ApiResult<Reply>) -> ApiResult<()> {
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
        self.kept = true;
        Ok(())
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // A kept reply stays; only an unfinished claim is dropped, off the request's path.
        if self.kept {
            return;
        }
        let (store, slot, token) = (self.state.store.clone(), self.slot, self.token);
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = store.release_idempotency(slot, token).await {
                    tracing::warn!(error = %e, "could not release an Idempotency-Key claim; it lapses on its own");
                }
            });
        }
    }
}

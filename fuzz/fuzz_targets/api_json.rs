//! JSON bodies of the management API, through the checks their fields get: bucket names,
//! key names, permissions, expiry times and CORS rules. A clear error, never a panic.
#![no_main]

use cnx_storage::access::admin::{parse_permission, KeyTerms};
use cnx_storage::api::buckets::CorsRuleView;
use cnx_storage::cors::CorsRule;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let text = |field: &str| v.get(field).and_then(|n| n.as_str()).map(str::to_owned);
    if let Some(name) = text("name") {
        let _ = cnx_storage::store::naming::validate_bucket_name(&name);
    }
    let _ = KeyTerms {
        name: text("name"),
        expires_at: text("expires_at"),
    }
    .checked();
    if let Some(p) = text("permission") {
        let _ = parse_permission(&p);
    }
    if let Some(rules) = v.get("cors") {
        if let Ok(rules) = serde_json::from_value::<Vec<CorsRuleView>>(rules.clone()) {
            let rules: Vec<CorsRule> = rules.into_iter().map(CorsRule::from).collect();
            let _ = cnx_storage::cors::validate(&rules);
        }
    }
});

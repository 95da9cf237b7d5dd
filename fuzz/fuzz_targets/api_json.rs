//! JSON bodies of the management API, through the checks their fields get: bucket names,
//! key names, permissions, expiry times and CORS rules. A clear error, never a panic.
#![no_main]

use cnx_storage::api::keys::{check_expiry, check_name, parse_permission};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Some(name) = v.get("name").and_then(|n| n.as_str()) {
        let _ = cnx_storage::store::naming::validate_bucket_name(name);
        let _ = check_name(&Some(name.to_owned()));
    }
    if let Some(p) = v.get("permission").and_then(|n| n.as_str()) {
        let _ = parse_permission(p);
    }
    if let Some(t) = v.get("expires_at").and_then(|n| n.as_str()) {
        let _ = check_expiry(&Some(t.to_owned()));
    }
    if let Some(rules) = v.get("cors") {
        if let Ok(rules) = serde_json::from_value::<Vec<cnx_storage::cors::CorsRule>>(rules.clone())
        {
            let _ = cnx_storage::cors::validate(&rules);
        }
    }
});

//! The policy document of a browser POST upload: when it expires and the conditions the
//! form must meet. Checked after its signature, before a byte of the file is stored.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::Value;
use time::OffsetDateTime;

use super::error::{S3Code, S3Error, S3Result};

/// Form fields no condition needs to name.
fn exempt(name: &str) -> bool {
    matches!(
        name,
        "x-amz-signature" | "signature" | "awsaccesskeyid" | "file" | "policy"
    ) || name.starts_with("x-ignore-")
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    /// `{"field": "value"}` or `["eq", "$field", "value"]`.
    Eq(String, String),
    /// `["starts-with", "$field", "prefix"]`.
    StartsWith(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    expiration: OffsetDateTime,
    conditions: Vec<Condition>,
    /// `["content-length-range", min, max]`: the file's size.
    pub length_range: Option<(u64, u64)>,
}

fn invalid(why: impl Into<String>) -> S3Error {
    S3Error::new(
        S3Code::InvalidPolicyDocument,
        format!("Invalid Policy: {}", why.into()),
    )
}

fn denied(why: impl Into<String>) -> S3Error {
    S3Error::new(
        S3Code::AccessDenied,
        format!("Invalid according to Policy: {}", why.into()),
    )
}

/// `$name` → `name`, lowercased (form field names are matched without regard to case).
fn field_ref(v: &Value) -> Option<String> {
    v.as_str()?
        .strip_prefix('$')
        .map(|n| n.to_ascii_lowercase())
}

impl Policy {
    /// Decodes the base64 JSON document.
    pub fn parse(b64: &str) -> S3Result<Self> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|_| invalid("the policy is not valid base64"))?;
        let doc: Value =
            serde_json::from_slice(&raw).map_err(|_| invalid("the policy is not valid JSON"))?;
        let expiration = doc
            .get("expiration")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("Policy missing expiration."))?;
        let expiration =
            OffsetDateTime::parse(expiration, &time::format_description::well_known::Rfc3339)
                .map_err(|_| invalid(format!("Invalid 'expiration' value: '{expiration}'")))?;
        let list = doc
            .get("conditions")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("Policy missing conditions."))?;
        let mut conditions = Vec::new();
        let mut length_range = None;
        for c in list {
            match c {
                Value::Object(map) => {
                    if map.len() != 1 {
                        return Err(invalid(format!("Invalid Simple-Condition: {c}")));
                    }
                    for (k, v) in map {
                        let v = v
                            .as_str()
                            .ok_or_else(|| invalid(format!("Invalid Simple-Condition: {c}")))?;
                        let k = k.strip_prefix('$').unwrap_or(k);
                        conditions.push(Condition::Eq(k.to_ascii_lowercase(), v.to_owned()));
                    }
                }
                Value::Array(items) => {
                    let op = items
                        .first()
                        .and_then(Value::as_str)
                        .map(str::to_ascii_lowercase);
                    match (op.as_deref(), items.len()) {
                        (Some("content-length-range"), 3) => {
                            let n = |v: &Value| {
                                v.as_u64()
                                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                            };
                            let (Some(min), Some(max)) = (n(&items[1]), n(&items[2])) else {
                                return Err(invalid(format!("Invalid content-length-range: {c}")));
                            };
                            if min > max || length_range.replace((min, max)).is_some() {
                                return Err(invalid(format!("Invalid content-length-range: {c}")));
                            }
                        }
                        (Some(op @ ("eq" | "starts-with")), 3) => {
                            let (Some(field), Some(value)) =
                                (field_ref(&items[1]), items[2].as_str())
                            else {
                                return Err(invalid(format!("Invalid condition: {c}")));
                            };
                            conditions.push(if op == "eq" {
                                Condition::Eq(field, value.to_owned())
                            } else {
                                Condition::StartsWith(field, value.to_owned())
                            });
                        }
                        _ => return Err(invalid(format!("Invalid condition: {c}"))),
                    }
                }
                _ => return Err(invalid(format!("Invalid condition: {c}"))),
            }
        }
        Ok(Self {
            expiration,
            conditions,
            length_range,
        })
    }

    /// Checks the form against the policy: not expired, every condition met (`bucket` is the
    /// bucket the form was posted to), and every field of the form named by a condition.
    pub fn check(
        &self,
        now: OffsetDateTime,
        fields: &BTreeMap<String, String>,
        bucket: &str,
    ) -> S3Result<()> {
        if now > self.expiration {
            return Err(denied("Policy expired."));
        }
        let value = |name: &str| -> &str {
            if name == "bucket" {
                return bucket;
            }
            fields.get(name).map(String::as_str).unwrap_or("")
        };
        for c in &self.conditions {
            let ok = match c {
                Condition::Eq(f, v) => value(f) == v,
                Condition::StartsWith(f, p) if f == "content-type" => value(f)
                    .split(',')
                    .all(|part| part.trim_start().starts_with(p.as_str())),
                Condition::StartsWith(f, p) => value(f).starts_with(p.as_str()),
            };
            if !ok {
                let shown = match c {
                    Condition::Eq(f, v) => format!("[\"eq\", \"${f}\", \"{v}\"]"),
                    Condition::StartsWith(f, p) => format!("[\"starts-with\", \"${f}\", \"{p}\"]"),
                };
                return Err(denied(format!("Policy Condition failed: {shown}")));
            }
        }
        let named = |name: &str| {
            self.conditions.iter().any(|c| match c {
                Condition::Eq(f, _) | Condition::StartsWith(f, _) => f == name,
            })
        };
        let extra: Vec<&str> = fields
            .keys()
            .map(String::as_str)
            .filter(|n| !exempt(n) && !named(n))
            .collect();
        if !extra.is_empty() {
            return Err(denied(format!("Extra input fields: {}", extra.join(", "))));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn b64(json: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::parse(
            "2026-12-01T00:00:00Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    }

    const DOC: &str = r#"{"expiration": "2026-12-02T00:00:00.000Z", "conditions": [
        {"bucket": "photos"}, ["starts-with", "$key", "user/eve/"], {"acl": "private"},
        ["content-length-range", 1, 1048576], ["starts-with", "$Content-Type", "image/"],
        {"x-amz-credential": "AK/20261201/in-mum/s3/aws4_request"},
        {"x-amz-algorithm": "AWS4-HMAC-SHA256"}, {"x-amz-date": "20261201T000000Z"},
        ["eq", "$success_action_status", "201"]]}"#;

    fn good() -> BTreeMap<String, String> {
        form(&[
            ("key", "user/eve/${filename}"),
            ("acl", "private"),
            ("content-type", "image/png"),
            ("x-amz-credential", "AK/20261201/in-mum/s3/aws4_request"),
            ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
            ("x-amz-date", "20261201T000000Z"),
            ("x-amz-signature", "ab"),
            ("policy", "x"),
            ("success_action_status", "201"),
            ("x-ignore-tracking", "1"),
        ])
    }

    #[test]
    fn a_form_that_meets_every_condition_passes() {
        let p = Policy::parse(&b64(DOC)).unwrap();
        assert_eq!(p.length_range, Some((1, 1_048_576)));
        p.check(now(), &good(), "photos").unwrap();
    }

    #[test]
    fn each_broken_condition_is_refused() {
        let p = Policy::parse(&b64(DOC)).unwrap();
        let msg = |f: BTreeMap<String, String>, bucket: &str| {
            let e = p.check(now(), &f, bucket).unwrap_err();
            assert_eq!(e.code, S3Code::AccessDenied);
            e.message
        };
        assert!(msg(good(), "other").contains("$bucket"));
        let mut f = good();
        f.insert("key".into(), "user/mallory/x".into());
        assert!(msg(f, "photos").contains("$key"));
        let mut f = good();
        f.insert("content-type".into(), "text/html".into());
        assert!(msg(f, "photos").contains("$content-type"));
        let mut f = good();
        f.remove("acl");
        assert!(msg(f, "photos").contains("$acl"));
        let mut f = good();
        f.insert("x-amz-meta-owner".into(), "mallory".into());
        assert!(msg(f, "photos").contains("Extra input fields: x-amz-meta-owner"));
        let late = now() + time::Duration::days(2);
        let e = p.check(late, &good(), "photos").unwrap_err();
        assert_eq!(e.message, "Invalid according to Policy: Policy expired.");
    }

    #[test]
    fn malformed_documents_are_invalid_policy_documents() {
        for doc in [
            "not base64 !!".to_owned(),
            b64("{"),
            b64(r#"{"conditions": []}"#),
            b64(r#"{"expiration": "tomorrow", "conditions": []}"#),
            b64(r#"{"expiration": "2026-12-02T00:00:00Z"}"#),
            b64(r#"{"expiration": "2026-12-02T00:00:00Z", "conditions": [["gt", "$key", "a"]]}"#),
            b64(r#"{"expiration": "2026-12-02T00:00:00Z", "conditions": [{"a": "b", "c": "d"}]}"#),
            b64(
                r#"{"expiration": "2026-12-02T00:00:00Z", "conditions": [["content-length-range", "x", 1]]}"#,
            ),
            b64(
                r#"{"expiration": "2026-12-02T00:00:00Z", "conditions": [["content-length-range", 9, 1]]}"#,
            ),
            b64(
                r#"{"expiration": "2026-12-02T00:00:00Z", "conditions": [["content-length-range", 0, 9], ["content-length-range", 0, 99]]}"#,
            ),
        ] {
            let e = Policy::parse(&doc).unwrap_err();
            assert_eq!(e.code, S3Code::InvalidPolicyDocument, "{doc}");
        }
    }
}

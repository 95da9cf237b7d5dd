//! Bucket CORS: the rules (set by PutBucketCors or the management API), validation, matching
//! a browser's request against them, and the headers a match earns. Shared by the S3 surface
//! (preflight `OPTIONS` and actual requests) and the management surface (`cors` setting).

use serde::Deserialize;

/// S3 accepts at most 100 rules per bucket.
pub const MAX_RULES: usize = 100;
const METHODS: &[&str] = &["GET", "PUT", "HEAD", "POST", "DELETE"];

/// One CORS rule. The index stores it as `meta::CorsRecord`; the management API shows it as
/// its own JSON view.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<u32>,
}

/// Why a configuration was refused, in S3's words.
pub fn validate(rules: &[CorsRule]) -> Result<(), String> {
    if rules.is_empty() {
        return Err("a CORS configuration needs at least one rule".into());
    }
    if rules.len() > MAX_RULES {
        return Err(format!(
            "a CORS configuration holds at most {MAX_RULES} rules"
        ));
    }
    for r in rules {
        if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
            return Err("every CORS rule needs an AllowedOrigin and an AllowedMethod".into());
        }
        if let Some(m) = r
            .allowed_methods
            .iter()
            .find(|m| !METHODS.contains(&m.as_str()))
        {
            return Err(format!(
                "Found unsupported HTTP method in CORS config. Unsupported method is {m}"
            ));
        }
        if let Some(o) = r
            .allowed_origins
            .iter()
            .find(|o| o.matches('*').count() > 1)
        {
            return Err(format!(
                "AllowedOrigin \"{o}\" can not have more than one wildcard."
            ));
        }
        if let Some(h) = r
            .allowed_headers
            .iter()
            .find(|h| h.matches('*').count() > 1)
        {
            return Err(format!(
                "AllowedHeader \"{h}\" can not have more than one wildcard."
            ));
        }
    }
    Ok(())
}

/// `pattern` with at most one `*` standing for any run of characters.
fn wildcard_match(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let eq = |a: &str, b: &str| {
        if ignore_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    match pattern.split_once('*') {
        None => eq(pattern, value),
        Some((pre, post)) => {
            value.len() >= pre.len() + post.len()
                && value.is_char_boundary(pre.len())
                && value.is_char_boundary(value.len() - post.len())
                && eq(&value[..pre.len()], pre)
                && eq(&value[value.len() - post.len()..], post)
        }
    }
}

/// The first rule that allows `origin` to use `method` with `headers` (lowercase or not).
pub fn find<'a>(
    rules: &'a [CorsRule],
    origin: &str,
    method: &str,
    headers: &[&str],
) -> Option<&'a CorsRule> {
    rules.iter().find(|r| {
        r.allowed_origins
            .iter()
            .any(|o| wildcard_match(o, origin, false))
            && r.allowed_methods.iter().any(|m| m == method)
            && headers
                .iter()
                .all(|h| r.allowed_headers.iter().any(|p| wildcard_match(p, h, true)))
    })
}

/// The names listed in `Access-Control-Request-Headers`, trimmed and lowercased.
pub fn requested_headers(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

fn allow_origin(rule: &CorsRule, origin: &str) -> String {
    // A rule open to every origin answers `*`, as S3 does; otherwise the origin itself.
    if rule.allowed_origins.iter().any(|o| o == "*") {
        "*".into()
    } else {
        origin.to_owned()
    }
}

/// Headers added to a response (preflight or actual) that `rule` allowed.
pub fn response_headers(rule: &CorsRule, origin: &str) -> Vec<(&'static str, String)> {
    let open = rule.allowed_origins.iter().any(|o| o == "*");
    let mut out = vec![
        ("access-control-allow-origin", allow_origin(rule, origin)),
        (
            "access-control-allow-methods",
            rule.allowed_methods.join(", "),
        ),
        (
            "vary",
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method".into(),
        ),
    ];
    if !rule.expose_headers.is_empty() {
        out.push((
            "access-control-expose-headers",
            rule.expose_headers.join(", "),
        ));
    }
    if let Some(age) = rule.max_age_seconds {
        out.push(("access-control-max-age", age.to_string()));
    }
    if !open {
        out.push(("access-control-allow-credentials", "true".into()));
    }
    out
}

/// Headers of an answer to a preflight that `rule` allowed for `headers`.
pub fn preflight_headers(
    rule: &CorsRule,
    origin: &str,
    headers: &[String],
) -> Vec<(&'static str, String)> {
    let mut out = response_headers(rule, origin);
    if !headers.is_empty() {
        out.push(("access-control-allow-headers", headers.join(", ")));
    }
    out
}

#[derive(Deserialize)]
struct XmlConfiguration {
    #[serde(rename = "CORSRule", default)]
    rules: Vec<XmlRule>,
}

#[derive(Deserialize)]
struct XmlRule {
    #[serde(rename = "ID", default)]
    id: Option<String>,
    #[serde(rename = "AllowedOrigin", default)]
    allowed_origins: Vec<String>,
    #[serde(rename = "AllowedMethod", default)]
    allowed_methods: Vec<String>,
    #[serde(rename = "AllowedHeader", default)]
    allowed_headers: Vec<String>,
    #[serde(rename = "ExposeHeader", default)]
    expose_headers: Vec<String>,
    #[serde(rename = "MaxAgeSeconds", default)]
    max_age_seconds: Option<u32>,
}

/// The rules of a `<CORSConfiguration>` document (PutBucketCors), unvalidated.
pub fn from_xml(body: &[u8]) -> Result<Vec<CorsRule>, String> {
    let doc: XmlConfiguration = crate::xml::parse(body)?;
    Ok(doc
        .rules
        .into_iter()
        .map(|r| CorsRule {
            id: r.id,
            allowed_origins: r.allowed_origins,
            allowed_methods: r.allowed_methods,
            allowed_headers: r.allowed_headers,
            expose_headers: r.expose_headers,
            max_age_seconds: r.max_age_seconds,
        })
        .collect())
}

/// The GetBucketCors document.
pub fn to_xml(rules: &[CorsRule]) -> String {
    let mut w = crate::xml::XmlWriter::new("CORSConfiguration");
    for r in rules {
        w.open("CORSRule");
        if let Some(id) = &r.id {
            w.elem("ID", id);
        }
        for h in &r.allowed_headers {
            w.elem("AllowedHeader", h);
        }
        for m in &r.allowed_methods {
            w.elem("AllowedMethod", m);
        }
        for o in &r.allowed_origins {
            w.elem("AllowedOrigin", o);
        }
        for e in &r.expose_headers {
            w.elem("ExposeHeader", e);
        }
        if let Some(age) = r.max_age_seconds {
            w.elem("MaxAgeSeconds", &age.to_string());
        }
        w.close();
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CorsRule {
        CorsRule {
            id: None,
            allowed_origins: origins.iter().map(|s| s.to_string()).collect(),
            allowed_methods: methods.iter().map(|s| s.to_string()).collect(),
            allowed_headers: headers.iter().map(|s| s.to_string()).collect(),
            expose_headers: vec!["ETag".into()],
            max_age_seconds: Some(600),
        }
    }

    #[test]
    fn wildcards() {
        assert!(wildcard_match("*", "http://a", false));
        assert!(wildcard_match(
            "https://*.example.com",
            "https://x.example.com",
            false
        ));
        assert!(!wildcard_match(
            "https://*.example.com",
            "http://x.example.com",
            false
        ));
        assert!(!wildcard_match(
            "https://*.example.com",
            "https://example.com",
            false
        ));
        assert!(wildcard_match("x-amz-*", "X-Amz-Date", true));
        assert!(!wildcard_match("ab*ba", "aba", false));
    }

    #[test]
    fn first_matching_rule_wins() {
        let rules = vec![
            rule(
                &["https://app.example.com"],
                &["GET", "PUT"],
                &["content-type"],
            ),
            rule(&["*"], &["GET"], &[]),
        ];
        let r = find(&rules, "https://app.example.com", "PUT", &["content-type"]).unwrap();
        assert_eq!(r.allowed_methods, ["GET", "PUT"]);
        assert!(find(&rules, "https://evil.test", "PUT", &[]).is_none());
        assert!(find(&rules, "https://app.example.com", "PUT", &["x-other"]).is_none());
        let open = find(&rules, "https://evil.test", "GET", &[]).unwrap();
        let h = response_headers(open, "https://evil.test");
        assert!(h.contains(&("access-control-allow-origin", "*".into())));
    }

    #[test]
    fn xml_round_trip() {
        let doc = br#"<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule><ID>r1</ID><AllowedHeader>*</AllowedHeader><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedOrigin>http://127.0.0.1:8080</AllowedOrigin><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule></CORSConfiguration>"#;
        let rules = from_xml(doc).unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].allowed_methods, ["GET", "PUT"]);
        assert_eq!(rules[0].max_age_seconds, Some(3000));
        assert_eq!(from_xml(to_xml(&rules).as_bytes()).unwrap(), rules);
    }

    #[test]
    fn validation() {
        assert!(validate(&[rule(&["*"], &["GET"], &[])]).is_ok());
        assert!(validate(&[]).is_err());
        assert!(validate(&[rule(&["*"], &["PATCH"], &[])]).is_err());
        assert!(validate(&[rule(&["*.*"], &["GET"], &[])]).is_err());
        assert!(validate(&[rule(&[], &["GET"], &[])]).is_err());
    }
}

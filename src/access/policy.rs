//! Bucket policies: the part of AWS's policy language S3 users write — `Effect`,
//! `Principal`/`NotPrincipal`, `Action`/`NotAction` with wildcards, `Resource`/`NotResource`
//! ARNs with wildcards, and `Condition` blocks with the string, numeric, boolean, IP and null
//! operators (and their `…IfExists` forms) — parsed once and evaluated per request: an
//! explicit Deny wins, then an Allow, else the policy says nothing.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::Value;

use super::acl::{canonical_id, is_canonical_id};

/// S3's limit on a bucket policy's size.
pub const MAX_POLICY_BYTES: usize = 20 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// Who a statement names: everyone, or accounts by canonical ID.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Principals {
    Any,
    Ids(Vec<String>),
}

impl Principals {
    fn matches(&self, caller: Option<&str>) -> bool {
        match self {
            Self::Any => true,
            Self::Ids(ids) => caller.is_some_and(|c| ids.iter().any(|i| i == c)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    NumericEquals,
    NumericNotEquals,
    NumericLessThan,
    NumericLessThanEquals,
    NumericGreaterThan,
    NumericGreaterThanEquals,
    Bool,
    IpAddress,
    NotIpAddress,
    Null,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
    DateEquals,
    DateNotEquals,
    DateLessThan,
    DateLessThanEquals,
    DateGreaterThan,
    DateGreaterThanEquals,
}

/// The condition keys this server fills in: a condition on any other key could never hold
/// (or always would, negated), so a policy naming one is refused rather than trusted.
const KNOWN_KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:securetransport",
    "aws:currenttime",
    "aws:epochtime",
    "aws:principaltype",
    "aws:principalaccount",
    "aws:username",
    "aws:useragent",
    "aws:referer",
    "s3:prefix",
    "s3:delimiter",
    "s3:max-keys",
    "s3:versionid",
    "s3:x-amz-acl",
    "s3:x-amz-grant-read",
    "s3:x-amz-grant-write",
    "s3:x-amz-grant-read-acp",
    "s3:x-amz-grant-write-acp",
    "s3:x-amz-grant-full-control",
    "s3:x-amz-copy-source",
    "s3:x-amz-metadata-directive",
    "s3:x-amz-content-sha256",
    "s3:x-amz-storage-class",
    "s3:x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-server-side-encryption-customer-algorithm",
    "s3:object-lock-mode",
    "s3:object-lock-legal-hold",
    "s3:signatureversion",
    "s3:authtype",
];

/// Whether this server fills in condition key `key` (lowercased).
pub fn known_key(key: &str) -> bool {
    KNOWN_KEYS.contains(&key)
        || key
            .strip_prefix("s3:existingobjecttag/")
            .is_some_and(|t| !t.is_empty())
}

impl Op {
    fn parse(name: &str) -> Option<Self> {
        use Op::*;
        Some(match name {
            "StringEquals" => StringEquals,
            "StringNotEquals" => StringNotEquals,
            "StringEqualsIgnoreCase" => StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => StringNotEqualsIgnoreCase,
            "StringLike" => StringLike,
            "StringNotLike" => StringNotLike,
            "NumericEquals" => NumericEquals,
            "NumericNotEquals" => NumericNotEquals,
            "NumericLessThan" => NumericLessThan,
            "NumericLessThanEquals" => NumericLessThanEquals,
            "NumericGreaterThan" => NumericGreaterThan,
            "NumericGreaterThanEquals" => NumericGreaterThanEquals,
            "Bool" => Bool,
            "IpAddress" => IpAddress,
            "NotIpAddress" => NotIpAddress,
            "Null" => Null,
            "ArnEquals" => ArnEquals,
            "ArnNotEquals" => ArnNotEquals,
            "ArnLike" => ArnLike,
            "ArnNotLike" => ArnNotLike,
            "DateEquals" => DateEquals,
            "DateNotEquals" => DateNotEquals,
            "DateLessThan" => DateLessThan,
            "DateLessThanEquals" => DateLessThanEquals,
            "DateGreaterThan" => DateGreaterThan,
            "DateGreaterThanEquals" => DateGreaterThanEquals,
            _ => return None,
        })
    }

    /// The negated operators hold when the key is missing; the others do not.
    fn negated(self) -> bool {
        use Op::*;
        matches!(
            self,
            StringNotEquals
                | StringNotEqualsIgnoreCase
                | StringNotLike
                | NumericNotEquals
                | NotIpAddress
                | ArnNotEquals
                | ArnNotLike
                | DateNotEquals
        )
    }
}

#[derive(Debug, Clone)]
struct Condition {
    op: Op,
    if_exists: bool,
    /// Lowercased: condition keys are case-insensitive (tag keys after `/` excepted, kept).
    key: String,
    values: Vec<String>,
}

#[derive(Debug, Clone)]
struct Statement {
    effect: Effect,
    /// `(principals, negated)`: `NotPrincipal` matches everyone it does not name.
    principal: (Principals, bool),
    actions: (Vec<String>, bool),
    resources: (Vec<String>, bool),
    conditions: Vec<Condition>,
}

/// A parsed bucket policy.
#[derive(Debug, Clone)]
pub struct Policy {
    statements: Vec<Statement>,
}

/// What a policy says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
    /// No statement applies: other rules (ownership, ACLs) decide.
    NotApplicable,
}

/// The request a policy is evaluated against.
pub struct Request<'a> {
    /// The caller's canonical ID; `None` for the anonymous caller.
    pub caller: Option<&'a str>,
    /// `s3:GetObject`, …
    pub action: &'a str,
    /// `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`.
    pub resource: &'a str,
    /// Condition keys (lowercased, `s3:existingobjecttag/` tag keys kept) and their values.
    pub context: &'a HashMap<String, Vec<String>>,
}

/// Why a policy document is refused (S3's MalformedPolicy).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

fn malformed<T>(m: impl Into<String>) -> Result<T, Malformed> {
    Err(Malformed(m.into()))
}

/// One string or a list of strings.
fn strings(v: &Value, what: &str) -> Result<Vec<String>, Malformed> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                _ => malformed(format!("{what} must hold strings")),
            })
            .collect(),
        Value::Bool(b) => Ok(vec![b.to_string()]),
        Value::Number(n) => Ok(vec![n.to_string()]),
        _ => malformed(format!(
            "{what} must be a string or a non-empty list of strings"
        )),
    }
}

/// A principal of this server: `*`, an account by name or as
/// `arn:aws:iam::ACCOUNT:root`, or a canonical ID.
fn principal_ids(v: &Value) -> Result<Principals, Malformed> {
    let map = match v {
        Value::String(s) if s == "*" => return Ok(Principals::Any),
        Value::Object(m) => m,
        _ => return malformed("Invalid principal in policy: use \"*\" or {\"AWS\": …}"),
    };
    let mut ids = Vec::new();
    for (kind, names) in map {
        for name in strings(names, "Principal")? {
            match kind.as_str() {
                "AWS" if name == "*" => return Ok(Principals::Any),
                "AWS" => {
                    let account = match name.strip_prefix("arn:aws:iam::") {
                        Some(rest) => match rest.strip_suffix(":root") {
                            Some(account) => account.to_owned(),
                            None => {
                                return malformed(format!(
                                    "Invalid principal in policy: {name} (this server's principals are accounts: arn:aws:iam::ACCOUNT:root)"
                                ))
                            }
                        },
                        None => name.clone(),
                    };
                    let known =
                        super::valid_account_name(&account) || account == super::ROOT_ACCOUNT;
                    if !known {
                        return malformed(format!("Invalid principal in policy: {name}"));
                    }
                    ids.push(canonical_id(&account));
                }
                "CanonicalUser" if is_canonical_id(&name) => ids.push(name),
                _ => return malformed(format!("Invalid principal in policy: {kind} {name}")),
            }
        }
    }
    if ids.is_empty() {
        return malformed("Invalid principal in policy: it names nobody");
    }
    Ok(Principals::Ids(ids))
}

/// Exactly one of `name` and `Not{name}`; `(values, negated)`.
fn either(
    st: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<(Value, bool)>, Malformed> {
    let not = format!("Not{name}");
    match (st.get(name), st.get(&not)) {
        (Some(_), Some(_)) => malformed(format!("A statement cannot have both {name} and {not}")),
        (Some(v), None) => Ok(Some((v.clone(), false))),
        (None, Some(v)) => Ok(Some((v.clone(), true))),
        (None, None) => Ok(None),
    }
}

impl Policy {
    /// Parses and checks a policy for `bucket`: every resource must be the bucket or its
    /// objects, every action an `s3:` one.
    pub fn parse(text: &str, bucket: &str) -> Result<Policy, Malformed> {
        if text.len() > MAX_POLICY_BYTES {
            return malformed(format!("Policies must be at most {MAX_POLICY_BYTES} bytes"));
        }
        let doc: Value = serde_json::from_str(text)
            .map_err(|e| Malformed(format!("Policies must be valid JSON: {e}")))?;
        let Value::Object(doc) = doc else {
            return malformed("A policy must be a JSON object");
        };
        if let Some(k) = doc
            .keys()
            .find(|k| !matches!(k.as_str(), "Version" | "Id" | "Statement"))
        {
            return malformed(format!("Unknown field {k}"));
        }
        match doc.get("Version").and_then(Value::as_str) {
            None | Some("2012-10-17") | Some("2008-10-17") => {}
            Some(v) => return malformed(format!("Invalid policy version {v}")),
        }
        let statements = match doc.get("Statement") {
            Some(Value::Array(s)) if !s.is_empty() => s.clone(),
            Some(s @ Value::Object(_)) => vec![s.clone()],
            _ => return malformed("Missing required field Statement"),
        };
        let statements = statements
            .iter()
            .map(|s| Self::statement(s, bucket))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Policy { statements })
    }

    fn statement(v: &Value, bucket: &str) -> Result<Statement, Malformed> {
        let Value::Object(st) = v else {
            return malformed("Each statement must be a JSON object");
        };
        if let Some(k) = st.keys().find(|k| {
            !matches!(
                k.as_str(),
                "Sid"
                    | "Effect"
                    | "Principal"
                    | "NotPrincipal"
                    | "Action"
                    | "NotAction"
                    | "Resource"
                    | "NotResource"
                    | "Condition"
            )
        }) {
            return malformed(format!("Unknown field {k}"));
        }
        let effect = match st.get("Effect").and_then(Value::as_str) {
            Some("Allow") => Effect::Allow,
            Some("Deny") => Effect::Deny,
            _ => return malformed("Effect must be Allow or Deny"),
        };
        let Some((p, p_not)) = either(st, "Principal")? else {
            return malformed("Missing required field Principal");
        };
        let principal = (principal_ids(&p)?, p_not);
        let Some((a, a_not)) = either(st, "Action")? else {
            return malformed("Missing required field Action");
        };
        let mut actions = Vec::new();
        for a in strings(&a, "Action")? {
            let lower = a.to_ascii_lowercase();
            if lower != "*" && !lower.starts_with("s3:") {
                return malformed(format!("Policy has invalid action {a}"));
            }
            actions.push(lower);
        }
        let Some((r, r_not)) = either(st, "Resource")? else {
            return malformed("Missing required field Resource");
        };
        let mut resources = Vec::new();
        let bucket_arn = format!("arn:aws:s3:::{bucket}");
        for r in strings(&r, "Resource")? {
            let ours = r == "*"
                || r == bucket_arn
                || r.strip_prefix(&bucket_arn)
                    .is_some_and(|rest| rest.starts_with('/'));
            if !ours {
                return malformed(format!(
                    "Policy has invalid resource {r}: it must be {bucket_arn} or {bucket_arn}/…"
                ));
            }
            resources.push(r);
        }
        let conditions = match st.get("Condition") {
            None => Vec::new(),
            Some(c) => Self::conditions(c)?,
        };
        Ok(Statement {
            effect,
            principal,
            actions: (actions, a_not),
            resources: (resources, r_not),
            conditions,
        })
    }

    fn conditions(v: &Value) -> Result<Vec<Condition>, Malformed> {
        let Value::Object(ops) = v else {
            return malformed("Condition must be a JSON object");
        };
        let mut out = Vec::new();
        for (name, block) in ops {
            if name.starts_with("ForAnyValue:") || name.starts_with("ForAllValues:") {
                return malformed(format!(
                    "Condition operator {name}: set operators are not supported here"
                ));
            }
            let (base, if_exists) = match name.strip_suffix("IfExists") {
                Some(b) => (b, true),
                None => (name.as_str(), false),
            };
            let op = Op::parse(base)
                .ok_or_else(|| Malformed(format!("Invalid Condition type: {name}")))?;
            let Value::Object(keys) = block else {
                return malformed(format!("Condition {name} must map keys to values"));
            };
            for (key, values) in keys {
                let values = strings(values, "Condition value")?;
                check_values(op, key, &values)?;
                let key = normalize_key(key);
                if !known_key(&key) {
                    return malformed(format!("Policy has an invalid condition key: {key}"));
                }
                out.push(Condition {
                    op,
                    if_exists,
                    key,
                    values,
                });
            }
        }
        Ok(out)
    }

    /// Whether an Allow could reach anyone, as S3 counts it: a statement allowing every
    /// principal that no fixed source-IP range (at least a /8, or a /32 for IPv6) or fixed
    /// account narrows. `…IfExists` conditions never narrow: they hold when the key is absent.
    pub fn is_public(&self) -> bool {
        self.statements.iter().any(|s| {
            let everyone = matches!(&s.principal, (Principals::Any, false) | (_, true));
            let narrowed = s.conditions.iter().any(|c| {
                !c.if_exists
                    && match c.op {
                        Op::IpAddress => {
                            c.key == "aws:sourceip"
                                && c.values.iter().all(|v| {
                                    parse_cidr(v).is_some_and(|(ip, bits)| {
                                        bits >= if ip.is_ipv4() { 8 } else { 32 }
                                    })
                                })
                        }
                        Op::StringEquals => {
                            c.key == "aws:principalaccount"
                                && c.values.iter().all(|v| !v.contains(['*', '?']))
                        }
                        _ => false,
                    }
            });
            s.effect == Effect::Allow && everyone && !narrowed
        })
    }

    /// Whether some Allow statement could let `caller` run an action matching `action`,
    /// whatever the resource and conditions (a cheap first look before per-key checks).
    pub fn may_allow(&self, caller: Option<&str>, action: &str) -> bool {
        self.statements.iter().any(|s| {
            let (principals, not) = &s.principal;
            let (actions, not_action) = &s.actions;
            s.effect == Effect::Allow
                && principals.matches(caller) != *not
                && actions.iter().any(|a| glob(a, action, true)) != *not_action
        })
    }

    pub fn evaluate(&self, req: &Request<'_>) -> Decision {
        let mut allowed = false;
        for s in &self.statements {
            if !s.applies(req) {
                continue;
            }
            match s.effect {
                Effect::Deny => return Decision::Deny,
                Effect::Allow => allowed = true,
            }
        }
        if allowed {
            Decision::Allow
        } else {
            Decision::NotApplicable
        }
    }
}

/// Condition keys compare case-insensitively, tag keys excepted.
fn normalize_key(key: &str) -> String {
    match key.split_once('/') {
        Some((head, tail)) => format!("{}/{tail}", head.to_ascii_lowercase()),
        None => key.to_ascii_lowercase(),
    }
}

fn check_values(op: Op, key: &str, values: &[String]) -> Result<(), Malformed> {
    let bad = |v: &str| Malformed(format!("Invalid value {v} for {key} in a {op:?} condition"));
    for v in values {
        // Policy variables are not expanded here: refused rather than matched as text.
        if v.contains("${") {
            return Err(Malformed(format!(
                "Policy variables such as {v} are not supported by this server"
            )));
        }
        match op {
            Op::IpAddress | Op::NotIpAddress if parse_cidr(v).is_none() => return Err(bad(v)),
            Op::Bool | Op::Null if !matches!(v.to_ascii_lowercase().as_str(), "true" | "false") => {
                return Err(bad(v))
            }
            Op::NumericEquals
            | Op::NumericNotEquals
            | Op::NumericLessThan
            | Op::NumericLessThanEquals
            | Op::NumericGreaterThan
            | Op::NumericGreaterThanEquals
                if !v.parse::<f64>().is_ok_and(f64::is_finite) =>
            {
                return Err(bad(v))
            }
            Op::DateEquals
            | Op::DateNotEquals
            | Op::DateLessThan
            | Op::DateLessThanEquals
            | Op::DateGreaterThan
            | Op::DateGreaterThanEquals
                if date_ms(v).is_none() =>
            {
                return Err(bad(v))
            }
            _ => {}
        }
    }
    Ok(())
}

/// An ISO 8601 date or epoch seconds, in milliseconds.
fn date_ms(s: &str) -> Option<i64> {
    match s.parse::<i64>() {
        Ok(secs) => secs.checked_mul(1000),
        Err(_) => crate::clock::parse_rfc3339(s),
    }
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, bits) = match s.split_once('/') {
        Some((a, b)) if !b.is_empty() && b.len() <= 3 && b.bytes().all(|c| c.is_ascii_digit()) => {
            (a, Some(b.parse::<u8>().ok()?))
        }
        Some(_) => return None,
        None => (s, None),
    };
    let addr: IpAddr = addr.parse().ok()?;
    // An IPv4-mapped network is the IPv4 network.
    if let (IpAddr::V6(v6), Some(b)) = (addr, bits) {
        if let (Some(v4), true) = (v6.to_ipv4_mapped(), b >= 96) {
            return Some((IpAddr::V4(v4), b - 96));
        }
    }
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let bits = bits.unwrap_or(max);
    (bits <= max).then_some((addr, bits))
}

fn in_cidr(ip: IpAddr, cidr: &str) -> bool {
    let Some((net, bits)) = parse_cidr(cidr) else {
        return false;
    };
    let ip = match (ip, net) {
        (IpAddr::V6(v6), IpAddr::V4(_)) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        _ => ip,
    };
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// `*` any run of characters, `?` one character; iterative, so no pattern backtracks
/// without bound.
pub fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let eq = |a: char, b: char| {
        if ignore_case {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && eq(p[pi], t[ti]))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

impl Statement {
    fn applies(&self, req: &Request<'_>) -> bool {
        let (principals, not) = &self.principal;
        if principals.matches(req.caller) == *not {
            return false;
        }
        let (actions, not) = &self.actions;
        if actions.iter().any(|a| glob(a, req.action, true)) == *not {
            return false;
        }
        let (resources, not) = &self.resources;
        if resources.iter().any(|r| glob(r, req.resource, false)) == *not {
            return false;
        }
        self.conditions.iter().all(|c| c.holds(req.context))
    }
}

impl Condition {
    fn holds(&self, context: &HashMap<String, Vec<String>>) -> bool {
        let Some(actual) = context.get(&self.key).filter(|v| !v.is_empty()) else {
            return match self.op {
                Op::Null => self.values.iter().any(|v| v.eq_ignore_ascii_case("true")),
                _ => self.if_exists || self.op.negated(),
            };
        };
        if self.op == Op::Null {
            return self.values.iter().any(|v| v.eq_ignore_ascii_case("false"));
        }
        let any = |f: &dyn Fn(&str, &str) -> bool| {
            actual
                .iter()
                .any(|a| self.values.iter().any(|v| f(a.as_str(), v.as_str())))
        };
        let dates = |a: &str, v: &str, cmp: fn(i64, i64) -> bool| match (date_ms(a), date_ms(v)) {
            (Some(a), Some(v)) => cmp(a, v),
            _ => false,
        };
        let num = |a: &str, v: &str, cmp: fn(f64, f64) -> bool| match (
            a.parse::<f64>(),
            v.parse::<f64>(),
        ) {
            (Ok(a), Ok(v)) => cmp(a, v),
            _ => false,
        };
        use Op::*;
        match self.op {
            StringEquals | ArnEquals => any(&|a, v| a == v),
            StringNotEquals | ArnNotEquals => !any(&|a, v| a == v),
            StringEqualsIgnoreCase => any(&|a, v| a.eq_ignore_ascii_case(v)),
            StringNotEqualsIgnoreCase => !any(&|a, v| a.eq_ignore_ascii_case(v)),
            StringLike | ArnLike => any(&|a, v| glob(v, a, false)),
            StringNotLike | ArnNotLike => !any(&|a, v| glob(v, a, false)),
            NumericEquals => any(&|a, v| num(a, v, |a, v| a == v)),
            NumericNotEquals => !any(&|a, v| num(a, v, |a, v| a == v)),
            NumericLessThan => any(&|a, v| num(a, v, |a, v| a < v)),
            NumericLessThanEquals => any(&|a, v| num(a, v, |a, v| a <= v)),
            NumericGreaterThan => any(&|a, v| num(a, v, |a, v| a > v)),
            NumericGreaterThanEquals => any(&|a, v| num(a, v, |a, v| a >= v)),
            Bool => any(&|a, v| a.eq_ignore_ascii_case(v)),
            IpAddress => any(&|a, v| a.parse::<IpAddr>().is_ok_and(|ip| in_cidr(ip, v))),
            NotIpAddress => !any(&|a, v| a.parse::<IpAddr>().is_ok_and(|ip| in_cidr(ip, v))),
            DateEquals => any(&|a, v| dates(a, v, |a, v| a == v)),
            DateNotEquals => !any(&|a, v| dates(a, v, |a, v| a == v)),
            DateLessThan => any(&|a, v| dates(a, v, |a, v| a < v)),
            DateLessThanEquals => any(&|a, v| dates(a, v, |a, v| a <= v)),
            DateGreaterThan => any(&|a, v| dates(a, v, |a, v| a > v)),
            DateGreaterThanEquals => any(&|a, v| dates(a, v, |a, v| a >= v)),
            // Decided above, before any value is compared.
            Null => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> HashMap<String, Vec<String>> {
        let mut m: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            m.entry(normalize_key(k)).or_default().push(v.to_string());
        }
        m
    }

    fn eval(
        p: &Policy,
        caller: Option<&str>,
        action: &str,
        resource: &str,
        c: &[(&str, &str)],
    ) -> Decision {
        let context = ctx(c);
        p.evaluate(&Request {
            caller,
            action,
            resource,
            context: &context,
        })
    }

    const PUBLIC_READ: &str = r#"{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::photos/*"]}]}"#;

    #[test]
    fn public_read_policy() {
        let p = Policy::parse(PUBLIC_READ, "photos").unwrap();
        assert!(p.is_public());
        assert_eq!(
            eval(&p, None, "s3:GetObject", "arn:aws:s3:::photos/a/b.jpg", &[]),
            Decision::Allow
        );
        assert_eq!(
            eval(&p, None, "s3:PutObject", "arn:aws:s3:::photos/a", &[]),
            Decision::NotApplicable
        );
        assert_eq!(
            eval(&p, None, "s3:ListBucket", "arn:aws:s3:::photos", &[]),
            Decision::NotApplicable
        );
        assert!(
            Policy::parse(PUBLIC_READ, "other").is_err(),
            "resources must be the bucket's"
        );
    }

    #[test]
    fn deny_wins_and_conditions_apply() {
        let bob = canonical_id("bob");
        let text = r#"{"Statement":[
            {"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::bob:root"]},"Action":"s3:*","Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]},
            {"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}},
            {"Effect":"Deny","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b","Condition":{"StringNotLike":{"s3:prefix":["home/bob/*"]}}},
            {"Effect":"Deny","NotPrincipal":{"AWS":"bob"},"Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b/*"}
        ]}"#;
        let p = Policy::parse(text, "b").unwrap();
        assert!(!p.is_public(), "only bob is allowed anything");
        let get = |c: &[(&str, &str)]| eval(&p, Some(&bob), "s3:GetObject", "arn:aws:s3:::b/k", c);
        assert_eq!(get(&[("aws:SecureTransport", "true")]), Decision::Allow);
        assert_eq!(get(&[("aws:SecureTransport", "false")]), Decision::Deny);
        let list = |c: &[(&str, &str)]| eval(&p, Some(&bob), "s3:ListBucket", "arn:aws:s3:::b", c);
        assert_eq!(list(&[("s3:prefix", "home/bob/docs/")]), Decision::Allow);
        assert_eq!(list(&[("s3:prefix", "home/alice/")]), Decision::Deny);
        assert_eq!(
            list(&[]),
            Decision::Deny,
            "a missing key makes a negated operator hold"
        );
        let carol = canonical_id("carol");
        assert_eq!(
            eval(
                &p,
                Some(&carol),
                "s3:DeleteObject",
                "arn:aws:s3:::b/k",
                &[("aws:SecureTransport", "true")]
            ),
            Decision::Deny
        );
        assert_eq!(
            eval(
                &p,
                Some(&bob),
                "s3:DeleteObject",
                "arn:aws:s3:::b/k",
                &[("aws:SecureTransport", "true")]
            ),
            Decision::Allow
        );
    }

    #[test]
    fn ip_tag_null_and_numeric_conditions() {
        let text = r#"{"Statement":[
            {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*",
             "Condition":{"IpAddress":{"aws:SourceIp":["10.1.0.0/16","2001:db8::/32"]},"StringEquals":{"s3:ExistingObjectTag/Visibility":"public"}}},
            {"Effect":"Allow","Principal":"*","Action":"s3:ListBucket","Resource":"arn:aws:s3:::b",
             "Condition":{"NumericLessThanEquals":{"s3:max-keys":"10"},"Null":{"s3:delimiter":"false"}}}
        ]}"#;
        let p = Policy::parse(text, "b").unwrap();
        assert!(p.is_public(), "the listing statement is not narrowed");
        let get = |c: &[(&str, &str)]| eval(&p, None, "s3:GetObject", "arn:aws:s3:::b/k", c);
        assert_eq!(
            get(&[
                ("aws:SourceIp", "10.1.2.3"),
                ("s3:ExistingObjectTag/Visibility", "public")
            ]),
            Decision::Allow
        );
        assert_eq!(
            get(&[
                ("aws:SourceIp", "10.2.2.3"),
                ("s3:ExistingObjectTag/Visibility", "public")
            ]),
            Decision::NotApplicable
        );
        assert_eq!(
            get(&[
                ("aws:SourceIp", "::ffff:10.1.2.3"),
                ("s3:ExistingObjectTag/Visibility", "public")
            ]),
            Decision::Allow
        );
        assert_eq!(
            get(&[
                ("aws:SourceIp", "2001:db8::1"),
                ("s3:ExistingObjectTag/Visibility", "public")
            ]),
            Decision::Allow
        );
        assert_eq!(
            get(&[
                ("aws:SourceIp", "10.1.2.3"),
                ("s3:ExistingObjectTag/visibility", "public")
            ]),
            Decision::NotApplicable,
            "tag keys keep their case"
        );
        let list = |c: &[(&str, &str)]| eval(&p, None, "s3:ListBucket", "arn:aws:s3:::b", c);
        assert_eq!(
            list(&[("s3:max-keys", "5"), ("s3:delimiter", "/")]),
            Decision::Allow
        );
        assert_eq!(
            list(&[("s3:max-keys", "50"), ("s3:delimiter", "/")]),
            Decision::NotApplicable
        );
        assert_eq!(list(&[("s3:max-keys", "5")]), Decision::NotApplicable);
        let narrow = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}}}"#;
        assert!(!Policy::parse(narrow, "b").unwrap().is_public());
    }

    #[test]
    fn malformed_policies() {
        for (text, why) in [
            ("not json", "JSON"),
            (r#"{"Statement":[]}"#, "Statement"),
            (
                r#"{"Version":"2000-01-01","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}}"#,
                "version",
            ),
            (
                r#"{"Statement":{"Effect":"Permit","Principal":"*","Action":"s3:*","Resource":"*"}}"#,
                "Effect",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"s3:*","Resource":"*"}}"#,
                "principal",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"ec2:*","Resource":"*"}}"#,
                "action",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::bx/*"}}"#,
                "resource",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"StringSounds":{"a":"b"}}}}"#,
                "Condition type",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"nope"}}}}"#,
                "Invalid value",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","NotAction":"s3:Get*","Resource":"*"}}"#,
                "both",
            ),
            (
                r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*","Extra":1}}"#,
                "Unknown field",
            ),
        ] {
            let e = Policy::parse(text, "b").unwrap_err();
            assert!(
                e.0.to_lowercase().contains(&why.to_lowercase()),
                "{text}: {e}"
            );
        }
        assert!(Policy::parse(
            &format!("{{\"Id\":\"{}\"}}", "x".repeat(MAX_POLICY_BYTES)),
            "b"
        )
        .is_err());
    }

    #[test]
    fn globs() {
        assert!(glob("s3:get*", "s3:GetObject", true));
        assert!(glob(
            "arn:aws:s3:::b/home/*/docs/?",
            "arn:aws:s3:::b/home/bob/docs/x",
            false
        ));
        assert!(!glob(
            "arn:aws:s3:::b/home/*",
            "arn:aws:s3:::b/Home/x",
            false
        ));
        assert!(glob("*", "", false));
        assert!(!glob("a*b*c", "aXbY", false));
        assert!(glob(&"*a".repeat(20), &"a".repeat(40), false));
    }
}

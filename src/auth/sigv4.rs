//! AWS Signature Version 4 building blocks: canonicalisation, key derivation and
//! signature comparison. Pure functions, no I/O.
//!
//! Nothing in this module logs; callers must never log secrets, signing keys or
//! signatures either.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::{format_description::BorrowedFormatItem, macros::format_description, OffsetDateTime};

use super::AuthError;

/// The SigV4 algorithm name (header auth, presigned URLs, seed signature).
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Hex SHA-256 of the empty string.
pub const EMPTY_SHA256_HEX: &str =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

const AMZ_DATE_FORMAT: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// AWS `UriEncode`: every byte except `A-Za-z0-9-._~` becomes `%XX` (uppercase hex);
/// `/` is kept as is when `encode_slash` is false.
pub fn uri_encode(s: &str, encode_slash: bool) -> String {
    uri_encode_bytes(s.as_bytes(), encode_slash)
}

/// A query string as name/value pairs in arrival order, `%XX` decoded (a `+` stays a plus,
/// as S3 reads it); bytes that are not UTF-8 become U+FFFD.
pub fn decode_query(raw: &str) -> Vec<(String, String)> {
    let dec = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (dec(k), dec(v))
        })
        .collect()
}

fn uri_encode_bytes(bytes: &[u8], encode_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(bytes.len() + bytes.len() / 2);
    for &b in bytes {
        let keep = b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (b == b'/' && !encode_slash);
        if keep {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// Percent-decodes to raw bytes. `+` stays `+`; an invalid `%` sequence stays literal.
fn percent_decode(s: &str) -> Vec<u8> {
    percent_encoding::percent_decode_str(s).collect()
}

/// Canonical URI candidates for a request path as received on the wire.
///
/// 1. the path percent-decoded (raw bytes, `+` is not a space) and re-encoded with
///    [`uri_encode`] (slashes kept);
/// 2. if different, the raw path exactly as received.
///
/// `//`, `.` and `..` segments are never touched. An empty path becomes `/`.
pub fn canonical_uri_candidates(raw_path: &str) -> Vec<String> {
    let raw = if raw_path.is_empty() { "/" } else { raw_path };
    let normalised = uri_encode_bytes(&percent_decode(raw), false);
    if normalised == raw {
        vec![normalised]
    } else {
        vec![normalised, raw.to_owned()]
    }
}

/// Canonical query string: every parameter decoded then RFC 3986-encoded, valueless
/// parameters as `name=`, sorted by encoded name then encoded value.
/// With `exclude_signature`, `X-Amz-Signature` is dropped (presigned URLs).
pub fn canonical_query(raw_query: &str, exclude_signature: bool) -> String {
    canonical_query_ordered(raw_query, exclude_signature, true)
}

/// The query candidates a signature is checked against: the canonical (sorted) form, and —
/// when it differs — the parameters in the order sent, which curl 7.x signs (it does not sort;
/// Debian 12 ships curl 7.88, and `curl --aws-sigv4` is a documented way to call us).
pub fn canonical_query_candidates(raw_query: &str, exclude_signature: bool) -> Vec<String> {
    let sorted = canonical_query_ordered(raw_query, exclude_signature, true);
    let as_sent = canonical_query_ordered(raw_query, exclude_signature, false);
    if as_sent == sorted {
        vec![sorted]
    } else {
        vec![sorted, as_sent]
    }
}

fn canonical_query_ordered(raw_query: &str, exclude_signature: bool, sort: bool) -> String {
    let mut params: Vec<(String, String)> = raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            let name = percent_decode(name);
            if exclude_signature && name == b"X-Amz-Signature" {
                return None;
            }
            Some((
                uri_encode_bytes(&name, true),
                uri_encode_bytes(&percent_decode(value), true),
            ))
        })
        .collect();
    if sort {
        params.sort();
    }
    let mut out = String::with_capacity(raw_query.len() + 8);
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

/// Trims a header value and collapses inner runs of spaces/tabs into one space.
fn trim_all(value: &str, out: &mut String) {
    let mut pending_space = false;
    let mut started = false;
    for c in value.chars() {
        if c == ' ' || c == '\t' {
            pending_space = started;
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
            started = true;
        }
    }
}

/// Canonical headers block (`name:value\n` per signed header, in the order given).
///
/// All occurrences of a header are joined with `,`; each value is trimmed and inner
/// whitespace runs collapsed. `host` falls back to `authority` (HTTP/2 `:authority`)
/// when the request carries no `Host` header. A signed header that is absent is an
/// error ([`AuthError::SignatureDoesNotMatch`]).
pub fn canonical_headers(
    headers: &http::HeaderMap,
    signed: &[String],
    authority: Option<&str>,
) -> Result<String, AuthError> {
    let mut out = String::with_capacity(signed.len() * 32);
    for name in signed {
        let name = name.to_ascii_lowercase();
        out.push_str(&name);
        out.push(':');
        let mut values = headers.get_all(name.as_str()).iter().peekable();
        if values.peek().is_none() {
            match (name.as_str(), authority) {
                ("host", Some(auth)) => trim_all(auth, &mut out),
                _ => return Err(AuthError::SignatureDoesNotMatch),
            }
        }
        for (i, value) in values.enumerate() {
            if i > 0 {
                out.push(',');
            }
            trim_all(&String::from_utf8_lossy(value.as_bytes()), &mut out);
        }
        out.push('\n');
    }
    Ok(out)
}

/// The SigV4 canonical request. `headers` is the output of [`canonical_headers`]
/// (each line already ends with `\n`).
pub fn canonical_request(
    method: &str,
    uri: &str,
    query: &str,
    headers: &str,
    signed_headers: &str,
    payload_hash: &str,
) -> String {
    format!("{method}\n{uri}\n{query}\n{headers}\n{signed_headers}\n{payload_hash}")
}

/// Hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hex(sha256(canonical_request))}`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// HMAC-SHA256.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC is defined for keys of every length; this arm cannot be taken.
        Err(_) => unreachable!("HMAC-SHA256 accepts keys of any length"),
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// SigV4 signing key: `HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_secret = format!("AWS4{secret}");
    let k_date = hmac_sha256(k_secret.as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// Constant-time comparison of a computed signature with the hex one the client sent.
/// Returns false when `provided_hex` is not 64 hex digits.
pub fn signature_matches(computed: &[u8; 32], provided_hex: &str) -> bool {
    let mut provided = [0u8; 32];
    if hex::decode_to_slice(provided_hex, &mut provided).is_err() {
        return false;
    }
    computed.ct_eq(&provided).into()
}

/// Parses an ISO 8601 basic timestamp `YYYYMMDDTHHMMSSZ` (UTC).
pub fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    let shape_ok = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[9..15].iter().all(u8::is_ascii_digit);
    if !shape_ok {
        return None;
    }
    time::PrimitiveDateTime::parse(s, AMZ_DATE_FORMAT)
        .ok()
        .map(time::PrimitiveDateTime::assume_utc)
}

/// Formats a time as `YYYYMMDDTHHMMSSZ` (converted to UTC first).
pub fn format_amz_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    const SCOPE: &str = "20130524/us-east-1/s3/aws4_request";
    const DATE: &str = "20130524T000000Z";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn signed(list: &str) -> Vec<String> {
        list.split(';').map(str::to_owned).collect()
    }

    fn sign(canonical: &str) -> String {
        let key = signing_key(SECRET, "20130524", "us-east-1", "s3");
        hex::encode(hmac_sha256(
            &key,
            string_to_sign(DATE, SCOPE, canonical).as_bytes(),
        ))
    }

    #[test]
    fn aws_example_get_object() {
        let h = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256_HEX),
            ("x-amz-date", DATE),
        ]);
        let sh = "host;range;x-amz-content-sha256;x-amz-date";
        let ch = canonical_headers(&h, &signed(sh), None).unwrap();
        let uri = &canonical_uri_candidates("/test.txt")[0];
        let cr = canonical_request(
            "GET",
            uri,
            &canonical_query("", false),
            &ch,
            sh,
            EMPTY_SHA256_HEX,
        );
        assert_eq!(
            cr,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
             x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            string_to_sign(DATE, SCOPE, &cr),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
        let sig = sign(&cr);
        assert_eq!(
            sig,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        let key = signing_key(SECRET, "20130524", "us-east-1", "s3");
        let computed = hmac_sha256(&key, string_to_sign(DATE, SCOPE, &cr).as_bytes());
        assert!(signature_matches(&computed, &sig));
        assert!(signature_matches(&computed, &sig.to_uppercase()));
        assert!(!signature_matches(&computed, &sig[..62]));
        assert!(!signature_matches(&computed, "zz"));
        let mut wrong = sig.clone().into_bytes();
        wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
        assert!(!signature_matches(
            &computed,
            std::str::from_utf8(&wrong).unwrap()
        ));
    }

    #[test]
    fn aws_example_put_object() {
        let payload_hash = sha256_hex(b"Welcome to Amazon S3.");
        assert_eq!(
            payload_hash,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
        );
        let h = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            ("x-amz-date", DATE),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", &payload_hash),
        ]);
        let sh = "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class";
        let ch = canonical_headers(&h, &signed(sh), None).unwrap();
        let uris = canonical_uri_candidates("/test$file.text");
        assert_eq!(uris, vec!["/test%24file.text", "/test$file.text"]);
        let cr = canonical_request("PUT", &uris[0], "", &ch, sh, &payload_hash);
        assert_eq!(
            sign(&cr),
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
    }

    #[test]
    fn aws_example_get_bucket_lifecycle() {
        let h = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-date", DATE),
            ("x-amz-content-sha256", EMPTY_SHA256_HEX),
        ]);
        let sh = "host;x-amz-content-sha256;x-amz-date";
        let ch = canonical_headers(&h, &signed(sh), None).unwrap();
        let q = canonical_query("lifecycle", false);
        assert_eq!(q, "lifecycle=");
        let cr = canonical_request("GET", "/", &q, &ch, sh, EMPTY_SHA256_HEX);
        assert_eq!(
            sign(&cr),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"
        );
    }

    #[test]
    fn query_candidates_add_the_order_sent_only_when_it_differs() {
        assert_eq!(canonical_query_candidates("a=1&b=2", false), ["a=1&b=2"]);
        assert_eq!(
            canonical_query_candidates("limit=2&cursor=x", false),
            ["cursor=x&limit=2", "limit=2&cursor=x"]
        );
    }

    #[test]
    fn aws_example_list_objects() {
        let h = headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-date", DATE),
            ("x-amz-content-sha256", EMPTY_SHA256_HEX),
        ]);
        let sh = "host;x-amz-content-sha256;x-amz-date";
        let ch = canonical_headers(&h, &signed(sh), None).unwrap();
        let q = canonical_query("prefix=J&max-keys=2", false);
        assert_eq!(q, "max-keys=2&prefix=J");
        let cr = canonical_request("GET", "/", &q, &ch, sh, EMPTY_SHA256_HEX);
        assert_eq!(
            sign(&cr),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    #[test]
    fn aws_example_presigned_url() {
        let raw_query = "X-Amz-Algorithm=AWS4-HMAC-SHA256\
            &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
            &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
            &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
        let q = canonical_query(raw_query, true);
        assert_eq!(
            q,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        );
        let h = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
        let ch = canonical_headers(&h, &signed("host"), None).unwrap();
        let cr = canonical_request("GET", "/test.txt", &q, &ch, "host", "UNSIGNED-PAYLOAD");
        assert_eq!(
            sign(&cr),
            "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn uri_encode_basics() {
        assert_eq!(uri_encode("aZ09-._~", true), "aZ09-._~");
        assert_eq!(uri_encode("a b+c", true), "a%20b%2Bc");
        assert_eq!(uri_encode("a/b", true), "a%2Fb");
        assert_eq!(uri_encode("a/b", false), "a/b");
        assert_eq!(uri_encode("€=%", false), "%E2%82%AC%3D%25");
        assert_eq!(uri_encode("*!'()", false), "%2A%21%27%28%29");
    }

    #[test]
    fn uri_candidates_special_keys() {
        // Already canonical: a single candidate.
        assert_eq!(
            canonical_uri_candidates("/bucket/my%20key%2Bplus%25pct%3Deq~tilde%E2%82%AC"),
            vec!["/bucket/my%20key%2Bplus%25pct%3Deq~tilde%E2%82%AC"]
        );
        // Literal '+' is not a space; literal '=' gets encoded in candidate 1.
        assert_eq!(
            canonical_uri_candidates("/b/a+b=c"),
            vec!["/b/a%2Bb%3Dc", "/b/a+b=c"]
        );
        // Lowercase escapes are normalised in candidate 1, raw kept as candidate 2.
        assert_eq!(
            canonical_uri_candidates("/b/%e2%82%ac"),
            vec!["/b/%E2%82%AC", "/b/%e2%82%ac"]
        );
        // Raw UTF-8 (not percent-encoded on the wire).
        assert_eq!(
            canonical_uri_candidates("/b/€"),
            vec!["/b/%E2%82%AC", "/b/€"]
        );
        // '//', '.', '..' and a leading '/' in the key are preserved.
        assert_eq!(
            canonical_uri_candidates("/b//a/./../x"),
            vec!["/b//a/./../x"]
        );
        assert_eq!(canonical_uri_candidates("/b//leading"), vec!["/b//leading"]);
        // An encoded slash decodes to '/', which is then kept.
        assert_eq!(
            canonical_uri_candidates("/b/a%2Fc"),
            vec!["/b/a/c", "/b/a%2Fc"]
        );
        // Invalid escapes: '%' is literal.
        assert_eq!(
            canonical_uri_candidates("/b/%zz"),
            vec!["/b/%25zz", "/b/%zz"]
        );
        assert_eq!(canonical_uri_candidates(""), vec!["/"]);
        assert_eq!(canonical_uri_candidates("/"), vec!["/"]);
    }

    #[test]
    fn query_canonicalisation() {
        assert_eq!(canonical_query("", false), "");
        assert_eq!(canonical_query("uploads", false), "uploads=");
        assert_eq!(
            canonical_query("acl&x-id=PutObject", false),
            "acl=&x-id=PutObject"
        );
        // '+' stays a plus; space is %20; '~' unencoded; sort by name then value.
        assert_eq!(
            canonical_query("b=2&a=x+y&a=%7E%20z&c=a%2fb&&", false),
            "a=x%2By&a=~%20z&b=2&c=a%2Fb"
        );
        // Sorting uses the encoded forms: "%41" < "B" < "a".
        assert_eq!(canonical_query("a=1&B=2&%2541=3", false), "%2541=3&B=2&a=1");
        assert_eq!(canonical_query("k=a=b", false), "k=a%3Db");
        assert_eq!(
            canonical_query("prefix=%E2%82%AC", false),
            "prefix=%E2%82%AC"
        );
        assert_eq!(canonical_query("X-Amz-Signature=abc&x=1", true), "x=1");
        assert_eq!(
            canonical_query("X-Amz-Signature=abc&x=1", false),
            "X-Amz-Signature=abc&x=1"
        );
    }

    #[test]
    fn header_canonicalisation() {
        let mut h = headers(&[
            ("x-amz-meta-a", "  one   two \t three  "),
            ("x-amz-meta-b", "first"),
            ("x-amz-meta-b", " second "),
            ("x-amz-meta-c", ""),
        ]);
        let out = canonical_headers(
            &h,
            &signed("host;x-amz-meta-a;x-amz-meta-b;x-amz-meta-c"),
            Some("example.com:9000"),
        )
        .unwrap();
        assert_eq!(
            out,
            "host:example.com:9000\nx-amz-meta-a:one two three\nx-amz-meta-b:first,second\nx-amz-meta-c:\n"
        );
        // Host header wins over authority.
        h.insert("host", HeaderValue::from_static("h:8080"));
        assert_eq!(
            canonical_headers(&h, &signed("host"), Some("other")).unwrap(),
            "host:h:8080\n"
        );
        // Missing signed header is an error.
        assert!(canonical_headers(&h, &signed("x-amz-missing"), None).is_err());
        assert!(canonical_headers(&HeaderMap::new(), &signed("host"), None).is_err());
    }

    #[test]
    fn amz_dates() {
        let t = parse_amz_date("20130524T000000Z").unwrap();
        assert_eq!(t.unix_timestamp(), 1_369_353_600);
        assert_eq!(format_amz_date(t), "20130524T000000Z");
        let t2 = parse_amz_date("20241231T235959Z").unwrap();
        assert_eq!(format_amz_date(t2), "20241231T235959Z");
        for bad in [
            "",
            "20130524",
            "20130524T000000",
            "20130524T000000z",
            "2013-05-24T00:00:00Z",
            "20131324T000000Z",
            "20130524T250000Z",
            "+0130524T000000Z",
            "20130524T000000Z ",
        ] {
            assert!(parse_amz_date(bad).is_none(), "{bad}");
        }
        let off = t.to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
        assert_eq!(format_amz_date(off), "20130524T000000Z");
    }

    #[test]
    fn hmac_rfc4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

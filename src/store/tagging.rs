//! S3's rules for tag sets, the same for the S3 surface and the management API.

use crate::error::{Error, Result};
use crate::meta::Tags;

pub const MAX_OBJECT_TAGS: usize = 10;
pub const MAX_BUCKET_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

/// Letters, digits and whitespace of any script, and `_ . : / = + - @`.
fn allowed(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_alphanumeric() || c.is_whitespace() || "_.:/=+-@".contains(c))
}

/// Checks a tag set as S3 does; the error names the first rule broken.
/// Each tag is checked before the count, as S3 does.
pub fn validate(tags: &Tags, max: usize) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for (k, v) in tags {
        let key_chars = k.chars().count();
        if key_chars == 0 || !allowed(k) {
            return Err(Error::InvalidTag(
                "The TagKey you have provided is invalid".into(),
            ));
        }
        if key_chars > MAX_KEY_CHARS {
            return Err(Error::InvalidTag(format!(
                "The TagKey you have provided is too long, max {MAX_KEY_CHARS}"
            )));
        }
        if k.starts_with("aws:") {
            return Err(Error::InvalidTag(
                "System tags cannot be added/updated by requester".into(),
            ));
        }
        if v.chars().count() > MAX_VALUE_CHARS {
            return Err(Error::InvalidTag(format!(
                "The TagValue you have provided is too long, max {MAX_VALUE_CHARS}"
            )));
        }
        if !allowed(v) {
            return Err(Error::InvalidTag(
                "The TagValue you have provided is invalid".into(),
            ));
        }
        if !seen.insert(k.as_str()) {
            return Err(Error::InvalidTag(
                "Cannot provide multiple Tags with the same key".into(),
            ));
        }
    }
    if tags.len() > max {
        return Err(Error::TooManyTags { max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> Tags {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn tag_sets_within_s3_limits_pass() {
        assert!(validate(&tags(&[]), 10).is_ok());
        assert!(validate(&tags(&[("project", "x"), ("empty", "")]), 10).is_ok());
        assert!(validate(&tags(&[("Prüfung 1", "a/b:c=d+e-f@g_h.i")]), 10).is_ok());
        let ten: Vec<(String, String)> = (0..10).map(|i| (format!("k{i}"), "v".into())).collect();
        assert!(validate(&ten, 10).is_ok());
        let k128 = "k".repeat(128);
        let v256 = "é".repeat(256);
        assert!(validate(&tags(&[(&k128, &v256)]), 10).is_ok());
    }

    #[test]
    fn tag_sets_beyond_them_are_invalid_tags() {
        let eleven: Vec<(String, String)> =
            (0..11).map(|i| (format!("k{i}"), "v".into())).collect();
        let k129 = "k".repeat(129);
        let v257 = "v".repeat(257);
        for bad in [
            eleven,
            tags(&[("", "v")]),
            tags(&[(&k129, "v")]),
            tags(&[("k", &v257)]),
            tags(&[("a", "1"), ("a", "2")]),
            tags(&[("aws:x", "v")]),
            tags(&[("k<", "v")]),
            tags(&[("k", "v&")]),
        ] {
            let e = validate(&bad, 10).unwrap_err();
            let want_count = bad.len() > 10;
            assert!(
                matches!(
                    (&e, want_count),
                    (Error::InvalidTag(_), false) | (Error::TooManyTags { max: 10 }, true)
                ),
                "{bad:?}: {e}"
            );
        }
        assert!(validate(&tags(&[("a", "1"), ("A", "2")]), 10).is_ok());
    }
}

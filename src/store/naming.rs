//! S3 naming rules for buckets
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>) and keys.

use crate::error::{Error, Result};

/// Longest object key S3 accepts, in bytes of UTF-8.
pub const MAX_KEY_LEN: usize = 1024;

/// Names the management surface owns; no bucket may take them.
pub const RESERVED: &[&str] = &["storage", "health"];

pub fn validate_bucket_name(name: &str) -> Result<()> {
    let why = check(name);
    match why {
        None => Ok(()),
        Some(why) => Err(Error::InvalidBucketName {
            name: name.to_owned(),
            why,
        }),
    }
}

fn check(name: &str) -> Option<&'static str> {
    let b = name.as_bytes();
    if b.len() < 3 || b.len() > 63 {
        return Some("a bucket name has 3 to 63 characters");
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'.' || *c == b'-')
    {
        return Some("use only lowercase letters, digits, dots and hyphens");
    }
    let edge_ok = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    if !edge_ok(b[0]) || !edge_ok(b[b.len() - 1]) {
        return Some("a bucket name begins and ends with a letter or digit");
    }
    if name.contains("..") || name.contains(".-") || name.contains("-.") {
        return Some("dots may not be adjacent to each other or to hyphens");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some("a bucket name may not look like an IP address");
    }
    if name.starts_with("xn--") || name.starts_with("sthree-") {
        return Some("that prefix is reserved");
    }
    if name.ends_with("-s3alias") || name.ends_with("--ol-s3") || name.ends_with(".mrap") {
        return Some("that suffix is reserved");
    }
    if RESERVED.contains(&name) {
        return Some("that name is reserved for the management API");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        for ok in ["abc", "my-bucket.1", "a1b", &"a".repeat(63)] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            &"a".repeat(64),
            "ABC",
            "a_b",
            "-ab",
            "ab-",
            "a..b",
            "a.-b",
            "192.168.1.1",
            "xn--abc",
            "x-s3alias",
            "storage",
            "ümlaut",
        ] {
            assert!(validate_bucket_name(bad).is_err(), "{bad}");
        }
    }
}

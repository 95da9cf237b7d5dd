//! S3 XML: a small writer for response documents and serde (quick-xml) types for request bodies.
//!
//! Responses are written by hand rather than through serde so that element order, empty
//! elements and escaping are exactly what the SDKs' parsers expect; golden tests pin them.

use std::fmt::Write as _;

use serde::Deserialize;

pub const S3_NS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// Escapes text for an XML element. Control characters become numeric references so that
/// parsers do not normalise them away (keys may contain `\r`).
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.bytes().any(needs_escape) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    escape_into(&mut out, s);
    std::borrow::Cow::Owned(out)
}

/// The bytes `escape` replaces: a table, because a listing page escapes ~100 kB of text.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'&' as usize] = true;
    t[b'\'' as usize] = true;
    t[b'"' as usize] = true;
    t
};

fn needs_escape(b: u8) -> bool {
    NEEDS_ESCAPE[usize::from(b)]
}

/// `escape`, appended to `out`: the runs between special characters are copied whole (every
/// ETag in a listing holds two quotes; a character at a time was a tenth of a LIST's CPU).
fn escape_into(out: &mut String, s: &str) {
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        if !needs_escape(b) {
            continue;
        }
        // Every special character is ASCII, so `i` is a character boundary.
        out.push_str(&s[run..i]);
        match b {
            b'<' => out.push_str("&lt;"),
            b'>' => out.push_str("&gt;"),
            b'&' => out.push_str("&amp;"),
            b'\'' => out.push_str("&apos;"),
            b'"' => out.push_str("&quot;"),
            _ => {
                let _ = write!(out, "&#{b};");
            }
        }
        run = i + 1;
    }
    out.push_str(&s[run..]);
}

/// Builds one XML document.
pub struct XmlWriter {
    buf: String,
    stack: Vec<&'static str>,
}

impl XmlWriter {
    /// Starts a document whose root element carries the S3 namespace.
    pub fn new(root: &'static str) -> Self {
        let mut w = Self::bare();
        let _ = write!(w.buf, "<{root} xmlns=\"{S3_NS}\">");
        w.stack.push(root);
        w
    }

    /// Starts a document whose root has no namespace (S3's `<Error>`).
    pub fn new_plain(root: &'static str) -> Self {
        let mut w = Self::bare();
        let _ = write!(w.buf, "<{root}>");
        w.stack.push(root);
        w
    }

    fn bare() -> Self {
        Self {
            buf: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            stack: Vec::new(),
        }
    }

    /// Room for `bytes` more of document (a listing knows roughly how long it will be).
    pub fn reserve(&mut self, bytes: usize) -> &mut Self {
        self.buf.reserve(bytes);
        self
    }

    // Tags are pushed piece by piece rather than through `write!`: a listing page writes
    // thousands of them, and the formatting machinery was a tenth of its cost.
    fn tag(&mut self, closing: bool, name: &str) {
        self.buf.push_str(if closing { "</" } else { "<" });
        self.buf.push_str(name);
        self.buf.push('>');
    }

    pub fn open(&mut self, name: &'static str) -> &mut Self {
        self.tag(false, name);
        self.stack.push(name);
        self
    }

    /// An element with attributes (values escaped), such as a Grantee's `xsi:type`.
    pub fn open_with_attrs(&mut self, name: &'static str, attrs: &[(&str, &str)]) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(name);
        for (k, v) in attrs {
            self.buf.push(' ');
            self.buf.push_str(k);
            self.buf.push_str("=\"");
            escape_into(&mut self.buf, v);
            self.buf.push('"');
        }
        self.buf.push('>');
        self.stack.push(name);
        self
    }

    pub fn close(&mut self) -> &mut Self {
        if let Some(name) = self.stack.pop() {
            self.tag(true, name);
        }
        self
    }

    pub fn elem(&mut self, name: &str, text: &str) -> &mut Self {
        self.tag(false, name);
        escape_into(&mut self.buf, text);
        self.tag(true, name);
        self
    }

    /// `<name>"text"</name>`, the quotes escaped (how S3 writes an ETag in a document).
    pub fn elem_quoted(&mut self, name: &str, text: &str) -> &mut Self {
        self.tag(false, name);
        self.buf.push_str("&quot;");
        escape_into(&mut self.buf, text);
        self.buf.push_str("&quot;");
        self.tag(true, name);
        self
    }

    /// A number, written without an intermediate string (digits need no escaping).
    pub fn elem_u64(&mut self, name: &str, n: u64) -> &mut Self {
        self.tag(false, name);
        self.buf.push_str(itoa::Buffer::new().format(n));
        self.tag(true, name);
        self
    }

    /// A date as S3's documents show it (`2009-10-12T17:50:30.123Z`).
    pub fn elem_date(&mut self, name: &str, ms: i64) -> &mut Self {
        self.tag(false, name);
        crate::clock::push_iso_ms(&mut self.buf, ms);
        self.tag(true, name);
        self
    }

    pub fn opt(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.elem(name, t);
        }
        self
    }

    pub fn finish(mut self) -> String {
        while !self.stack.is_empty() {
            self.close();
        }
        self.buf
    }
}

/// `<CreateBucketConfiguration>`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateBucketConfiguration {
    #[serde(default)]
    pub location_constraint: Option<String>,
}

/// `<VersioningConfiguration>` of PutBucketVersioning.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VersioningConfiguration {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub mfa_delete: Option<String>,
}

/// `<Delete>` of DeleteObjects.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Delete {
    #[serde(default)]
    pub quiet: Option<bool>,
    #[serde(rename = "Object", default)]
    pub objects: Vec<ObjectIdentifier>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectIdentifier {
    pub key: String,
    #[serde(default)]
    pub version_id: Option<String>,
}

/// `<CompleteMultipartUpload>`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompleteMultipartUpload {
    #[serde(rename = "Part", default)]
    pub parts: Vec<CompletedPart>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CompletedPart {
    pub part_number: u32,
    #[serde(rename = "ETag")]
    pub etag: String,
    #[serde(rename = "ChecksumCRC32", default)]
    pub checksum_crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C", default)]
    pub checksum_crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME", default)]
    pub checksum_crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1", default)]
    pub checksum_sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256", default)]
    pub checksum_sha256: Option<String>,
}

impl CompletedPart {
    /// The part checksum the client listed, if any.
    pub fn checksum(&self) -> Option<crate::checksum::Checksum> {
        use crate::checksum::{Checksum, ChecksumAlgorithm as A};
        [
            (A::Crc32, &self.checksum_crc32),
            (A::Crc32c, &self.checksum_crc32c),
            (A::Crc64Nvme, &self.checksum_crc64nvme),
            (A::Sha1, &self.checksum_sha1),
            (A::Sha256, &self.checksum_sha256),
        ]
        .into_iter()
        .find_map(|(algorithm, v)| {
            v.as_ref().map(|value| Checksum {
                algorithm,
                value: value.trim().to_owned(),
            })
        })
    }
}

/// `<Tagging>` of PutObjectTagging and PutBucketTagging.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tagging {
    pub tag_set: TagSet,
}

#[derive(Debug, Default, Deserialize)]
pub struct TagSet {
    #[serde(rename = "Tag", default)]
    pub tags: Vec<Tag>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    /// An empty `<Value/>` is an empty value.
    #[serde(default)]
    pub value: Option<String>,
}

/// `<ObjectLockConfiguration>` of PutObjectLockConfiguration.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectLockConfiguration {
    #[serde(default)]
    pub object_lock_enabled: Option<String>,
    #[serde(default)]
    pub rule: Option<ObjectLockRule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ObjectLockRule {
    #[serde(default)]
    pub default_retention: Option<DefaultRetention>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DefaultRetention {
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub days: Option<String>,
    #[serde(default)]
    pub years: Option<String>,
}

/// `<Retention>` of PutObjectRetention; both empty removes the retention.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Retention {
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub retain_until_date: Option<String>,
}

/// `<LegalHold>` of PutObjectLegalHold.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LegalHold {
    #[serde(default)]
    pub status: Option<String>,
}

/// `<LifecycleConfiguration>` of PutBucketLifecycleConfiguration. Numbers stay text so a bad
/// one is reported with the element it was found in.
#[derive(Debug, Default, Deserialize)]
pub struct LifecycleConfiguration {
    #[serde(rename = "Rule", default)]
    pub rules: Vec<LifecycleRule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleRule {
    #[serde(rename = "ID", default)]
    pub id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    /// The rule-level prefix of the original API, instead of a Filter.
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub filter: Option<LifecycleFilter>,
    #[serde(default)]
    pub expiration: Option<LifecycleExpiration>,
    #[serde(default)]
    pub noncurrent_version_expiration: Option<NoncurrentVersionExpiration>,
    #[serde(default)]
    pub abort_incomplete_multipart_upload: Option<AbortIncompleteMultipartUpload>,
    /// Storage-class transitions: read only to be refused (one storage class here).
    #[serde(rename = "Transition", default)]
    pub transitions: Vec<serde::de::IgnoredAny>,
    #[serde(rename = "NoncurrentVersionTransition", default)]
    pub noncurrent_transitions: Vec<serde::de::IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleFilter {
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(default)]
    pub tag: Option<Tag>,
    #[serde(default)]
    pub object_size_greater_than: Option<String>,
    #[serde(default)]
    pub object_size_less_than: Option<String>,
    #[serde(default)]
    pub and: Option<LifecycleAnd>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleAnd {
    #[serde(default)]
    pub prefix: Option<String>,
    #[serde(rename = "Tag", default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub object_size_greater_than: Option<String>,
    #[serde(default)]
    pub object_size_less_than: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LifecycleExpiration {
    #[serde(default)]
    pub days: Option<String>,
    #[serde(default)]
    pub date: Option<String>,
    #[serde(default)]
    pub expired_object_delete_marker: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NoncurrentVersionExpiration {
    #[serde(default)]
    pub noncurrent_days: Option<String>,
    #[serde(default)]
    pub newer_noncurrent_versions: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AbortIncompleteMultipartUpload {
    #[serde(default)]
    pub days_after_initiation: Option<String>,
}

/// Parses a request body; `Err` carries a message for `MalformedXML`.
pub fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the XML is not UTF-8".to_string())?;
    quick_xml::de::from_str(text).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_document() {
        let mut w = XmlWriter::new("ListAllMyBucketsResult");
        w.open("Owner").elem("ID", "abc").close();
        w.open("Buckets")
            .open("Bucket")
            .elem("Name", "b<&>")
            .close();
        assert_eq!(
            w.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Owner><ID>abc</ID></Owner><Buckets><Bucket><Name>b&lt;&amp;&gt;</Name></Bucket></Buckets></ListAllMyBucketsResult>"
        );
    }

    #[test]
    fn escapes_control_characters() {
        assert_eq!(escape("a\rb\"c'"), "a&#13;b&quot;c&apos;");
        assert_eq!(escape("plain ✓"), "plain ✓");
        assert_eq!(escape("\"ab\"<ü>&\x01"), "&quot;ab&quot;&lt;ü&gt;&amp;&#1;");
        let mut out = String::from("x");
        escape_into(&mut out, "é\"");
        assert_eq!(out, "xé&quot;");
    }

    #[test]
    fn parses_delete() {
        let d: Delete = parse(
            br#"<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a &amp; b</Key></Object><Object><Key>c</Key><VersionId>null</VersionId></Object><Quiet>true</Quiet></Delete>"#,
        )
        .unwrap();
        assert_eq!(d.quiet, Some(true));
        assert_eq!(d.objects.len(), 2);
        assert_eq!(d.objects[0].key, "a & b");
        let c: CreateBucketConfiguration = parse(
            b"<CreateBucketConfiguration><LocationConstraint>in-mum</LocationConstraint></CreateBucketConfiguration>",
        )
        .unwrap();
        assert_eq!(c.location_constraint.as_deref(), Some("in-mum"));
        assert!(parse::<Delete>(b"<Delete><Object>").is_err());
        let c: CompleteMultipartUpload = parse(
            br#"<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part><ETag>"abc"</ETag><PartNumber>1</PartNumber><ChecksumCRC32>x</ChecksumCRC32></Part><Part><PartNumber>2</PartNumber><ETag>def</ETag></Part></CompleteMultipartUpload>"#,
        )
        .unwrap();
        assert_eq!(c.parts.len(), 2);
        assert_eq!(
            (c.parts[0].part_number, c.parts[0].etag.as_str()),
            (1, "\"abc\"")
        );
    }
}

//! A table of malformed requests, each with the exact error S3 (or the management API)
//! answers. After the whole table the stored data is unchanged and `/health` answers.

use std::time::SystemTime;

use cnx_storage::access::signer::{sign_headers, Signing};
use sha2::Digest as _;

use crate::harness::{get_bytes, put, raw_request, RawResponse, Server, REGION};

/// How a case is authenticated.
#[derive(Clone, Copy)]
enum Auth {
    /// Signed as root (service `s3`, or `cloudnx` under `/storage/`).
    Root,
    /// Sent as is: the case's own headers carry (or lack) the credentials.
    Raw,
}

struct Case {
    what: &'static str,
    auth: Auth,
    method: &'static str,
    /// Path and query; `{b}` is the seeded bucket.
    target: String,
    headers: Vec<(String, String)>,
    /// Added after signing: headers the signature does not cover.
    unsigned: Vec<(String, String)>,
    /// Signed as if this were the body (to send a body its signature does not match).
    signed_body: Option<Vec<u8>>,
    body: Vec<u8>,
    status: u16,
    /// S3 `<Code>`, or a fragment of the JSON `error` under `/storage/`.
    code: &'static str,
}

fn case(
    what: &'static str,
    auth: Auth,
    method: &'static str,
    target: impl Into<String>,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        what,
        auth,
        method,
        target: target.into(),
        headers: Vec::new(),
        unsigned: Vec::new(),
        signed_body: None,
        body: Vec::new(),
        status,
        code,
    }
}

impl Case {
    fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.to_owned(), v.into()));
        self
    }

    fn unsigned(mut self, k: &str, v: impl Into<String>) -> Self {
        self.unsigned.push((k.to_owned(), v.into()));
        self
    }

    fn body(mut self, b: impl Into<Vec<u8>>) -> Self {
        self.body = b.into();
        self
    }
}

async fn send(srv: &Server, c: &Case, bucket: &str) -> RawResponse {
    let target = c.target.replace("{b}", bucket);
    let url = format!("{}{target}", srv.endpoint());
    let mut headers: Vec<(String, String)> = c.headers.clone();
    if let Auth::Root = c.auth {
        let service = if target.starts_with("/storage/") {
            "cloudnx"
        } else {
            "s3"
        };
        let signed_body = c.signed_body.as_ref().unwrap_or(&c.body);
        let sha = hex::encode(sha2::Sha256::digest(signed_body));
        if service == "s3" && !headers.iter().any(|(k, _)| k == "x-amz-content-sha256") {
            headers.push(("x-amz-content-sha256".into(), sha));
        }
        headers.push(("host".into(), srv.addr.clone()));
        let borrowed: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let signed = sign_headers(
            &Signing {
                access_key: &srv.access_key,
                secret: &srv.secret_key,
                region: REGION,
                service,
                time: SystemTime::now(),
            },
            c.method,
            &url,
            &borrowed,
            signed_body,
        )
        .unwrap_or_else(|e| panic!("{}: cannot sign: {e}", c.what));
        headers.extend(signed);
    }
    headers.extend(c.unsigned.iter().cloned());
    let borrowed: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    raw_request(c.method, &url, &borrowed, c.body.clone()).await
}

fn cases() -> Vec<Case> {
    use Auth::{Raw, Root};
    let long_key = format!("/{{b}}/{}", "k".repeat(1025));
    let big_meta = "m".repeat(2100);
    let cred = "AKNOSUCH/20260101/in-mum/s3/aws4_request";
    let mut v = vec![
        // ---- authentication ----
        case("anonymous GET", Raw, "GET", "/{b}/obj", 403, "AccessDenied"),
        case("anonymous ListBuckets", Raw, "GET", "/", 403, "AccessDenied"),
        case("garbage Authorization", Raw, "GET", "/{b}/obj", 400, "AuthorizationHeaderMalformed")
            .header("authorization", "AWS4-HMAC-SHA256 Foo"),
        case("Bearer on S3", Raw, "GET", "/{b}/obj", 400, "InvalidArgument")
            .header("authorization", "Bearer abc"),
        case("SigV2 header", Raw, "GET", "/{b}/obj", 400, "InvalidRequest")
            .header("authorization", "AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg="),
        case("credential without terminator", Raw, "GET", "/{b}/obj", 400, "AuthorizationHeaderMalformed")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=AK/20260101/in-mum/s3, SignedHeaders=host, Signature=00"),
        case("duplicate Credential", Raw, "GET", "/{b}/obj", 400, "AuthorizationHeaderMalformed")
            .header("authorization", format!("AWS4-HMAC-SHA256 Credential={cred}, Credential={cred}, SignedHeaders=host, Signature=00")),
        case("unsupported Authorization scheme", Raw, "GET", "/{b}/obj", 400, "InvalidArgument")
            .header("authorization", "Digest x"),
        case("SigV2 query", Raw, "GET", "/{b}/obj?AWSAccessKeyId=AK&Signature=x&Expires=1", 400, "InvalidRequest"),
        case("presigned without signature", Raw, "GET", format!("/{{b}}/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host"), 400, "AuthorizationQueryParametersError"),
        case("presigned bad algorithm", Raw, "GET", format!("/{{b}}/obj?X-Amz-Algorithm=AWS4-HMAC-SHA1&X-Amz-Credential={cred}&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00"), 400, "AuthorizationQueryParametersError"),
        case("presigned expires 0", Raw, "GET", format!("/{{b}}/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Date=20260101T000000Z&X-Amz-Expires=0&X-Amz-SignedHeaders=host&X-Amz-Signature=00"), 400, "AuthorizationQueryParametersError"),
        case("presigned expires over a week", Raw, "GET", format!("/{{b}}/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Date=20260101T000000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature=00"), 400, "AuthorizationQueryParametersError"),
        case("presigned expires not a number", Raw, "GET", format!("/{{b}}/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Date=20260101T000000Z&X-Amz-Expires=soon&X-Amz-SignedHeaders=host&X-Amz-Signature=00"), 400, "AuthorizationQueryParametersError"),
        case("presigned bad date", Raw, "GET", format!("/{{b}}/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Date=yesterday&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00"), 400, "AuthorizationQueryParametersError"),
        case("presigned wrong region", Raw, "GET", "/{b}/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00", 400, "AuthorizationQueryParametersError"),
        case("presigned duplicate parameter", Raw, "GET", format!("/{{b}}/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Credential={cred}&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00"), 400, "AuthorizationQueryParametersError"),
        case("presigned expired", Raw, "GET", format!("/{{b}}/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={}&X-Amz-Date=20200101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00", cred.replace("20260101", "20200101")), 403, "AccessDenied"),
        case("presigned without host signed", Raw, "GET", format!("/{{b}}/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=range&X-Amz-Signature=00"), 403, "AccessDenied"),
        case("header and query auth", Raw, "GET", format!("/{{b}}/obj?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={cred}"), 400, "InvalidArgument")
            .header("authorization", format!("AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host, Signature=00")),
        case("credential query parts only", Raw, "GET", format!("/{{b}}/obj?X-Amz-Credential={cred}"), 400, "AuthorizationQueryParametersError"),
        case("bad x-amz-content-sha256", Root, "GET", "/{b}/obj", 400, "InvalidArgument")
            .header("x-amz-content-sha256", "not-a-hash"),
        Case {
            signed_body: Some(b"other".to_vec()),
            ..case("x-amz-content-sha256 not the body's", Root, "PUT", "/{b}/mismatch", 400, "XAmzContentSHA256Mismatch")
                .body("payload")
        },
        case("x-amz-date that is no date", Raw, "GET", "/{b}/obj", 403, "AccessDenied")
            .header("x-amz-date", "yesterday")
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=AK/20260101/in-mum/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"),
        case("request date skewed by a day", Raw, "GET", "/{b}/obj", 403, "RequestTimeTooSkewed")
            .header("x-amz-date", "20200101T000000Z")
            .header("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=AK/20200101/in-mum/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=00"),
        case("scope date unlike x-amz-date", Raw, "GET", "/{b}/obj", 400, "AuthorizationHeaderMalformed")
            .header("x-amz-date", "20200101T000000Z")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=AK/20200102/in-mum/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00"),
        case("wrong region in scope", Raw, "GET", "/{b}/obj", 400, "AuthorizationHeaderMalformed")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=AK/20260101/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=00"),
        case("wrong service in scope", Raw, "GET", "/{b}/obj", 400, "AuthorizationHeaderMalformed")
            .header("authorization", "AWS4-HMAC-SHA256 Credential=AK/20260101/in-mum/ec2/aws4_request, SignedHeaders=host, Signature=00"),
        case("unsigned x-amz-meta header", Root, "PUT", "/{b}/steered", 403, "AccessDenied")
            .unsigned("x-amz-meta-owner", "mallory")
            .body("x"),
        case("unsigned x-amz-copy-source", Root, "PUT", "/{b}/steered", 403, "AccessDenied")
            .unsigned("x-amz-copy-source", "/{b}/obj"),
        // ---- bucket names ----
        case("bucket name too short", Root, "PUT", "/ab", 400, "InvalidBucketName"),
        case("bucket name too long", Root, "PUT", format!("/{}", "a".repeat(64)), 400, "InvalidBucketName"),
        case("bucket name with a capital", Root, "PUT", "/Capital", 400, "InvalidBucketName"),
        case("bucket name with an underscore", Root, "PUT", "/under_score", 400, "InvalidBucketName"),
        case("bucket name starting with a dash", Root, "PUT", "/-dash", 400, "InvalidBucketName"),
        case("bucket name ending with a dash", Root, "PUT", "/dash-", 400, "InvalidBucketName"),
        case("bucket name like an IP address", Root, "PUT", "/192.168.10.1", 400, "InvalidBucketName"),
        case("bucket name with two dots", Root, "PUT", "/a..b", 400, "InvalidBucketName"),
        case("bucket name with xn-- prefix", Root, "PUT", "/xn--bucket", 400, "InvalidBucketName"),
        case("bucket name with -s3alias suffix", Root, "PUT", "/bucket-s3alias", 400, "InvalidBucketName"),
        case("create bucket, bad XML", Root, "PUT", "/fresh-bucket-xml", 400, "MalformedXML")
            .body("<CreateBucketConfiguration><LocationConstraint>"),
        case("create bucket, foreign region", Root, "PUT", "/fresh-bucket-region", 400, "IllegalLocationConstraintException")
            .body("<CreateBucketConfiguration><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"),
        case("create a bucket that exists", Root, "PUT", "/{b}", 409, "BucketAlreadyOwnedByYou"),
        case("delete a bucket that is not empty", Root, "DELETE", "/{b}", 409, "BucketNotEmpty"),
        case("no such bucket", Root, "GET", "/no-such-bucket-here", 404, "NoSuchBucket"),
        case("head no such bucket", Root, "DELETE", "/no-such-bucket-here", 404, "NoSuchBucket"),
        // ---- object keys and PUT ----
        case("key over 1024 bytes", Root, "PUT", long_key, 400, "KeyTooLongError").body("x"),
        case("no such key", Root, "GET", "/{b}/missing", 404, "NoSuchKey"),
        case("Content-MD5 not base64", Root, "PUT", "/{b}/md5", 400, "InvalidDigest")
            .header("content-md5", "not base64!").body("x"),
        case("Content-MD5 of 15 bytes", Root, "PUT", "/{b}/md5", 400, "InvalidDigest")
            .header("content-md5", "AAAAAAAAAAAAAAAAAAAA").body("x"),
        case("Content-MD5 of other bytes", Root, "PUT", "/{b}/md5", 400, "BadDigest")
            .header("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg==").body("x"),
        case("CRC32 checksum of other bytes", Root, "PUT", "/{b}/crc", 400, "BadDigest")
            .header("x-amz-checksum-crc32", "AAAAAA==").body("x"),
        case("CRC32 checksum not base64", Root, "PUT", "/{b}/crc", 400, "InvalidRequest")
            .header("x-amz-checksum-crc32", "%%%").body("x"),
        case("two checksum headers", Root, "PUT", "/{b}/crc", 400, "InvalidRequest")
            .header("x-amz-checksum-crc32", "AAAAAA==")
            .header("x-amz-checksum-sha1", "AAAAAAAAAAAAAAAAAAAAAAAAAAA=").body("x"),
        case("unknown checksum algorithm", Root, "PUT", "/{b}/crc", 400, "InvalidRequest")
            .header("x-amz-sdk-checksum-algorithm", "MD4").body("x"),
        case("user metadata over 2 KiB", Root, "PUT", "/{b}/meta", 400, "MetadataTooLarge")
            .header("x-amz-meta-big", big_meta).body("x"),
        case("header section over 8 KiB", Root, "PUT", "/{b}/hdr", 400, "RequestHeaderSectionTooLarge")
            .header("content-type", "t".repeat(9000)).body("x"),
        case("If-Match on a missing key", Root, "PUT", "/{b}/absent", 404, "NoSuchKey")
            .header("if-match", "\"0123\"").body("x"),
        case("If-Match that fails", Root, "PUT", "/{b}/obj", 412, "PreconditionFailed")
            .header("if-match", "\"0123\"").body("x"),
        case("If-None-Match * on an existing key", Root, "PUT", "/{b}/obj", 412, "PreconditionFailed")
            .header("if-none-match", "*").body("x"),
        // ---- GET ----
        case("range past the end", Root, "GET", "/{b}/obj", 416, "InvalidRange")
            .header("range", "bytes=100-200"),
        case("partNumber 0", Root, "GET", "/{b}/obj?partNumber=0", 400, "InvalidArgument"),
        case("partNumber not a number", Root, "GET", "/{b}/obj?partNumber=one", 400, "InvalidArgument"),
        case("partNumber past the parts", Root, "GET", "/{b}/obj?partNumber=2", 416, "InvalidRange"),
        case("GET If-Match that fails", Root, "GET", "/{b}/obj", 412, "PreconditionFailed")
            .header("if-match", "\"0123\""),
        case("GET If-Unmodified-Since long ago", Root, "GET", "/{b}/obj", 412, "PreconditionFailed")
            .header("if-unmodified-since", "Sat, 01 Jan 2000 00:00:00 GMT"),
        // ---- listing ----
        case("max-keys negative", Root, "GET", "/{b}?max-keys=-1", 400, "InvalidArgument"),
        case("max-keys not a number", Root, "GET", "/{b}?max-keys=ten", 400, "InvalidArgument"),
        case("list-type 3", Root, "GET", "/{b}?list-type=3", 400, "InvalidArgument"),
        case("encoding-type other than url", Root, "GET", "/{b}?list-type=2&encoding-type=base64", 400, "InvalidArgument"),
        case("continuation-token not ours", Root, "GET", "/{b}?list-type=2&continuation-token=%25%25", 400, "InvalidArgument"),
        case("max-uploads negative", Root, "GET", "/{b}?uploads&max-uploads=-5", 400, "InvalidArgument"),
        case("max-buckets zero", Root, "GET", "/?max-buckets=0", 400, "InvalidArgument"),
        case("max-buckets over 10000", Root, "GET", "/?max-buckets=10001", 400, "InvalidArgument"),
        // ---- multipart ----
        case("UploadPart, upload id not ours", Root, "PUT", "/{b}/mp?partNumber=1&uploadId=../../x", 404, "NoSuchUpload").body("x"),
        case("UploadPart, unknown upload id", Root, "PUT", "/{b}/mp?partNumber=1&uploadId=0123456789abcdef0123456789abcdef", 404, "NoSuchUpload").body("x"),
        case("ListParts, unknown upload id", Root, "GET", "/{b}/mp?uploadId=0123456789abcdef0123456789abcdef", 404, "NoSuchUpload"),
        case("Abort, unknown upload id", Root, "DELETE", "/{b}/mp?uploadId=0123456789abcdef0123456789abcdef", 404, "NoSuchUpload"),
        case("Complete, unknown upload id", Root, "POST", "/{b}/mp?uploadId=0123456789abcdef0123456789abcdef", 404, "NoSuchUpload")
            .body("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"x\"</ETag></Part></CompleteMultipartUpload>"),
        case("UploadPart, part 0", Root, "PUT", "/{b}/mp?partNumber=0&uploadId={u}", 400, "InvalidArgument").body("x"),
        case("UploadPart, part 10001", Root, "PUT", "/{b}/mp?partNumber=10001&uploadId={u}", 400, "InvalidArgument").body("x"),
        case("Complete, malformed XML", Root, "POST", "/{b}/mp?uploadId={u}", 400, "MalformedXML").body("<Complete"),
        case("Complete, no parts", Root, "POST", "/{b}/mp?uploadId={u}", 400, "MalformedXML")
            .body("<CompleteMultipartUpload></CompleteMultipartUpload>"),
        case("Complete, parts out of order", Root, "POST", "/{b}/mp?uploadId={u}", 400, "InvalidPartOrder")
            .body("<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>\"a\"</ETag></Part><Part><PartNumber>1</PartNumber><ETag>\"a\"</ETag></Part></CompleteMultipartUpload>"),
        case("Complete, a part never uploaded", Root, "POST", "/{b}/mp?uploadId={u}", 400, "InvalidPart")
            .body("<CompleteMultipartUpload><Part><PartNumber>7</PartNumber><ETag>\"a\"</ETag></Part></CompleteMultipartUpload>"),
        case("UploadPartCopy, bad range", Root, "PUT", "/{b}/mp?partNumber=1&uploadId={u}", 400, "InvalidArgument")
            .header("x-amz-copy-source", "/{b}/obj").header("x-amz-copy-source-range", "bytes=abc"),
        case("UploadPartCopy, range past the source", Root, "PUT", "/{b}/mp?partNumber=1&uploadId={u}", 400, "InvalidArgument")
            .header("x-amz-copy-source", "/{b}/obj").header("x-amz-copy-source-range", "bytes=0-999"),
        case("max-parts negative", Root, "GET", "/{b}/mp?uploadId={u}&max-parts=-1", 400, "InvalidArgument"),
        // ---- copy ----
        case("copy source without a key", Root, "PUT", "/{b}/copy", 400, "InvalidArgument")
            .header("x-amz-copy-source", "onlybucket"),
        case("copy source of a missing bucket", Root, "PUT", "/{b}/copy", 404, "NoSuchBucket")
            .header("x-amz-copy-source", "/no-such-bucket-here/k"),
        case("copy source of a missing key", Root, "PUT", "/{b}/copy", 404, "NoSuchKey")
            .header("x-amz-copy-source", "/{b}/missing"),
        case("unknown metadata directive", Root, "PUT", "/{b}/copy", 400, "InvalidArgument")
            .header("x-amz-copy-source", "/{b}/obj").header("x-amz-metadata-directive", "MOVE"),
        case("copy onto itself unchanged", Root, "PUT", "/{b}/obj", 400, "InvalidRequest")
            .header("x-amz-copy-source", "/{b}/obj"),
        case("copy-source-if-match that fails", Root, "PUT", "/{b}/copy", 412, "PreconditionFailed")
            .header("x-amz-copy-source", "/{b}/obj").header("x-amz-copy-source-if-match", "\"0123\""),
        // ---- DeleteObjects ----
        case("DeleteObjects, malformed XML", Root, "POST", "/{b}?delete", 400, "MalformedXML").body("<Delete><Object>"),
        case("DeleteObjects, over 1000 keys", Root, "POST", "/{b}?delete", 400, "MalformedXML")
            .body(format!("<Delete>{}</Delete>", "<Object><Key>k</Key></Object>".repeat(1001))),
        // ---- CORS and unsupported sub-resources ----
        case("PutBucketCors, malformed XML", Root, "PUT", "/{b}?cors", 400, "MalformedXML").body("<CORSConfiguration><CORSRule>"),
        case("PutBucketCors, no rules", Root, "PUT", "/{b}?cors", 400, "InvalidRequest").body("<CORSConfiguration></CORSConfiguration>"),
        case("GetBucketCors, none set", Root, "GET", "/{b}?cors", 404, "NoSuchCORSConfiguration"),
        case("website sub-resource", Root, "GET", "/{b}?website", 501, "NotImplemented"),
        case("PutBucketAcl where ACLs are disabled", Root, "PUT", "/{b}?acl", 400, "AccessControlListNotSupported").header("x-amz-acl", "public-read"),
        case("PutBucketAcl naming no ACL", Root, "PUT", "/{b}?acl", 400, "MissingSecurityHeader"),
        case("PutObjectAcl with an unknown canned ACL", Root, "PUT", "/{b}/obj?acl", 400, "InvalidArgument").header("x-amz-acl", "everyone"),
        case("PUT with a canned ACL and a grant", Root, "PUT", "/{b}/obj", 400, "InvalidRequest").header("x-amz-acl", "private").header("x-amz-grant-read", "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\""),
        case("PutPublicAccessBlock, not a boolean", Root, "PUT", "/{b}?publicAccessBlock", 400, "MalformedXML").body("<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>"),
        case("PutBucketOwnershipControls, no rule", Root, "PUT", "/{b}?ownershipControls", 400, "MalformedXML").body("<OwnershipControls></OwnershipControls>"),
        case("anonymous GetBucketAcl", Raw, "GET", "/{b}?acl", 403, "AccessDenied"),
        case("anonymous DeletePublicAccessBlock", Raw, "DELETE", "/{b}?publicAccessBlock", 403, "AccessDenied"),
        case("PutObjectTagging, no TagSet", Root, "PUT", "/{b}/obj?tagging", 400, "MalformedXML").body("<Tagging></Tagging>"),
        case("PutObjectTagging, 11 tags", Root, "PUT", "/{b}/obj?tagging", 400, "BadRequest").body(format!("<Tagging><TagSet>{}</TagSet></Tagging>", (0..11).map(|i| format!("<Tag><Key>k{i}</Key><Value>v</Value></Tag>")).collect::<String>())),
        case("PUT with a duplicate tag", Root, "PUT", "/{b}/obj", 400, "InvalidArgument").header("x-amz-tagging", "a=1&a=2"),
        case("GetObjectLockConfiguration, none", Root, "GET", "/{b}?object-lock", 404, "ObjectLockConfigurationNotFoundError"),
        case("PutObjectRetention without object lock", Root, "PUT", "/{b}/obj?retention", 400, "InvalidRequest").body("<Retention><Mode>GOVERNANCE</Mode><RetainUntilDate>2999-01-01T00:00:00Z</RetainUntilDate></Retention>"),
        case("PUT with a legal hold without object lock", Root, "PUT", "/{b}/obj", 400, "InvalidRequest").header("x-amz-object-lock-legal-hold", "ON"),
        case("object-lock sub-resource of an object", Root, "GET", "/{b}/obj?object-lock", 501, "NotImplemented"),
        case("GetBucketPolicy, none set", Root, "GET", "/{b}?policy", 404, "NoSuchBucketPolicy"),
        case("PutBucketPolicy, not JSON", Root, "PUT", "/{b}?policy", 400, "MalformedPolicy").body("<Policy/>"),
        case("anonymous GetBucketPolicy", Raw, "GET", "/{b}?policy", 403, "AccessDenied"),
        case("website sub-resource", Root, "GET", "/{b}?website", 501, "NotImplemented"),
        case("torrent sub-resource", Root, "GET", "/{b}/obj?torrent", 501, "NotImplemented"),
        case("POST object form upload", Root, "POST", "/{b}", 501, "NotImplemented"),
        case("method S3 has no use for", Root, "PATCH", "/{b}/obj", 405, "MethodNotAllowed"),
    ];
    // ---- management surface: JSON errors ----
    let json = |what, method, path: &str, body: &str, status, fragment| {
        case(what, Root, method, path.to_owned(), status, fragment)
            .header("content-type", "application/json")
            .body(body.to_owned())
    };
    v.extend([
        json(
            "not JSON",
            "POST",
            "/storage/buckets",
            "{name:",
            400,
            "JSON",
        ),
        json(
            "JSON of the wrong shape",
            "POST",
            "/storage/buckets",
            "[1,2]",
            400,
            "",
        ),
        json(
            "unknown field",
            "POST",
            "/storage/buckets",
            r#"{"name":"okname-1","colour":"red"}"#,
            400,
            "colour",
        ),
        json(
            "invalid bucket name",
            "POST",
            "/storage/buckets",
            r#"{"name":"Bad_Name"}"#,
            400,
            "invalid bucket name",
        ),
        json(
            "foreign region",
            "POST",
            "/storage/buckets",
            r#"{"name":"okname-2","region":"eu-west-1"}"#,
            400,
            "region",
        ),
        json(
            "name not a string",
            "POST",
            "/storage/buckets",
            r#"{"name":12}"#,
            400,
            "",
        ),
        json(
            "NUL in a name",
            "POST",
            "/storage/buckets",
            "{\"name\":\"a\\u0000b\"}",
            400,
            "invalid bucket name",
        ),
        json(
            "bucket exists",
            "POST",
            "/storage/buckets",
            r#"{"name":"{b}"}"#,
            409,
            "exists",
        ),
        json(
            "limit 0",
            "GET",
            "/storage/buckets?limit=0",
            "",
            400,
            "limit",
        ),
        json(
            "limit not a number",
            "GET",
            "/storage/buckets?limit=many",
            "",
            400,
            "limit",
        ),
        json(
            "cursor not ours",
            "GET",
            "/storage/buckets?cursor=%25%25%25",
            "",
            400,
            "cursor",
        ),
        json(
            "no such bucket",
            "GET",
            "/storage/buckets/no-such-bucket-here",
            "",
            404,
            "not found",
        ),
        json(
            "versioning not a state",
            "PATCH",
            "/storage/buckets/{b}",
            r#"{"versioning":"on"}"#,
            400,
            "versioning",
        ),
        json(
            "delete non-empty",
            "DELETE",
            "/storage/buckets/{b}",
            "",
            409,
            "",
        ),
        json(
            "key permission unknown",
            "POST",
            "/storage/buckets/{b}/keys",
            r#"{"permission":"admin"}"#,
            400,
            "permission",
        ),
        json(
            "key expiry not a time",
            "POST",
            "/storage/buckets/{b}/keys",
            r#"{"permission":"read","expires_at":"soon"}"#,
            400,
            "expires_at",
        ),
        json(
            "key expiry in the past",
            "POST",
            "/storage/buckets/{b}/keys",
            r#"{"permission":"read","expires_at":"2001-01-01T00:00:00Z"}"#,
            400,
            "expires_at",
        ),
        json(
            "revoke a key that is not there",
            "DELETE",
            "/storage/buckets/{b}/keys/CNXNOSUCHKEY0000000",
            "",
            404,
            "",
        ),
        json(
            "presign method POST",
            "POST",
            "/storage/buckets/{b}/presign",
            r#"{"key":"k","method":"POST"}"#,
            400,
            "method",
        ),
        json(
            "presign expires 0",
            "POST",
            "/storage/buckets/{b}/presign",
            r#"{"key":"k","method":"GET","expires_in":0}"#,
            400,
            "expires_in",
        ),
        json(
            "presign expires over a week",
            "POST",
            "/storage/buckets/{b}/presign",
            r#"{"key":"k","method":"GET","expires_in":604801}"#,
            400,
            "expires_in",
        ),
        json(
            "presign empty key",
            "POST",
            "/storage/buckets/{b}/presign",
            r#"{"key":"","method":"GET"}"#,
            400,
            "key",
        ),
        json(
            "presign content type on GET",
            "POST",
            "/storage/buckets/{b}/presign",
            r#"{"key":"k","method":"GET","content_type":"text/plain"}"#,
            400,
            "content_type",
        ),
        json(
            "route that does not exist",
            "GET",
            "/storage/nothing-here",
            "",
            404,
            "",
        ),
        json(
            "method the route lacks",
            "PUT",
            "/storage/buckets",
            "{}",
            405,
            "",
        ),
        json(
            "body over 1 MiB",
            "POST",
            "/storage/buckets",
            &format!("{{\"name\":\"{}\"}}", "a".repeat(1 << 20)),
            400,
            "1 MiB",
        ),
    ]);
    v.push(
        case(
            "Idempotency-Key too long",
            Root,
            "POST",
            "/storage/buckets",
            400,
            "Idempotency-Key",
        )
        .header("content-type", "application/json")
        .header("idempotency-key", "k".repeat(300))
        .body(r#"{"name":"okname-3"}"#),
    );
    v.push(
        case(
            "invalid UTF-8 JSON",
            Root,
            "POST",
            "/storage/buckets",
            400,
            "",
        )
        .header("content-type", "application/json")
        .body(b"{\"name\":\"\xff\xfe\"}".to_vec()),
    );
    v.push(case(
        "unauthenticated management call",
        Raw,
        "GET",
        "/storage/buckets",
        401,
        "credentials",
    ));
    v
}

#[tokio::test]
async fn malformed_requests_get_exact_errors_and_change_nothing() {
    let srv = Server::start();
    if srv.skip_external("the management API and exact limits are cnx-storage's own") {
        return;
    }
    let s3 = srv.client();
    let bucket = srv.bucket(&s3, "bad-input").await;
    put(&s3, &bucket, "obj", b"original bytes").await;
    let upload = s3
        .create_multipart_upload()
        .bucket(&bucket)
        .key("mp")
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_owned();

    let table = cases();
    assert!(table.len() >= 100, "only {} cases", table.len());
    let mut failures = Vec::new();
    for mut c in table {
        c.target = c.target.replace("{u}", &upload);
        for (_, v) in c.headers.iter_mut().chain(c.unsigned.iter_mut()) {
            *v = v.replace("{b}", &bucket);
        }
        if let Ok(text) = std::str::from_utf8(&c.body) {
            if text.contains("{b}") {
                c.body = text.replace("{b}", &bucket).into_bytes();
            }
        }
        let r = send(&srv, &c, &bucket).await;
        let (got_code, ok_code) = if c.target.starts_with("/storage/") {
            let text = r.text();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
            let msg = v["error"].as_str().unwrap_or("<no error field>").to_owned();
            let ok = v["error"].is_string() && msg.contains(c.code);
            (msg, ok)
        } else {
            let code = r
                .error_code()
                .unwrap_or_else(|| format!("<no code: {}>", r.text()));
            let ok = code == c.code;
            (code, ok)
        };
        if r.status != c.status || !ok_code {
            failures.push(format!(
                "{}: {} {} → {} {got_code}, want {} {}",
                c.what, c.method, c.target, r.status, c.status, c.code
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases answered wrongly:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Nothing changed, and the server is well.
    assert_eq!(get_bytes(&s3, &bucket, "obj").await, b"original bytes");
    let listed = s3.list_objects_v2().bucket(&bucket).send().await.unwrap();
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["obj"]);
    let buckets = s3.list_buckets().send().await.unwrap();
    assert_eq!(buckets.buckets().len(), 1, "no bucket was created");
    let health = raw_request("GET", &format!("{}/health", srv.endpoint()), &[], "").await;
    assert_eq!(health.status, 200);
}

/// A client that announced `Expect: 100-continue` and got a refusal never sends its body: the
/// connection must end with the answer, or the first bytes of its next request would be read
/// as that body (a pipelined GET lost its `G` before the fix).
#[tokio::test]
async fn a_refused_100_continue_request_ends_its_connection() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let srv = Server::start();
    if srv.skip_external("checks this server's connection handling") {
        return;
    }
    let authority = srv.addr.clone();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    // Unsigned, and a configuration the anonymous caller may never change: refused (403)
    // before the body would be read.
    let refused = format!(
        "PUT /bucket?cors HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n"
    );
    let next = format!("GET /health HTTP/1.1\r\nHost: {authority}\r\n\r\n");
    stream
        .write_all(format!("{refused}{next}").as_bytes())
        .await
        .unwrap();
    let mut received = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut received),
    )
    .await
    .expect("the server kept the connection open")
    .unwrap();
    let text = String::from_utf8_lossy(&received).to_lowercase();
    assert!(text.starts_with("http/1.1 403"), "{text}");
    assert!(text.contains("connection: close"), "{text}");
    assert_eq!(
        text.matches("http/1.1 ").count(),
        1,
        "the pipelined request must not be answered as garbage: {text}"
    );
}

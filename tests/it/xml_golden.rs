//! Golden tests of every XML document the server writes: each response body of a scripted
//! session is compared, byte for byte, with `tests/golden/NAME.xml` once the parts that change
//! from run to run (times, upload ids, request ids, the port) are masked.
//! `CNX_UPDATE_GOLDEN=1` rewrites the files instead; review the diff before committing it.

use std::path::PathBuf;

use base64::Engine as _;
use md5::{Digest, Md5};

use crate::harness::{root_request, xml_tag, RawResponse, Server};

/// Elements whose text differs between runs.
const VOLATILE: &[&str] = &[
    "LastModified",
    "CreationDate",
    "Initiated",
    "UploadId",
    "NextUploadIdMarker",
    "VersionId",
    "NextVersionIdMarker",
    "RequestId",
    "HostId",
    "Location",
];

fn masked(xml: &str) -> String {
    let mut out = xml.to_owned();
    for tag in VOLATILE {
        let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
        let mut from = 0;
        while let Some(s) = out[from..].find(&open).map(|i| i + from + open.len()) {
            let Some(e) = out[s..].find(&close).map(|i| i + s) else {
                break;
            };
            out.replace_range(s..e, "…");
            from = s + "…".len() + close.len();
        }
    }
    out
}

/// Compares `resp`'s body with the golden file `name` (or rewrites it).
#[track_caller]
fn golden(name: &str, resp: &RawResponse, status: u16) {
    assert_eq!(resp.status, status, "{name}: {}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("application/xml"),
        "{name}"
    );
    let got = masked(&resp.text());
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.xml"));
    if std::env::var_os("CNX_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, format!("{got}\n")).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (CNX_UPDATE_GOLDEN=1 writes it)", path.display()));
    assert_eq!(
        got,
        want.trim_end_matches('\n'),
        "{name} differs from its golden file"
    );
}

fn md5_b64(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(body))
}

#[tokio::test]
async fn every_xml_document_matches_its_golden_file() {
    let srv = Server::start();
    if srv.skip_external("the golden files are cnx-storage's own documents") {
        return;
    }
    let req = |method: &'static str,
               path: String,
               headers: Vec<(&'static str, String)>,
               body: Vec<u8>| {
        let srv = &srv;
        async move {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            root_request(srv, method, &path, &h, body).await
        }
    };
    let ok = |r: &RawResponse, what: &str| assert!(r.status < 300, "{what}: {}", r.text());

    let r = req("PUT", "/golden".into(), vec![], vec![]).await;
    ok(&r, "create bucket");
    golden(
        "list_buckets",
        &req("GET", "/".into(), vec![], vec![]).await,
        200,
    );
    golden(
        "location",
        &req("GET", "/golden?location".into(), vec![], vec![]).await,
        200,
    );

    for (key, body) in [
        ("a.txt", "hello"),
        ("dir/b.txt", "world"),
        ("dir/c.txt", "!"),
    ] {
        let r = req("PUT", format!("/golden/{key}"), vec![], body.into()).await;
        ok(&r, key);
    }
    golden(
        "list_objects_v2",
        &req(
            "GET",
            "/golden?list-type=2&delimiter=%2F".into(),
            vec![],
            vec![],
        )
        .await,
        200,
    );
    golden(
        "list_objects_v2_page",
        &req(
            "GET",
            "/golden?list-type=2&max-keys=1&fetch-owner=true".into(),
            vec![],
            vec![],
        )
        .await,
        200,
    );
    golden(
        "list_objects_v1",
        &req(
            "GET",
            "/golden?delimiter=%2F&max-keys=1".into(),
            vec![],
            vec![],
        )
        .await,
        200,
    );
    golden(
        "copy_object",
        &req(
            "PUT",
            "/golden/copy.txt".into(),
            vec![("x-amz-copy-source", "/golden/a.txt".into())],
            vec![],
        )
        .await,
        200,
    );
    let delete = b"<Delete><Object><Key>copy.txt</Key></Object><Object><Key>never-was</Key></Object></Delete>".to_vec();
    golden(
        "delete_objects",
        &req(
            "POST",
            "/golden?delete".into(),
            vec![("content-md5", md5_b64(&delete))],
            delete,
        )
        .await,
        200,
    );

    // Multipart: a 5 MiB part, a copied part, listings, completion.
    let r = req("POST", "/golden/mp?uploads".into(), vec![], vec![]).await;
    golden("initiate_multipart_upload", &r, 200);
    let id = xml_tag(&r.text(), "UploadId").unwrap();
    let r = req(
        "PUT",
        format!("/golden/mp?partNumber=1&uploadId={id}"),
        vec![],
        vec![b'p'; 5 << 20],
    )
    .await;
    ok(&r, "part 1");
    let etag1 = r.header("etag").unwrap().to_owned();
    let r = req(
        "PUT",
        format!("/golden/mp?partNumber=2&uploadId={id}"),
        vec![("x-amz-copy-source", "/golden/a.txt".into())],
        vec![],
    )
    .await;
    golden("upload_part_copy", &r, 200);
    let etag2 = xml_tag(&r.text(), "ETag").unwrap().replace("&quot;", "\"");
    golden(
        "list_parts",
        &req("GET", format!("/golden/mp?uploadId={id}"), vec![], vec![]).await,
        200,
    );
    golden(
        "list_multipart_uploads",
        &req("GET", "/golden?uploads".into(), vec![], vec![]).await,
        200,
    );
    let complete = format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag1}</ETag></Part>\
         <Part><PartNumber>2</PartNumber><ETag>{etag2}</ETag></Part></CompleteMultipartUpload>"
    );
    golden(
        "complete_multipart_upload",
        &req(
            "POST",
            format!("/golden/mp?uploadId={id}"),
            vec![],
            complete.into_bytes(),
        )
        .await,
        200,
    );

    let cors = b"<CORSConfiguration><CORSRule><ID>web</ID><AllowedOrigin>https://app.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule></CORSConfiguration>".to_vec();
    let r = req(
        "PUT",
        "/golden?cors".into(),
        vec![("content-md5", md5_b64(&cors))],
        cors,
    )
    .await;
    ok(&r, "put cors");
    golden(
        "cors",
        &req("GET", "/golden?cors".into(), vec![], vec![]).await,
        200,
    );

    golden(
        "versioning_unversioned",
        &req("GET", "/golden?versioning".into(), vec![], vec![]).await,
        200,
    );
    let conf =
        b"<VersioningConfiguration><Status>Enabled</Status></VersioningConfiguration>".to_vec();
    let r = req("PUT", "/golden?versioning".into(), vec![], conf).await;
    ok(&r, "enable versioning");
    golden(
        "versioning_enabled",
        &req("GET", "/golden?versioning".into(), vec![], vec![]).await,
        200,
    );
    for body in ["v1", "v2"] {
        let r = req("PUT", "/golden/v".into(), vec![], body.into()).await;
        ok(&r, body);
    }
    let r = req("DELETE", "/golden/v".into(), vec![], vec![]).await;
    ok(&r, "delete marker");
    golden(
        "list_object_versions",
        &req(
            "GET",
            "/golden?versions&prefix=v&max-keys=2".into(),
            vec![],
            vec![],
        )
        .await,
        200,
    );

    let r = req(
        "PUT",
        "/golden/tagged".into(),
        vec![("x-amz-tagging", "team=web&note=a%20b".into())],
        b"t".to_vec(),
    )
    .await;
    ok(&r, "tagged put");
    golden(
        "object_tagging",
        &req("GET", "/golden/tagged?tagging".into(), vec![], vec![]).await,
        200,
    );
    golden(
        "object_attributes",
        &req(
            "GET",
            "/golden/tagged?attributes".into(),
            vec![(
                "x-amz-object-attributes",
                "ETag,Checksum,StorageClass,ObjectSize".into(),
            )],
            vec![],
        )
        .await,
        200,
    );
    let rules = b"<LifecycleConfiguration><Rule><ID>logs</ID><Filter><And><Prefix>logs/</Prefix><Tag><Key>t</Key><Value>1</Value></Tag></And></Filter><Status>Enabled</Status><Expiration><Days>30</Days></Expiration><NoncurrentVersionExpiration><NoncurrentDays>7</NoncurrentDays><NewerNoncurrentVersions>2</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule><Rule><ID>uploads</ID><Filter><Prefix>tmp/</Prefix></Filter><Status>Disabled</Status><AbortIncompleteMultipartUpload><DaysAfterInitiation>3</DaysAfterInitiation></AbortIncompleteMultipartUpload></Rule></LifecycleConfiguration>".to_vec();
    let r = req("PUT", "/golden?lifecycle".into(), vec![], rules).await;
    ok(&r, "lifecycle");
    golden(
        "lifecycle_configuration",
        &req("GET", "/golden?lifecycle".into(), vec![], vec![]).await,
        200,
    );
    let conf = b"<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>".to_vec();
    let r = req("PUT", "/golden?object-lock".into(), vec![], conf).await;
    ok(&r, "object lock");
    golden(
        "object_lock_configuration",
        &req("GET", "/golden?object-lock".into(), vec![], vec![]).await,
        200,
    );
    let r = req(
        "PUT",
        "/golden/held".into(),
        vec![("x-amz-object-lock-legal-hold", "ON".into())],
        b"h".to_vec(),
    )
    .await;
    ok(&r, "held put");
    golden(
        "legal_hold",
        &req("GET", "/golden/held?legal-hold".into(), vec![], vec![]).await,
        200,
    );
    let r = req("GET", "/golden/held?retention".into(), vec![], vec![]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(xml_tag(&r.text(), "Mode").as_deref(), Some("COMPLIANCE"));

    golden(
        "error_no_such_key",
        &req("GET", "/golden/never-was".into(), vec![], vec![]).await,
        404,
    );
}

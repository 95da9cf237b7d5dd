//! Every XML request body S3 operations take: parsed, or refused as MalformedXML.
#![no_main]

use cnx_storage::xml::{
    parse, CompleteMultipartUpload, CreateBucketConfiguration, Delete, VersioningConfiguration,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse::<CompleteMultipartUpload>(data).map(|c| {
        for p in &c.parts {
            let _ = p.checksum();
        }
    });
    let _ = parse::<Delete>(data).map(|d| {
        for o in &d.objects {
            let _ = o
                .version_id
                .as_deref()
                .map(cnx_storage::meta::versions::parse);
        }
    });
    let _ = parse::<VersioningConfiguration>(data);
    let _ = parse::<CreateBucketConfiguration>(data);
    let _ = cnx_storage::s3::tagging::parse_tagging(data)
        .map(|tags| cnx_storage::s3::tagging::tagging_document(&tags));
    let _ = cnx_storage::s3::lock::requested_default(data);
    let _ = cnx_storage::s3::lock::requested_retention(data);
    if let Ok(rules) = cnx_storage::s3::lifecycle::parse_configuration(data) {
        // What is shown back parses to the same rules.
        let doc = cnx_storage::s3::lifecycle::configuration_document(&rules);
        let again = cnx_storage::s3::lifecycle::parse_configuration(doc.as_bytes());
        assert_eq!(again.ok().as_ref(), Some(&rules), "{doc}");
    }
    if let Ok(rules) = cnx_storage::cors::from_xml(data) {
        let _ = cnx_storage::cors::validate(&rules);
        let _ = cnx_storage::cors::to_xml(&rules);
    }
});

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
    if let Ok(rules) = cnx_storage::cors::from_xml(data) {
        let _ = cnx_storage::cors::validate(&rules);
        let _ = cnx_storage::cors::to_xml(&rules);
    }
});

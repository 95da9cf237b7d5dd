//! aws-chunked bodies (signed and unsigned, with and without trailers), fed in pieces of
//! fuzzer-chosen sizes: decoded, or refused with an error.
#![no_main]

use bytes::BytesMut;
use cnx_storage::auth::chunked::ChunkedDecoder;
use cnx_storage::auth::ChunkSigner;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let signer = (mode & 1 == 1).then(|| {
        ChunkSigner::new(
            [7; 32],
            "20130524T000000Z".to_owned(),
            "20130524/us-east-1/s3/aws4_request".to_owned(),
            "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9".to_owned(),
        )
    });
    let mut dec = ChunkedDecoder::new(signer, mode & 2 == 2);
    let step = usize::from(mode >> 2).max(1);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in rest.chunks(step) {
        buf.extend_from_slice(piece);
        if dec.feed(&mut buf, &mut out).is_err() {
            return;
        }
    }
    let decoded: u64 = out.iter().map(|b| b.len() as u64).sum();
    assert_eq!(decoded, dec.decoded_len(), "every decoded byte is counted");
    let _ = dec.finish();
});

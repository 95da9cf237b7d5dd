// The one third-party code the console runs: AWS's SigV4 signer (@smithy/signature-v4) with
// the pure-JS SHA-256 (@aws-crypto/sha256-js), which works without a secure context (WebCrypto
// is missing on plain http to a non-loopback host). Bundled by build.mjs into vendor/sigv4.js.
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@aws-crypto/sha256-js";

export { SignatureV4, Sha256 };

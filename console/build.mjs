// Bundles sigv4-entry.js into vendor/sigv4.js, an ES module the console imports. The output is
// committed, so `cargo build` never needs node; run `npm ci && npm run bundle` after changing
// the pinned versions in package.json.
import { readFileSync } from "node:fs";
import { build } from "esbuild";

const version = (p) => JSON.parse(readFileSync(`node_modules/${p}/package.json`, "utf8")).version;
const banner = ["@smithy/signature-v4", "@aws-crypto/sha256-js"]
  .map((p) => `${p} ${version(p)}`)
  .join(", ");

await build({
  entryPoints: ["sigv4-entry.js"],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2020"],
  minify: true,
  legalComments: "eof",
  banner: { js: `/* ${banner} (Apache-2.0), bundled by console/build.mjs */` },
  outfile: "vendor/sigv4.js",
});

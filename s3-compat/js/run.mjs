#!/usr/bin/env node
// Runs the aws-sdk-js v3 suite with node's built-in test runner and writes S3_RESULTS.
//
//   node s3-compat/js/run.mjs [extra node --test flags, e.g. --test-name-pattern=hard]
//
// Env: S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION, S3_CA_BUNDLE, S3_RESULTS,
// S3_WORKDIR (see s3-compat/SUITES.md). Needs node_modules (./setup.sh).
// Output: the spec reporter on stdout, then "aws-sdk-js: N passed, N failed, N skipped".
// Exit status: 0 when no result failed (and node --test itself succeeded), else 1.

import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CLIENT = "aws-sdk-js";
const SUITE_TIMEOUT_MS = Number(process.env.S3_JS_SUITE_TIMEOUT_MS || 10 * 60_000);
const extraArgs = process.argv.slice(2);
const filtered = extraArgs.some((a) => /^--test-(name-pattern|skip-pattern|only)/.test(a));

const workdir = process.env.S3_WORKDIR || os.tmpdir();
const resultsPath = process.env.S3_RESULTS || path.join(workdir, `${CLIENT}-results.json`);

function clientVersion() {
  try {
    const pkg = path.join(HERE, "node_modules", "@aws-sdk", "client-s3", "package.json");
    return JSON.parse(fs.readFileSync(pkg, "utf8")).version;
  } catch {
    return "unknown";
  }
}

function writeResults(results) {
  const doc = { client: CLIENT, version: clientVersion(), results };
  fs.mkdirSync(path.dirname(path.resolve(resultsPath)), { recursive: true });
  fs.writeFileSync(resultsPath, `${JSON.stringify(doc, null, 2)}\n`);
}

function finish(results, extraFailure) {
  if (extraFailure) results.push({ group: "errors", name: "suite", status: "failed", detail: extraFailure });
  writeResults(results);
  const count = (s) => results.filter((r) => r.status === s).length;
  const failed = count("failed");
  if (failed) {
    console.log(`\n${CLIENT}: failed tests`);
    for (const r of results.filter((x) => x.status === "failed")) {
      console.log(`  [${r.group}] ${r.name}: ${r.detail.split("\n")[0].slice(0, 300)}`);
    }
  }
  console.log(`${CLIENT}: results written to ${resultsPath}`);
  console.log(`${CLIENT}: ${count("passed")} passed, ${failed} failed, ${count("skipped")} skipped`);
  process.exit(failed ? 1 : 0);
}

// ------------------------------------------------------------------ preflight

const major = Number(process.versions.node.split(".")[0]);
if (major < 20) finish([], `node ${process.versions.node} is too old: the pinned AWS SDK needs node >= 20`);
for (const name of ["S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY"]) {
  if (!process.env[name]) finish([], `${name} is not set`);
}
if (!fs.existsSync(path.join(HERE, "node_modules", "@aws-sdk", "client-s3", "package.json"))) {
  finish([], `node_modules missing: run ${path.join(HERE, "setup.sh")} first`);
}

// ------------------------------------------------------------------ child env

fs.mkdirSync(workdir, { recursive: true });
const env = { ...process.env, S3_WORKDIR: workdir };
env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
const caRaw = process.env.S3_CA_BUNDLE || process.env.S3_VERIFY || "";
if (process.env.S3_ENDPOINT.startsWith("https://")) {
  if (["false", "0", "no", "off"].includes(caRaw.toLowerCase())) {
    env.NODE_TLS_REJECT_UNAUTHORIZED = "0"; // fetch (undici) has no per-call CA option
  } else if (caRaw) {
    // the SDK gets the CA through its https.Agent (test/lib.mjs); global fetch reads it from here
    env.NODE_EXTRA_CA_CERTS = caRaw;
  }
}

// ------------------------------------------------------------------ run

// slow files first so the parallel schedule ends sooner
const ORDER = ["list", "multipart", "hardkeys", "checksums", "objects", "presign", "conditional", "copy", "errors", "buckets"];
const files = fs
  .readdirSync(path.join(HERE, "test"))
  .filter((f) => f.endsWith(".test.mjs"))
  .sort((a, b) => {
    const ia = ORDER.indexOf(a.replace(".test.mjs", ""));
    const ib = ORDER.indexOf(b.replace(".test.mjs", ""));
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  })
  .map((f) => path.join("test", f));

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `${CLIENT}-run-`));
const ndjson = path.join(scratch, "results.ndjson");
const args = [
  "--test",
  `--test-concurrency=${process.env.S3_JS_CONCURRENCY || 4}`,
  "--test-reporter=spec",
  "--test-reporter-destination=stdout",
  `--test-reporter=${path.join(HERE, "reporter.mjs")}`,
  `--test-reporter-destination=${ndjson}`,
  ...extraArgs,
  ...files,
];

const child = spawn(process.execPath, args, { cwd: HERE, env, stdio: ["ignore", "inherit", "inherit"] });
let timedOut = false;
const timer = setTimeout(() => {
  timedOut = true;
  child.kill("SIGTERM");
  setTimeout(() => child.kill("SIGKILL"), 10_000).unref();
}, SUITE_TIMEOUT_MS);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    child.kill(sig);
  });
}

child.on("exit", (code, signal) => {
  clearTimeout(timer);
  const results = [];
  const seen = new Set();
  let text = "";
  try {
    text = fs.readFileSync(ndjson, "utf8");
  } catch {
    /* no results at all: reported below */
  }
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    let rec;
    try {
      rec = JSON.parse(line);
    } catch {
      results.push({ group: "errors", name: "reporter output", status: "failed", detail: `unparsable line: ${line.slice(0, 200)}` });
      continue;
    }
    if (rec.kind !== "result") continue;
    const id = `${rec.group}\u0000${rec.name}`;
    if (seen.has(id)) {
      results.push({ group: rec.group, name: `${rec.name} (duplicate name)`, status: "failed", detail: "two tests share this name" });
      continue;
    }
    seen.add(id);
    results.push({ group: rec.group, name: rec.name, status: rec.status, detail: rec.detail ?? "" });
  }
  fs.rmSync(scratch, { recursive: true, force: true });

  // every hard key must have its own result unless the run was filtered on purpose
  if (!filtered) {
    const keys = JSON.parse(fs.readFileSync(path.join(HERE, "..", "keys", "hard-keys.json"), "utf8")).keys;
    for (const { name } of keys) {
      if (!seen.has(`hard keys\u0000hard key ${name}`)) {
        results.push({ group: "hard keys", name: `hard key ${name}`, status: "failed", detail: "no result reported for this key" });
      }
    }
  }

  let extra;
  if (timedOut) extra = `suite timed out after ${SUITE_TIMEOUT_MS / 1000}s and was stopped`;
  else if ((code !== 0 || signal) && !results.some((r) => r.status === "failed")) {
    extra = `node --test exited with ${signal ?? `code ${code}`} but no test failed`;
  } else if (results.length === 0) extra = "no test results were reported";
  finish(results, extra);
});

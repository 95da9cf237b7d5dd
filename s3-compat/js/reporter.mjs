// node:test reporter for the s3-compat results file.
//
// Writes one JSON object per line for every finished top-level test:
//   {"kind":"result","group","name","status","detail","file"}
// Test names carry their group as a prefix: "[objects] put and get" ->
// group "objects", name "put and get". A test file that fails outside any test
// (import error, crash) becomes a failed result named "<file> (file)" with the
// file's stderr as detail; run.mjs turns the lines into S3_RESULTS.

import path from "node:path";

const GROUPS = new Set([
  "auth/presign",
  "buckets",
  "objects",
  "conditional/range",
  "copy",
  "list",
  "multipart",
  "checksums",
  "errors",
  "management",
  "hard keys",
]);

// group of a whole file, for failures outside any test
const FILE_GROUP = {
  "buckets.test.mjs": "buckets",
  "objects.test.mjs": "objects",
  "conditional.test.mjs": "conditional/range",
  "copy.test.mjs": "copy",
  "list.test.mjs": "list",
  "multipart.test.mjs": "multipart",
  "checksums.test.mjs": "checksums",
  "presign.test.mjs": "auth/presign",
  "errors.test.mjs": "errors",
  "hardkeys.test.mjs": "hard keys",
};

const MAX_DETAIL = 4000;

function clip(text) {
  text = String(text ?? "").trim();
  return text.length > MAX_DETAIL ? `${text.slice(0, MAX_DETAIL)}... [truncated]` : text;
}

function describeError(error) {
  if (!error) return "failed";
  // node wraps the thrown value: ERR_TEST_FAILURE with the original as .cause. Errors
  // from a test file's process arrive deserialized: the class name survives only in
  // the stack's header ("NoSuchKey: The specified key ..."), so that is preferred.
  const cause = error.cause ?? error;
  if (cause && typeof cause === "object") {
    const stack = typeof cause.stack === "string" ? cause.stack : "";
    const header = stack.split(/\n\s+at /)[0].trim();
    if (header) return header;
    return cause.message ? `${cause.name ?? "Error"}: ${cause.message}` : String(cause);
  }
  return String(cause);
}

export default async function* reporter(source) {
  const stderrByFile = new Map();
  for await (const event of source) {
    const { type, data } = event;
    if (type === "test:stderr" || type === "test:stdout") {
      if (data.file) {
        const prev = stderrByFile.get(data.file) ?? "";
        if (prev.length < 20_000) stderrByFile.set(data.file, prev + data.message);
      }
      continue;
    }
    if (type !== "test:pass" && type !== "test:fail") continue;
    if (data.nesting !== 0) continue; // subtests are reported through their parent

    const file = data.file ?? "";
    const base = path.basename(file);
    const match = /^\[([^\]]+)\] (.+)$/s.exec(data.name ?? "");
    let record;
    if (match) {
      const [, group, name] = match;
      if (!GROUPS.has(group)) {
        record = { group: FILE_GROUP[base] ?? "errors", name, status: "failed", detail: `unknown group "${group}"` };
      } else if (type === "test:pass") {
        if (data.skip !== undefined || data.todo !== undefined) {
          const why = data.skip ?? data.todo;
          record = { group, name, status: "skipped", detail: typeof why === "string" && why ? why : "skipped" };
        } else {
          record = { group, name, status: "passed", detail: "" };
        }
      } else {
        record = { group, name, status: "failed", detail: clip(describeError(data.details?.error)) };
      }
    } else {
      // a file-level entry: only failures that are not just "a test inside failed"
      if (type !== "test:fail") continue;
      if (data.details?.error?.failureType === "subtestsFailed") continue;
      const stderr = stderrByFile.get(file) ?? "";
      record = {
        group: FILE_GROUP[base] ?? "errors",
        name: `${base || data.name} (file)`,
        status: "failed",
        detail: clip(`${describeError(data.details?.error)}\n${stderr}`),
      };
    }
    yield `${JSON.stringify({ kind: "result", file: base, ...record })}\n`;
  }
}

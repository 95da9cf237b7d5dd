// The cnx-storage web console: a page that signs its own S3 and management requests with the
// key it was given (see s3.js), so the server enforces on it exactly what it enforces on any
// client. Hash routes: #/ buckets, #/b/BUCKET/PREFIX objects, #/cors/BUCKET, #/keys, #/keys/BUCKET.

import { Client, encode, encodeKey, kid, kids, xml } from "./s3.js";
import { Upload } from "./upload.js";

/** Signed out after this long without a click or a key press. */
const IDLE_MS = 30 * 60 * 1000;
const PAGE_SIZE = 100;

let session = null; // { client, who, region, lastActive }
const main = document.getElementById("main");
const dialog = document.getElementById("dialog");

// ---- small helpers ----

/** An element: attrs are attributes (`on…` are listeners, `text` its text), children nodes or strings. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

function toast(message, bad = false) {
  const t = h("div", { class: bad ? "toast bad" : "toast", text: message });
  document.getElementById("toasts").append(t);
  setTimeout(() => t.remove(), bad ? 8000 : 4000);
}

function fail(e) {
  // The key was revoked or expired meanwhile: nothing more will work with it.
  if (e.status === 401 || e.code === "InvalidAccessKeyId") {
    signOut("Signed out: the key is no longer valid.");
    return;
  }
  toast(e.message || String(e), true);
}

function bytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

function when(s) {
  if (!s) return "";
  const d = new Date(s);
  return isNaN(d) ? s : d.toLocaleString();
}

const canWrite = () => session?.who.permission !== "read";
const isBucketKey = () => session?.who.kind === "bucket";
const bucketPath = (b) => `/storage/buckets/${encode(b)}`;
const objectPath = (b, k) => `/${encodeURIComponent(b)}/${encodeKey(k)}`;

let quietRedraw = false;

function page(title, ...children) {
  main.replaceChildren(h("h1", { id: "page-title", text: title }), ...children);
  document.title = `${title} · cnx-storage`;
  // A redraw the user did not ask for (an upload finishing) leaves focus where it is.
  if (!quietRedraw) main.focus({ preventScroll: true });
}

function loading() {
  main.replaceChildren(h("p", { class: "loading", text: "Loading…" }));
}

/** Opens the dialog with `title` and `content`; resolves to the closing button's value. */
function modal(title, content, buttons) {
  dialog.replaceChildren(
    h("h2", { id: "dialog-title", text: title }),
    content,
    h("div", { class: "row end" }, buttons),
  );
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

function closeButton(label = "Close", value = "") {
  return h("button", { type: "button", class: "quiet", text: label, onclick: () => dialog.close(value) });
}

async function copy(text, what) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard API off a secure context: copy from a selection instead.
    const area = h("textarea", { class: "offscreen" });
    area.value = text;
    dialog.open ? dialog.append(area) : document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  toast(`${what} copied`);
}

// ---- session ----

function touch() {
  if (session) session.lastActive = Date.now();
}

for (const ev of ["click", "keydown"]) document.addEventListener(ev, touch, { capture: true });

setInterval(() => {
  if (session && Date.now() - session.lastActive > IDLE_MS) {
    signOut("Signed out after 30 minutes without activity.");
  }
}, 15_000);

function signOut(message) {
  // The secret goes with the client: uploads still running under it stop, and nothing it
  // showed (a new key's secret in the dialog) stays on the page.
  for (const u of browse.uploads) u.cancel();
  browse.uploads = [];
  browse.bucket = null;
  uploadList?.replaceChildren();
  clearTimeout(refreshSoon);
  if (dialog.open) dialog.close();
  dialog.replaceChildren();
  document.getElementById("toasts").replaceChildren();
  session = null;
  document.getElementById("nav").hidden = true;
  document.getElementById("who").hidden = true;
  if (location.hash !== "#/") history.replaceState(null, "", "#/");
  signIn(message);
}

document.getElementById("sign-out").addEventListener("click", () => signOut("Signed out."));
document.getElementById("skip").addEventListener("click", (e) => {
  e.preventDefault();
  main.focus();
});

function signIn(message) {
  const id = h("input", { type: "text", id: "access-key", name: "access_key_id", autocomplete: "username", required: true, spellcheck: "false" });
  // Not offered to the browser's password manager: the secret is to stay in this page.
  const secret = h("input", { type: "password", id: "secret-key", name: "secret", autocomplete: "off", required: true });
  const error = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "card signin", onsubmit: async (e) => {
      e.preventDefault();
      error.textContent = "";
      try {
        await start(id.value.trim(), secret.value);
      } catch (err) {
        error.textContent = err.status === 403 || err.status === 401
          ? `Not signed in: ${err.message}`
          : err.message;
      }
    } },
    h("h1", { text: "Sign in" }),
    message ? h("p", { class: "hint", text: message }) : null,
    h("label", { for: "access-key", text: "Access key ID" }), id,
    h("label", { for: "secret-key", text: "Secret access key" }), secret,
    h("p", { class: "hint", text: "A root, account or bucket key. The secret stays in this page: it signs each request and is forgotten on sign-out, on reload, or after 30 minutes idle." }),
    error,
    h("div", { class: "row" }, h("button", { type: "submit", text: "Sign in" })),
  );
  main.replaceChildren(form);
  document.title = "Sign in · cnx-storage";
  id.focus();
}

async function start(accessKeyId, secretAccessKey) {
  const health = await (await fetch("/health", { cache: "no-store" })).json();
  const client = new Client({ accessKeyId, secretAccessKey, region: health.region });
  const who = await client.api("GET", "/storage/whoami");
  session = { client, who, region: health.region, lastActive: Date.now() };
  document.getElementById("who-text").textContent =
    `${who.access_key_id} · ${who.kind === "bucket" ? `${who.bucket} (${who.permission})` : who.account}`;
  document.getElementById("who").hidden = false;
  document.getElementById("nav").hidden = isBucketKey();
  const home = `#/b/${encode(who.bucket)}/`;
  if (isBucketKey() && location.hash !== home && !location.hash.startsWith(home)) location.hash = home;
  else route();
}

// ---- routing ----

window.addEventListener("hashchange", () => route());

function route() {
  if (!session) return signIn();
  // `#main` (the skip link) and the like are not routes.
  if (location.hash && !location.hash.startsWith("#/")) return;
  const hash = location.hash.replace(/^#/, "") || "/";
  const [, section = "", ...rest] = hash.split("/");
  for (const a of document.querySelectorAll("[data-nav]")) {
    const current = (section === "keys") === (a.dataset.nav === "keys");
    if (current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const decode = (s) => {
    try {
      return decodeURIComponent(s || "");
    } catch {
      return s || "";
    }
  };
  if (isBucketKey() && section !== "b") {
    location.hash = `#/b/${encode(session.who.bucket)}/`;
    return;
  }
  switch (section) {
    case "b": {
      const [bucket, ...prefix] = rest;
      return objects(decode(bucket), prefix.map(decode).join("/"));
    }
    case "cors":
      return cors(decode(rest[0]));
    case "keys":
      return rest[0] ? bucketKeys(decode(rest[0])) : accountKeys();
    default:
      return buckets();
  }
}

// ---- buckets ----

async function listBuckets() {
  const all = [];
  let cursor = null;
  do {
    const q = cursor ? { cursor, limit: "1000" } : { limit: "1000" };
    const pageOf = await session.client.api("GET", "/storage/buckets", undefined, q);
    all.push(...pageOf.buckets);
    cursor = pageOf.next_cursor;
  } while (cursor);
  return all;
}

async function buckets() {
  loading();
  let list;
  try {
    list = await listBuckets();
  } catch (e) {
    return page("Buckets", h("p", { class: "error", text: e.message }));
  }
  const rows = list.map((b) =>
    h("tr", {},
      h("td", {}, h("a", { class: "name", href: `#/b/${encode(b.name)}/`, text: b.name })),
      h("td", { class: "num", text: String(b.object_count) }),
      h("td", { class: "num", title: `${b.size_bytes} bytes`, text: bytes(b.size_bytes) }),
      h("td", { class: "wide", text: when(b.created_at) }),
      h("td", { class: "wide", text: b.versioning }),
      h("td", { class: "actions" },
        h("a", { class: "button quiet", href: `#/keys/${encode(b.name)}`, text: "Keys" }), " ",
        h("a", { class: "button quiet", href: `#/cors/${encode(b.name)}`, text: "CORS" }), " ",
        h("button", { type: "button", class: "quiet danger", text: "Delete", "aria-label": `Delete bucket ${b.name}`, onclick: () => deleteBucket(b) }),
      ),
    ));
  page(
    "Buckets",
    h("div", { class: "row spread" },
      h("p", { class: "hint", text: `${list.length} bucket${list.length === 1 ? "" : "s"}; sizes and counts are exact.` }),
      h("button", { type: "button", id: "create-bucket", text: "Create bucket", onclick: createBucket }),
    ),
    h("div", { class: "table-wrap" },
      h("table", {},
        h("thead", {}, h("tr", {},
          h("th", { scope: "col", text: "Name" }),
          h("th", { scope: "col", class: "num", text: "Objects" }),
          h("th", { scope: "col", class: "num", text: "Size" }),
          h("th", { scope: "col", class: "wide", text: "Created" }),
          h("th", { scope: "col", class: "wide", text: "Versioning" }),
          h("th", { scope: "col", class: "actions", text: "" }),
        )),
        h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: "6", class: "empty", text: "No buckets yet." }))),
      ),
    ),
  );
}

async function createBucket() {
  const name = h("input", { type: "text", id: "bucket-name", required: true, pattern: "[a-z0-9][a-z0-9.\\-]{1,61}[a-z0-9]", spellcheck: "false" });
  const error = h("p", { class: "error", role: "alert" });
  const form = h("form", { method: "dialog", onsubmit: async (e) => {
    e.preventDefault();
    try {
      await session.client.api("POST", "/storage/buckets", { name: name.value.trim() });
      dialog.close("created");
    } catch (err) {
      error.textContent = err.message;
    }
  } },
  h("label", { for: "bucket-name", text: "Name" }), name,
  h("p", { class: "hint", text: "3–63 characters: lowercase letters, digits, dots and hyphens." }),
  error,
  h("div", { class: "row end" }, closeButton("Cancel"), h("button", { type: "submit", text: "Create" })));
  dialog.replaceChildren(h("h2", { id: "dialog-title", text: "Create bucket" }), form);
  dialog.returnValue = "";
  dialog.showModal();
  name.focus();
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "created") {
      toast(`Bucket ${name.value.trim()} created`);
      buckets();
    }
  }, { once: true });
}

async function deleteBucket(b, force = b.object_count > 0) {
  const typed = h("input", { type: "text", id: "confirm-name", spellcheck: "false", autocomplete: "off" });
  const go = h("button", { type: "button", class: "danger", id: "confirm-delete", text: force ? "Delete bucket and contents" : "Delete bucket", disabled: force });
  typed.addEventListener("input", () => { go.disabled = typed.value !== b.name; });
  go.addEventListener("click", () => dialog.close("delete"));
  const holds = b.object_count > 0
    ? `${b.object_count} object${b.object_count === 1 ? "" : "s"} (${bytes(b.size_bytes)})`
    : "object versions or unfinished uploads";
  const body = force
    ? h("div", {},
      h("p", { text: `${b.name} holds ${holds}. Deleting it deletes them all, every version, for good.` }),
      h("label", { for: "confirm-name", text: `Type ${b.name} to confirm` }), typed)
    : h("p", { text: `Delete the empty bucket ${b.name}?` });
  const answer = await modal(`Delete ${b.name}`, body, [closeButton("Cancel"), go]);
  if (answer !== "delete") return;
  try {
    await session.client.api("DELETE", bucketPath(b.name), undefined, force ? { force: "true" } : {});
    toast(`Bucket ${b.name} deleted`);
  } catch (e) {
    // Empty of objects but not of versions or unfinished uploads: offer to delete those too.
    if (e.status === 409 && !force) return deleteBucket(b, true);
    fail(e);
  }
  buckets();
}

// ---- CORS ----

const CORS_TEMPLATE = [{
  allowed_origins: ["https://app.example.com"],
  allowed_methods: ["GET", "PUT", "HEAD"],
  allowed_headers: ["*"],
  expose_headers: ["ETag"],
  max_age_seconds: 3600,
}];

async function cors(bucket) {
  loading();
  let b;
  try {
    b = await session.client.api("GET", bucketPath(bucket));
  } catch (e) {
    return page(`CORS · ${bucket}`, h("p", { class: "error", text: e.message }));
  }
  const area = h("textarea", { id: "cors-rules", spellcheck: "false", "aria-labelledby": "page-title", "aria-describedby": "cors-hint" });
  area.value = JSON.stringify(b.cors ?? [], null, 2);
  const error = h("p", { class: "error", role: "alert" });
  const save = async (rules) => {
    error.textContent = "";
    try {
      await session.client.api("PATCH", bucketPath(bucket), { cors: rules });
      toast(rules ? "CORS rules saved" : "CORS rules removed");
      cors(bucket);
    } catch (e) {
      error.textContent = e.message;
    }
  };
  page(
    `CORS · ${bucket}`,
    crumbs(bucket, ""),
    h("p", { class: "hint", id: "cors-hint", text: "The bucket's CORS rules as JSON: a list of {allowed_origins, allowed_methods, allowed_headers, expose_headers, max_age_seconds}. Browsers on other origins may use the bucket as these rules allow." }),
    area,
    error,
    h("div", { class: "row" },
      h("button", { type: "button", id: "save-cors", text: "Save rules", onclick: () => {
        let rules;
        try {
          rules = JSON.parse(area.value);
        } catch (e) {
          error.textContent = `Not JSON: ${e.message}`;
          return;
        }
        save(Array.isArray(rules) && rules.length === 0 ? null : rules);
      } }),
      h("button", { type: "button", class: "quiet", text: "Insert an example", onclick: () => { area.value = JSON.stringify(CORS_TEMPLATE, null, 2); area.focus(); } }),
      h("button", { type: "button", class: "quiet danger", text: "Remove all rules", onclick: () => save(null) }),
    ),
  );
}

// ---- objects ----

/** The route of a folder (a prefix ending in `/`, empty segments kept). */
const folderHash = (bucket, prefix) => `#/b/${encode(bucket)}/${prefix.split("/").map(encode).join("/")}`;

function crumbs(bucket, prefix) {
  const parts = prefix ? prefix.slice(0, -1).split("/") : [];
  const links = [];
  if (!isBucketKey()) links.push(h("a", { href: "#/", text: "Buckets" }), " / ");
  links.push(h("a", { href: `#/b/${encode(bucket)}/`, text: bucket }));
  parts.forEach((p, i) => {
    const upTo = `${parts.slice(0, i + 1).join("/")}/`;
    links.push(" / ", h("a", { href: folderHash(bucket, upTo), text: p || "(empty)" }));
  });
  return h("nav", { class: "crumbs", "aria-label": "Path" }, links);
}

const browse = { bucket: null, prefix: null, search: "", tokens: [null], index: 0, uploads: [], selected: new Set() };

async function objects(bucket, prefix) {
  if (prefix && !prefix.endsWith("/")) prefix += "/";
  if (browse.bucket !== bucket || browse.prefix !== prefix) {
    Object.assign(browse, { bucket, prefix, search: "", tokens: [null], index: 0 });
  }
  loading();
  await renderObjects();
}

/** A key as listed with `encoding-type=url` (which carries any byte XML cannot). */
const unurl = (s) => (s === null ? s : decodeURIComponent(s.replace(/\+/g, " ")));

async function listPage() {
  const q = {
    "list-type": "2", delimiter: "/", "max-keys": String(PAGE_SIZE),
    prefix: browse.prefix + browse.search, "encoding-type": "url",
  };
  const token = browse.tokens[browse.index];
  if (token) q["continuation-token"] = token;
  const resp = await session.client.s3("GET", `/${encodeURIComponent(browse.bucket)}`, { query: q });
  const doc = xml(await resp.text()).documentElement;
  if (doc.localName !== "ListBucketResult") throw new Error("the listing could not be read");
  return {
    folders: kids(doc, "CommonPrefixes").map((p) => unurl(kid(p, "Prefix"))),
    files: kids(doc, "Contents").map((c) => ({
      key: unurl(kid(c, "Key")), size: Number(kid(c, "Size")), modified: kid(c, "LastModified"), etag: kid(c, "ETag"),
    })),
    next: kid(doc, "IsTruncated") === "true" ? kid(doc, "NextContinuationToken") : null,
  };
}

let listings = 0;

async function renderObjects() {
  const { bucket, prefix } = browse;
  const mine = ++listings;
  let listing;
  try {
    listing = await listPage();
  } catch (e) {
    if (mine !== listings) return;
    return page(bucket, crumbs(bucket, prefix), h("p", { class: "error", text: e.message }));
  }
  // A slower answer for a folder the user has left is dropped.
  if (mine !== listings) return;
  // A redraw the user did not ask for keeps what they were doing: the selection (of keys
  // still listed) and search text not yet submitted.
  const typed = quietRedraw ? document.getElementById("search")?.value : undefined;
  const selected = new Set(quietRedraw ? [...browse.selected].filter((k) => listing.files.some((f) => f.key === k)) : []);
  browse.selected = selected;
  const del = h("button", { type: "button", class: "quiet danger", id: "delete-selected", text: "Delete selected", disabled: selected.size === 0, onclick: () => deleteObjects([...selected]) });
  const pick = (key, on) => {
    if (on) selected.add(key);
    else selected.delete(key);
    del.disabled = selected.size === 0;
  };
  const name = (key) => key.slice(prefix.length);
  const rows = [
    ...listing.folders.map((p) => h("tr", {},
      canWrite() ? h("td", {}) : null,
      h("td", {}, h("a", { class: "name folder", href: folderHash(bucket, p), text: name(p) })),
      h("td", { class: "num", text: "" }),
      h("td", { class: "wide", text: "folder" }),
      h("td", { class: "actions" }),
    )),
    ...listing.files.map((f) => h("tr", {},
      canWrite() ? h("td", {}, h("input", { type: "checkbox", "aria-label": `Select ${f.key}`, checked: selected.has(f.key), onchange: (e) => pick(f.key, e.target.checked) })) : null,
      h("td", {}, h("button", { type: "button", class: "quiet name", text: name(f.key) || f.key, "aria-label": `Details of ${f.key}`, onclick: () => details(f.key) })),
      h("td", { class: "num", title: `${f.size} bytes`, text: bytes(f.size) }),
      h("td", { class: "wide", text: when(f.modified) }),
      h("td", { class: "actions" },
        h("button", { type: "button", class: "quiet", text: "Download", "aria-label": `Download ${f.key}`, onclick: () => download(f.key) }), " ",
        h("button", { type: "button", class: "quiet", text: "Share", "aria-label": `Share ${f.key}`, onclick: () => share(f.key) }), " ",
        canWrite() ? h("button", { type: "button", class: "quiet danger", text: "Delete", "aria-label": `Delete ${f.key}`, onclick: () => deleteObjects([f.key]) }) : null,
      ),
    )),
  ];
  const search = h("input", { type: "search", id: "search", placeholder: "Search by prefix in this folder", "aria-label": "Search by prefix", value: typed ?? browse.search });
  search.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      browse.search = search.value;
      browse.tokens = [null];
      browse.index = 0;
      renderObjects();
    }
  });
  const pager = h("div", { class: "row" },
    h("button", { type: "button", class: "quiet", text: "Previous page", disabled: browse.index === 0, onclick: () => { browse.index--; renderObjects(); } }),
    h("button", { type: "button", class: "quiet", id: "next-page", text: "Next page", disabled: !listing.next, onclick: () => {
      browse.tokens = browse.tokens.slice(0, browse.index + 1).concat([listing.next]);
      browse.index++;
      renderObjects();
    } }),
    h("span", { class: "hint", text: `Page ${browse.index + 1}` }),
  );
  const writeTools = canWrite() ? uploadTools() : [];
  page(
    bucket,
    crumbs(bucket, prefix),
    h("div", { class: "row" },
      h("div", { class: "grow" }, search),
      h("button", { type: "button", class: "quiet", text: "Refresh", onclick: () => renderObjects() }),
      canWrite() ? del : h("span", { class: "badge", text: "read-only key" }),
    ),
    ...writeTools,
    h("div", { class: "table-wrap" },
      h("table", {},
        h("thead", {}, h("tr", {},
          canWrite() ? h("th", { scope: "col", text: "" }) : null,
          h("th", { scope: "col", text: "Name" }),
          h("th", { scope: "col", class: "num", text: "Size" }),
          h("th", { scope: "col", class: "wide", text: "Last modified" }),
          h("th", { scope: "col", class: "actions", text: "" }),
        )),
        h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: "5", class: "empty", text: browse.search ? "Nothing matches." : "This folder is empty." }))),
      ),
    ),
    pager,
  );
}

async function details(key) {
  let resp;
  try {
    resp = await session.client.s3("HEAD", objectPath(browse.bucket, key), { headers: { "x-amz-checksum-mode": "ENABLED" } });
  } catch (e) {
    return fail(e);
  }
  const hd = resp.headers;
  const rows = [
    ["Key", key],
    ["Size", `${hd.get("content-length")} bytes (${bytes(hd.get("content-length"))})`],
    ["ETag", hd.get("etag")],
    ["Content type", hd.get("content-type")],
    ["Last modified", when(hd.get("last-modified"))],
    ["Version", hd.get("x-amz-version-id")],
    ["Storage class", hd.get("x-amz-storage-class") || "STANDARD"],
    ["Encryption", hd.get("x-amz-server-side-encryption")],
  ];
  for (const [name, value] of hd.entries()) {
    if (name.startsWith("x-amz-checksum-") && name !== "x-amz-checksum-type") rows.push([`Checksum ${name.slice(15).toUpperCase()}`, value]);
    if (name.startsWith("x-amz-meta-")) rows.push([`Metadata ${name.slice(11)}`, value]);
  }
  const list = h("dl", { class: "details" }, rows.filter(([, v]) => v).map(([k, v]) => [h("dt", { text: k }), h("dd", { text: v })]));
  await modal(key.split("/").filter(Boolean).pop() || key, list, [
    h("button", { type: "button", class: "quiet", text: "Share", onclick: () => { dialog.close(); share(key); } }),
    h("button", { type: "button", text: "Download", onclick: () => { dialog.close(); download(key); } }),
    closeButton(),
  ]);
}

async function download(key) {
  try {
    const file = key.split("/").filter(Boolean).pop() || "download";
    const url = await session.client.presign("GET", objectPath(browse.bucket, key), 300, {
      "response-content-disposition": `attachment; filename*=UTF-8''${encode(file)}`,
    });
    const a = h("a", { href: url, download: file, class: "offscreen" });
    document.body.append(a);
    a.click();
    a.remove();
  } catch (e) {
    fail(e);
  }
}

const EXPIRIES = [["900", "15 minutes"], ["3600", "1 hour"], ["86400", "1 day"], ["604800", "7 days (the most S3 allows)"]];

async function share(key) {
  const expiry = h("select", { id: "share-expiry" }, EXPIRIES.map(([v, t]) => h("option", { value: v, text: t, selected: v === "3600" })));
  const out = h("input", { type: "text", id: "share-url", readonly: true, "aria-label": "Link" });
  const until = h("p", { class: "hint" });
  const make = async () => {
    const secs = Number(expiry.value);
    out.value = await session.client.presign("GET", objectPath(browse.bucket, key), secs);
    until.textContent = `Anyone with the link can download ${key} until ${new Date(Date.now() + secs * 1000).toLocaleString()}, or until the key ${session.client.accessKeyId} is revoked.`;
  };
  expiry.addEventListener("change", () => make().catch(fail));
  try {
    await make();
  } catch (e) {
    return fail(e);
  }
  await modal(`Share ${key}`, h("div", {},
    h("label", { for: "share-expiry", text: "Expires after" }), expiry,
    h("label", { for: "share-url", text: "Link" }), out, until),
  [h("button", { type: "button", id: "copy-link", text: "Copy link", onclick: () => copy(out.value, "Link") }), closeButton()]);
}

async function deleteObjects(keys) {
  const answer = await modal(
    keys.length === 1 ? "Delete object" : `Delete ${keys.length} objects`,
    h("p", { text: keys.length === 1 ? `Delete ${keys[0]}?` : `Delete ${keys.length} objects: ${keys.slice(0, 5).join(", ")}${keys.length > 5 ? ", …" : ""}?` }),
    [closeButton("Cancel"), h("button", { type: "button", class: "danger", id: "confirm-delete", text: "Delete", onclick: () => dialog.close("delete") })],
  );
  if (answer !== "delete") return;
  try {
    // XML 1.0 cannot carry most control characters: such keys are deleted one by one.
    const unwritable = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
    const single = keys.filter((k) => unwritable.test(k));
    const batch = keys.filter((k) => !unwritable.test(k));
    for (const k of single) await session.client.s3("DELETE", objectPath(browse.bucket, k));
    if (batch.length === 1) {
      await session.client.s3("DELETE", objectPath(browse.bucket, batch[0]));
    } else if (batch.length > 1) {
      // Line ends are written as references: a parser would normalise them to `\n`.
      const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
        .replace(/\r/g, "&#13;").replace(/\u0085/g, "&#133;").replace(/\u2028/g, "&#8232;");
      const body = `<Delete><Quiet>true</Quiet>${batch.map((k) => `<Object><Key>${esc(k)}</Key></Object>`).join("")}</Delete>`;
      const resp = await session.client.s3("POST", `/${encodeURIComponent(browse.bucket)}`, {
        query: { delete: "" }, headers: { "content-type": "application/xml" }, body,
      });
      const errors = kids(xml(await resp.text()).documentElement, "Error");
      if (errors.length) throw new Error(`${errors.length} not deleted: ${kid(errors[0], "Key")}: ${kid(errors[0], "Message")}`);
    }
    toast(keys.length === 1 ? "Deleted" : `${keys.length} objects deleted`);
  } catch (e) {
    fail(e);
  }
  renderObjects();
}

// ---- uploads ----

function uploadRow(u) {
  const bar = h("progress", { max: "1", value: "0", "aria-label": `Progress of ${u.key}` });
  const state = h("span", { class: "state" });
  const cancel = h("button", { type: "button", class: "quiet", text: "Cancel", "aria-label": `Cancel ${u.key}`, onclick: () => u.cancel() });
  const retry = h("button", { type: "button", class: "quiet", text: "Retry", hidden: true, "aria-label": `Retry ${u.key}`, onclick: () => u.start() });
  const row = h("div", { class: "upload", "data-key": u.key }, h("span", { class: "name", text: u.key }), h("span", {}, state, " ", cancel, retry), bar);
  u.paint = () => {
    bar.setAttribute("value", String(u.fraction));
    row.className = `upload ${u.state}`;
    const pct = `${Math.floor(u.fraction * 100)} %`;
    state.textContent = {
      waiting: "waiting", uploading: `${pct} of ${bytes(u.file.size)}`, done: `done: ${bytes(u.file.size)}`,
      failed: `failed: ${u.error}`, cancelled: "cancelled",
    }[u.state];
    cancel.hidden = !(u.state === "uploading" || u.state === "waiting");
    retry.hidden = u.state !== "failed";
  };
  u.paint();
  return row;
}

let uploadList = null;

function uploadTools() {
  uploadList = uploadList || h("div", { class: "uploads", role: "region", "aria-label": "Uploads" });
  for (const u of browse.uploads) if (!uploadList.contains(u.row)) uploadList.append(u.row);
  const files = h("input", { type: "file", multiple: true, id: "file-input", hidden: true, onchange: (e) => { enqueue([...e.target.files].map((f) => [f, f.name])); e.target.value = ""; } });
  const folder = h("input", { type: "file", multiple: true, webkitdirectory: true, id: "folder-input", hidden: true, onchange: (e) => { enqueue([...e.target.files].map((f) => [f, f.webkitRelativePath || f.name])); e.target.value = ""; } });
  const zone = h("div", { class: "drop", id: "drop-zone" },
    "Drop files or folders here, or ",
    h("button", { type: "button", class: "quiet", id: "upload-files", text: "choose files", onclick: () => files.click() }), " ",
    h("button", { type: "button", class: "quiet", id: "upload-folder", text: "choose a folder", onclick: () => folder.click() }),
    files, folder);
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
    const found = entries.length ? await walk(entries) : [...e.dataTransfer.files].map((f) => [f, f.name]);
    enqueue(found);
  });
  const clear = h("button", { type: "button", class: "quiet", text: "Clear finished", onclick: () => {
    browse.uploads = browse.uploads.filter((u) => {
      const finished = u.state === "done" || u.state === "cancelled";
      if (finished) u.row.remove();
      return !finished;
    });
  } });
  return [zone, h("div", { class: "row" }, clear), uploadList];
}

/** Every file under dropped entries, with its path relative to the drop. */
async function walk(entries, base = "") {
  const out = [];
  for (const entry of entries) {
    if (entry.isFile) {
      out.push([await new Promise((ok, bad) => entry.file(ok, bad)), base + entry.name]);
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      let batch;
      const children = [];
      do {
        batch = await new Promise((ok, bad) => reader.readEntries(ok, bad));
        children.push(...batch);
      } while (batch.length);
      out.push(...(await walk(children, `${base}${entry.name}/`)));
    }
  }
  return out;
}

let refreshSoon = null;

function enqueue(found) {
  const { bucket, prefix } = browse;
  const here = location.hash;
  for (const [file, rel] of found) {
    const u = new Upload(session.client, bucket, prefix + rel, file, (x) => {
      x.paint?.();
      // The listing is redrawn only while the user is still on it.
      if (x.state === "done" && session && location.hash === here) {
        clearTimeout(refreshSoon);
        refreshSoon = setTimeout(() => {
          if (location.hash !== here) return;
          quietRedraw = true;
          renderObjects().finally(() => { quietRedraw = false; });
        }, 300);
      }
    });
    u.row = uploadRow(u);
    browse.uploads.push(u);
    uploadList.append(u.row);
    u.start();
  }
}

// ---- keys ----

function secretShown(key, bucket) {
  const origin = location.origin;
  const lines = `export AWS_ACCESS_KEY_ID=${key.access_key_id}\nexport AWS_SECRET_ACCESS_KEY='${key.secret_access_key}'\nexport AWS_DEFAULT_REGION=${session.region}\naws --endpoint-url ${origin} s3 ls${bucket ? ` s3://${bucket}` : ""}`;
  return modal("New key: copy the secret now", h("div", {},
    h("p", { text: "The secret is shown this once. Keep it somewhere safe: it cannot be shown again." }),
    h("dl", { class: "details" },
      h("dt", { text: "Access key ID" }), h("dd", { id: "new-key-id", text: key.access_key_id }),
      h("dt", { text: "Secret access key" }), h("dd", { id: "new-key-secret", text: key.secret_access_key })),
    h("h2", { text: "For the aws CLI" }),
    h("pre", { class: "secret", id: "new-key-lines", text: lines })),
  [
    h("button", { type: "button", class: "quiet", text: "Copy secret", onclick: () => copy(key.secret_access_key, "Secret") }),
    h("button", { type: "button", class: "quiet", text: "Copy CLI lines", onclick: () => copy(lines, "Lines") }),
    closeButton("Done"),
  ]);
}

function keyTable(keys, revoke, withPermission) {
  const rows = keys.map((k) => h("tr", {},
    h("td", {}, h("code", { text: k.access_key_id })),
    h("td", { text: k.name || "" }),
    withPermission ? h("td", { text: k.permission || "" }) : null,
    h("td", { class: "wide", text: when(k.created_at) }),
    h("td", { class: "wide", text: k.expires_at ? when(k.expires_at) : "never" }),
    h("td", { class: "actions" }, h("button", { type: "button", class: "quiet danger", text: "Revoke", "aria-label": `Revoke ${k.access_key_id}`, onclick: () => revoke(k) })),
  ));
  return h("div", { class: "table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {},
      h("th", { scope: "col", text: "Access key ID" }),
      h("th", { scope: "col", text: "Name" }),
      withPermission ? h("th", { scope: "col", text: "Permission" }) : null,
      h("th", { scope: "col", class: "wide", text: "Created" }),
      h("th", { scope: "col", class: "wide", text: "Expires" }),
      h("th", { scope: "col", class: "actions", text: "" }))),
    h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: "6", class: "empty", text: "No keys." })))));
}

async function listKeys(path) {
  const all = [];
  let cursor = null;
  do {
    const q = cursor ? { cursor, limit: "1000" } : { limit: "1000" };
    const p = await session.client.api("GET", path, undefined, q);
    all.push(...p.keys);
    cursor = p.next_cursor;
  } while (cursor);
  return all;
}

/** Revokes a key of the listing at `path` once confirmed, then shows the listing again. */
function revoker(path, reload) {
  return async (k) => {
    const answer = await modal(`Revoke ${k.access_key_id}`,
      h("p", { text: "Requests signed with this key, and links it signed, are refused from now on." }),
      [closeButton("Cancel"), h("button", { type: "button", class: "danger", id: "confirm-revoke", text: "Revoke", onclick: () => dialog.close("revoke") })]);
    if (answer !== "revoke") return;
    try {
      await session.client.api("DELETE", `${path}/${encode(k.access_key_id)}`);
      toast(`${k.access_key_id} revoked`);
    } catch (e) {
      fail(e);
    }
    reload();
  };
}

async function accountKeys() {
  loading();
  const path = "/storage/access-keys";
  let keys;
  let bucketList = [];
  try {
    [keys, bucketList] = await Promise.all([listKeys(path), listBuckets()]);
  } catch (e) {
    return page("Keys", h("p", { class: "error", text: e.message }));
  }
  const name = h("input", { type: "text", id: "key-name", placeholder: "e.g. backup job" });
  page("Keys",
    h("p", { class: "hint", text: "Account keys act as the account: all its buckets. A bucket's own keys (read or read-write, one bucket only) are under each bucket." }),
    h("form", { class: "row", onsubmit: async (e) => {
      e.preventDefault();
      try {
        const key = await session.client.api("POST", path, name.value.trim() ? { name: name.value.trim() } : {});
        await secretShown(key, null);
      } catch (err) {
        fail(err);
      }
      accountKeys();
    } },
    h("label", { for: "key-name", class: "grow", text: "Name (optional)" }), name,
    h("button", { type: "submit", id: "mint-account-key", text: "Mint account key" })),
    h("h2", { text: "Account keys" }),
    keyTable(keys, revoker(path, accountKeys), false),
    h("h2", { text: "Bucket keys" }),
    h("ul", {}, bucketList.map((b) => h("li", {}, h("a", { href: `#/keys/${encode(b.name)}`, text: `Keys of ${b.name}` })))),
  );
}

async function bucketKeys(bucket) {
  loading();
  const path = `${bucketPath(bucket)}/keys`;
  let keys;
  try {
    keys = await listKeys(path);
  } catch (e) {
    return page(`Keys · ${bucket}`, h("p", { class: "error", text: e.message }));
  }
  const name = h("input", { type: "text", id: "key-name", placeholder: "e.g. website" });
  const permission = h("select", { id: "key-permission" },
    h("option", { value: "read", text: "read: get, head, list" }),
    h("option", { value: "read-write", text: "read-write: also put, copy, delete, multipart" }));
  page(`Keys · ${bucket}`,
    crumbs(bucket, ""),
    h("form", { onsubmit: async (e) => {
      e.preventDefault();
      try {
        const body = { permission: permission.value };
        if (name.value.trim()) body.name = name.value.trim();
        const key = await session.client.api("POST", path, body);
        await secretShown(key, bucket);
      } catch (err) {
        fail(err);
      }
      bucketKeys(bucket);
    } },
    h("div", { class: "row" },
      h("div", { class: "grow" }, h("label", { for: "key-permission", text: "Permission" }), permission),
      h("div", { class: "grow" }, h("label", { for: "key-name", text: "Name (optional)" }), name)),
    h("div", { class: "row" }, h("button", { type: "submit", id: "mint-bucket-key", text: "Mint bucket key" }))),
    h("h2", { text: "Keys of this bucket" }),
    keyTable(keys, revoker(path, () => bucketKeys(bucket)), true),
  );
}

route();

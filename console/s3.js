// Signed requests from the page: SigV4 by AWS's signer (vendor/sigv4.js), to the S3 surface
// (service "s3") and the management API (service "cloudnx") of the origin that served the
// page. The secret stays in this module's memory; nothing is stored in the browser.

import { SignatureV4, Sha256 } from "./vendor/sigv4.js";

/** RFC 3986 percent-encoding, as SigV4 canonicalises (`/` kept in paths). */
export function encode(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

export function encodeKey(key) {
  // A browser resolves `.` and `..` in every URL path it sends (encoded or not), so such a
  // key would be asked for under another name and its signature would not match.
  if (key.split("/").some((s) => s === "." || s === "..")) {
    throw new Error(`"${key}" has a . or .. segment, which a browser cannot send: use the aws CLI for it`);
  }
  return key.split("/").map(encode).join("/");
}

function queryString(query) {
  const parts = Object.keys(query)
    .sort()
    .map((k) => `${encode(k)}=${encode(String(query[k]))}`);
  return parts.length ? "?" + parts.join("&") : "";
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

/** The error a failed response carries: S3's XML or the management API's JSON. */
export async function errorOf(resp) {
  const text = await resp.text().catch(() => "");
  if (text.startsWith("{")) {
    try {
      return new ApiError(resp.status, null, JSON.parse(text).error);
    } catch {
      /* fall through */
    }
  }
  const doc = text ? new DOMParser().parseFromString(text, "application/xml") : null;
  const code = doc?.querySelector("Error > Code")?.textContent;
  const message = doc?.querySelector("Error > Message")?.textContent;
  return new ApiError(resp.status, code, message || code || `${resp.status} ${resp.statusText}`);
}

export function xml(text) {
  return new DOMParser().parseFromString(text, "application/xml");
}

/** Direct children of `el` named `tag` (S3 documents have no namespaces that matter here). */
export function kids(el, tag) {
  return Array.from(el.children).filter((c) => c.localName === tag);
}

export function kid(el, tag) {
  return kids(el, tag)[0]?.textContent ?? null;
}

export class Client {
  constructor({ accessKeyId, secretAccessKey, region }) {
    const credentials = { accessKeyId, secretAccessKey };
    const base = { credentials, region, sha256: Sha256, uriEscapePath: false };
    this.region = region;
    this.accessKeyId = accessKeyId;
    this.signers = {
      s3: new SignatureV4({ ...base, service: "s3" }),
      api: new SignatureV4({ ...base, service: "cloudnx" }),
    };
    this.origin = new URL(location.href);
  }

  request(method, path, query = {}, headers = {}, body) {
    const o = this.origin;
    return {
      method,
      protocol: o.protocol,
      hostname: o.hostname,
      port: o.port ? Number(o.port) : undefined,
      path,
      query,
      headers: { host: o.host, ...headers },
      body,
    };
  }

  /** A signed fetch; `service` is "s3" or "api". Resolves to the Response, whatever its status. */
  async send(service, method, path, { query = {}, headers = {}, body, signal } = {}) {
    const signed = await this.signers[service].sign(this.request(method, path, query, headers, body));
    const h = { ...signed.headers };
    delete h.host; // the browser sends it, as signed
    return fetch(path + queryString(query), { method, headers: h, body, signal, credentials: "omit", cache: "no-store" });
  }

  /** A signed S3 request that must succeed; its Response. */
  async s3(method, path, opts) {
    const resp = await this.send("s3", method, path, opts);
    if (!resp.ok) throw await errorOf(resp);
    return resp;
  }

  /** A management API call; its JSON (null for 204). */
  async api(method, path, json, query = {}) {
    const body = json === undefined ? undefined : JSON.stringify(json);
    const headers = body === undefined ? {} : { "content-type": "application/json" };
    const resp = await this.send("api", method, path, { query, headers, body });
    if (!resp.ok) throw await errorOf(resp);
    return resp.status === 204 ? null : resp.json();
  }

  /** A presigned URL for `method` on `path`, valid `expires` seconds (at most 7 days). */
  async presign(method, path, expires, query = {}) {
    // A presigned URL signs no body: S3's canonical request says UNSIGNED-PAYLOAD, and the
    // header that tells the signer so is neither sent nor moved into the query.
    const sha = "x-amz-content-sha256";
    const req = this.request(method, path, query, { [sha]: "UNSIGNED-PAYLOAD" });
    const only = new Set([sha]);
    const signed = await this.signers.s3.presign(req, {
      expiresIn: expires,
      unhoistableHeaders: only,
      unsignableHeaders: only,
    });
    delete signed.headers[sha];
    return this.origin.origin + path + queryString(signed.query);
  }
}

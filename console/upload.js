// Uploads straight from the browser to S3 through presigned URLs: one PUT up to PART_SIZE,
// multipart above it with PARALLEL parts in flight. Each part is retried; an upload that
// still fails or is cancelled is aborted on the server, so nothing is left half-written.

import { errorOf, kid, xml, encodeKey } from "./s3.js";

export const PART_SIZE = 8 * 1024 * 1024;
const PARALLEL = 4;
const TRIES = 3;
const URL_SECONDS = 3600;

/** PUT `blob` to `url` with progress; resolves to the XHR once 2xx. */
function put(url, blob, onProgress, xhrs, contentType) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhrs.add(xhr);
    xhr.open("PUT", url);
    if (contentType) xhr.setRequestHeader("content-type", contentType);
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => {
      xhrs.delete(xhr);
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr);
      else {
        const doc = xml(xhr.responseText || "<x/>");
        const err = new Error(doc.querySelector("Message")?.textContent || `HTTP ${xhr.status}`);
        err.status = xhr.status;
        reject(err);
      }
    };
    xhr.onerror = () => { xhrs.delete(xhr); reject(new Error("network error")); };
    xhr.onabort = () => { xhrs.delete(xhr); reject(new Error("cancelled")); };
    xhr.send(blob);
  });
}

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/** Retries what may succeed again (network errors, 5xx, 429); not a 4xx or a cancel. */
async function retried(attempt, cancelled) {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (e) {
      const transient = !e.status || e.status >= 500 || e.status === 429;
      if (cancelled() || !transient || i >= TRIES) throw e;
      await pause(300 * 2 ** i);
    }
  }
}

export class Upload {
  /** `onChange(upload)` is called as progress and state move. */
  constructor(client, bucket, key, file, onChange) {
    Object.assign(this, { client, bucket, key, file, onChange });
    this.loaded = 0;
    this.state = "waiting"; // waiting | uploading | done | failed | cancelled
    this.error = null;
    this.xhrs = new Set();
    this.uploadId = null;
  }

  get path() {
    return `/${encodeURIComponent(this.bucket)}/${encodeKey(this.key)}`;
  }

  get fraction() {
    return this.file.size ? this.loaded / this.file.size : this.state === "done" ? 1 : 0;
  }

  set(state, error = null) {
    this.state = state;
    this.error = error;
    this.onChange(this);
  }

  async start() {
    this.loaded = 0;
    this.set("uploading");
    try {
      if (this.file.size <= PART_SIZE) await this.single();
      else await this.multipart();
      this.loaded = this.file.size;
      this.set("done");
    } catch (e) {
      if (this.state === "cancelled") return;
      await this.abortRemote();
      this.set("failed", e.message || String(e));
    }
  }

  async single() {
    const type = this.file.type || "application/octet-stream";
    await retried(async () => {
      const url = await this.client.presign("PUT", this.path, URL_SECONDS);
      this.loaded = 0;
      return put(url, this.file, (n) => { this.loaded = n; this.onChange(this); }, this.xhrs, type);
    }, () => this.state === "cancelled");
  }

  async multipart() {
    const type = this.file.type || "application/octet-stream";
    const created = await this.client.s3("POST", this.path, { query: { uploads: "" }, headers: { "content-type": type } });
    this.uploadId = kid(xml(await created.text()).documentElement, "UploadId");
    const count = Math.ceil(this.file.size / PART_SIZE);
    const done = new Array(count);
    const inFlight = new Map(); // part number → bytes sent so far
    let next = 0;
    const sent = () => {
      let n = 0;
      for (const d of done) if (d) n += d.size;
      for (const b of inFlight.values()) n += b;
      this.loaded = n;
      this.onChange(this);
    };
    const worker = async () => {
      while (next < count && this.state === "uploading") {
        const i = next++;
        const number = i + 1;
        const blob = this.file.slice(i * PART_SIZE, Math.min(this.file.size, (i + 1) * PART_SIZE));
        const xhr = await retried(async () => {
          const url = await this.client.presign("PUT", this.path, URL_SECONDS, {
            partNumber: String(number),
            uploadId: this.uploadId,
          });
          inFlight.set(number, 0);
          return put(url, blob, (n) => { inFlight.set(number, n); sent(); }, this.xhrs);
        }, () => this.state === "cancelled");
        inFlight.delete(number);
        done[i] = { number, etag: xhr.getResponseHeader("etag"), size: blob.size };
        sent();
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, count) }, worker));
    if (this.state !== "uploading") throw new Error("cancelled");
    const parts = done
      .map((p) => `<Part><PartNumber>${p.number}</PartNumber><ETag>${p.etag.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</ETag></Part>`)
      .join("");
    const body = `<CompleteMultipartUpload>${parts}</CompleteMultipartUpload>`;
    const resp = await this.client.s3("POST", this.path, {
      query: { uploadId: this.uploadId },
      headers: { "content-type": "application/xml" },
      body,
    });
    // A Complete can fail after its 200 has begun: the error is then in the body.
    const doc = xml(await resp.text());
    if (doc.documentElement.localName === "Error") {
      throw new Error(kid(doc.documentElement, "Message") || kid(doc.documentElement, "Code"));
    }
    this.uploadId = null;
  }

  /** Gives up a multipart upload on the server, so its parts do not linger. */
  async abortRemote() {
    if (!this.uploadId) return;
    const id = this.uploadId;
    this.uploadId = null;
    const resp = await this.client.send("s3", "DELETE", this.path, { query: { uploadId: id } }).catch(() => null);
    if (resp && !resp.ok && resp.status !== 404) console.warn("abort failed", await errorOf(resp));
  }

  async cancel() {
    if (this.state !== "uploading" && this.state !== "waiting") return;
    this.set("cancelled");
    for (const x of this.xhrs) x.abort();
    await this.abortRemote();
    this.onChange(this);
  }
}

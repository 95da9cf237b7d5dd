// Uploads straight from the browser to S3 through presigned URLs: one PUT up to PART_SIZE,
// multipart above it with PARALLEL parts in flight. Each part is retried; an upload that
// still fails or is cancelled is aborted on the server, so nothing is left half-written.

import { errorOf, kid, xml, encodeKey } from "./s3.js";

export const PART_SIZE = 8 * 1024 * 1024;
/** S3 takes at most this many parts: larger files get larger parts. */
const MAX_PARTS = 10000;
const PARALLEL = 4;
const TRIES = 3;
const URL_SECONDS = 3600;

/** PUT `blob` to `url` with progress; resolves to the XHR once 2xx. */
function put(url, blob, onProgress, xhrs, contentType, stopped) {
  return new Promise((resolve, reject) => {
    if (stopped()) {
      reject(new Error("cancelled"));
      return;
    }
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

  /** True once cancelled, or once a part failed for good: the other parts stop. */
  stopped() {
    return this.state !== "uploading";
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
      // Whatever ended it, no upload is left open on the server.
      await this.abortRemote();
      if (this.state !== "cancelled") this.set("failed", e.message || String(e));
    }
  }

  async single() {
    const type = this.file.type || "application/octet-stream";
    await retried(async () => {
      const url = await this.client.presign("PUT", this.path, URL_SECONDS);
      this.loaded = 0;
      return put(url, this.file, (n) => { this.loaded = n; this.onChange(this); }, this.xhrs, type, () => this.stopped());
    }, () => this.stopped());
  }

  async multipart() {
    const type = this.file.type || "application/octet-stream";
    const created = await retried(
      () => this.client.s3("POST", this.path, { query: { uploads: "" }, headers: { "content-type": type } }),
      () => this.stopped(),
    );
    this.uploadId = kid(xml(await created.text()).documentElement, "UploadId");
    if (!this.uploadId) throw new Error("the server named no upload id");
    // Cancelled while the upload was being created: start() aborts it.
    if (this.stopped()) throw new Error("cancelled");
    const mib = 1024 * 1024;
    const partSize = Math.max(PART_SIZE, Math.ceil(this.file.size / MAX_PARTS / mib) * mib);
    const count = Math.ceil(this.file.size / partSize);
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
    let failure = null;
    const worker = async () => {
      while (next < count && !this.stopped() && !failure) {
        const i = next++;
        const number = i + 1;
        const blob = this.file.slice(i * partSize, Math.min(this.file.size, (i + 1) * partSize));
        const xhr = await retried(async () => {
          const url = await this.client.presign("PUT", this.path, URL_SECONDS, {
            partNumber: String(number),
            uploadId: this.uploadId,
          });
          inFlight.set(number, 0);
          return put(url, blob, (n) => { inFlight.set(number, n); sent(); }, this.xhrs, undefined, () => this.stopped() || failure);
        }, () => this.stopped() || failure);
        inFlight.delete(number);
        done[i] = { number, etag: xhr.getResponseHeader("etag"), size: blob.size };
        sent();
      }
    };
    // A part that fails for good stops the others (their requests are cut off) before the
    // upload is aborted, so no part lands after the abort.
    const guarded = async () => {
      try {
        await worker();
      } catch (e) {
        failure = failure || e;
        for (const x of this.xhrs) x.abort();
      }
    };
    await Promise.allSettled(Array.from({ length: Math.min(PARALLEL, count) }, guarded));
    if (failure) throw failure;
    if (this.stopped()) throw new Error("cancelled");
    const parts = done
      .map((p) => `<Part><PartNumber>${p.number}</PartNumber><ETag>${p.etag.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</ETag></Part>`)
      .join("");
    const body = `<CompleteMultipartUpload>${parts}</CompleteMultipartUpload>`;
    const resp = await retried(() => this.client.s3("POST", this.path, {
      query: { uploadId: this.uploadId },
      headers: { "content-type": "application/xml" },
      body,
    }), () => this.stopped());
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
    // The abort itself happens in start(), once no part can still be on its way.
  }
}

// The console in a real browser (Debian's chromium, driven by playwright-core), against a
// running server: sign in, create a bucket, upload a 20 MiB folder file and watch its progress
// reach 100 %, browse into the folder, download and compare bytes, share a link, mint a read
// key and sign in with it (no write buttons; a forced write is refused), revoke it, delete the
// bucket; the same pages at phone width. Screenshots of each page go to $ARTIFACTS.
//
// Env: CONSOLE_URL (…/storage/console/), ROOT_ACCESS_KEY, ROOT_SECRET_KEY, ARTIFACTS, CHROMIUM.

import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const url = process.env.CONSOLE_URL;
const root = { id: process.env.ROOT_ACCESS_KEY, secret: process.env.ROOT_SECRET_KEY };
const artifacts = process.env.ARTIFACTS || "artifacts";
mkdirSync(artifacts, { recursive: true });

const SIZE = 20 * 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), "cnx-console-"));
mkdirSync(join(work, "docs"));
const data = randomBytes(SIZE);
writeFileSync(join(work, "docs", "big.bin"), data);
const sha = (b) => createHash("sha256").update(b).digest("hex");

const steps = [];
function step(name) {
  steps.push(name);
  console.log(`console: ${name}`);
}
function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const problems = [];
let expectRefusals = false;
const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: new URL(url).origin });
const page = await context.newPage();
page.on("console", (m) => {
  if (m.type() !== "error") return;
  // A refusal we provoke shows as the browser's own "Failed to load resource" line.
  if (expectRefusals && m.text().startsWith("Failed to load resource")) return;
  problems.push(`console error: ${m.text()}`);
});
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));

let shot = 0;
async function snap(name, p = page) {
  shot += 1;
  await p.screenshot({ path: join(artifacts, `${String(shot).padStart(2, "0")}-${name}.png`), fullPage: true });
}

async function signIn(p, id, secret) {
  await p.getByLabel("Access key ID").fill(id);
  await p.getByLabel("Secret access key").fill(secret);
  // Keyboard only: Enter submits the form.
  await p.getByLabel("Secret access key").press("Enter");
}

const bucket = `console-${randomBytes(4).toString("hex")}`;
try {
  step("sign in");
  const resp = await page.goto(url);
  check(resp.status() === 200, "the console answers 200");
  const csp = resp.headers()["content-security-policy"] || "";
  check(csp.includes("script-src 'self'") && !csp.includes("unsafe"), `a strict CSP: ${csp}`);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await snap("sign-in");
  expectRefusals = true;
  await signIn(page, root.id, "not-the-secret");
  await page.getByText("Not signed in").waitFor();
  await page.waitForTimeout(200);
  expectRefusals = false;
  // With the keyboard alone: the key id field has focus, Tab moves on, Enter submits.
  await page.reload();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  await page.keyboard.type(root.id);
  await page.keyboard.press("Tab");
  await page.keyboard.type(root.secret);
  await page.keyboard.press("Enter");
  await page.getByRole("heading", { name: "Buckets" }).waitFor();

  step("create a bucket");
  await page.getByRole("button", { name: "Create bucket" }).click();
  await page.getByLabel("Name").fill(bucket);
  await snap("create-bucket");
  await page.getByRole("button", { name: "Create", exact: true }).click();
  await page.getByRole("link", { name: bucket }).waitFor();
  await snap("buckets");

  step("upload a 20 MiB file in a folder");
  await page.getByRole("link", { name: bucket }).click();
  await page.getByRole("heading", { name: bucket }).waitFor();
  // Every value the progress bar takes, recorded in the page as it changes; the upload is
  // held to 16 MiB/s so that it lasts long enough to be watched (loopback takes ~0.2 s).
  await page.evaluate(() => {
    window.progressSeen = [];
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.target.localName === "progress") window.progressSeen.push(Number(r.target.getAttribute("value")));
      }
    }).observe(document.body, { attributes: true, attributeFilter: ["value"], subtree: true });
  });
  const cdp = await context.newCDPSession(page);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 16 * 1024 * 1024,
  });
  await page.locator("#folder-input").setInputFiles(join(work, "docs"));
  const bar = page.getByLabel("Progress of docs/big.bin");
  await bar.waitFor();
  await page.waitForFunction(() => window.progressSeen.some((v) => v > 0.2 && v < 1), null, { timeout: 60_000 });
  await snap("uploading");
  await page.locator(".upload.done").waitFor({ timeout: 120_000 });
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
  });
  const seen = await page.evaluate(() => window.progressSeen);
  const final = await bar.getAttribute("value");
  check(Number(final) === 1, `progress reached 100 %: ${final}`);
  const between = seen.filter((v) => v > 0 && v < 1);
  check(between.length >= 5, `progress moved through values below 100 %: ${seen.slice(0, 30)}`);
  check(seen.every((v, i) => i === 0 || v >= seen[i - 1] - 1e-9), `progress never went back: ${seen}`);
  check((await page.locator(".upload.done .state").innerText()).includes("done"), "the upload says done");

  step("browse into the folder");
  await page.getByRole("link", { name: "docs/", exact: true }).click();
  await page.getByRole("button", { name: "Details of docs/big.bin" }).waitFor();
  await snap("objects");
  await page.getByRole("button", { name: "Details of docs/big.bin" }).click();
  const dialog = page.locator("dialog[open]");
  await dialog.getByText(`${SIZE} bytes`).waitFor();
  const etag = await dialog.locator("dd").nth(2).innerText();
  check(/-3"$/.test(etag), `a multipart ETag of 3 parts: ${etag}`);
  await snap("details");
  await dialog.getByRole("button", { name: "Close" }).click();

  step("download and compare bytes");
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("button", { name: "Download docs/big.bin" }).click(),
  ]);
  check(download.suggestedFilename() === "big.bin", `named big.bin: ${download.suggestedFilename()}`);
  const saved = join(work, "downloaded.bin");
  await download.saveAs(saved);
  check(sha(readFileSync(saved)) === sha(data), "the downloaded bytes are the uploaded bytes");

  step("share a link");
  await page.getByRole("button", { name: "Share docs/big.bin" }).click();
  await page.getByLabel("Expires after").selectOption("86400");
  await page.waitForFunction(() => document.querySelector("#share-url").value.includes("X-Amz-Expires=86400"));
  const link = await page.getByLabel("Link").inputValue();
  check(link.includes("X-Amz-Expires=86400"), `a one-day link: ${link}`);
  await snap("share");
  await page.getByRole("button", { name: "Copy link" }).click();
  await page.getByText("Link copied").waitFor();
  check((await page.evaluate(() => navigator.clipboard.readText())) === link, "Copy link puts the link on the clipboard");
  const shared = Buffer.from(await (await fetch(link)).arrayBuffer());
  check(sha(shared) === sha(data), "the shared link serves the bytes");
  await page.locator("dialog[open]").getByRole("button", { name: "Close" }).click();

  step("keys with spaces, & + % and unicode; search; delete selected; paging");
  await page.getByRole("link", { name: bucket, exact: true }).click();
  await page.getByRole("link", { name: "docs/", exact: true }).waitFor();
  // All sort before the f… files, so they share the first page with them.
  const odd = ["a b&c.txt", "b+%25.txt", "c ünï (1).txt"];
  const many = Array.from({ length: 101 }, (_, i) => `f${String(i).padStart(3, "0")}.txt`);
  await page.locator("#file-input").setInputFiles(
    [...odd, ...many].map((name) => ({ name, mimeType: "text/plain", buffer: Buffer.from(`body of ${name}`) })),
  );
  await page.waitForFunction((n) => document.querySelectorAll(".upload.done").length >= n, odd.length + many.length + 1, { timeout: 60_000 });
  await page.getByRole("button", { name: "Clear finished" }).click();
  check((await page.locator(".upload").count()) === 0, "finished uploads are cleared");
  await page.getByRole("button", { name: "Refresh" }).click();
  await page.getByRole("button", { name: "Details of a b&c.txt" }).waitFor();
  check(!(await page.locator("#next-page").isDisabled()), "105 entries make a second page");
  await page.locator("#next-page").click();
  await page.getByText("Page 2").waitFor();
  check((await page.getByRole("button", { name: /^Details of / }).count()) === 5, "the second page holds the last 5");
  await page.getByRole("button", { name: "Previous page" }).click();
  await page.getByText("Page 1").waitFor();
  await page.getByRole("button", { name: "Details of a b&c.txt" }).waitFor();
  await page.getByLabel("Search by prefix").fill("b+");
  await page.getByLabel("Search by prefix").press("Enter");
  // The search's own page: only what starts with "b+".
  await page.waitForFunction(() => document.querySelectorAll('button[aria-label^="Details of "]').length === 1);
  await page.getByRole("button", { name: "Details of b+%25.txt" }).waitFor();
  await page.getByLabel("Search by prefix").fill("");
  await page.getByLabel("Search by prefix").press("Enter");
  await page.getByRole("button", { name: "Details of a b&c.txt" }).waitFor();
  for (const name of odd) await page.getByLabel(`Select ${name}`).check();
  await page.locator("#delete-selected").click();
  await page.locator("#confirm-delete").click();
  await page.getByText("3 objects deleted").waitFor();
  await page.getByRole("button", { name: "Details of f000.txt" }).waitFor();
  for (const name of odd) {
    check((await page.getByRole("button", { name: `Details of ${name}` }).count()) === 0, `${name} is deleted`);
  }

  step("drop a file; cancel a large upload, which leaves no upload behind");
  const dropped = await page.evaluateHandle(() => {
    const dt = new DataTransfer();
    dt.items.add(new File(["dropped bytes"], "dropped.txt", { type: "text/plain" }));
    return dt;
  });
  await page.dispatchEvent("#drop-zone", "drop", { dataTransfer: dropped });
  await page.locator('.upload.done[data-key="dropped.txt"]').waitFor();
  await page.getByRole("button", { name: "Details of dropped.txt" }).waitFor();
  writeFileSync(join(work, "huge.bin"), randomBytes(40 * 1024 * 1024));
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 4 * 1024 * 1024,
  });
  await page.locator("#file-input").setInputFiles(join(work, "huge.bin"));
  await page.waitForFunction(() => Number(document.querySelector('[data-key="huge.bin"] progress')?.getAttribute("value")) > 0.05);
  await page.getByRole("button", { name: "Cancel huge.bin" }).click();
  await page.locator('.upload.cancelled[data-key="huge.bin"]').waitFor();
  await cdp.send("Network.emulateNetworkConditions", {
    offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1,
  });
  expectRefusals = true; // the HEAD below answers 404
  const left = await page.evaluate(async ([b, id, secret]) => {
    const { Client } = await import("./s3.js");
    const health = await (await fetch("/health")).json();
    const c = new Client({ accessKeyId: id, secretAccessKey: secret, region: health.region });
    for (let i = 0; i < 50; i++) {
      const text = await (await c.send("s3", "GET", `/${b}`, { query: { uploads: "" } })).text();
      if (!text.includes("<Key>huge.bin</Key>")) return (await c.send("s3", "HEAD", `/${b}/huge.bin`)).status;
      await new Promise((r) => setTimeout(r, 100));
    }
    return "an upload of huge.bin is still open";
  }, [bucket, root.id, root.secret]);
  await page.waitForTimeout(200);
  expectRefusals = false;
  check(left === 404, `a cancelled upload leaves neither an upload nor an object: ${left}`);

  step("mint a read key");
  await page.goto(`${url}#/keys/${bucket}`);
  await page.getByRole("button", { name: "Mint bucket key" }).waitFor();
  await page.getByLabel("Permission").selectOption("read");
  await page.getByLabel("Name (optional)").fill("viewer");
  await page.getByRole("button", { name: "Mint bucket key" }).click();
  const readId = await page.locator("#new-key-id").innerText();
  const readSecret = await page.locator("#new-key-secret").innerText();
  check((await page.locator("#new-key-lines").innerText()).includes(`export AWS_ACCESS_KEY_ID=${readId}`), "the aws CLI lines");
  await snap("new-key");
  await page.locator("dialog[open]").getByRole("button", { name: "Done" }).click();
  await page.getByRole("button", { name: `Revoke ${readId}` }).waitFor();
  await snap("bucket-keys");

  step("sign in with the read key: no write buttons, a forced write refused");
  await page.getByRole("button", { name: "Sign out" }).click();
  await signIn(page, readId, readSecret);
  await page.getByRole("heading", { name: bucket }).waitFor();
  await page.getByText("read-only key").waitFor();
  check((await page.locator("#drop-zone").count()) === 0, "no upload zone");
  check((await page.getByRole("button", { name: /^Delete/ }).count()) === 0, "no delete buttons");
  await page.getByRole("link", { name: "docs/", exact: true }).click();
  await page.getByRole("button", { name: "Download docs/big.bin" }).waitFor();
  check((await page.getByRole("button", { name: "Delete docs/big.bin" }).count()) === 0, "no delete button on the object");
  await snap("read-only");
  expectRefusals = true;
  const forced = await page.evaluate(async ([b, id, secret]) => {
    const { Client } = await import("./s3.js");
    const health = await (await fetch("/health")).json();
    const c = new Client({ accessKeyId: id, secretAccessKey: secret, region: health.region });
    const put = await c.send("s3", "PUT", `/${b}/forced.txt`, { body: "x" });
    const del = await c.send("s3", "DELETE", `/${b}/docs/big.bin`);
    return [put.status, del.status];
  }, [bucket, readId, readSecret]);
  await page.waitForTimeout(200);
  expectRefusals = false;
  check(forced[0] === 403 && forced[1] === 403, `writes with the read key are refused: ${forced}`);

  step("revoke it");
  await page.getByRole("button", { name: "Sign out" }).click();
  await signIn(page, root.id, root.secret);
  await page.getByRole("heading", { name: "Buckets" }).waitFor();
  await page.goto(`${url}#/keys/${bucket}`);
  await page.getByRole("button", { name: `Revoke ${readId}` }).click();
  await page.locator("#confirm-revoke").click();
  await page.getByText(`${readId} revoked`).waitFor();
  await page.getByRole("button", { name: "Sign out" }).click();
  expectRefusals = true;
  await signIn(page, readId, readSecret);
  await page.getByText("Not signed in").waitFor();
  await page.waitForTimeout(200);
  expectRefusals = false;

  step("account keys");
  await signIn(page, root.id, root.secret);
  await page.getByRole("heading", { name: "Buckets" }).waitFor();
  await page.goto(`${url}#/keys`);
  await page.getByLabel("Name (optional)").fill("ci job");
  await page.getByRole("button", { name: "Mint account key" }).click();
  const accountId = await page.locator("#new-key-id").innerText();
  check((await page.locator("#new-key-lines").innerText()).includes(`export AWS_ACCESS_KEY_ID=${accountId}`), "the aws CLI lines of an account key");
  await page.getByRole("button", { name: "Copy secret" }).click();
  check((await page.evaluate(() => navigator.clipboard.readText())) === (await page.locator("#new-key-secret").innerText()), "Copy secret");
  await page.locator("dialog[open]").getByRole("button", { name: "Done" }).click();
  await page.getByRole("button", { name: `Revoke ${accountId}` }).click();
  await page.locator("#confirm-revoke").click();
  await page.getByText(`${accountId} revoked`).waitFor();
  check((await page.getByRole("button", { name: `Revoke ${accountId}` }).count()) === 0, "the revoked key is gone from the list");

  step("phone width");
  await page.goto(`${url}#/`);
  await page.getByRole("heading", { name: "Buckets" }).waitFor();
  const phone = await context.newPage();
  phone.on("console", (m) => { if (m.type() === "error") problems.push(`phone console error: ${m.text()}`); });
  phone.on("pageerror", (e) => problems.push(`phone page error: ${e.message}`));
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(url);
  await signIn(phone, root.id, root.secret);
  await phone.getByRole("heading", { name: "Buckets" }).waitFor();
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `no sideways scrolling at 390 px: ${overflow}`);
  await snap("phone-buckets", phone);
  await phone.getByRole("link", { name: bucket }).click();
  await phone.getByRole("link", { name: "docs/", exact: true }).click();
  await phone.getByRole("button", { name: "Download docs/big.bin" }).waitFor();
  await snap("phone-objects", phone);
  await phone.close();

  step("CORS rules");
  await page.goto(`${url}#/cors/${bucket}`);
  await page.getByRole("button", { name: "Insert an example" }).click();
  await page.getByRole("button", { name: "Save rules" }).click();
  await page.getByText("CORS rules saved").waitFor();
  check((await page.locator("#cors-rules").inputValue()).includes("app.example.com"), "the saved rules are shown");
  await snap("cors");

  step("delete the bucket, typing its name");
  await page.goto(`${url}#/`);
  await page.getByRole("button", { name: `Delete bucket ${bucket}` }).click();
  check(await page.locator("#confirm-delete").isDisabled(), "deleting a bucket with objects waits for its name");
  await page.getByLabel(`Type ${bucket} to confirm`).fill(bucket);
  await snap("delete-bucket");
  await page.locator("#confirm-delete").click();
  await page.getByText(`Bucket ${bucket} deleted`).waitFor();
  await page.getByText("No buckets yet.").waitFor();
  check((await page.getByRole("link", { name: bucket }).count()) === 0, "the bucket is gone");

  step("sign out");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  check(problems.length === 0, problems.join("\n"));
  console.log(`console: ${steps.length} steps passed; screenshots in ${artifacts}`);
} catch (e) {
  await snap("failure").catch(() => {});
  console.error(`console: FAILED at "${steps.at(-1)}": ${e.message}`);
  if (problems.length) console.error(problems.join("\n"));
  process.exitCode = 1;
} finally {
  await browser.close();
}

// Headless Chromium (Debian's, driven by playwright-core) against the web
// build: every vector file inside the page (TARGET=browser), then the
// inspector page end to end. Screenshots go to a temporary directory.

import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, test } from "node:test";

import { chromium } from "playwright-core";

import { serve } from "../serve.mjs";
import { firmwareUpload } from "./fixtures.mjs";
import { reportProblems } from "./report.mjs";
import { vectorFields, vectorFiles } from "./vector-files.mjs";

/** toolchain.md: Debian's chromium, without any network of its own. */
const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const node = createRequire(import.meta.url)("../pkg/node/solarwire_wasm.js");
const upload = firmwareUpload();
const shots = mkdtempSync(join(tmpdir(), "solarwire-inspector-"));
const profileDir = mkdtempSync(join(tmpdir(), "solarwire-chromium-"));
/** Console errors and uncaught exceptions of the page. */
const problems = [];
let server;
let context;
let page;

before(async () => {
  let url;
  ({ server, url } = await serve(0));
  context = await chromium.launchPersistentContext(profileDir, {
    executablePath: "/usr/bin/chromium",
    args: FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  page = await context.newPage();
  page.on("console", (m) => m.type() === "error" && problems.push(`console: ${m.text()}`));
  page.on("pageerror", (e) => problems.push(`exception: ${e.message}`));
  await page.goto(`${url}/www/`);
  await page.waitForSelector("body[data-ready=true]");
});

afterEach(() => {
  assert.deepEqual(problems.splice(0), [], "the page logged errors or threw");
});

after(async () => {
  await context?.close();
  server?.close();
  rmSync(profileDir, { recursive: true, force: true });
  console.log(`screenshots: ${shots}`);
});

test("every vector file passes in Chromium against the web build", async () => {
  const result = await page.evaluate(async ({ files, fields }) => {
    const api = await import("/pkg/web/solarwire_wasm.js");
    await api.default();
    const { runAll } = await import("/tests/run-vectors.mjs");
    return runAll(api, files, fields);
  }, { files: vectorFiles(), fields: vectorFields() });
  reportProblems(result, "chromium");
});

/** Pastes `text` with the keys, inspects with Ctrl+Enter, returns the stages. */
async function inspect(text, hmacKey = "") {
  await page.fill("#input", text);
  await page.fill("#hmac-key", hmacKey);
  await page.fill("#aes-key", "");
  await page.fill("#aes-iv", "");
  await page.focus("#input");
  await page.keyboard.press("Control+Enter");
  await page.waitForSelector("#result:not([hidden])");
  return page.$$eval("#stages li", (items) =>
    items.map((li) => ({
      status: li.className,
      name: li.querySelector(".name").textContent,
      code: li.querySelector("code")?.textContent ?? null,
      colour: getComputedStyle(li).borderLeftColor,
    })),
  );
}

test("a sealed firmware upload with its key shows the register table", async () => {
  const stages = await inspect(upload.body, upload.keyHex);
  assert.deepEqual(
    stages.map((s) => [s.name, s.status]),
    [
      ["structure", "pass"],
      ["mac", "pass"],
      ["upload", "pass"],
      ["packet 0", "pass"],
    ],
  );
  assert.match(await page.textContent("#summary"), /every stage passed/);
  const table = await page.$$eval("#samples table tr", (rows) =>
    rows.map((r) => [...r.children].map((c) => c.textContent)),
  );
  const expected = upload.expect.samples.map((s) =>
    Object.entries(s.registers).map(([key, raw]) => node.convertRegister(key, raw).text),
  );
  assert.deepEqual(
    table.slice(1).map((row) => row.slice(2)),
    expected,
  );
  assert.deepEqual(table[0].slice(2), ["Vac1 (V)", "Iac1 (A)", "Ipv1 (A)", "Ipv2 (A)", "Temp (°C)", "Pac (W)"]);
  assert.equal(expected[0][0], "230.4V");
  const ratio = await page.$eval("#packets tbody tr", (r) => r.children[4].textContent);
  assert.equal(ratio, "0.833 (17% smaller)");
  await page.screenshot({ path: join(shots, "upload.png"), fullPage: true });
});

test("a forged upload turns the MAC stage red with mac_mismatch", async () => {
  const wrongKey = upload.keyHex.replace(/^./, (d) => (d === "0" ? "1" : "0"));
  const stages = await inspect(upload.body, wrongKey);
  const mac = stages.find((s) => s.name === "mac");
  assert.deepEqual([mac.status, mac.code], ["fail", "mac_mismatch"]);
  assert.equal(mac.colour, "rgb(164, 22, 26)");
  assert.match(await page.textContent("#failure"), /Stage “mac” failed with mac_mismatch: MAC does not match/);
  assert.equal(await page.$("#samples table"), null, "nothing forged is shown as readings");
  assert.match(await page.textContent("#envelope"), /MACnot verifiedDevice id in the upload—$/);
  await page.screenshot({ path: join(shots, "forged.png"), fullPage: true });
});

test("garbage gets a clear 'not recognised' message", async () => {
  const stages = await inspect("hello, this is not device data");
  assert.deepEqual(
    stages.map((s) => [s.name, s.status, s.code]),
    [["detect", "fail", "malformed"]],
  );
  assert.match(await page.textContent("#summary"), /Not recognised/);
  assert.match(await page.textContent("#failure"), /Not recognised: paste an envelope or upload JSON, or one packet in hex or base64\.$/);
  await page.screenshot({ path: join(shots, "garbage.png"), fullPage: true });
});

test("the example buttons load firmware vectors, by keyboard too", async () => {
  await page.focus("[data-example=encrypted]");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector("#summary").textContent.startsWith("Security envelope"));
  const statuses = await page.$$eval("#stages li", (items) => items.map((li) => li.className));
  assert.deepEqual(statuses.slice(0, 2), ["pass", "pass"], "decrypted and verified");
  assert.match(await page.textContent("#envelope"), /yes \(AES-128-CBC\)/);

  await page.click("[data-example=two-packets]");
  await page.waitForFunction(() => document.querySelectorAll("#packets tbody tr").length === 2);
  assert.match(await page.textContent("#summary"), /every stage passed/);
});

test("bad key fields are explained, not thrown", async () => {
  await page.fill("#hmac-key", "not hex");
  await page.click("#inspect");
  assert.match(await page.textContent("#failure"), /The HMAC key is not hex/);
  await page.fill("#hmac-key", "00");
  await page.fill("#aes-key", "0011");
  await page.click("#inspect");
  assert.match(await page.textContent("#failure"), /keys: aes_key must be 16 bytes, not 2/);
});

// The dashboard in Debian's headless Chromium (playwright-core): log in,
// see the fleet, open a device (with its management card), watch the live chart gain points when
// `solarwire simulate` uploads, raise an alert and see it appear.
// Screenshots go to $SCREENSHOT_DIR (default: a new temp directory).
//
//   SOLARWIRE_BIN=target/debug/solarwire node --test host-server/tests/browser/dashboard.test.mjs

import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { chromium } = require("playwright-core");

const BIN = process.env.SOLARWIRE_BIN ?? "target/debug/solarwire";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const PASSWORD = "dashboard test password";
const WAIT = 60_000;

function cli(dataDir, args, input) {
  const r = spawnSync(BIN, ["--data-dir", dataDir, ...args], { input, encoding: "utf8" });
  assert.equal(r.status, 0, `solarwire ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Starts `solarwire serve` on a free port; resolves with its URL. */
function serve(dataDir) {
  const child = spawn(BIN, ["--data-dir", dataDir, "serve", "--listen", "127.0.0.1:0",
    "--alert-interval", "1s"], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/[0-9.:]+)/);
      if (m) resolve({ child, url: m[1] });
    });
    child.on("exit", (code) => reject(new Error(`server exited (${code}): ${out}`)));
  });
}

test("dashboard: login, fleet, device, live chart, alert", { timeout: 240_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "solarwire-dash-"));
  const shots = process.env.SCREENSHOT_DIR ?? mkdtempSync(join(tmpdir(), "solarwire-shots-"));
  mkdirSync(shots, { recursive: true });
  cli(dataDir, ["user", "add", "operator", "--role", "admin", "--password-stdin"], `${PASSWORD}\n`);
  const { child, url } = await serve(dataDir);
  const simulate = (extra) => cli(dataDir, ["simulate", "--url", url, "--rate", "2", ...extra]);
  simulate(["--devices", "2", "--duration", "3s"]);

  const profile = mkdtempSync(join(tmpdir(), "solarwire-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, args: FLAGS, viewport: { width: 1280, height: 900 },
  });
  try {
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => { if (m.type() === "error") errors.push(`${m.text()} ${m.location().url ?? ""}`); });

    await page.goto(url);
    await page.waitForSelector("#login-view:not([hidden])");
    await page.screenshot({ path: join(shots, "1-login.png") });

    // A wrong password is refused on the page.
    await page.fill("#username", "operator");
    await page.fill("#password", "not the password");
    await page.click("#login-form button");
    await page.waitForFunction(() => document.querySelector("#login-error").textContent.length > 0);

    await page.fill("#password", PASSWORD);
    await page.click("#login-form button");
    await page.waitForSelector("#fleet-table tbody tr[data-device='SIM_0002']", { timeout: WAIT });
    const rows = await page.$$eval("#fleet-table tbody tr", (trs) => trs.map((tr) => tr.dataset.device));
    assert.deepEqual(rows, ["SIM_0001", "SIM_0002"]);
    await page.waitForSelector("#live-state.online", { timeout: WAIT });
    assert.match(await page.textContent("#fleet-table tbody tr[data-device='SIM_0001'] .pill"), /online/);
    await page.screenshot({ path: join(shots, "2-fleet.png"), fullPage: true });

    await page.click("#fleet-table tbody tr[data-device='SIM_0001']");
    await page.waitForSelector("#device-view:not([hidden])");
    await page.waitForFunction(() => Number(document.querySelector("#live-chart svg").dataset.points) > 0, null, { timeout: WAIT });
    const before = Number(await page.getAttribute("#live-chart svg", "data-points"));
    await page.waitForFunction(() => Number(document.querySelector("#energy-chart svg").dataset.bars) >= 28, null, { timeout: WAIT });
    // The management card: the simulator's pollers reported the running configuration.
    await page.waitForFunction(() => document.querySelector("#device-config").textContent.includes("sampling 5 s"), null, { timeout: WAIT });
    assert.match(await page.textContent("#device-firmware"), /no update session|update to/);
    await page.screenshot({ path: join(shots, "3-device.png"), fullPage: true });

    // New uploads reach the open page over the WebSocket.
    simulate(["--device", "SIM_0001", "--duration", "2s"]);
    await page.waitForFunction((n) => Number(document.querySelector("#live-chart svg").dataset.points) > n, before, { timeout: WAIT });
    const after = Number(await page.getAttribute("#live-chart svg", "data-points"));
    assert.ok(after > before, `live chart grew from ${before} to ${after}`);
    await page.screenshot({ path: join(shots, "4-live.png"), fullPage: true });

    // An admin adds a rule; the next upload raises an alert that appears live.
    const token = await page.evaluate(async (password) => {
      const r = await fetch("/api/v1/auth/login", { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ username: "operator", password }) });
      return (await r.json()).access_token;
    }, PASSWORD);
    const rule = await fetch(`${url}/api/v1/alerts/rules`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Output above 500 W", kind: "max", register: "Pac", threshold: 500 }),
    });
    assert.equal(rule.status, 201);
    simulate(["--device", "SIM_0001", "--duration", "1s"]);
    await page.waitForSelector("#device-alerts li.open", { timeout: WAIT });
    assert.match(await page.textContent("#device-alerts li.open"), /Output above 500 W/);
    await page.waitForSelector("#toast:not([hidden])", { timeout: WAIT });
    await page.screenshot({ path: join(shots, "5-alert.png"), fullPage: true });

    // Narrow screens still work.
    await page.setViewportSize({ width: 420, height: 900 });
    await page.screenshot({ path: join(shots, "6-narrow.png"), fullPage: true });
    assert.deepEqual(errors.filter((e) => !e.includes("401")), [], "no script errors");

    // The wasm inspector, when its build is present, loads under our CSP.
    if (await page.isVisible("#inspector-link")) {
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.click("#inspector-link");
      await page.waitForLoadState("networkidle");
      // The wasm module lists its register profiles once it runs.
      await page.waitForFunction(() => document.querySelectorAll("select option").length > 0, null, { timeout: WAIT });
      await page.click("text=Sealed upload");
      await page.waitForLoadState("networkidle");
      await page.screenshot({ path: join(shots, "7-inspector.png"), fullPage: true });
      assert.deepEqual(errors.filter((e) => !e.includes("401")), [], "the inspector runs");
    }
    console.log(`screenshots: ${shots}`);
  } finally {
    await context.close();
    child.kill("SIGTERM");
  }
});

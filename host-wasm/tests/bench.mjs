// P3: the native P1 workload (open the firmware upload with its key, parse,
// decode every packet, convert every value) through the public JS API of the
// Node build, as a ratio to the native time measured in the same run.
// Usage: node bench.mjs '<JSON printed by the bench example with --json>'

import { createRequire } from "node:module";

import { firmwareUpload } from "./fixtures.mjs";

const api = createRequire(import.meta.url)("../pkg/node/solarwire_wasm.js");
const native = JSON.parse(process.argv[2] ?? "null");
if (typeof native?.process_upload_ns !== "number") {
  throw new Error("pass the JSON of `cargo run --release -p solarwire-spec --example bench -- --json`");
}

/** Median of 15 batches, each long enough (~20 ms) to swamp timer noise (as native). */
function timeNs(f) {
  let perBatch = 1;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) f();
    if (process.hrtime.bigint() - start >= 20_000_000n) break;
    perBatch *= 2;
  }
  const samples = Array.from({ length: 15 }, () => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) f();
    return Number(process.hrtime.bigint() - start) / perBatch;
  });
  return samples.sort((a, b) => a - b)[7];
}

const { body, keys, deviceId } = firmwareUpload();
// The body as bytes, as an HTTP server receives it (and as the native run reads it).
const bytes = new TextEncoder().encode(body);
const request = { pathDeviceId: deviceId, keys };
const process_ = () => {
  let sum = 0;
  for (const sample of api.parseUpload(bytes, request).samples) {
    for (const reading of sample.readings) sum += reading.value ?? 0;
  }
  return sum;
};
if (process_() === 0) throw new Error("the upload decoded to nothing");
// V8 runs wasm on its baseline compiler first and swaps in optimized code
// from a background thread; measure only after that has happened.
for (const start = process.hrtime.bigint(); process.hrtime.bigint() - start < 2_000_000_000n; ) process_();

const wasmNs = timeNs(process_);
const ratio = wasmNs / native.process_upload_ns;
// Where the time goes: opening the envelope alone is mostly HMAC-SHA256,
// which native code runs on the CPU's SHA instructions and wasm cannot.
const openNs = timeNs(() => api.openEnvelope(bytes, keys));
console.log(`P3  firmware upload (${bytes.length} bytes) in Node ${process.versions.node} on the wasm build`);
console.log(`    wasm (parseUpload) ${wasmNs.toFixed(0).padStart(9)} ns   (envelope, MAC, upload JSON, decode, convert, JS objects)`);
console.log(`    native (P1)        ${native.process_upload_ns.toFixed(0).padStart(9)} ns`);
console.log(`    ratio              ${ratio.toFixed(2).padStart(9)}      (goal ≤ 2.0)`);
console.log(`    of which openEnvelope ${openNs.toFixed(0).padStart(6)} ns   (native HMAC alone: ${native.hmac_ns?.toFixed(0) ?? "?"} ns)`);

// P3: the native P1 workload (open the firmware upload with its key, parse,
// decode every packet, convert every value) through the public JS API of the
// Node build, and the codec's bulk decode on the same packets as native, each
// as a ratio to native figures measured in the same run.
// Usage: node bench.mjs '<native JSON>' '<native JSON, software SHA-256>'
// (each printed by `cargo run --release -p solarwire-core --features std --example bench -- --json`;
// the second from a build with `--cfg sha2_backend="soft"`).

import { createRequire } from "node:module";

import { fromHex } from "../www/hex.js";
import { firmwareUpload } from "./fixtures.mjs";

const api = createRequire(import.meta.url)("../pkg/node/solarwire_wasm.js");
const [native, soft] = process.argv.slice(2, 4).map((arg) => JSON.parse(arg ?? "null"));
if (typeof native?.process_upload_ns !== "number" || typeof soft?.process_upload_ns !== "number") {
  throw new Error("pass the JSON of the native bench example, then that of its software-SHA build");
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

/** Runs `f` for two seconds first: V8 swaps in optimized wasm from a background thread. */
function warm(f) {
  for (const start = process.hrtime.bigint(); process.hrtime.bigint() - start < 2_000_000_000n; ) f();
}

const ns = (x) => x.toFixed(0).padStart(7);
const ratio = (a, b, goal) => `${(a / b).toFixed(2).padStart(6)}${goal ? `  (goal ≤ ${goal.toFixed(1)})` : ""}`;

const { body, keys, deviceId } = firmwareUpload();
// The body as bytes, as an HTTP server receives it (and as the native run reads it).
const bytes = new TextEncoder().encode(body);
const request = { pathDeviceId: deviceId, keys };
const columns = () => {
  const values = api.parseUploadColumns(bytes, request).columns.values;
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum;
};
const objects = () => {
  let sum = 0;
  for (const sample of api.parseUpload(bytes, request).samples) {
    for (const reading of sample.readings) sum += reading.value ?? 0;
  }
  return sum;
};
if (columns() === 0 || columns() !== objects()) throw new Error("the two forms disagree, or the upload decoded to nothing");
warm(columns);
warm(objects);
const columnsNs = timeNs(columns);
const objectsNs = timeNs(objects);
// Opening the envelope alone is mostly HMAC-SHA256: the CPU's SHA
// instructions natively, software SHA-256 in wasm.
const openNs = timeNs(() => api.openEnvelope(bytes, keys));
const mac = (n) => n.stages_ns?.["MAC over nonce ‖ payload"] ?? NaN;

console.log(`P3  firmware upload (${bytes.length} bytes) in Node ${process.versions.node} on the wasm build`);
console.log(`    wasm parseUploadColumns  ${ns(columnsNs)} ns   (envelope, MAC, upload JSON, decode, convert, typed arrays)`);
console.log(`    wasm parseUpload         ${ns(objectsNs)} ns   (the same, plus one object per sample and reading)`);
console.log(`    native, software SHA-256 ${ns(soft.process_upload_ns)} ns   ratio ${ratio(columnsNs, soft.process_upload_ns, 2)}`);
console.log(`    native, SHA-NI (P1)      ${ns(native.process_upload_ns)} ns   ratio ${ratio(columnsNs, native.process_upload_ns)}`);
console.log(`    openEnvelope in wasm     ${ns(openNs)} ns   (native MAC stage: ${mac(soft).toFixed(0)} ns software, ${mac(native).toFixed(0)} ns SHA-NI)`);
console.log("    native stages (software SHA-256 / SHA-NI, ns):");
for (const [stage, t] of Object.entries(soft.stages_ns ?? {})) {
  console.log(`      ${stage.padEnd(26)} ${ns(t)} / ${ns(native.stages_ns[stage])}`);
}

console.log("Codec decode, wasm (decodePackets) vs native (decode_batch) on the same packets, ns per packet");
for (const c of native.batches) {
  const packets = Array.from({ length: c.copies }, () => fromHex(c.packet_hex));
  const decode = () => api.decodePackets(packets);
  const batch = decode();
  if (batch.errors.size !== 0 || batch.values.length === 0) throw new Error(`${c.name}: does not decode`);
  warm(decode);
  const wasmNs = timeNs(decode) / c.copies;
  console.log(
    `    ${c.name.padEnd(40)} wasm ${ns(wasmNs)}  native ${ns(c.native_ns_per_packet)}  ratio ${ratio(wasmNs, c.native_ns_per_packet, 2)}`,
  );
}

// Type-checked by `tsc --noEmit` (just test-wasm): every export and every
// returned object of the generated declarations, used as a TypeScript
// program would. Never run.

import {
  type Decoded,
  type DecodedBatch,
  type ErrorCode,
  type Inspection,
  type Keys,
  type Opened,
  type ParsedUpload,
  type ParsedUploadColumns,
  type Reading,
  type Register,
  type Sealed,
  type SolarwireError,
  ReplayGuard,
  TemporalState,
  convertRegister,
  decodePacket,
  decodePackets,
  encodePacket,
  inspect,
  openEnvelope,
  parseUpload,
  parseUploadColumns,
  profiles,
  registers,
  sealEnvelope,
} from "../pkg/node/solarwire_wasm.js";

const keys: Keys = { hmacKey: new Uint8Array(32), aesKey: null };
const sealed: Sealed = sealEnvelope('{"device_id":"d"}', 1, keys, { compressed: false });
const opened: Opened = openEnvelope(sealed.envelope, keys, null);
const payload: Uint8Array = opened.payload;
const fresh: boolean = opened.freshness === "fresh";

const guard = new ReplayGuard();
guard.setLast("ESP32_001", 10);
const next: Opened = guard.open(sealed.envelope, keys, "ESP32_001");
const last: number | undefined = guard.last("ESP32_001");

const packet: Uint8Array = encodePacket([2304, 52], "bit_packed");
const decoded: Decoded = decodePacket(packet, { expectedCount: 2 });
const values: number[] = decoded.values;
const state = new TemporalState();
const delta: Uint8Array = state.encode(new Uint16Array([1, 2]), [0, 1], "temporal");
const smart: Uint8Array = state.encode([1, 2], new Uint8Array([0, 1]), "smart");
const restored: TemporalState = TemporalState.fromBytes(state.toBytes());
const stream: Decoded = restored.decode(delta, { registerIds: [0, 1] });
const seeded = TemporalState.fromHistory([0, 1], [[1, 2], [3, 4]]);
const batch: DecodedBatch = decodePackets([packet, [1, 0]]);
const bulk: Uint16Array = batch.values;
const failedAt: ErrorCode | undefined = batch.errors.get(1);
const streamed: Uint32Array = new TemporalState().decodePackets([delta]).counts;
seeded.skip();
seeded.forget();

const reading: Reading = convertRegister("REG_VAC1", 2304, "ecowatt-1.3");
const value: number | null = reading.value;
const table: Register[] = registers("legacy");
const kind: "u16" | "i16" = table[0].kind;
const names: string[] = profiles().map((p) => p.name);

const parsed: ParsedUpload = parseUpload(sealed.envelope, {
  format: "aggregated",
  pathDeviceId: "ESP32_001",
  keys,
  lastNonce: 0,
});
const times: (number | null)[] = parsed.samples.map((s) => s.tMs);
const failures: (ErrorCode | undefined)[] = parsed.packets.map((p) => p.error?.code);
const fast: ParsedUploadColumns = parseUploadColumns(sealed.envelope, { pathDeviceId: "ESP32_001", keys });
const converted: Float64Array = fast.columns.values;
const layout: Uint8Array = fast.columns.ids;
const raws: Uint16Array = parsed.columns.raw;
const drawn: Float64Array = inspect("01 0c").columns.tMs;

const explanation: Inspection = inspect("01 0c", keys, "ecowatt-1.3");
const firstFailure = explanation.stages.find((s) => s.status === "fail");
const ratio: number | null = explanation.packets[0]?.ratioPermille ?? null;
const payloadText: string | null = explanation.envelope?.payloadText ?? null;

try {
  openEnvelope("{}", keys);
} catch (e) {
  const error = e as SolarwireError;
  const code: ErrorCode = error.code;
  const concern: "EnvelopeError" | "ReplayError" | "CodecError" | "UnitError" | "UploadError" | "ArgumentError" =
    error.name;
  console.log(code, concern);
}

// @ts-expect-error: encodePacket takes an EncodeMethod, not any string.
encodePacket([1], "zip");
// @ts-expect-error: keys need an hmacKey.
openEnvelope("{}", {});

console.log(payload, fresh, next, last, values, smart, stream, value, kind, names, times, failures, firstFailure, ratio, payloadText);

// The JS API beyond what the vectors pin down: error objects, argument
// checking, stateful classes and the shapes of returned objects.

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";

import { fromHex } from "../www/hex.js";
import { firmwareUpload, vector } from "./fixtures.mjs";

const api = createRequire(import.meta.url)("../pkg/node/solarwire_wasm.js");
const upload = firmwareUpload();
const text = new TextDecoder();

/** Asserts that `f` throws an `Error` with this `name` and `code`. */
function throwsCoded(f, name, code) {
  assert.throws(f, (e) => e instanceof Error && e.name === name && e.code === code);
}

test("refused inputs throw Errors named for their concern, with the stable code", () => {
  throwsCoded(() => api.openEnvelope("not json", upload.keys), "EnvelopeError", "malformed");
  throwsCoded(() => api.openEnvelope(upload.body, { hmacKey: [1, 2] }), "EnvelopeError", "mac_mismatch");
  throwsCoded(() => api.openEnvelope(upload.body, upload.keys, 11002), "ReplayError", "replay");
  throwsCoded(() => api.decodePacket([0x42]), "CodecError", "unknown_marker");
  throwsCoded(() => api.convertRegister("REG_NOPE", 1), "UnitError", "unknown_register");
  throwsCoded(() => api.registers("ecowatt-9"), "UnitError", "unknown_profile");
  throwsCoded(
    () => api.parseUpload(upload.body, { pathDeviceId: upload.deviceId }),
    "EnvelopeError",
    "missing_key",
  );
  throwsCoded(
    () => api.parseUpload("{}", { format: "legacy_process" }),
    "UploadError",
    "malformed",
  );
});

test("arguments of the wrong shape are TypeErrors naming the argument", () => {
  const cases = [
    [() => api.openEnvelope(42, upload.keys), /^envelope: /],
    [() => api.openEnvelope(upload.body, {}), /^keys: missing field `hmacKey`/],
    [() => api.openEnvelope(upload.body, { hmacKey: [1], hmac_key: [1] }), /^keys: unknown field/],
    [() => api.openEnvelope(upload.body, { hmacKey: [1], aesKey: [1, 2] }), /^keys: aes_key must be 16 bytes, not 2/],
    [() => api.openEnvelope(upload.body, upload.keys, -1), /^lastNonce: /],
    [() => api.openEnvelope(upload.body, upload.keys, 2 ** 32), /^lastNonce: /],
    [() => api.decodePacket("01"), /^packet: /],
    [() => api.decodePacket([1], { count: 3 }), /^options: unknown field/],
    [() => api.encodePacket([1, 2], "zip"), /^method: unknown method/],
    [() => api.encodePacket([1, 2], "smart", [0]), /^registerIds: the method needs one register id per value/],
    [() => api.encodePacket([70000], "bit_packed"), /^values: /],
    [() => new api.TemporalState().encode([1], [0], "dictionary"), /^method: the method does not use a temporal state/],
    [() => api.convertRegister("REG_VAC1", 1.5), /^raw: 1.5 is not an integer/],
    [() => api.parseUpload(upload.body, { format: "xml" }), /^request: /],
    [() => api.inspect(42), /^text: /],
  ];
  for (const [f, message] of cases) {
    assert.throws(f, (e) => e instanceof TypeError && message.test(e.message), String(f));
  }
  for (const f of [() => api.encodePacket([1, 2], "zip"), () => api.openEnvelope(upload.body, { hmacKey: [1], aesIv: [1] })]) {
    assert.throws(f, (e) => e instanceof TypeError && e.name === "ArgumentError" && e.code === "invalid_argument", String(f));
  }
});

test("openEnvelope returns the verified payload as bytes", () => {
  const opened = api.openEnvelope(upload.body, upload.keys, 11001);
  assert.equal(opened.nonce, 11002);
  assert.equal(opened.freshness, "fresh");
  assert.ok(opened.payload instanceof Uint8Array);
  assert.equal(JSON.parse(text.decode(opened.payload)).device_id, "ESP32_001");
});

test("a ReplayGuard accepts each device's nonces in increasing order only", () => {
  const guard = new api.ReplayGuard();
  const keys = { hmacKey: [7, 7, 7] };
  const sealed = (nonce) => api.sealEnvelope("{}", nonce, keys).envelope;
  assert.equal(guard.open(sealed(5), keys, "a").freshness, "fresh");
  assert.equal(guard.open(sealed(5), keys, "a").freshness, "duplicate");
  throwsCoded(() => guard.open(sealed(4), keys, "a"), "ReplayError", "replay");
  throwsCoded(() => guard.open(sealed(6), { hmacKey: [8] }, "a"), "EnvelopeError", "mac_mismatch");
  assert.equal(guard.last("a"), 5, "a forged envelope records nothing");
  assert.equal(guard.open(sealed(1), keys, "b").freshness, "fresh");
  guard.setLast("b", 9);
  throwsCoded(() => guard.open(sealed(9), keys, "b"), "ReplayError", "replay");
  assert.equal(guard.last("c"), undefined);
});

test("sealEnvelope and openEnvelope round-trip, encrypted too", () => {
  const keys = { hmacKey: fromHex("00112233"), aesKey: new Uint8Array(16).fill(9) };
  const payload = new Uint8Array([0, 1, 2, 250]);
  const sealed = api.sealEnvelope(payload, 77, keys, { encrypt: true, compressed: true });
  assert.match(sealed.macHex, /^[0-9a-f]{64}$/);
  assert.equal(JSON.parse(sealed.envelope).payload, sealed.payloadB64);
  const opened = api.openEnvelope(sealed.envelope, keys);
  assert.deepEqual([...opened.payload], [...payload]);
  assert.deepEqual([opened.encrypted, opened.compressed], [true, true]);
  throwsCoded(() => api.openEnvelope(sealed.envelope, { hmacKey: keys.hmacKey }), "EnvelopeError", "missing_key");
});

test("every stateless encoder's packet decodes to its input", () => {
  const values = [2304, 52, 71, 69, 452, 1205, 2306, 53, 72, 69, 452, 1212];
  const ids = [0, 1, 5, 6, 7, 9, 0, 1, 5, 6, 7, 9];
  for (const method of ["bit_packed", "dictionary", "temporal", "smart"]) {
    const packet = api.encodePacket(values, method, ids);
    assert.ok(packet instanceof Uint8Array);
    assert.deepEqual(api.decodePacket(packet).values, values, method);
  }
  const rle = api.decodePacket(api.encodePacket(values, "semantic_rle", ids));
  assert.equal(rle.method, "semantic_rle");
  assert.equal(rle.values.length, values.length);
});

test("a TemporalState carries a stream across toBytes/fromBytes", () => {
  const ids = [0, 1, 2];
  const rows = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => [2300 + i, 50 + i, 5000 - i]);
  const encoder = new api.TemporalState();
  let decoder = new api.TemporalState();
  const methods = rows.map((row, i) => {
    const packet = encoder.encode(row, ids, "temporal");
    const decoded = decoder.decode(packet, { registerIds: ids });
    assert.deepEqual(decoded.values, row, `row ${i}`);
    decoder = api.TemporalState.fromBytes(decoder.toBytes());
    return decoded.method;
  });
  assert.equal(methods[0], "temporal_base");
  assert.equal(methods.at(-1), "temporal_delta", "a full ring sends deltas");
  throwsCoded(() => new api.TemporalState().decode(encoder.encode(rows[0], ids, "temporal")), "CodecError", "missing_state");
  throwsCoded(() => api.TemporalState.fromBytes([1, 2, 3]), "CodecError", "bad_header");
});

test("registers, profiles and conversions", () => {
  const table = api.registers();
  assert.equal(table.length, 10);
  assert.deepEqual(
    [table[0].key, table[0].unit, table[0].scale, table[0].kind],
    ["REG_VAC1", "V", -1, "u16"],
  );
  assert.deepEqual(
    api.profiles().map((p) => [p.name, p.kind]),
    [
      ["ecowatt-1.3", "inverter-logger"],
      ["legacy", "inverter-logger"],
      ["bess-rack-1", "bess-rack"],
      ["pcs-1", "pcs"],
      ["meter-3ph-1", "meter"],
      ["string-inverter-1", "string-inverter"],
    ],
  );
  const byName = api.convertRegister("vac1", 2304);
  assert.deepEqual(byName, {
    id: 0, name: "Vac1", raw: 2304, value: 230.4, unit: "V", text: "230.4V", state: null, flags: [],
  });
  const fault = api.convertRegister("FaultStatus1", 8, "pcs-1");
  assert.deepEqual(fault.flags, [{ bit: 3, name: "DC overvoltage", severity: "fault" }]);
  assert.equal(api.convertRegister("Mode", 2, "bess-rack-1").state, "Discharging");
  assert.deepEqual(api.convertRegister(0, 2304), byName);
  assert.equal(api.convertRegister(0, 2400, "legacy").text, "240.0V");
  throwsCoded(() => api.convertRegister(0, 65536), "UnitError", "out_of_range");
});

test("parseUpload opens, decodes and converts a firmware upload", () => {
  const parsed = api.parseUpload(upload.body, {
    pathDeviceId: upload.deviceId,
    keys: upload.keys,
    lastNonce: 11001,
  });
  assert.equal(parsed.deviceId, "ESP32_001");
  assert.deepEqual([parsed.nonce, parsed.freshness], [11002, "fresh"]);
  assert.equal(parsed.samples.length, 3);
  const raws = parsed.samples.map((s) => s.readings.map((r) => r.raw));
  assert.deepEqual(
    raws,
    upload.expect.samples.map((s) => Object.values(s.registers)),
  );
  assert.deepEqual(
    parsed.samples[0].readings.map((r) => r.text),
    ["230.4V", "5.20A", "7.10A", "6.90A", "45.2°C", "1205W"],
  );
  // F13: the last sample is 5 s before the upload time, then one poll period apart.
  assert.deepEqual(
    parsed.samples.map((s) => s.tMs),
    [1763884785000, 1763884790000, 1763884795000],
  );
  assert.deepEqual(parsed.packets, [
    {
      index: 0,
      method: "bit_packed",
      size: 30,
      originalSize: 36,
      values: 18,
      samples: 3,
      outcome: "decoded",
      error: null,
    },
  ]);
});

test("parseUploadColumns gives the samples of parseUpload as typed arrays", () => {
  const request = { pathDeviceId: upload.deviceId, keys: upload.keys, profile: "ecowatt-1.3" };
  const { columns, ...rest } = api.parseUploadColumns(upload.body, request);
  const parsed = api.parseUpload(upload.body, request);
  assert.ok(!("samples" in rest));
  const { samples, columns: same, ...restOfParsed } = parsed;
  assert.deepEqual(rest, restOfParsed);
  assert.deepEqual(same, columns);
  const types = Object.fromEntries(Object.entries(columns).map(([k, v]) => [k, v.constructor.name]));
  assert.deepEqual(types, {
    tMs: "Float64Array",
    packet: "Uint32Array",
    approximate: "Uint8Array",
    offsets: "Uint32Array",
    ids: "Uint8Array",
    raw: "Uint16Array",
    values: "Float64Array",
  });
  assert.deepEqual([...columns.offsets], [0, 6, 12, 18]);
  assert.deepEqual([...columns.tMs], samples.map((s) => s.tMs));
  const readings = samples.flatMap((s) => s.readings);
  assert.deepEqual([...columns.ids], readings.map((r) => r.id));
  assert.deepEqual([...columns.raw], readings.map((r) => r.raw));
  assert.deepEqual([...columns.values], readings.map((r) => r.value));
  assert.deepEqual(readings[0], {
    id: 0, name: "Vac1", raw: 2304, value: 230.4, unit: "V", text: "230.4V", state: null, flags: [],
  });
});

test("NaN in the columns is null in the objects: an undated sample, each value", () => {
  const legacy = vector("upload-edges.json", "legacy-direct-values-list");
  const { columns, samples } = api.parseUpload(legacy.body, { format: "legacy_process" });
  assert.deepEqual(samples.map((s) => s.tMs), [null]);
  assert.ok(Number.isNaN(columns.tMs[0]));
  const readings = samples.flatMap((s) => s.readings);
  assert.equal(readings.length, 10);
  readings.forEach((r, i) => {
    assert.equal(r.value === null, Number.isNaN(columns.values[i]), `reading ${i}`);
  });
});

test("decodePackets decodes many packets into one Uint16Array and lists failures", () => {
  const values = [2304, 52, 71, 69, 452, 1205];
  const good = api.encodePacket(values, "bit_packed");
  const batch = api.decodePackets([good, [0x42], Array.from(good)]);
  assert.ok(batch.values instanceof Uint16Array && batch.counts instanceof Uint32Array);
  assert.deepEqual([...batch.values], [...values, ...values]);
  assert.deepEqual([...batch.counts], [6, 0, 6]);
  assert.deepEqual(batch.errors, new Map([[1, "unknown_marker"]]));
  assert.deepEqual([...api.decodePackets([]).values], []);

  const ids = [0, 1, 2];
  const encoder = new api.TemporalState();
  const rows = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((i) => [2300 + i, 50 + i, 5000 - i]);
  const packets = rows.map((row) => encoder.encode(row, ids, "temporal"));
  const stream = new api.TemporalState().decodePackets(packets);
  assert.equal(stream.errors.size, 0);
  assert.deepEqual([...stream.values], rows.flat());
  assert.equal(api.decodePackets(packets).errors.get(packets.length - 1), "missing_state");

  for (const [arg, message] of [
    ["01", /^packets: expected an array/],
    [[good, "01"], /^packets\[1\]: expected a Uint8Array/],
    [[[1, 256]], /^packets\[0\]: expected integers 0–255/],
  ]) {
    assert.throws(() => api.decodePackets(arg), (e) => e instanceof TypeError && message.test(e.message));
  }
});

test("parseUpload reports a failing packet and keeps the others", () => {
  const two = vector("firmware/upload.json", "aggregated-two-packets");
  const inner = JSON.parse(text.decode(api.openEnvelope(two.body, { hmacKey: fromHex(two.hmac_key_hex) }).payload));
  inner.compressed_data[1].compressed_binary = "QkJC"; // marker 0x42
  inner.compressed_data[1].decompression_metadata.compressed_size_bytes = 3;
  const keys = { hmacKey: [1] };
  const body = api.sealEnvelope(JSON.stringify(inner), 1, keys).envelope;
  const parsed = api.parseUpload(body, { pathDeviceId: inner.device_id, keys });
  assert.deepEqual(
    parsed.packets.map((p) => [p.outcome, p.error?.code ?? null, p.error?.name ?? null]),
    [
      ["decoded", null, null],
      ["failed", "unknown_marker", "CodecError"],
    ],
  );
  assert.ok(parsed.samples.length > 0 && parsed.samples.every((s) => s.packet === 0));
});

test("inspect explains an upload, a forgery and garbage without throwing", () => {
  const ok = api.inspect(upload.body, upload.keys);
  assert.equal(ok.kind, "envelope");
  assert.deepEqual(
    ok.stages.map((s) => [s.name, s.status]),
    [
      ["structure", "pass"],
      ["mac", "pass"],
      ["upload", "pass"],
      ["packet 0", "pass"],
    ],
  );
  assert.equal(ok.envelope.verified, true);
  assert.equal(ok.deviceId, "ESP32_001");
  assert.equal(ok.packets[0].ratioPermille, 833);
  assert.equal(ok.samples[0].readings[0].text, "230.4V");

  const forged = api.inspect(upload.body, { hmacKey: [0] });
  assert.deepEqual(forged.stages[1], {
    name: "mac",
    status: "fail",
    code: "mac_mismatch",
    message: "MAC does not match the payload",
  });
  assert.equal(forged.samples.length, 0);

  const unkeyed = api.inspect(upload.body);
  assert.equal(unkeyed.stages[1].status, "skipped");
  assert.equal(unkeyed.envelope.verified, false);

  for (const garbage of ["", "hello, world!", "{", "zz", "\u0000\uffff", "[1,2]"]) {
    const result = api.inspect(garbage);
    assert.ok(result.stages.some((s) => s.status === "fail"), JSON.stringify(garbage));
  }
  assert.equal(api.inspect("hello, world!").kind, "unrecognised");
});

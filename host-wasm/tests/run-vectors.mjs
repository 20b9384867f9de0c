// Runs the shared vector files (spec/vectors.md) through the public JS API of
// solarwire-wasm, in Node or in a browser page. Each suite follows the native
// runner's semantics (spec-tests/src/suites): a vector becomes `{ok: value}`
// or `{error: code}` (the thrown error's `code`) and is compared with its
// `expect` or `error`; unknown suites and unknown fields (those missing from
// spec-tests/fields.json) make the file fail.

import { fromHex, toHex } from "../www/hex.js";

const ERROR_NAMES = ["EnvelopeError", "ReplayError", "CodecError", "UnitError", "UploadError"];

/** A file (or vector) the runner cannot interpret. */
class FileError extends Error {}

/**
 * Runs every file (`{name, text}`) with `api`, the module's exports, and
 * `fields`, the parsed spec-tests/fields.json. Returns the totals, one result
 * per file (`passed`, `failed`, `failures`, or `error` when it cannot run)
 * and the runner's output lines.
 */
export function runAll(api, files, fields) {
  const suites = makeSuites(api);
  const results = files.map((file) => runFile(suites, fields, file));
  const passed = results.reduce((n, r) => n + r.passed, 0);
  const failed = results.reduce((n, r) => n + r.failed, 0);
  const lines = results.map((r) =>
    r.error
      ? `${r.name}: cannot run: ${r.error}`
      : `${r.name}: ${r.passed} passed, ${r.failed} failed`,
  );
  lines.push(`${passed} passed, ${failed} failed`);
  return { passed, failed, files: results, lines };
}

function runFile(suites, fields, { name, text }) {
  try {
    const file = JSON.parse(text);
    if (typeof file?.suite !== "string") throw new FileError("missing suite");
    if (!Object.hasOwn(fields.suites, file.suite)) throw new FileError(`unknown suite "${file.suite}"`);
    if (!Array.isArray(file.vectors)) throw new FileError("missing vectors");
    const suite = suites[file.suite];
    const allowed = [...fields.common, ...fields.aids, ...fields.suites[file.suite]];
    const failures = [];
    file.vectors.forEach((vector, i) => {
      const failure = runVector(suite, allowed, vector, i);
      if (failure) failures.push(failure);
    });
    const failed = failures.length;
    return { name, passed: file.vectors.length - failed, failed, failures };
  } catch (e) {
    if (!(e instanceof FileError || e instanceof SyntaxError)) throw e;
    return { name, passed: 0, failed: 1, failures: [], error: e.message };
  }
}

/** Runs one vector, which may carry only the `allowed` fields; returns its
 *  failure, or `null` when it passes. */
function runVector(suite, allowed, v, index) {
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new FileError(`vector #${index}: a vector must be an object`);
  }
  if (typeof v.id !== "string") throw new FileError(`vector #${index}: missing id`);
  const where = `vector #${index}: ${v.id}`;
  const unknown = Object.keys(v).find((k) => !allowed.includes(k));
  if (unknown !== undefined) throw new FileError(`${where}: unknown field "${unknown}"`);
  if (("expect" in v) === ("error" in v)) {
    throw new FileError(`${where}: needs exactly one of expect, error`);
  }
  if ("error" in v && typeof v.error !== "string") {
    throw new FileError(`${where}: error must be a string`);
  }
  let got;
  try {
    got = suite.run(v);
  } catch (e) {
    throw new FileError(`${where}: ${e.name}: ${e.message}`);
  }
  let failure = null;
  if ("error" in v) {
    if ("error" in got) {
      if (got.error !== v.error) failure = `expected error ${v.error}, got error ${got.error}`;
    } else {
      failure = `expected error ${v.error}, got ok`;
    }
  } else if ("error" in got) {
    failure = `expected ok, got error ${got.error}`;
  } else {
    failure = suite.compare(v.expect, got.ok);
  }
  return failure && { id: v.id, comment: v.comment ?? null, failure };
}

/** `{ok: f()}`, or `{error: code}` when `f` throws one of the API's coded errors. */
function verdict(f) {
  try {
    return { ok: f() };
  } catch (e) {
    if (ERROR_NAMES.includes(e?.name) && typeof e.code === "string") return { error: e.code };
    throw e;
  }
}

function makeSuites(api) {
  const keyOf = new Map(api.registers().map((r) => [r.id, r.key]));
  return {
    envelope: {
      run: (v) =>
        verdict(() => {
          const opened = api.openEnvelope(str(v, "envelope"), keys(v), v.last_nonce);
          return {
            nonce: opened.nonce,
            payload_hex: toHex(opened.payload),
            encrypted: opened.encrypted,
            compressed: opened.compressed,
          };
        }),
      compare: (want, got) => (equal(want, got) ? null : differ(want, got)),
    },
    seal: {
      run: (v) => {
        const options = { encrypt: v.encrypt ?? false, compressed: v.compressed ?? false };
        return verdict(() => {
          const sealed = api.sealEnvelope(hex(v, "payload_hex"), v.nonce, keys(v), options);
          return {
            mac_hex: sealed.macHex,
            payload_b64: sealed.payloadB64,
            envelope: JSON.parse(sealed.envelope),
          };
        });
      },
      compare: (want, got) => {
        for (const key of ["mac_hex", "payload_b64"]) {
          if (want[key] !== got[key]) return `${key}: expected ${want[key]}, got ${got[key]}`;
        }
        return null;
      },
    },
    codec: {
      run: (v) => runCodec(api, v),
      compare: compareCodec,
    },
    register: {
      run: (v) => {
        const profile = v.profile ?? "ecowatt-1.3";
        if (typeof v.raw !== "number") throw new FileError("raw must be a number");
        if (typeof v.register !== "string" && !Number.isInteger(v.register)) {
          throw new FileError("register must be a string or an integer");
        }
        return verdict(() => {
          const r = api.convertRegister(v.register, v.raw, profile);
          return { value: r.value, unit: r.unit, text: r.text, state: r.state, flags: r.flags };
        });
      },
      // `state` and `flags` are compared where the vector states them.
      compare: (want, got) => {
        const close = Math.abs(want.value - got.value) <= 1e-9 * Math.max(Math.abs(want.value), Math.abs(got.value));
        const stated = ["state", "flags"].every((k) => !(k in want) || equal(want[k], got[k]));
        return close && want.unit === got.unit && want.text === got.text && stated ? null : differ(want, got);
      },
    },
    upload: {
      run: (v) => {
        const request = {
          format: str(v, "format"),
          pathDeviceId: v.path_device_id,
          keys: "hmac_key_hex" in v ? keys(v) : null,
          lastNonce: v.last_nonce,
        };
        return verdict(() => {
          const parsed = api.parseUpload(str(v, "body"), request);
          const samples = parsed.samples.map((s) => ({
            t: s.tMs,
            registers: Object.fromEntries(
              s.readings.map((r) => [keyOf.get(r.id) ?? `REG_${r.id}`, r.raw]),
            ),
          }));
          return { device_id: parsed.deviceId, samples };
        });
      },
      compare: (want, got) => {
        const same =
          want.device_id === got.device_id &&
          want.samples?.length === got.samples.length &&
          want.samples.every((w, i) => {
            const g = got.samples[i];
            return (w.t == null || w.t === g.t) && equal(w.registers, g.registers);
          });
        return same ? null : differ(want, got);
      },
    },
  };
}

/** A codec vector: one packet (optionally re-encoded first) or a stream. */
function runCodec(api, v) {
  const state = temporalState(api, v.state);
  if ("sequence" in v) return { ok: runSequence(api, v, state) };
  const packet = hex(v, "packet_hex");
  if ("encode" in v) {
    const produced = encodeInput(api, v.encode, v.state);
    if (toHex(produced) !== v.packet_hex) return { ok: { encoded_hex: toHex(produced) } };
  }
  return verdict(() => decodedJson(state.decode(packet)));
}

/** Decodes each packet in order with the state carried along. */
function runSequence(api, v, state) {
  if (!Array.isArray(v.sequence)) throw new FileError("sequence must be a list");
  const ids = v.sequence_register_ids;
  if (ids !== undefined && !Array.isArray(ids)) {
    throw new FileError("sequence_register_ids must be a list");
  }
  const packets = v.sequence.map((p) => {
    const bytes = typeof p === "string" ? fromHex(p) : null;
    if (!bytes) throw new FileError("sequence items must be hex strings");
    return bytes;
  });
  const results = packets.map((packet, i) => {
    const result = verdict(() => decodedJson(state.decode(packet, { registerIds: ids?.[i] })));
    return "ok" in result ? result.ok : result;
  });
  if ("encode_sequence" in v) {
    const mismatch = checkEncodeSequence(api, v.encode_sequence, packets);
    if (mismatch) return mismatch;
  }
  return results;
}

/** Re-encodes a stream from a fresh encoder: the temporal encoder for a
 *  stream of temporal packets only, the device's smart selection otherwise. */
function checkEncodeSequence(api, inputs, packets) {
  if (!Array.isArray(inputs)) throw new FileError("encode_sequence must be a list");
  const temporalOnly = packets.every((p) => p[0] === 0x70 || p[0] === 0x71);
  const state = new api.TemporalState();
  for (let i = 0; i < Math.min(inputs.length, packets.length); i++) {
    const { values, register_ids: ids } = inputs[i];
    const produced = state.encode(values, ids, temporalOnly ? "temporal" : "smart");
    if (toHex(produced) !== toHex(packets[i])) {
      return { encode_sequence_step: i, encoded_hex: toHex(produced) };
    }
  }
  return null;
}

function encodeInput(api, encode, state) {
  const ids = encode.register_ids ?? [];
  switch (encode.method) {
    case "bit_packed":
    case "dictionary":
    case "semantic_rle":
    case "codec_v2":
      return api.encodePacket(encode.values, encode.method, ids);
    case "temporal_base":
    case "temporal_delta":
      return temporalState(api, state).encode(encode.values, ids, "temporal");
    case "smart":
      return temporalState(api, state).encode(encode.values, ids, "smart");
    default:
      throw new FileError(`unknown encode.method ${JSON.stringify(encode.method)}`);
  }
}

/** `{"register_ids": [...], "history": [[...], ...]}`, or a booted ring. */
function temporalState(api, state) {
  if (state === undefined) return new api.TemporalState();
  if (!Array.isArray(state?.history)) throw new FileError("state.history must be a list");
  return api.TemporalState.fromHistory(state.register_ids, state.history);
}

function decodedJson(d) {
  const out = { method: d.method, values: d.values };
  if (d.registerIds !== null) out.register_ids = d.registerIds;
  return out;
}

/** Method, values and error must match; `register_ids` when expected. */
function compareCodec(want, got) {
  if (got !== null && typeof got === "object" && "encoded_hex" in got) {
    return `encoder output differs: ${JSON.stringify(got)}`;
  }
  if (Array.isArray(want) || Array.isArray(got)) {
    if (!Array.isArray(want) || !Array.isArray(got) || want.length !== got.length) {
      return differ(want, got);
    }
    for (let i = 0; i < want.length; i++) {
      const failure = compareDecoded(want[i], got[i]);
      if (failure) return `packet ${i}: ${failure}`;
    }
    return null;
  }
  return compareDecoded(want, got);
}

function compareDecoded(want, got) {
  const same = (key) => equal(want[key], got[key]);
  const idsOk = !("register_ids" in want) || same("register_ids");
  return same("method") && same("values") && same("error") && idsOk ? null : differ(want, got);
}

function keys(v) {
  return {
    hmacKey: hex(v, "hmac_key_hex"),
    aesKey: v.aes_key_hex == null ? null : hex(v, "aes_key_hex"),
    aesIv: v.aes_iv_hex == null ? null : hex(v, "aes_iv_hex"),
  };
}

function str(v, key) {
  if (typeof v[key] !== "string") throw new FileError(`field ${key} must be a string`);
  return v[key];
}

/** Strict hex (no whitespace), as the native runner reads it. */
function hex(v, key) {
  const text = str(v, key);
  const bytes = /\s/.test(text) ? null : fromHex(text);
  if (!bytes) throw new FileError(`field ${key} is not hex`);
  return bytes;
}

/** JSON value equality (object key order ignored). */
function equal(a, b) {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && equal(a[k], b[k]));
}

function differ(want, got) {
  return `expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`;
}

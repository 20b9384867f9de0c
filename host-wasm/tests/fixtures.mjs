// Firmware vectors used as examples by the API tests, the page test and the benchmark.

import { readFileSync } from "node:fs";

import { fromHex } from "../www/hex.js";

/** The vector `id` of `spec-tests/vectors/<file>`. */
export function vector(file, id) {
  const url = new URL(`../../spec-tests/vectors/${file}`, import.meta.url);
  const found = JSON.parse(readFileSync(url, "utf8")).vectors.find((v) => v.id === id);
  if (!found) throw new Error(`no vector ${id} in ${file}`);
  return found;
}

/** The firmware's sealed upload (3 samples × 6 registers) and its keys. */
export function firmwareUpload() {
  const v = vector("firmware/upload.json", "aggregated-one-packet");
  return {
    body: v.body,
    keyHex: v.hmac_key_hex,
    keys: { hmacKey: fromHex(v.hmac_key_hex) },
    deviceId: v.path_device_id,
    expect: v.expect,
  };
}

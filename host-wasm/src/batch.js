// Many packets across the wasm boundary in one copy each way (decodePackets):
// one boundary call per packet would cost more than decoding it.

/**
 * `packets` (an array of `Uint8Array` or arrays of integers 0–255) framed
 * as one buffer: each packet's length (u32, little-endian), then the bytes.
 */
export function framePackets(packets) {
  if (!Array.isArray(packets)) {
    throw new TypeError("packets: expected an array of Uint8Array or number[]");
  }
  let size = 4 * packets.length;
  for (let i = 0; i < packets.length; i++) {
    const p = packets[i];
    if (Array.isArray(p)) {
      if (!p.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
        throw new TypeError(`packets[${i}]: expected integers 0–255`);
      }
    } else if (!(p instanceof Uint8Array)) {
      throw new TypeError(`packets[${i}]: expected a Uint8Array or number[]`);
    }
    size += p.length;
  }
  const frame = new Uint8Array(size);
  const lengths = new DataView(frame.buffer);
  let at = 4 * packets.length;
  for (let i = 0; i < packets.length; i++) {
    lengths.setUint32(4 * i, packets[i].length, true);
    frame.set(packets[i], at);
    at += packets[i].length;
  }
  return frame;
}

/** `DecodedBatch` from views of wasm memory; `codes` lists the failed packets' codes, comma-separated. */
export function decodedBatch(values, counts, failed, codes) {
  const list = codes === "" ? [] : codes.split(",");
  return {
    values: values.slice(),
    counts: counts.slice(),
    errors: new Map(list.map((code, i) => [failed[i], code])),
  };
}

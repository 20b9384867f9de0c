// The samples of an upload in JS: `uploadColumns` copies the typed-array
// columns out of wasm memory (the fast form, `UploadColumns` in
// solarwire.d.ts); `buildSamples` makes the object form (`Sample[]`) from
// them. parseUpload is the throughput path (benchmark P3), and making these
// objects in JS is an order of magnitude cheaper than JSON.parse or one
// boundary call per property.

/** Copies of the columns, which arrive as views of wasm memory. */
export function uploadColumns(tMs, packet, approximate, offsets, ids, raw, values) {
  return {
    tMs: tMs.slice(),
    packet: packet.slice(),
    approximate: approximate.slice(),
    offsets: offsets.slice(),
    ids: ids.slice(),
    raw: raw.slice(),
    values: values.slice(),
  };
}

/**
 * `Sample[]` from `columns`. `NaN` stands for `null` in the number columns;
 * `strings` holds each reading's name, unit, text and state (empty for none),
 * separated by NUL characters; `flags` is the JSON of each reading's flags.
 */
export function buildSamples(columns, strings, flags) {
  const { tMs, packet, approximate, offsets, ids, raw, values } = columns;
  const text = strings.split("\u0000");
  const bits = JSON.parse(flags);
  const samples = new Array(tMs.length);
  for (let s = 0; s < samples.length; s++) {
    const readings = new Array(offsets[s + 1] - offsets[s]);
    for (let i = 0, r = offsets[s]; i < readings.length; i++, r++) {
      readings[i] = {
        id: ids[r],
        name: text[4 * r],
        raw: raw[r],
        value: Number.isNaN(values[r]) ? null : values[r],
        unit: text[4 * r + 1],
        text: text[4 * r + 2],
        state: text[4 * r + 3] === "" ? null : text[4 * r + 3],
        flags: bits[r],
      };
    }
    samples[s] = {
      tMs: Number.isNaN(tMs[s]) ? null : tMs[s],
      packet: packet[s],
      approximate: approximate[s] !== 0,
      readings,
    };
  }
  return samples;
}

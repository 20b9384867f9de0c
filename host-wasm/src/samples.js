// Builds the `samples` of a `ParsedUpload` (see solarwire.d.ts) from flat
// columns that cross from wasm in a few bulk copies: parseUpload is the
// throughput path (benchmark P3), and making these objects in JS is an order
// of magnitude cheaper than JSON.parse or one boundary call per property.
// `NaN` stands for `null` in the number columns; `strings` holds each
// reading's name, unit and text, separated by NUL characters.
export function buildSamples(tMs, packet, approximate, counts, ids, raw, value, strings) {
  const text = strings.split("\u0000");
  const samples = new Array(counts.length);
  let r = 0;
  for (let s = 0; s < counts.length; s++) {
    const readings = new Array(counts[s]);
    for (let i = 0; i < readings.length; i++, r++) {
      readings[i] = {
        id: ids[r],
        name: text[3 * r],
        raw: raw[r],
        value: Number.isNaN(value[r]) ? null : value[r],
        unit: text[3 * r + 1],
        text: text[3 * r + 2],
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

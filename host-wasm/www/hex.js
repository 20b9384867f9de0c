// Hex text <-> bytes, shared by the inspector page and the vector runner.

/** Lowercase hex of `bytes`. */
export function toHex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The bytes of hex text (whitespace ignored), or `null` when it is not hex. */
export function fromHex(text) {
  const compact = text.replace(/\s+/g, "");
  if (compact.length % 2 !== 0 || /[^0-9a-fA-F]/.test(compact)) return null;
  const bytes = new Uint8Array(compact.length / 2);
  for (let i = 0; i < bytes.length; i++) {
    bytes[i] = parseInt(compact.slice(2 * i, 2 * i + 2), 16);
  }
  return bytes;
}

/** Byte strings are accepted as a `Uint8Array` or an array of integers 0–255. */
export type Bytes = Uint8Array | number[];

/** A device's secrets. */
export interface Keys {
  /** The HMAC-SHA256 key, any length (the firmware's is 32 bytes). */
  hmacKey: Bytes;
  /** The AES-128 key (16 bytes) of encrypted payloads. */
  aesKey?: Bytes | null;
  /** The static IV (16 bytes); defaults to the firmware's `00 01 … 0f`. */
  aesIv?: Bytes | null;
}

/** `fresh`, or `duplicate` for an identical resend of the last accepted envelope. */
export type Freshness = "fresh" | "duplicate";

/** An envelope whose MAC verified and whose nonce passed the replay check. */
export interface Opened {
  nonce: number;
  /** The verified plaintext payload (the upload JSON for device uploads). */
  payload: Uint8Array;
  encrypted: boolean;
  compressed: boolean;
  freshness: Freshness;
}

export interface SealOptions {
  /** Encrypt with `keys.aesKey` (the firmware never does). */
  encrypt?: boolean;
  /** Flag the payload as raw binary rather than UTF-8 text. */
  compressed?: boolean;
}

export interface Sealed {
  /** The envelope text exactly as the device posts it. */
  envelope: string;
  macHex: string;
  payloadB64: string;
}

/** A packet's compression scheme, chosen by its first byte. */
export type Method =
  | "bit_packed"
  | "dictionary"
  | "temporal_base"
  | "temporal_delta"
  | "semantic_rle"
  | "raw"
  | "legacy_temporal"
  | "legacy_semantic_rle"
  | "codec_v2";

/** The encoders (default `smart`, the device's selection): `temporal` writes a base or a delta, as the device would. */
export type EncodeMethod =
  | "bit_packed"
  | "dictionary"
  | "semantic_rle"
  | "temporal"
  | "smart"
  | "codec_v2";

export interface DecodeOptions {
  /** The true value count (register count × sample count); the header's byte must agree with it modulo 256. */
  expectedCount?: number | null;
  /** Every value's register id (needed to feed a temporal ring from packets that carry none). */
  registerIds?: Bytes | null;
  /** The most values a packet may declare (default 4096). */
  maxValues?: number | null;
}

export interface Decoded {
  method: Method;
  /** The raw register values, sample-major. */
  values: number[];
  /** The register ids the packet itself carries (temporal base only). */
  registerIds: number[] | null;
  /** For lossy packets, which values are exact; `null` when all are. */
  exact: boolean[] | null;
}

/** Many packets decoded into one buffer (`decodePackets`). */
export interface DecodedBatch {
  /** Every packet's raw values, one after another. */
  values: Uint16Array;
  /** How many values each packet gave (0 for one that failed). */
  counts: Uint32Array;
  /** The error code of every packet that failed, by its index. */
  errors: Map<number, ErrorCode>;
}

/** One register value in engineering units. */
export interface Reading {
  id: number;
  /** The device's name (`Vac1`), or `#id` when the profile lacks the register. */
  name: string;
  raw: number;
  /** The value in `unit`; `null` when the profile lacks the register. */
  value: number | null;
  unit: string;
  /** The display text with the register's decimals (`230.4V`). */
  text: string;
  /** A mode register's state name (`Charging`), else `null`. */
  state: string | null;
  /** A status word's set bits with their meaning, in bit order. */
  flags: Flag[];
}

/** How much a set status bit matters. */
export type Severity = "info" | "warning" | "alarm" | "protection" | "fault";

/** The meaning of one bit of a status word. */
export interface Flag {
  bit: number;
  name: string;
  severity: Severity;
}

/** What a profile's device is. */
export type DeviceKind = "inverter-logger" | "bess-rack" | "pcs" | "meter" | "string-inverter";

/** One entry of a register profile. */
export interface Register {
  id: number;
  name: string;
  /** The legacy and test-vector name (`REG_VAC1`). */
  key: string;
  addr: number;
  unit: string;
  /** `value = (raw + offset) × 10^scale`. */
  scale: number;
  offset: number;
  decimals: number;
  kind: "u16" | "i16";
  writable: boolean;
  /** Raw values that mean "not available". */
  sentinels: number[];
  /** A mode register's named values. */
  states?: { value: number; name: string }[];
  /** A status word's bit meanings. */
  bits?: Flag[];
  description: string;
}

export interface ProfileSummary {
  name: string;
  kind: DeviceKind;
  description: string;
}

/** `aggregated` (`POST /aggregated/{device_id}`) or `legacy_process` (`POST /process`). */
export type UploadFormat = "aggregated" | "legacy_process";

export interface UploadRequest {
  /** Default `aggregated`. */
  format?: UploadFormat;
  /** The `{device_id}` of the URL (required by `aggregated`). */
  pathDeviceId?: string | null;
  /** The device's keys; without them only a bare legacy body passes. */
  keys?: Keys | null;
  /** The highest nonce already accepted from the device. */
  lastNonce?: number | null;
  /** The register profile for the readings (default `ecowatt-1.3`). */
  profile?: string | null;
  /** The receive time (Unix ms), to date samples of devices whose clock never synced. */
  receivedMs?: number | null;
}

/** One sample and its readings. */
export interface Sample {
  /**
   * Unix milliseconds, or `null` when the upload does not date it. A plain
   * number: exact for every time before the year 287 396 (2^53 ms).
   */
  tMs: number | null;
  /** The index of the packet it came from. */
  packet: number;
  /** Some values are approximations (semantic RLE). */
  approximate: boolean;
  readings: Reading[];
}

/** What would have been thrown for a packet, had it been alone. */
export interface PacketError {
  name: ErrorName;
  code: ErrorCode;
  message: string;
}

export interface PacketReport {
  index: number;
  method: Method | null;
  /** Bytes received. */
  size: number;
  /** Raw size of the decoded values (2 bytes each). */
  originalSize: number;
  values: number;
  samples: number;
  outcome: "decoded" | "duplicate" | "failed";
  error: PacketError | null;
}

/**
 * An upload's samples as typed arrays (the fast form of `Sample[]`). Sample
 * `s` is `tMs[s]`, `packet[s]`, `approximate[s]`; its readings are the
 * entries `offsets[s]` to `offsets[s + 1] - 1` of `ids` (the layout), `raw`
 * and `values`. `NaN` stands for `null`.
 */
export interface UploadColumns {
  /** Unix milliseconds of each sample (`NaN` when the upload does not date it). */
  tMs: Float64Array;
  /** The index of the packet each sample came from. */
  packet: Uint32Array;
  /** 1 where a sample holds approximations (semantic RLE). */
  approximate: Uint8Array;
  /** Where each sample's readings start; one more entry than samples. */
  offsets: Uint32Array;
  /** Each reading's register id. */
  ids: Uint8Array;
  /** Each reading's raw value. */
  raw: Uint16Array;
  /** Each reading's value in its unit (`NaN` when the profile lacks the register). */
  values: Float64Array;
}

/** `parseUploadColumns`: the samples as typed arrays only. */
export interface ParsedUploadColumns {
  /** The device the upload is attributed to. */
  deviceId: string;
  /** The envelope's nonce; `null` for a bare legacy body. */
  nonce: number | null;
  freshness: Freshness | null;
  packets: PacketReport[];
  columns: UploadColumns;
}

/** `parseUpload`: the samples as typed arrays and as objects. */
export interface ParsedUpload extends ParsedUploadColumns {
  samples: Sample[];
}

export type InputKind = "envelope" | "upload_body" | "packet" | "unrecognised";

/** One step of an explanation; the first failure ends the list. */
export interface Stage {
  /** `detect`, `structure`, `mac`, `upload` or `packet N`. */
  name: string;
  status: "pass" | "fail" | "skipped";
  code: ErrorCode | null;
  /** A sentence for people. */
  message: string;
}

export interface EnvelopeInfo {
  nonce: number;
  encrypted: boolean;
  compressed: boolean;
  /** Whether the MAC was verified (false when no key was given). */
  verified: boolean;
  /** The payload as text, when readable. */
  payloadText: string | null;
}

export interface PacketInfo {
  index: number;
  method: Method | null;
  size: number;
  originalSize: number;
  /** `size / originalSize` in thousandths (smaller is better). */
  ratioPermille: number | null;
  values: number[];
  outcome: "decoded" | "duplicate" | "failed";
  error: ErrorCode | null;
  approximate: boolean;
  /** The packet's bytes in hex. */
  hex: string;
}

export interface Inspection {
  kind: InputKind;
  stages: Stage[];
  envelope: EnvelopeInfo | null;
  /** The device id inside the upload JSON. */
  deviceId: string | null;
  packets: PacketInfo[];
  samples: Sample[];
  /** The samples as typed arrays (what the inspector page draws). */
  columns: UploadColumns;
}

/** The concern that refused an input: the `name` of a thrown error. */
export type ErrorName = "EnvelopeError" | "ReplayError" | "CodecError" | "UnitError" | "UploadError" | "ArgumentError";

/** The stable error codes shared by every solarwire host. */
export type ErrorCode =
  | "malformed"
  | "bad_base64"
  | "bad_mac_encoding"
  | "mac_mismatch"
  | "replay"
  | "decrypt_failed"
  | "missing_key"
  | "truncated"
  | "unknown_marker"
  | "bad_header"
  | "missing_state"
  | "too_large"
  | "unknown_register"
  | "out_of_range"
  | "device_mismatch"
  | "time_out_of_window"
  | "timestamp_in_seconds"
  | "duplicate_sample"
  | "unknown_profile"
  | "invalid_catalog"
  | "invalid_argument";

/**
 * What the functions throw for a refused input. An argument of the wrong
 * shape throws a `TypeError` instead; one of the right shape whose value the
 * core refuses (an encoder's method or register ids, a key's parts) is a
 * `TypeError` named `ArgumentError` whose `code` is `invalid_argument`.
 */
export interface SolarwireError extends Error {
  name: ErrorName;
  code: ErrorCode;
}

// The inspector page: reads the form, calls `inspect` from the web build and
// renders its explanation. Everything happens here; nothing is sent anywhere.

import init, { inspect, profiles, registers } from "../pkg/web/solarwire_wasm.js";
import { fromHex } from "./hex.js";

const $ = (id) => document.getElementById(id);

/** What a failure code most likely means, beside the core's own sentence. */
const HINTS = {
  malformed: "The text is not in the shape the firmware sends.",
  bad_base64: "A base64 field was cut or altered on the way.",
  bad_mac_encoding: "The mac field must be 64 lowercase hex digits.",
  mac_mismatch: "The data was changed after the device signed it, or the HMAC key is not this device's key.",
  missing_key: "The payload is encrypted: give the AES key.",
  decrypt_failed: "The AES key or IV is wrong, or the ciphertext was altered.",
  truncated: "The packet is shorter than it says; the device cuts long packets.",
  unknown_marker: "The first byte names no codec the firmware uses.",
  bad_header: "The packet's counts or widths are impossible.",
  missing_state: "A temporal delta needs the device's earlier packets: paste the whole upload.",
  too_large: "The packet declares more values than any device sends.",
};

/** Firmware vectors the example buttons load: file, vector id, and how to use it. */
const EXAMPLES = {
  upload: ["firmware/upload.json", "aggregated-one-packet", (v) => [v.body, v.hmac_key_hex]],
  "two-packets": ["firmware/upload.json", "aggregated-two-packets", (v) => [v.body, v.hmac_key_hex]],
  encrypted: [
    "firmware/envelope-encrypted.json",
    "aes-cbc-ok",
    (v) => [v.envelope, v.hmac_key_hex, v.aes_key_hex, v.aes_iv_hex],
  ],
  forged: [
    "firmware/upload.json",
    "aggregated-one-packet",
    // The device's key with its last digit changed: the MAC cannot match.
    (v) => [v.body, v.hmac_key_hex.replace(/.$/, (d) => (d === "0" ? "1" : "0"))],
  ],
  packet: [
    "firmware/codec-dictionary.json",
    "dictionary-six-regs-five-identical-samples",
    (v) => [v.packet_hex],
  ],
};

/** An element with attributes and children (text is always set as text). */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

/** The keys from the hex fields, `null` without an HMAC key; throws a message for bad hex. */
function readKeys() {
  const fields = [
    ["hmacKey", "hmac-key", "HMAC key"],
    ["aesKey", "aes-key", "AES key"],
    ["aesIv", "aes-iv", "AES IV"],
  ];
  const keys = {};
  for (const [name, id, label] of fields) {
    const text = $(id).value.trim();
    if (text === "") continue;
    const bytes = fromHex(text);
    if (!bytes) throw new Error(`The ${label} is not hex.`);
    keys[name] = bytes;
  }
  if (!keys.hmacKey && (keys.aesKey || keys.aesIv)) {
    throw new Error("An AES key needs the HMAC key too: the MAC covers the decrypted payload.");
  }
  return keys.hmacKey ? keys : null;
}

function run() {
  let explanation;
  try {
    explanation = inspect($("input").value, readKeys(), $("profile").value);
  } catch (e) {
    // Bad key fields (bad hex, or a TypeError for a wrong length) are input problems.
    showInputProblem(e.message);
    return;
  }
  render(explanation, registers($("profile").value));
}

function showInputProblem(message) {
  $("result").hidden = false;
  $("summary").textContent = "Check the key fields";
  $("failure").hidden = false;
  $("failure").textContent = message;
  for (const id of ["stages", "envelope", "packets", "samples"]) $(id).replaceChildren();
  $("result").focus();
}

const KIND = {
  envelope: "Security envelope",
  upload_body: "Upload body (no envelope)",
  packet: "One compressed packet",
  unrecognised: "Not recognised",
};

function render(x, profile) {
  const failed = x.stages.find((s) => s.status === "fail");
  $("result").hidden = false;
  $("summary").textContent = `${KIND[x.kind]}: ${failed ? `failed at stage “${failed.name}”` : "every stage passed"}`;
  $("failure").hidden = !failed;
  if (failed) {
    // Input that is not device data at all needs no guess about its cause.
    const hint = x.kind === "unrecognised" ? null : HINTS[failed.code];
    $("failure").replaceChildren(
      el("strong", {}, `Stage “${failed.name}” failed`),
      " with ",
      el("code", {}, failed.code ?? "error"),
      `: ${sentence(failed.message)}`,
      hint ? ` ${hint}` : "",
    );
  }
  $("stages").replaceChildren(...x.stages.map(stage));
  $("envelope").replaceChildren(...(x.envelope ? envelope(x.envelope, x.deviceId) : []));
  $("packets").replaceChildren(...(x.packets.length ? [packets(x.packets)] : []));
  $("samples").replaceChildren(...(x.columns.tMs.length ? [samples(x.columns, profile)] : []));
  $("result").focus();
}

function sentence(message) {
  const text = message.charAt(0).toUpperCase() + message.slice(1);
  return /[.!?]$/.test(text) ? text : `${text}.`;
}

const STATUS = { pass: "PASS", fail: "FAIL", skipped: "SKIPPED" };

function stage(s) {
  return el(
    "li",
    { class: s.status },
    el("span", { class: "badge" }, STATUS[s.status]),
    el("span", { class: "name" }, s.name),
    el("span", { class: "message" }, s.message),
    s.code ? el("code", {}, s.code) : null,
  );
}

function envelope(e, deviceId) {
  const rows = [
    ["Nonce", String(e.nonce)],
    ["Encrypted", e.encrypted ? "yes (AES-128-CBC)" : "no"],
    ["Compressed flag", e.compressed ? "yes (binary payload)" : "no (text payload)"],
    ["MAC", e.verified ? "verified" : "not verified"],
    ["Device id in the upload", deviceId ?? "—"],
  ];
  const list = el("dl", {}, ...rows.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const payload = e.payloadText
    ? el("details", {}, el("summary", {}, "Payload"), el("pre", {}, pretty(e.payloadText)))
    : null;
  return [el("h3", {}, "Envelope"), list, payload].filter(Boolean);
}

function pretty(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

function table(caption, head, rows) {
  return el(
    "table",
    {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, ...head.map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", {}, c))))),
  );
}

function packets(list) {
  const rows = list.map((p) => [
    String(p.index),
    p.method ?? "unknown",
    `${p.size} B`,
    p.originalSize ? `${p.originalSize} B` : "—",
    p.ratioPermille === null ? "—" : ratio(p.ratioPermille),
    p.error ? `${p.outcome}: ${p.error}` : p.outcome,
    `${p.values.length} value(s)${p.approximate ? ", approximate" : ""}`,
  ]);
  const head = ["#", "Codec", "Sent", "Raw", "Ratio (sent / raw)", "Outcome", "Values"];
  const result = table("Packets", head, rows);
  const hex = list.filter((p) => p.hex).map((p) => el("pre", {}, `packet ${p.index}: ${p.hex}`));
  return el("div", {}, result, el("details", {}, el("summary", {}, "Packet bytes (hex)"), ...hex));
}

function ratio(permille) {
  const saved = 100 - Math.round(permille / 10);
  return `${(permille / 1000).toFixed(3)} (${saved >= 0 ? `${saved}% smaller` : `${-saved}% larger`})`;
}

/**
 * The register table, drawn from the typed-array columns: one column per
 * register in the order the samples name them, each value with the
 * profile's decimals and unit (the raw value when the profile lacks it).
 */
function samples({ tMs, packet, approximate, offsets, ids, raw, values }, profile) {
  const byId = new Map(profile.map((r) => [r.id, r]));
  const order = [...new Set(ids)];
  const head = order.map((id) => {
    const r = byId.get(id);
    return r ? (r.unit ? `${r.name} (${r.unit})` : r.name) : `#${id}`;
  });
  const rows = Array.from(tMs, (t, s) => {
    const cells = new Map();
    for (let i = offsets[s]; i < offsets[s + 1]; i++) {
      const r = byId.get(ids[i]);
      const text = r && !Number.isNaN(values[i]) ? `${values[i].toFixed(r.decimals)}${r.unit}` : String(raw[i]);
      cells.set(ids[i], `${approximate[s] ? "≈ " : ""}${text}`);
    }
    return [time(t), String(packet[s]), ...order.map((id) => cells.get(id) ?? "")];
  });
  return table("Registers", ["Time (UTC)", "Packet", ...head], rows);
}

function time(ms) {
  return Number.isNaN(ms) ? "—" : new Date(ms).toISOString().replace("T", " ").replace(".000Z", "Z");
}

async function loadExample(name) {
  const [file, id, use] = EXAMPLES[name];
  const response = await fetch(`../vectors/${file}`);
  if (!response.ok) throw new Error(`cannot load ${file}: HTTP ${response.status}`);
  const vector = (await response.json()).vectors.find((v) => v.id === id);
  const [input, hmac = "", aes = "", iv = ""] = use(vector);
  $("input").value = input;
  $("hmac-key").value = hmac;
  $("aes-key").value = aes ?? "";
  $("aes-iv").value = iv ?? "";
  run();
}

function showLoadError(message) {
  $("load-error").hidden = false;
  $("load-error").textContent = message;
}

async function main() {
  await init();
  $("profile").replaceChildren(
    ...profiles().map((p) => el("option", { value: p.name, title: p.description }, p.name)),
  );
  $("form").addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  $("input").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      run();
    }
  });
  for (const button of document.querySelectorAll("[data-example]")) {
    button.addEventListener("click", () =>
      loadExample(button.dataset.example).catch((e) => showLoadError(e.message)),
    );
  }
  document.body.dataset.ready = "true";
}

main().catch((e) => showLoadError(`The inspector could not start: ${e.message}`));

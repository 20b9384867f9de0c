// The vector runner itself can fail: a wrong expectation, a typo in a field
// name and an unknown suite are each reported, never skipped.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { test } from "node:test";

import { runAll } from "./run-vectors.mjs";
import { vectorFields } from "./vector-files.mjs";

const api = createRequire(import.meta.url)("../pkg/node/solarwire_wasm.js");
const registerFile = new URL("../../spec-tests/vectors/firmware/register.json", import.meta.url);
const fields = vectorFields();

function file(name, json) {
  return { name, text: JSON.stringify(json) };
}

test("a wrong expectation fails its vector and the totals", () => {
  const tampered = JSON.parse(readFileSync(registerFile, "utf8"));
  tampered.vectors[0].expect.text = "999.9V";
  tampered.vectors[1].error = "out_of_range";
  delete tampered.vectors[1].expect;
  const result = runAll(api, [file("tampered", tampered)], fields);
  assert.equal(result.failed, 2);
  assert.equal(result.passed, tampered.vectors.length - 2);
  assert.deepEqual(
    result.files[0].failures.map((f) => f.id),
    [tampered.vectors[0].id, tampered.vectors[1].id],
  );
  assert.match(result.files[0].failures[1].failure, /expected error out_of_range, got ok/);
  assert.equal(result.lines.at(-1), `${result.passed} passed, 2 failed`);
});

test("unknown fields, unknown suites and bad JSON make the file fail", () => {
  const typo = { suite: "register", vectors: [{ id: "x", register: "REG_VAC1", raw: 1, expct: {} }] };
  const result = runAll(
    api,
    [
      file("typo", typo),
      file("suite", { suite: "registers", vectors: [] }),
      { name: "not-json", text: "{" },
    ],
    fields,
  );
  assert.deepEqual(
    result.files.map((f) => [f.failed, Boolean(f.error)]),
    [
      [1, true],
      [1, true],
      [1, true],
    ],
  );
  assert.match(result.files[0].error, /unknown field "expct"/);
  assert.match(result.files[1].error, /unknown suite "registers"/);
});

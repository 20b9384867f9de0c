// Every vector file through the Node build's public API (TARGET=node).

import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";

import { reportProblems } from "./report.mjs";
import { runAll } from "./run-vectors.mjs";
import { vectorFields, vectorFiles } from "./vector-files.mjs";

const api = createRequire(import.meta.url)("../pkg/node/solarwire_wasm.js");

test("every vector file passes in Node", () => {
  const files = vectorFiles();
  assert.ok(files.length > 0, "no vector files found");
  reportProblems(runAll(api, files, vectorFields()), "node");
});

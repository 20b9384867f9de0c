// The vector files every runner reads: spec-tests/vectors/**/*.json, then
// each path of $SOLARWIRE_EXTRA_VECTORS (`:`-separated), sorted within each;
// and spec-tests/fields.json, the suites and fields those files may use.

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const projectVectors = fileURLToPath(new URL("../../spec-tests/vectors", import.meta.url));
const fieldsFile = new URL("../../spec-tests/fields.json", import.meta.url);

/** Every vector file as `{name, text}` (name: the absolute path). */
export function vectorFiles() {
  const roots = [projectVectors, ...(process.env.SOLARWIRE_EXTRA_VECTORS ?? "").split(":")];
  return roots
    .filter((root) => root !== "")
    .flatMap((root) => collect(resolve(root)).sort())
    .map((name) => ({ name, text: readFileSync(name, "utf8") }));
}

/** spec-tests/fields.json, parsed: the third argument of `runAll`. */
export function vectorFields() {
  return JSON.parse(readFileSync(fieldsFile, "utf8"));
}

function collect(path) {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { withFileTypes: true }).flatMap((entry) => {
    const child = join(path, entry.name);
    if (entry.isDirectory()) return collect(child);
    return entry.name.endsWith(".json") ? [child] : [];
  });
}

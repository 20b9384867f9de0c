// Prints a vector run in the runner format of spec/vectors.md and fails the
// test with every failing file and vector listed at once.

import assert from "node:assert/strict";

/**
 * Prints `result.lines`, the closing one as `<target>: N passed, M failed`;
 * throws unless every vector of every file passed.
 */
export function reportProblems(result, target) {
  for (const line of result.lines.slice(0, -1)) console.log(line);
  console.log(`${target}: ${result.lines.at(-1)}`);
  const problems = result.files.flatMap((file) =>
    file.error
      ? [`${file.name}: ${file.error}`]
      : file.failures.map((f) => {
          const comment = f.comment ? ` "${f.comment}"` : "";
          return `${file.name} #${f.id}${comment}: ${f.failure}`;
        }),
  );
  assert.deepEqual(problems, [], `${problems.length} problems`);
  assert.ok(result.passed > 0, "no vector ran");
}

// The browser package has the same declarations plus its initializer;
// type-checked with usage.ts (never run).

import init, { type Inspection, inspect, profiles } from "../pkg/web/solarwire_wasm.js";

await init();
const explanation: Inspection = inspect('{"nonce":1}', null, profiles()[0].name);
console.log(explanation.kind);

// Builds a JavaScript activity with componentize-js:
//   node build.mjs SOURCE.js WIT_DIR WORLD OUT.wasm
// (jco's own `componentize` command mishandles paths in this version; the
// library call is what it wraps.)
import { componentize } from "@bytecodealliance/componentize-js";
import { writeFile } from "node:fs/promises";

const [source, wit, world, out] = process.argv.slice(2);
const { component } = await componentize({
  sourcePath: source,
  witPath: wit,
  worldName: world,
  // fetch() stays (outgoing wasi:http); activities handle no incoming
  // requests.
  disableFeatures: ["fetch-event"],
});
await writeFile(out, component);

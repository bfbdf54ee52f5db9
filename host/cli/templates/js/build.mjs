// Builds __NAME__.wasm from app.js and wit/ with componentize-js.
import { componentize } from "@bytecodealliance/componentize-js";
import { writeFile } from "node:fs/promises";

const { component } = await componentize({
  sourcePath: "app.js",
  witPath: "wit",
  worldName: "__NAME__",
  // fetch() stays available (outgoing wasi:http to granted hosts); the
  // component handles no incoming requests.
  disableFeatures: ["fetch-event"],
});
await writeFile("__NAME__.wasm", component);
console.log("built __NAME__.wasm");

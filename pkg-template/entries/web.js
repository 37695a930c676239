// Entry for browsers, Deno and other ESM hosts (exports conditions "browser" and "default"). Fetches and
// instantiates the .wasm next to the glue with streaming compilation; bundlers (Vite, webpack, esbuild) see the
// `new URL(..., import.meta.url)` and emit the file as an asset. Uses top-level await, so importing this module
// finishes only once the wasm is ready; the import rejects if the .wasm cannot be fetched or instantiated.
import init from '../wasm/aicostmanager_edge.js';

/** Resolves once the wasm is instantiated (already resolved when the import of this module has finished). */
export const ready = init({
  module_or_path: new URL('../wasm/aicostmanager_edge_bg.wasm', import.meta.url),
}).then(() => undefined);
await ready;

export const version = '__AICM_VERSION__';
export * from '../stores/index.js';
export * from '../durable-object/index.js';
// @glue-exports: scripts/build-pkg replaces this line with the glue's named exports (all but initSync).

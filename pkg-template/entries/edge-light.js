// Entry for Next.js edge routes and middleware (exports condition "edge-light"). Next compiles the `?module`
// import into a WebAssembly.Module; edge hosts forbid compiling wasm from bytes at run time. That Module comes
// from another realm, so the glue's `instanceof WebAssembly.Module` check fails and initSync would try to
// compile it as bytes ("Wasm code generation disallowed by embedder"); giving it this realm's prototype makes
// initSync instantiate it directly. No top-level await: Next's webpack does not enable it by default.
import { initSync } from '../wasm/aicostmanager_edge.js';
import wasmModule from '../wasm/aicostmanager_edge_bg.wasm?module';

if (!(wasmModule instanceof WebAssembly.Module)) {
  Object.setPrototypeOf(wasmModule, WebAssembly.Module.prototype);
}
initSync({ module: wasmModule });

/** Already resolved: the wasm was instantiated synchronously when this module was imported. */
export const ready = Promise.resolve();
export const version = '__AICM_VERSION__';
export * from '../stores/index.js';
export * from '../durable-object/index.js';
// @glue-exports: scripts/build-pkg replaces this line with the glue's named exports (all but initSync).

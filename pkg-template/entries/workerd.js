// Entry for Cloudflare Workers / workerd (exports condition "workerd"). Workers hand a .wasm import over as a
// compiled WebAssembly.Module and forbid compiling wasm from bytes, so the module is instantiated synchronously
// with initSync. No timers, randomness or I/O happen here (module scope runs outside any request).
import { initSync } from '../wasm/aicostmanager_edge.js';
import wasmModule from '../wasm/aicostmanager_edge_bg.wasm';

initSync({ module: wasmModule });

/** Already resolved: the wasm was instantiated synchronously when this module was imported. */
export const ready = Promise.resolve();
export const version = '__AICM_VERSION__';
export * from '../stores/index.js';
export * from '../durable-object/index.js';
// @glue-exports: scripts/build-pkg replaces this line with the glue's named exports (all but initSync).

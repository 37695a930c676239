// The size of the package's wasm memory, for the fuzz's memory bound, without widening the public API: the
// wasm-bindgen glue's `initSync()` returns the instance's exports once the module is instantiated (it does not
// instantiate twice), and the package's entry has instantiated it at import. The glue file is not in the
// package's `exports`, so it is imported by path: the same file the entry imports, hence the same module instance.
import { initSync } from '../node_modules/aicostmanager-edge/wasm/aicostmanager_edge.js';

/** Bytes of the instance's linear memory right now (it only grows). Import the package before calling. */
export function wasmMemoryBytes() {
  return initSync().memory.buffer.byteLength;
}

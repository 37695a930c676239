// Runs a wasm32-wasip1 binary (a `cargo test --target wasm32-wasip1` test executable) under Node's built-in
// WASI, passing the arguments through and exiting with its exit code. Cargo calls it as the runner for that
// target (scripts/test sets CARGO_TARGET_WASM32_WASIP1_RUNNER), so the core's unit tests run on wasm32 with
// nothing to download: no wasmtime, no browser.
//
//   node --no-warnings scripts/lib/wasi-runner.mjs path/to/test.wasm [libtest args...]
//
// The binary sees no files (no preopens) and the caller's environment (RUST_BACKTRACE, RUST_TEST_*). A panic
// aborts the binary (a trap): the runner says so and exits with 101, like a failed libtest run.
import { readFile } from 'node:fs/promises';
import { argv, env, exit } from 'node:process';
import { WASI } from 'node:wasi';

const [wasmPath, ...args] = argv.slice(2);
if (!wasmPath) {
  console.error('usage: wasi-runner.mjs FILE.wasm [args...]');
  exit(2);
}
const wasi = new WASI({ version: 'preview1', args: [wasmPath, ...args], env, preopens: {}, returnOnExit: true });
const module = await WebAssembly.compile(await readFile(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
try {
  exit(wasi.start(instance) ?? 0);
} catch (error) {
  // wasm32-wasip1 aborts on panic: a failing test ends the whole run with a trap, and libtest cannot print
  // its captured output. scripts/test passes `--nocapture` so that the panic message is above this line.
  console.error(`wasi-runner: ${wasmPath} trapped (${error?.message ?? error}): a test panicked; its message is printed above when run with -- --nocapture`);
  exit(101);
}

// Bundling edge-route.mjs the way Next.js does for an edge route, and running it in the edge-runtime VM with
// wasm code generation disallowed (like a real edge host).
//
// Next resolves the package with the "edge-light" export condition and turns `import m from "x.wasm?module"`
// into a WebAssembly.Module it compiled itself, outside the sandbox. Here an esbuild plugin maps every
// `*.wasm?module` import to `globalThis.__AICM_WASM_MODULE__`, which the test sets in the VM to a Module
// compiled in the host realm from the same file.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';
import { EdgeRuntime } from 'edge-runtime';

const ROUTE = fileURLToPath(new URL('./edge-route.mjs', import.meta.url));
/** The global the bundle reads the handed-in WebAssembly.Module from. */
export const WASM_GLOBAL = '__AICM_WASM_MODULE__';
/** The line of entries/edge-light.js that adopts a cross-realm Module (removed by `withoutPrototypeFix`). */
const PROTOTYPE_FIX = 'Object.setPrototypeOf(wasmModule, WebAssembly.Module.prototype);';

/** esbuild plugin: `*.wasm?module` → the Module handed in through WASM_GLOBAL; records the wasm file's path. */
function wasmModuleImports(resolvedWasm) {
  return {
    name: 'wasm-module-imports',
    setup(build) {
      build.onResolve({ filter: /\.wasm\?module$/ }, (args) => {
        const file = path.resolve(args.resolveDir, args.path.replace(/\?module$/, ''));
        resolvedWasm.push(file);
        return { path: file, namespace: 'wasm-module' };
      });
      build.onLoad({ filter: /.*/, namespace: 'wasm-module' }, () => ({
        contents: `export default globalThis.${WASM_GLOBAL};`,
        loader: 'js',
      }));
    },
  };
}

/** esbuild plugin: loads entries/edge-light.js without its prototype fix (to show the fix is needed). */
function withoutPrototypeFix() {
  return {
    name: 'without-prototype-fix',
    setup(build) {
      build.onLoad({ filter: /[\\/]entries[\\/]edge-light\.js$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        if (!source.includes(PROTOTYPE_FIX)) throw new Error(`${args.path} no longer contains: ${PROTOTYPE_FIX}`);
        return { contents: source.replace(PROTOTYPE_FIX, ''), loader: 'js' };
      });
    },
  };
}

/**
 * Bundles the route as an IIFE exposing `globalThis.route`. Returns `{ code, wasmFile, inputs }`: the script,
 * the .wasm file the `?module` import named, and the bundled input paths (to check which entry was chosen).
 */
export async function bundleRoute({ bypassPrototypeFix = false } = {}) {
  const resolvedWasm = [];
  const plugins = [wasmModuleImports(resolvedWasm)];
  if (bypassPrototypeFix) plugins.push(withoutPrototypeFix());
  const result = await esbuild.build({
    entryPoints: [ROUTE],
    bundle: true,
    write: false,
    format: 'iife',
    globalName: 'route',
    platform: 'browser',
    conditions: ['edge-light', 'worker', 'browser'],
    target: 'es2022',
    metafile: true,
    logLevel: 'silent',
    plugins,
  });
  if (resolvedWasm.length !== 1) throw new Error(`expected one ?module import, saw ${resolvedWasm.length}`);
  return { code: result.outputFiles[0].text, wasmFile: resolvedWasm[0], inputs: Object.keys(result.metafile.inputs) };
}

/** A strict EdgeVM: no code generation from strings, no wasm compilation from bytes. */
export function strictEdgeVm() {
  return new EdgeRuntime({ codeGeneration: { strings: false, wasm: false } });
}

/** Compiles the .wasm file in the host realm (what Next's build does), outside any VM. */
export async function compileOutsideVm(wasmFile) {
  return new WebAssembly.Module(await readFile(wasmFile));
}

/** Calls the bundled `route.POST` inside `vm` with a JSON body; resolves to `{ status, body }`. */
export async function postToRoute(vm, body) {
  vm.context.__routeInput = JSON.stringify(body);
  const response = await vm.evaluate(
    "route.POST(new Request('http://localhost/api/track', { method: 'POST', body: __routeInput,"
      + " headers: { 'content-type': 'application/json' } }))",
  );
  return { status: response.status, body: JSON.parse(await response.text()) };
}

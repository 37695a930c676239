// Bundles a Worker entry with esbuild the way wrangler does for workerd: conditions workerd/worker/browser, ESM
// output, and every imported .wasm kept as its own file next to the bundle (workerd loads it as a CompiledWasm
// module, i.e. the import yields a WebAssembly.Module: the package's workerd entry relies on that).

import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as esbuild from 'esbuild';

/** tests/js: where scripts/test and scripts/demo install the packed aicostmanager-edge tarball. */
export const TESTS_JS_DIR = fileURLToPath(new URL('..', import.meta.url));
export const PACKAGE_NAME = 'aicostmanager-edge';

/**
 * esbuild plugin: `*.wasm` imports become external imports of a file copied next to the bundle (same basename).
 * Two different .wasm files with the same basename would collide: the build then fails with a message.
 */
function wasmAsSeparateModule(outdir) {
  return {
    name: 'wasm-as-separate-module',
    setup(build) {
      const copied = new Map(); // basename → absolute source path
      build.onResolve({ filter: /\.wasm$/ }, async (args) => {
        const source = path.resolve(args.resolveDir, args.path);
        const name = path.basename(source);
        const previous = copied.get(name);
        if (previous !== undefined && previous !== source) {
          return { errors: [{ text: `two .wasm files named ${name}: ${previous} and ${source}` }] };
        }
        if (previous === undefined) {
          copied.set(name, source);
          await copyFile(source, path.join(outdir, name));
        }
        return { path: `./${name}`, external: true };
      });
    },
  };
}

/**
 * esbuild plugin: resolves `aicostmanager-edge` from `packageDir`'s node_modules (the tarball installed in tests/js)
 * instead of from the entry's own folder, so a stale worker-example/node_modules can never be what gets tested.
 * The package's `exports` conditions still apply (build.resolve does the full resolution).
 */
function packageFrom(packageDir) {
  return {
    name: 'package-from-tests-js',
    setup(build) {
      build.onResolve({ filter: new RegExp(`^${PACKAGE_NAME}(/.*)?$`) }, async (args) => {
        if (args.pluginData?.fromPackageFrom) return undefined;
        const result = await build.resolve(args.path, {
          kind: args.kind,
          resolveDir: packageDir,
          pluginData: { fromPackageFrom: true },
        });
        if (result.errors.length > 0) {
          return { errors: [{ text: `${PACKAGE_NAME} is not installed in ${packageDir}: run scripts/build-pkg, then unpack_pkg_into tests/js (scripts/lib/common.sh)` }] };
        }
        return result;
      });
    },
  };
}

/**
 * Bundles `entry` into `outdir/worker.mjs` (plus the .wasm files it imports). Resolves to the bundle's path;
 * rejects with esbuild's errors when the entry or the package cannot be resolved.
 */
export async function bundleWorker({ entry, outdir, packageDir = TESTS_JS_DIR }) {
  const outfile = path.join(outdir, 'worker.mjs');
  await esbuild.build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['browser', 'module', 'main'],
    plugins: [packageFrom(packageDir), wasmAsSeparateModule(outdir)],
    logLevel: 'silent',
    write: true,
  });
  return outfile;
}

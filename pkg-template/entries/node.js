// Entry for Node (exports condition "node"). Instantiates the wasm synchronously from the file next to the
// glue: the glue's default async init would fetch(file://...), which Node's fetch does not support.
// Throws at import time if the .wasm file is missing or does not match the glue.
import { readFileSync } from 'node:fs';
import { initSync } from '../wasm/aicostmanager_edge.js';

initSync({ module: readFileSync(new URL('../wasm/aicostmanager_edge_bg.wasm', import.meta.url)) });

/** Already resolved: the wasm was instantiated synchronously when this module was imported. */
export const ready = Promise.resolve();
export const version = '__AICM_VERSION__';
export * from '../stores/index.js';
export * from '../durable-object/index.js';
// @glue-exports: scripts/build-pkg replaces this line with the glue's named exports (all but initSync).

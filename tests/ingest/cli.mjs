#!/usr/bin/env node
// Runs the ingest server from the shell (demo, CI, Chromium tests):
//   node tests/ingest/cli.mjs [--port 18787] [--host 127.0.0.1] [--api-key K] [--no-auth] [--max-body-bytes N]
//                             [--path-prefix /api/v1]
// Prints exactly one line `INGEST_URL=http://127.0.0.1:PORT` on stdout once listening, one line per /track request on
// stderr, and exits 0 on SIGTERM/SIGINT. Bad arguments → usage on stderr, exit 2; port in use → exit 1.

import { parseArgs } from 'node:util';

import { startIngestServer } from './server.mjs';

const USAGE = 'usage: node tests/ingest/cli.mjs [--port 18787] [--host 127.0.0.1] [--api-key K] [--no-auth] '
  + '[--max-body-bytes N] [--path-prefix /api/v1]';

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string', default: '18787' },
      host: { type: 'string', default: '127.0.0.1' },
      'api-key': { type: 'string' },
      'no-auth': { type: 'boolean', default: false },
      'max-body-bytes': { type: 'string' },
      'path-prefix': { type: 'string', default: '/api/v1' },
    },
    strict: true,
  });
  const integer = (text, name) => {
    if (!/^\d+$/.test(text)) throw new TypeError(`--${name} must be a non-negative integer`);
    return Number(text);
  };
  return {
    port: integer(values.port, 'port'),
    host: values.host,
    apiKey: values['api-key'] ?? null,
    requireAuth: !values['no-auth'],
    maxBodyBytes: values['max-body-bytes'] === undefined ? null : integer(values['max-body-bytes'], 'max-body-bytes'),
    pathPrefix: values['path-prefix'],
  };
}

function logLine(entry) {
  const status = entry.status === null ? 'no-reply' : entry.status;
  const fault = entry.fault === null ? '' : ` fault=${entry.fault}`;
  process.stderr.write(`${new Date(entry.at).toISOString()} ${entry.method} ${entry.path} ${status} `
    + `bytes=${entry.bodyBytes}${fault}\n`);
}

async function main() {
  let options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${error.message}\n${USAGE}\n`);
    process.exit(2);
  }
  let server;
  try {
    server = await startIngestServer({ ...options, onRequest: logLine });
  } catch (error) {
    process.stderr.write(`ingest: cannot start: ${error.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`INGEST_URL=${server.url}\n`);
  const stop = async () => {
    await server.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

await main();

// The "edge-light" entry of the package in the edge-runtime VM with wasm code generation disallowed, the way a
// Next.js edge route runs it: a route module bundled with the edge-light condition, the `?module` wasm import
// replaced by a WebAssembly.Module compiled outside the VM, then a track() from inside the VM to the local
// ingest server through the VM's own fetch.
// Run: node --test tests/js/edge.test.mjs   (after scripts/build-pkg and unpack_pkg_into tests/js)

import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import { startIngestServer } from '../ingest/server.mjs';
import { WASM_GLOBAL, bundleRoute, compileOutsideVm, postToRoute, strictEdgeVm } from './support/edge.mjs';
import { KEY } from './support/tracker.mjs';

let ingest;
let bundle;
let hostModule;
before(async () => {
  ingest = await startIngestServer({ apiKey: KEY });
  bundle = await bundleRoute();
  hostModule = await compileOutsideVm(bundle.wasmFile);
});
after(() => ingest.close());
beforeEach(() => ingest.reset());

describe('edge-light entry in a strict EdgeVM', () => {
  it('the bundle resolved the package through its edge-light entry and its own .wasm', () => {
    assert.ok(bundle.inputs.some((p) => /aicostmanager-edge\/entries\/edge-light\.js$/.test(p)), bundle.inputs.join('\n'));
    assert.ok(!bundle.inputs.some((p) => /entries\/(node|web|workerd)\.js$/.test(p)), 'no other entry was bundled');
    assert.match(bundle.wasmFile, /aicostmanager-edge[\\/]wasm[\\/]aicostmanager_edge_bg\.wasm$/);
  });

  it('the VM refuses to compile wasm, and the handed-in Module comes from another realm', () => {
    const vm = strictEdgeVm();
    assert.throws(() => vm.evaluate('new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))'),
      /Wasm code generation disallowed/);
    vm.context.hostModule = hostModule;
    assert.equal(vm.evaluate('hostModule instanceof WebAssembly.Module'), false);
  });

  it('a route in the VM tracks to the ingest server, which stores the record', async () => {
    const vm = strictEdgeVm();
    vm.context[WASM_GLOBAL] = hostModule;
    vm.evaluate(bundle.code); // runs the edge-light entry: instantiates the handed-in Module synchronously
    const { status, body } = await postToRoute(vm, { apiBase: ingest.url, apiKey: KEY, responseId: 'edge-1' });

    assert.equal(status, 200);
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.deepEqual(body.result, {
      responseId: 'edge-1', status: 'queued', errors: [], costEvents: null, error: null, attempts: 1, triggeredLimits: null,
    });
    assert.deepEqual(ingest.accepted(), [{
      service_key: 'openai::gpt-4o-mini',
      response_id: 'edge-1',
      timestamp: '1736937000.0',
      payload: { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 },
      context: { route: '/api/track' },
    }]);
    assert.equal(ingest.requests()[0].headers.authorization, `Bearer ${KEY}`);
  });

  it('the same route fails to load when the entry\'s prototype fix is left out', async () => {
    const broken = await bundleRoute({ bypassPrototypeFix: true });
    const vm = strictEdgeVm();
    vm.context[WASM_GLOBAL] = hostModule;
    assert.throws(() => vm.evaluate(broken.code), /Wasm code generation disallowed/);
    assert.equal(ingest.requests().length, 0);
  });
});

// worker-example in real workerd (Miniflare, no wrangler), against the local ingest server and a fake LLM:
// answers pass through, usage is queued in the Worker's KV outbox (Miniflare's local KV) and delivered after the
// response (ctx.waitUntil(tracker.flush())), ingest outages and bad usage never cost the user their answer.
// The queue under outages, restarts and KV costs: workerd-queue.test.mjs. Needs the packed package in
// tests/js/node_modules (scripts/build-pkg, then `source scripts/lib/common.sh && unpack_pkg_into tests/js`;
// scripts/test and scripts/demo do both).

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startIngestServer } from '../ingest/server.mjs';
import { startFakeLlm } from './support-workerd/fake-llm.mjs';
import { httpRequest } from './support-workerd/http-request.mjs';
import { listAllKeys, readKvOutbox } from './support-workerd/kv-outbox.mjs';
import { waitFor } from './support-workerd/wait.mjs';
import { startWorker, startWorkerScript, WORKER_EXAMPLE_DIR } from './support-workerd/worker.mjs';
import { parseWranglerToml, readWranglerToml } from './support-workerd/wrangler-toml.mjs';

const API_KEY = 'aicm-test-key-workerd';
const LLM_KEY = 'sk-fake-llm-key';
const QUEUE = 'AICM_KV'; // worker-example's KV binding (wrangler.kv.toml [[kv_namespaces]])
const fixture = (name) => fileURLToPath(new URL(`./support-workerd/fixtures/${name}`, import.meta.url));

function chatRequest(model, text) {
  return { model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: text }] };
}

/**
 * POSTs a chat request to the Worker over a real socket (node:http: an empty x-customer-key header reaches the
 * Worker as '', which Miniflare's dispatchFetch would drop); resolves to { status, text, json }.
 */
async function postChat(worker, body, customerKey) {
  const headers = { 'content-type': 'application/json' };
  if (customerKey !== undefined) headers['x-customer-key'] = customerKey;
  const res = await httpRequest(`${worker.url}/chat`, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: res.status, text: res.text, json: JSON.parse(res.text) };
}

/** The response_ids of the records in one logged /track request. */
function trackedIds(request) {
  return JSON.parse(request.bodyText).tracked.map((record) => record.response_id);
}

describe('the package in workerd', () => {
  test('imports with no module-scope timers, randomness or I/O (workerd starts it and it serves)', async () => {
    const pkg = JSON.parse(await readFile(new URL('./node_modules/aicostmanager-edge/package.json', import.meta.url), 'utf8'));
    const worker = await startWorkerScript({ entry: fixture('import-only.mjs'), compatibilityDate: '2026-04-01' });
    try {
      const res = await worker.dispatchFetch('/');
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { version: pkg.version, tracker: 'Tracker' });
      assert.deepEqual(worker.logs().filter((l) => l.level === 'error'), []);
    } finally {
      await worker.dispose();
    }
  });

  test('control: workerd refuses a module that sets a timer at module scope', async () => {
    await assert.rejects(
      startWorkerScript({ entry: fixture('global-timer.mjs'), compatibilityDate: '2026-04-01' }),
      /Disallowed operation called within global scope/,
    );
  });
});

describe('the wrangler.toml reader', () => {
  test("reads worker-example's wrangler.toml: main, vars, the KV outbox binding, the cron", async () => {
    const config = await readWranglerToml(path.join(WORKER_EXAMPLE_DIR, 'wrangler.kv.toml'));
    assert.equal(config.main, 'src/index.js');
    assert.equal(typeof config.vars.AICM_API_BASE, 'string');
    assert.deepEqual(config.kv_namespaces.map((ns) => ns.binding), [QUEUE]);
    assert.equal(config.triggers.crons.length, 1);
  });

  test('arrays of tables and string arrays parse; what it cannot read throws with the line', () => {
    const text = '[[kv]]\nbinding = "A" # one\n[[kv]]\nbinding = "B"\n[t]\nlist = ["x", "y # not a comment",]\n';
    assert.deepEqual(parseWranglerToml(text), { kv: [{ binding: 'A' }, { binding: 'B' }], t: { list: ['x', 'y # not a comment'] } });
    const queues = '[[queues.producers]]\nbinding = "Q"\nqueue = "q"\n[[queues.consumers]]\nqueue = "q"\nmax_retries = 100\n';
    assert.deepEqual(parseWranglerToml(queues), { queues: { producers: [{ binding: 'Q', queue: 'q' }], consumers: [{ queue: 'q', max_retries: 100 }] } });
    for (const [bad, line] of [['n = 1.5', 1], ['n = true', 1], ['n = 01', 1], ['[a]\nx = "1"\n[[a]]', 3], ['a = "1"\n[a]', 2], ['l = ["x" "y"]', 1], ['[a.b.c]', 1], ['a = "1"\n[[a.b]]', 2]]) {
      assert.throws(() => parseWranglerToml(bad), new RegExp(`wrangler\\.toml:${line}:`), bad);
    }
  });
});

describe('worker-example in workerd', () => {
  let ingest;
  let llm;
  let worker;
  let kv;

  before(async () => {
    ingest = await startIngestServer({ apiKey: API_KEY });
    llm = await startFakeLlm();
    worker = await startWorker({ wranglerFile: 'wrangler.kv.toml',
      env: { AICM_API_KEY: API_KEY, AICM_API_BASE: ingest.url, LLM_BASE_URL: llm.url, LLM_API_KEY: LLM_KEY },
    });
    kv = await worker.kv(QUEUE);
  });

  after(async () => {
    await worker?.dispose();
    await llm?.close();
    await ingest?.close();
  });

  beforeEach(async () => {
    // Each test waits for its own deliveries; an earlier test's leftovers must not be delivered in this one.
    await Promise.all((await listAllKeys(kv)).map((key) => kv.delete(key)));
    ingest.reset();
    llm.setOmitUsage(false);
  });

  /** Resolves once the KV outbox is empty (every record delivered and its segments deleted). */
  const kvDrained = (what) =>
    waitFor(async () => (await listAllKeys(kv)).length === 0, {
      what: `an empty KV outbox after ${what}`,
      describe: () => JSON.stringify(ingest.stats()),
    });

  test('GET /health answers; wrong methods and paths are refused', async () => {
    const health = await worker.dispatchFetch('/health');
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { ok: true, delivery: 'kv' });
    const getChat = await worker.dispatchFetch('/chat');
    assert.equal(getChat.status, 405);
    assert.equal(getChat.headers.get('allow'), 'POST');
    await getChat.arrayBuffer();
    const unknown = await worker.dispatchFetch('/nope');
    assert.equal(unknown.status, 404);
    await unknown.arrayBuffer();
  });

  test('chat answers pass through unchanged; each is tracked once with the LLM id, model, usage and customer', async () => {
    const calls = [
      { body: chatRequest('gpt-4o-mini', 'What is a token?'), customerKey: 'acme' },
      { body: chatRequest('gpt-4o', 'Summarise the plot of Hamlet in one line, please.'), customerKey: 'globex' },
      { body: chatRequest('gpt-4o-mini', 'Hi'), customerKey: undefined },
      { body: chatRequest('gpt-4.1-nano', 'Count to three.'), customerKey: 'acme' },
      { body: chatRequest('gpt-4o', 'An empty customer header means none.'), customerKey: '' },
    ];
    const replies = await Promise.all(calls.map((c) => postChat(worker, c.body, c.customerKey)));

    const answers = new Map(llm.answers().map((a) => [JSON.parse(a.bodyText).id, a]));
    assert.equal(answers.size, calls.length);
    replies.forEach((reply, i) => {
      assert.equal(reply.status, 200);
      const answer = answers.get(reply.json.id);
      assert.ok(answer, `reply ${i} (${reply.json.id}) is not one of the LLM's answers`);
      assert.equal(reply.text, answer.bodyText, 'the Worker must return the LLM answer byte for byte');
      assert.deepEqual(answer.requestBody, calls[i].body, 'the LLM must get the chat request as sent');
      assert.equal(answer.authorization, `Bearer ${LLM_KEY}`);
    });

    const records = await waitFor(() => ingest.accepted().length >= calls.length && ingest.accepted(), {
      what: `${calls.length} accepted records`,
      describe: () => JSON.stringify(ingest.stats()),
    });
    await kvDrained('the chats');
    assert.equal(ingest.accepted().length, calls.length, 'each record accepted once');
    const byId = new Map(records.map((r) => [r.response_id, r]));
    replies.forEach((reply, i) => {
      const record = byId.get(reply.json.id);
      assert.ok(record, `no record for ${reply.json.id}`);
      assert.equal(record.service_key, `openai::${reply.json.model}`);
      assert.equal(reply.json.model, calls[i].body.model);
      assert.deepEqual(record.payload, reply.json.usage);
      assert.deepEqual(record.context, { route: '/chat' });
      if (!calls[i].customerKey) assert.equal('customer_key' in record, false);
      else assert.equal(record.customer_key, calls[i].customerKey);
    });
    // Five requests at once: each flush reads the shared KV outbox, so one may also send another's record (at
    // least once: KV has no lock; the server keeps one per response_id). At most one /track request per chat.
    const requests = ingest.requests();
    assert.ok(requests.length >= 1 && requests.length <= calls.length, `${requests.length} /track requests`);
    for (const request of requests) {
      assert.equal(request.headers.authorization, `Bearer ${API_KEY}`);
      assert.equal(request.status, 202);
    }
  });

  test('delivery runs after the response: a slow ingest does not delay the answer', async () => {
    const INGEST_DELAY_MS = 1500;
    ingest.setFaults({ queue: [{ kind: 'slow', delayMs: INGEST_DELAY_MS }] });
    const started = Date.now();
    const reply = await postChat(worker, chatRequest('gpt-4o-mini', 'Quick!'), 'acme');
    const answeredAfter = Date.now() - started;
    assert.equal(reply.status, 200);
    assert.ok(answeredAfter < INGEST_DELAY_MS - 500, `answered after ${answeredAfter} ms: the Worker waited for delivery`);
    assert.deepEqual(ingest.accepted(), [], 'the record cannot be stored before the slow ingest answers');
    const records = await waitFor(() => ingest.accepted().length >= 1 && ingest.accepted(), { what: 'the delayed record' });
    assert.deepEqual(records.map((r) => r.response_id), [reply.json.id]);
    await kvDrained('the slow delivery');
  });

  test('an ingest outage does not reach the user: 200, the record waits in KV, the next request delivers it', async () => {
    ingest.setFaults({ always: { status: 503 } });
    const logsBefore = worker.logs().length;
    const reply = await postChat(worker, chatRequest('gpt-4o-mini', 'Is the ingest down?'), 'acme');
    assert.equal(reply.status, 200);
    const answer = llm.answers().find((a) => JSON.parse(a.bodyText).id === reply.json.id);
    assert.equal(reply.text, answer.bodyText);

    const logged = await waitFor(
      () => worker.logs().slice(logsBefore).find((l) => l.message.includes(`aicm flush (usage ${reply.json.id})`)),
      { what: 'the Worker to log what is left after its flush', describe: () => JSON.stringify(worker.logs().slice(logsBefore)) },
    );
    assert.equal(logged.message, `aicm flush (usage ${reply.json.id}): 0 sent, 1 to retry later, 0 dead-lettered, 1 waiting in KV`);
    // One attempt in this request (the Worker's first backoff, 6 to 12 s, is past its 5 s flush deadline), and KV
    // keeps the attempt count and the retry time.
    const tries = ingest.requests().filter((r) => trackedIds(r).includes(reply.json.id));
    assert.ok(tries.length >= 1 && tries.every((r) => r.status === 503), JSON.stringify(ingest.stats()));
    assert.deepEqual(ingest.accepted(), []);
    const waiting = await readKvOutbox(kv);
    assert.deepEqual(waiting.queued.map((q) => [q.responseId, q.attempts]), [[reply.json.id, tries.length]]);
    assert.equal(waiting.queued[0].record.customer_key, 'acme');
    assert.deepEqual(waiting.dead, []);

    ingest.setFaults(null);
    const health = await worker.dispatchFetch('/health');
    assert.equal(health.status, 200);
    await health.arrayBuffer();
    const next = await postChat(worker, chatRequest('gpt-4o-mini', 'And now?'), 'acme');
    assert.equal(next.status, 200);
    await waitFor(() => ingest.accepted().length >= 2, { what: 'both records', describe: () => JSON.stringify(ingest.stats()) });
    await kvDrained('the recovery');
    assert.deepEqual(ingest.accepted().map((r) => r.response_id).sort(), [reply.json.id, next.json.id].sort());
    // The next request's flush: its own record first (the waiting one's retry time, 6 to 12 s after its failure,
    // has not come), accepted, which ends the outage: the waiting record follows at once in the same flush. On a
    // machine slow enough for the retry time to pass, both go together, oldest first.
    const delivering = JSON.stringify(ingest.requests().filter((r) => r.status === 202).map(trackedIds));
    const oneByOne = JSON.stringify([[next.json.id], [reply.json.id]]);
    const together = JSON.stringify([[reply.json.id, next.json.id]]);
    assert.ok(delivering === oneByOne || delivering === together, `the next flush sent both: ${delivering}`);
  });

  test('an answer without usage: the Worker catches E_INVALID_USAGE, still answers, sends nothing', async () => {
    const logsBefore = worker.logs().length;
    llm.setOmitUsage(true);
    const reply = await postChat(worker, chatRequest('gpt-4o', 'No usage for you.'), 'globex');
    assert.equal(reply.status, 200);
    assert.equal('usage' in reply.json, false);
    assert.equal(reply.text, llm.answers().at(-1).bodyText);
    const logged = await waitFor(() => worker.logs().slice(logsBefore).find((l) => l.message.includes('usage not tracked')), {
      what: 'the Worker to log the untracked usage',
    });
    assert.match(logged.message, /E_INVALID_USAGE/);

    // A later answer with usage is delivered; it must be the only /track request.
    llm.setOmitUsage(false);
    const next = await postChat(worker, chatRequest('gpt-4o', 'With usage this time.'), 'globex');
    await waitFor(() => ingest.accepted().length >= 1, { what: 'the next record' });
    await kvDrained('the record with usage');
    assert.deepEqual(ingest.requests().flatMap(trackedIds), [next.json.id]);
  });

  test('without the AICM_API_KEY secret the Worker still answers and says what to set', async () => {
    const keyless = await startWorker({ wranglerFile: 'wrangler.kv.toml', env: { AICM_API_BASE: ingest.url, LLM_BASE_URL: llm.url } });
    try {
      const reply = await postChat(keyless, chatRequest('gpt-4o-mini', 'Who pays?'), 'acme');
      assert.equal(reply.status, 200);
      const logged = await waitFor(() => keyless.logs().find((l) => l.message.includes('AICM_API_KEY')), {
        what: 'the missing-key log line',
        describe: () => JSON.stringify(keyless.logs()),
      });
      assert.equal(logged.level, 'error');
      assert.deepEqual(ingest.requests(), []);
      assert.deepEqual(await listAllKeys(await keyless.kv(QUEUE)), []);
    } finally {
      await keyless.dispose();
    }
  });

  test('without the AICM_KV KV binding the Worker still answers and says what to bind', async () => {
    const config = await readWranglerToml(path.join(WORKER_EXAMPLE_DIR, 'wrangler.kv.toml'));
    const unbound = await startWorkerScript({
      entry: path.join(WORKER_EXAMPLE_DIR, config.main),
      compatibilityDate: config.compatibility_date,
      bindings: { AICM_DELIVERY: 'kv', AICM_API_KEY: API_KEY, AICM_API_BASE: ingest.url, LLM_BASE_URL: llm.url },
    });
    try {
      const reply = await postChat(unbound, chatRequest('gpt-4o-mini', 'Where does it go?'), 'acme');
      assert.equal(reply.status, 200);
      const logged = await waitFor(() => unbound.logs().find((l) => l.message.includes(QUEUE)), {
        what: 'the missing-binding log line',
        describe: () => JSON.stringify(unbound.logs()),
      });
      assert.equal(logged.level, 'error');
      assert.match(logged.message, /bind a KV namespace as AICM_KV/);
      assert.deepEqual(ingest.requests(), []);
    } finally {
      await unbound.dispose();
    }
  });
});

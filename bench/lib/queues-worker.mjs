// The Worker of bench/queues-ops: producer (fetch: a Tracker per request with queueSink over a counting wrapper
// of env.AICM_QUEUE) and consumer (queue(): handleQueueBatch with a counting wrapper of the re-send and dead-letter
// bindings). /counts answers this isolate's counts: messages and bytes written, read (delivered), deleted (acked).
import { Tracker, handleQueueBatch, queueSink } from 'aicostmanager-edge';

const counts = { writes: 0, writeBytes: 0, reads: 0, readBytes: 0, deletes: 0, posts: 0, deadLetters: 0 };
const billed = (bytes) => Math.max(1, Math.ceil((bytes + 100) / 64_000)); // 64 KB (1000 B) per operation, ~100 B metadata

function counting(queue) {
  const count = (messages) => {
    for (const m of messages) {
      const bytes = new TextEncoder().encode(String(m.body)).length;
      counts.writes += billed(bytes);
      counts.writeBytes += bytes;
    }
  };
  return {
    send: (body, options) => { count([{ body }]); return queue.send(body, options); },
    sendBatch: (messages) => { const list = [...messages]; count(list); return queue.sendBatch(list); },
  };
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/counts') return Response.json(counts);
    const tracker = new Tracker({ sink: queueSink(counting(env.AICM_QUEUE)) });
    const outcome = await tracker.track('openai::gpt-4o-mini', { prompt_tokens: 120, completion_tokens: 48 }, {
      responseId: url.searchParams.get('id'), customerKey: 'bench-customer', context: { route: '/chat' },
    });
    return new Response(outcome.status);
  },
  async queue(batch, env) {
    for (const m of batch.messages) {
      const bytes = new TextEncoder().encode(String(m.body)).length;
      counts.reads += billed(bytes);
      counts.readBytes += bytes;
    }
    const report = await handleQueueBatch(batch, env, {
      ...JSON.parse(env.CONSUMER_OPTIONS), queue: counting(env.AICM_QUEUE), deadLetterQueue: counting(env.AICM_DLQ),
    });
    // A delete per acked message (re-sent ones are acked too); dead letters sent to the DLQ are acked as well.
    counts.deletes += report.acked + report.requeued + report.deadLetters.filter((d) => d.sent).length;
    counts.posts += report.posts;
    counts.deadLetters += report.deadLettered;
  },
};

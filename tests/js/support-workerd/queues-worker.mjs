// A Worker for tests/js/workerd-queues.test.mjs: producer (fetch: one Tracker per request whose sink is the
// queue, the record is in the queue when the response goes out) and consumer (queue(): handleQueueBatch for the
// delivery queue; the dead-letter queue's messages are only kept, so the test sees every one of them).
// /stats answers what this isolate saw: every consumer report, and every dead letter's body.
import { Tracker, handleQueueBatch, queueSink } from 'aicostmanager-edge';

const stats = { reports: [], deadLetters: [], delivered: 0, sendErrors: 0 };

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/stats') return Response.json(stats);
    const tracker = new Tracker({ sink: queueSink(env.AICM_QUEUE) });
    const outcome = await tracker.track('openai::gpt-4o-mini', { prompt_tokens: 3, completion_tokens: 2 }, {
      responseId: url.searchParams.get('id'),
    });
    return Response.json({ status: outcome.status, error: outcome.error?.code ?? null });
  },

  async queue(batch, env) {
    if (batch.queue.endsWith('-dlq')) {
      for (const msg of batch.messages) {
        stats.deadLetters.push(msg.body);
        msg.ack();
      }
      return;
    }
    const options = JSON.parse(env.CONSUMER_OPTIONS ?? '{}');
    const report = await handleQueueBatch(batch, env, options);
    stats.reports.push({ at: Date.now(), messages: batch.messages.length, ...report });
  },
};

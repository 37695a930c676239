// A Next.js-style edge route handler (what a user puts in app/api/track/route.js with `runtime = 'edge'`),
// bundled by edge.test.mjs for the edge-runtime VM. It reads where to send from the request body so that the
// bundle does not depend on the test server's port.
import { Tracker, ready, version } from 'aicostmanager-edge';

export const runtime = 'edge';

export async function POST(request) {
  await ready;
  const { apiBase, apiKey, responseId } = await request.json();
  const tracker = new Tracker({ apiKey, apiBase, timeoutMs: 5000, retryBaseDelayMs: 1, retryMaxDelayMs: 5 });
  const result = await tracker.track(
    'openai::gpt-4o-mini',
    { prompt_tokens: 19, completion_tokens: 10, total_tokens: 29 },
    { responseId, timestamp: '2025-01-15T10:30:00Z', context: { route: '/api/track' } },
  );
  await tracker.close();
  return Response.json({ version, result });
}

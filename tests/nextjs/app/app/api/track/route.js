// POST /api/track  body: { "serviceKey": "openai::gpt-4o-mini", "usage": { ... }, "responseId"?: "..." }
// Sends one usage record to AICostManager from the Next.js edge runtime and answers with the track result.
import { Tracker } from 'aicostmanager-edge';

export const runtime = 'edge';
export const dynamic = 'force-dynamic';

export async function POST(request) {
  let body;
  try {
    body = await request.json();
  } catch {
    return Response.json({ error: 'body must be JSON' }, { status: 400 });
  }
  const { serviceKey, usage, responseId } = body ?? {};

  // One tracker per request: edge isolates must not share promises or connections across requests.
  const tracker = new Tracker({
    apiKey: process.env.AICM_API_KEY,
    apiBase: process.env.AICM_API_BASE,
  });
  try {
    // Validation errors throw before anything is sent; delivery failures resolve with status "failed".
    const result = await tracker.track(serviceKey, usage, { responseId });
    return Response.json(result);
  } catch (error) {
    if (error?.name === 'AicmError') {
      return Response.json({ error: error.message, code: error.code }, { status: 400 });
    }
    throw error;
  } finally {
    await tracker.close();
  }
}

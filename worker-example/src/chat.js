// POST /chat: forwards an OpenAI chat.completions request to the LLM and returns its answer unchanged, with what
// to track about it (the model, the answer's usage and id), or nothing when there is nothing to bill.

const CUSTOMER_HEADER = 'x-customer-key';

/**
 * Resolves to `{ answer, usage }`: `answer` is the Response for the user (the LLM's, as it came; 400 for a body
 * that is not JSON; 502 when the LLM cannot be reached), `usage` is `{ serviceKey, usage, responseId,
 * customerKey }` for an answer to bill, else null.
 */
export async function forwardChat(request, env) {
  const requestText = await request.text();
  let requestedModel;
  try {
    requestedModel = JSON.parse(requestText).model;
  } catch {
    return { answer: Response.json({ error: 'the body must be a JSON chat completion request' }, { status: 400 }), usage: null };
  }

  const headers = { 'content-type': 'application/json' };
  if (env.LLM_API_KEY) headers.authorization = `Bearer ${env.LLM_API_KEY}`;
  let llm;
  let answerText;
  try {
    llm = await fetch(`${String(env.LLM_BASE_URL).replace(/\/+$/, '')}/v1/chat/completions`, {
      method: 'POST',
      headers,
      body: requestText,
    });
    answerText = await llm.text();
  } catch (err) {
    console.error(`LLM unreachable: ${err}`);
    return { answer: Response.json({ error: 'the LLM could not be reached' }, { status: 502 }), usage: null };
  }
  const answer = new Response(answerText, {
    status: llm.status,
    headers: { 'content-type': llm.headers.get('content-type') ?? 'application/json' },
  });
  if (!llm.ok) return { answer, usage: null }; // nothing was generated, nothing to bill

  let completion;
  try {
    completion = JSON.parse(answerText);
  } catch {
    console.warn('usage not tracked: the LLM answer is not JSON');
    return { answer, usage: null };
  }
  const model = typeof completion.model === 'string' ? completion.model : requestedModel;
  return {
    answer,
    usage: {
      serviceKey: `openai::${model}`,
      usage: completion.usage,
      responseId: completion.id,
      customerKey: request.headers.get(CUSTOMER_HEADER) || null, // absent or empty: the record carries no customer_key
    },
  };
}

// A fake OpenAI-compatible LLM for the worker-example tests and the demo: POST /v1/chat/completions answers a
// chat.completion whose id, token counts and text differ per request. Answers are recorded so tests can check
// that the Worker passed them through unchanged. Node built-ins only, listens on 127.0.0.1.

import http from 'node:http';

/** Rough token count of the request's messages: 1 token per 4 characters, at least 1 per message. */
function promptTokens(messages) {
  return messages.reduce((sum, m) => sum + Math.max(1, Math.ceil(String(m?.content ?? '').length / 4)), 0) + 3;
}

function reply(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/**
 * Starts the fake LLM on 127.0.0.1 (port 0 = any free port). The handle:
 *   url            'http://127.0.0.1:PORT' (the Worker's LLM_BASE_URL)
 *   answers()      every chat.completion sent, in order: { requestBody, authorization, status, bodyText }
 *   setOmitUsage(b)  while true, completions are sent without `usage` (a provider that does not report it)
 *   close()        stops the server
 * A request with invalid JSON or without `messages` gets 400 with an OpenAI-style error body.
 */
export async function startFakeLlm({ port = 0 } = {}) {
  const answers = [];
  let omitUsage = false;
  let counter = 0;

  const server = http.createServer(async (req, res) => {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      req.resume();
      return reply(res, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
    }
    const text = await readBody(req);
    let request;
    try {
      request = JSON.parse(text);
    } catch {
      return reply(res, 400, { error: { message: 'invalid JSON', type: 'invalid_request_error' } });
    }
    if (!Array.isArray(request?.messages)) {
      return reply(res, 400, { error: { message: "'messages' is required", type: 'invalid_request_error' } });
    }
    counter += 1;
    const model = typeof request.model === 'string' ? request.model : 'gpt-4o-mini';
    const prompt = promptTokens(request.messages);
    const completion = 5 + ((counter * 7) % 23);
    const cached = counter % 3 === 0 ? Math.min(prompt, 4) : 0;
    const body = {
      id: `chatcmpl-fake${String(counter).padStart(4, '0')}${model.replace(/[^a-z0-9]/gi, '').slice(0, 12)}`,
      object: 'chat.completion',
      created: 1767225600 + counter,
      model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: `Answer #${counter} from ${model}: ${completion} tokens of wisdom.` },
          finish_reason: 'stop',
        },
      ],
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: { cached_tokens: cached },
      },
    };
    if (omitUsage) delete body.usage;
    const bodyText = JSON.stringify(body);
    answers.push({ requestBody: request, authorization: req.headers.authorization ?? null, status: 200, bodyText });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(bodyText) });
    res.end(bodyText);
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    answers: () => answers.map((a) => structuredClone(a)),
    setOmitUsage: (value) => {
      omitUsage = value === true;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

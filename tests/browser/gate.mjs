// A gate in front of the ingest server, for tests that must control when a request lands: every request is
// forwarded to `target` (preflights and replies included, so CORS works as without it), except that while the
// gate is closed each POST is held, whole body read, until the test lets it through or fails it. Tests wait on
// what it observes (`held(n)`), never on time.
//
//   const gate = await startGate(ingest.url);   // { url, close(), hold(), open(), held(n), release(which?), fail() }
//   gate.hold();                    // from now on every POST waits (its body is read, its reply withheld)
//   const [request] = await gate.held(1);   // resolves once one POST has been held: [{ bodyText }, ...]
//   await gate.release(which?);     // forwards the waiting POSTs (those whose body passes `which`) to the ingest
//                                   // server; resolves once each is answered
//   gate.fail();                    // answers every waiting POST with a 503 itself (the request is lost)
//   gate.open();                    // later POSTs pass at once

import http from 'node:http';

import { sendJson } from '../ingest/http-io.mjs';

/** Starts the gate on 127.0.0.1 and a free port, forwarding to `target` (an origin such as ingest.url). */
export async function startGate(target) {
  /** The POSTs held and not yet released or failed. */
  const waiting = [];
  /** Every POST held since the last `hold()`, as `{ bodyText }`. */
  let heldSince = [];
  const waiters = [];
  let holding = false;

  function notify() {
    for (const waiter of [...waiters]) {
      if (heldSince.length >= waiter.n) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve([...heldSince]);
      }
    }
  }

  /** Sends the request on to `target` and pipes the reply back; resolves once the reply has been sent. */
  function forward(req, res, body) {
    return new Promise((resolve) => {
      const headers = { ...req.headers };
      delete headers.host;
      const out = http.request(`${target}${req.url}`, { method: req.method, headers }, (reply) => {
        res.writeHead(reply.statusCode ?? 502, reply.headers);
        reply.pipe(res);
        reply.on('end', resolve);
      });
      out.on('error', () => {
        res.destroy();
        resolve();
      });
      out.end(body);
    });
  }

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (!holding || req.method !== 'POST') {
        forward(req, res, body);
        return;
      }
      waiting.push({ req, res, body });
      heldSince.push({ bodyText: body.toString('utf8') });
      notify();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

  return {
    url: `http://127.0.0.1:${server.address().port}`,
    hold() {
      holding = true;
      heldSince = [];
    },
    open() {
      holding = false;
    },
    /** Resolves to every POST held since `hold()` (`[{ bodyText }]`) once there are `n` of them. */
    held(n) {
      return new Promise((resolve) => {
        waiters.push({ n, resolve });
        notify();
      });
    },
    /**
     * Forwards the waiting POSTs whose body text passes `which` (default: all); resolves once the ingest server
     * has answered each.
     */
    release(which = () => true) {
      const chosen = waiting.filter(({ body }) => which(body.toString('utf8')));
      for (const one of chosen) waiting.splice(waiting.indexOf(one), 1);
      return Promise.all(chosen.map(({ req, res, body }) => forward(req, res, body)));
    },
    /**
     * Answers every waiting POST with a 503 of its own: the requests never reach the ingest server. (Not a
     * dropped connection: Chromium sends a request again on a new connection when a reused one is reset.)
     */
    fail() {
      for (const { res } of waiting.splice(0)) sendJson(res, 503, { detail: 'Injected by the test gate.' });
    },
    close() {
      for (const { req } of waiting.splice(0)) req.socket.destroy();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

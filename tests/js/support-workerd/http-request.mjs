// A plain HTTP/1.1 client (node:http) for talking to workerd over a real socket. Unlike fetch/dispatchFetch it sends
// headers exactly as given, including empty values (`x-customer-key:`), which real clients do send.

import http from 'node:http';

/**
 * Sends one request and resolves to { status, headers, text } once the whole body has arrived; rejects on a
 * network error. `body` is a string (sent as-is) or undefined.
 */
export function httpRequest(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

// The Durable Object outbox for Cloudflare Workers: the AicmOutbox class, the producers' sink, and the
// Worker-side handle on the object's dead letters. Importing this does nothing until a function is called.
export { AicmOutbox, OUTBOX_DEFAULTS, OUTBOX_SETTINGS } from './outbox.js';
export { durableObjectSink, durableObjectOutbox } from './sink.js';
export { durableObjectStorageStore } from './storage.js';

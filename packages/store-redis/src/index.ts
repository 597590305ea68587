/**
 * `@ccs-xmpp/store-redis`: a Redis-backed outbox and upstream de-duplication for `@ccs-xmpp/ccs`,
 * shared by every app-server instance of one sender.
 * @packageDocumentation
 */
export { RedisStore, redisStore, type RedisStoreEvents } from './redis-store.js';
export type { RedisOutboxStore } from './redis-outbox-store.js';
export type { RedisDedupStore } from './redis-dedup-store.js';
export { redactedRedis, type RedisStoreOptions, type OutcomesMode } from './options.js';
export type { RecordOutcome } from './outbox-journal.js';
export type { Outcome } from './outcomes.js';
export { StoreError, type StoreOperation } from './errors.js';
export { Keys } from './keys.js';

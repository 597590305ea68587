import type { NackError as StanzaNack } from '@ccs-xmpp/stanza';
import { backoffDelay, JitterKind, type JitterSource } from './backoff.js';
import type { OutboxRecord } from './store.js';

/** The settings the retry policy reads (from the client's options). */
export interface RetryOptions {
  /** Retries of the backoff and rate-limit classes before the NACK is final. */
  maxRetries: number;
  /** First retry delay. */
  retryBaseMs: number;
  /** Largest retry delay. */
  retryMaxMs: number;
  /** The jitter draws (a retry's depends on the message id and its retry count when seeded). */
  jitter: JitterSource;
}

/** What to do with a NACKed message. */
export type RetryDecision =
  /** Go out again now, on another connection (not counted against `maxRetries`: the connection is going, not the message). */
  | { readonly kind: 'requeue' }
  /** Go out again at `at` (epoch ms). */
  | { readonly kind: 'wait'; readonly at: number }
  /** Its device or topic is rate-limited: hold it behind that target's probe (see `TargetThrottle`). */
  | { readonly kind: 'throttle' }
  /** The NACK is final. */
  | { readonly kind: 'fail' };

const REQUEUE: RetryDecision = Object.freeze({ kind: 'requeue' });
const THROTTLE: RetryDecision = Object.freeze({ kind: 'throttle' });
const FAIL: RetryDecision = Object.freeze({ kind: 'fail' });

/**
 * The retry policy, a pure function of the NACK's class (the stanza codec's `retry`), the record's
 * retry count, the options and the time: `SERVICE_UNAVAILABLE`, `INTERNAL_SERVER_ERROR` and unknown
 * codes back off exponentially, retry n after between half and all of `min(retryMaxMs,
 * retryBaseMs·2^n)` (equal jitter, {@link backoffDelay}: the first after 0.5–1 s by default; the CCS
 * document asks only for exponential backoff); `CONNECTION_DRAINING` goes out again at once elsewhere; the `*_MESSAGE_RATE_EXCEEDED` codes slow down only their target; everything
 * else (bad token, invalid JSON, too big…) fails at once, as does any class past `maxRetries`.
 */
export function decide(nack: StanzaNack, record: OutboxRecord, options: RetryOptions, now: number): RetryDecision {
  switch (nack.retry) {
    case 'other-connection':
      return REQUEUE;
    case 'backoff':
      if (record.retries >= options.maxRetries) return FAIL;
      return { kind: 'wait', at: now + backoffDelay(record.retries, { baseMs: options.retryBaseMs, maxMs: options.retryMaxMs }, options.jitter(JitterKind.Retry, record.id, record.retries)) };
    case 'slow-down-device':
    case 'slow-down-topic':
      return record.retries >= options.maxRetries ? FAIL : THROTTLE;
    default:
      return FAIL;
  }
}

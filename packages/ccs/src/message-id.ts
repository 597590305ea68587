import { randomBytes } from 'node:crypto';
import { realClock } from './clock.js';

/**
 * Per-sender unique `message_id`s without "random and hope": a prefix unique to this process
 * (start time, pid and 48 random bits, so two processes of one sender never share it) followed by
 * a counter that only grows. Within a process two ids are equal only if the counter wraps, which
 * at 2^53 it does not.
 */
export class MessageIdGenerator {
  /** The fixed part, ending in `-`. */
  readonly prefix: string;
  #next = 0;

  /** @param prefix a fixed prefix to use instead of the process-unique one (it must itself be unique per sender). */
  constructor(prefix?: string) {
    this.prefix = prefix ?? processPrefix();
  }

  /** The next id: `<prefix><counter in base 36>`. */
  next(): string {
    return this.prefix + (this.#next++).toString(36);
  }
}

let cachedPrefix: string | undefined;

/** `<time36><pid36><random hex>-`, computed once per process. */
export function processPrefix(): string {
  cachedPrefix ??= `${realClock.now().toString(36)}${process.pid.toString(36)}${randomBytes(6).toString('hex')}-`;
  return cachedPrefix;
}

/** One generator per process, shared by every client, so two clients of one sender never collide. */
export const sharedMessageIds = new MessageIdGenerator();

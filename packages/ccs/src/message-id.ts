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
  /** The prefix's bytes followed by room for the counter; undefined when the prefix is not plain ASCII. */
  readonly #scratch: Latin1Buffer | undefined;

  /** @param prefix a fixed prefix to use instead of the process-unique one (it must itself be unique per sender). */
  constructor(prefix?: string) {
    this.prefix = prefix ?? processPrefix();
    if (/^[\x20-\x7e]*$/.test(this.prefix)) {
      this.#scratch = Buffer.alloc(this.prefix.length + MAX_DIGITS) as Latin1Buffer;
      this.#scratch.write(this.prefix, 0, 'latin1');
    }
  }

  /** The next id: `<prefix><counter in base 36>`. */
  next(): string {
    const scratch = this.#scratch;
    let n = this.#next++;
    if (scratch === undefined) return this.prefix + n.toString(36);
    // The digits are written after the prefix's bytes and the whole id read back as one flat
    // string. `prefix + digits` would be a rope (a cons string) that V8 copies into a second, flat
    // string the first time the id is hashed or scanned: two strings and a digit string per
    // message instead of one, and 32 bytes more per pending message (bench/ccs-client.mjs memory).
    let digits = 1;
    for (let x = n; x >= 36; x = Math.floor(x / 36)) digits++;
    const end = this.prefix.length + digits;
    let i = end;
    do {
      scratch[--i] = DIGITS.charCodeAt(n % 36);
      n = Math.floor(n / 36);
    } while (n > 0);
    return scratch.latin1Slice(0, end);
  }
}

/**
 * `Buffer.prototype.latin1Slice(start, end)`: the undocumented but long-stable primitive behind
 * `buf.toString('latin1', start, end)`, without its argument juggling (as the stanza encoder uses
 * `latin1Write`).
 */
type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/** Base-36 digits of a counter below 2^53. */
const MAX_DIGITS = 11;
const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';

let cachedPrefix: string | undefined;

/** `<time36><pid36><random hex>-`, computed once per process. */
export function processPrefix(): string {
  cachedPrefix ??= `${realClock.now().toString(36)}${process.pid.toString(36)}${randomBytes(6).toString('hex')}-`;
  return cachedPrefix;
}

/** One generator per process, shared by every client, so two clients of one sender never collide. */
export const sharedMessageIds = new MessageIdGenerator();

/**
 * Where upstream messages come from: `injectUpstream`, the simulated devices' `upstreamRate`, and
 * delivery receipts. Builds each message once (PROTOCOL.md "Upstream", "Receipts") as an
 * {@link UpstreamEntry}; the router takes it from there.
 */
import type { Prng } from './prng.js';
import type { UpstreamEntry } from './upstream-router.js';
import { upstreamStanza } from './wire.js';

/** What `injectUpstream` sends: an upstream message from a simulated device. */
export interface UpstreamInput {
  /** The device's registration token. Default: the sender's first device, else `emulator-device`. */
  from?: string;
  data?: object;
  category?: string;
  /** Default `up-N`. */
  message_id?: string;
}

/** Builds upstream entries for one emulator. */
export class UpstreamSource {
  readonly #domain: string;
  readonly #category: string;
  #seq = 0;
  /** Bumped by `reset()`; entries carry the epoch they were made in. */
  epoch = 0;

  constructor(domain: string, category: string) {
    this.#domain = domain;
    this.#category = category;
  }

  /** The `up-N` number the next default id takes. */
  get nextSeq(): number {
    return this.#seq + 1;
  }

  /** An upstream message from device `from` to `senderId`. */
  message(senderId: string, from: string, msg: UpstreamInput): UpstreamEntry {
    const id = msg.message_id ?? `up-${++this.#seq}`;
    const payload = {
      category: msg.category ?? this.#category,
      data: msg.data ?? {},
      message_id: id,
      from,
      time_to_live: 86400,
    };
    return this.#entry(id, senderId, payload, false);
  }

  /** The `dr2:` receipt of downstream message `originalId`, delivered to `token`. */
  receipt(senderId: string, originalId: string, token: string): UpstreamEntry {
    const id = `dr2:${originalId}`;
    const payload = {
      message_type: 'receipt',
      message_id: id,
      from: this.#domain,
      category: this.#category,
      data: {
        message_status: 'MESSAGE_SENT_TO_DEVICE',
        original_message_id: originalId,
        device_registration_id: token,
        message_sent_timestamp: String(Date.now()),
      },
    };
    return this.#entry(id, senderId, payload, true);
  }

  #entry(id: string, senderId: string, payload: object, receipt: boolean): UpstreamEntry {
    return { id, senderId, stanza: upstreamStanza(`${senderId}@${this.#domain}`, payload), receipt, sentAt: 0, sends: 0, epoch: this.epoch };
  }
}

/**
 * The simulated devices' upstream rate: every 100 ms, the messages due since the last tick
 * (fractional rates carry over), at most 10 000 per tick so that a stalled event loop does not
 * turn into a burst of millions.
 */
export class UpstreamGenerator {
  #timer: NodeJS.Timeout | undefined;
  #credit = 0;

  /** Starts calling `emit(n)` with the number of messages due each tick. Unref'd: the server keeps the process alive. */
  start(ratePerSecond: number, emit: (n: number) => void): void {
    if (ratePerSecond <= 0 || this.#timer !== undefined) return;
    this.#timer = setInterval(() => {
      this.#credit += ratePerSecond / 10;
      const n = Math.min(Math.floor(this.#credit), 10_000);
      this.#credit -= Math.floor(this.#credit);
      if (n > 0) emit(n);
    }, 100).unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}

/** Picks the device a generated message comes from: a registered one at random (seeded), else the default. */
export function pickDevice(tokens: readonly string[], prng: Prng): string | undefined {
  return tokens.length > 0 ? tokens[Math.floor(prng.next() * tokens.length)] : undefined;
}

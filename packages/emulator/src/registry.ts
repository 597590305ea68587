/**
 * The simulated device registry and target resolution (PROTOCOL.md "Downstream": `to` is a
 * registration token or `/topics/NAME`, or a `condition`; NACK table). Given a sender and a
 * target, it says what CCS would answer: deliver (with an optional canonical registration id) or
 * which NACK code.
 */
import type { NackCode } from '@ccs-xmpp/stanza';

/** The state of a simulated device's token. */
export type DeviceState = 'valid' | 'unregistered' | 'bad';

/** How `addDevice` describes a device. */
export interface DeviceSpec {
  /** The sender the token belongs to; any other sender gets `BAD_REGISTRATION`. Default: any sender. */
  senderId?: string;
  /** `valid` (default), `unregistered` (`DEVICE_UNREGISTERED`) or `bad` (`BAD_REGISTRATION`). */
  state?: DeviceState;
  /** ACK with this `registration_id` (the token to use from now on); deliveries are recorded under it. */
  canonicalId?: string;
  /** Messages per second this device accepts before `DEVICE_MESSAGE_RATE_EXCEEDED`. Default: the emulator's `deviceMaxPerSecond`. */
  maxPerSecond?: number;
}

interface Device {
  senderId: string | undefined;
  state: DeviceState;
  canonicalId: string | undefined;
  maxPerSecond: number | undefined;
}

/** A fixed one-second window counter: cheap (no timers, two numbers per key). */
class RateWindow {
  start = 0;
  count = 0;
  /** Counts one message at `now`; false when this one is over `limit` for the current second. */
  take(now: number, limit: number): boolean {
    if (now - this.start >= 1000) {
      this.start = now;
      this.count = 0;
    }
    this.count++;
    return this.count <= limit;
  }
}

/** What CCS does with a downstream message, once the JSON is valid. */
export type Verdict =
  | { ok: true; /** Where the delivery is recorded (a token, `/topics/x`, or `condition:EXPR`). */ deliverTo: string; /** `registration_id` for the ACK. */ registrationId: string | undefined }
  | { ok: false; code: NackCode; description: string };

const TOPIC_PREFIX = '/topics/';
// FCM topic names: [a-zA-Z0-9-_.~%]+ (the HTTP v1 and legacy docs agree).
const TOPIC_NAME = /^[a-zA-Z0-9\-_.~%]+$/;

/** Options of the registry. */
export interface RegistryOptions {
  /** Treat a token that is neither registered nor specially prefixed as a valid device. */
  acceptUnknownTokens: boolean;
  /** Default per-device limit (messages per second); undefined for none. */
  deviceMaxPerSecond: number | undefined;
  /** Per-topic limit (messages per second); undefined for none. */
  topicMaxPerSecond: number | undefined;
}

/** Devices by token, with rate windows per device and per topic. */
export class DeviceRegistry {
  readonly #devices = new Map<string, Device>();
  readonly #bySender = new Map<string, string[]>();
  readonly #deviceRates = new Map<string, RateWindow>();
  readonly #topicRates = new Map<string, RateWindow>();
  readonly #options: RegistryOptions;

  constructor(options: RegistryOptions) {
    this.#options = options;
  }

  /** Registers (or replaces) a device. */
  add(token: string, spec: DeviceSpec = {}): void {
    const previous = this.#devices.get(token);
    if (previous?.senderId !== undefined) {
      const list = this.#bySender.get(previous.senderId);
      if (list) list.splice(list.indexOf(token), 1);
    }
    this.#devices.set(token, {
      senderId: spec.senderId,
      state: spec.state ?? 'valid',
      canonicalId: spec.canonicalId,
      maxPerSecond: spec.maxPerSecond,
    });
    if (spec.senderId !== undefined) {
      let list = this.#bySender.get(spec.senderId);
      if (!list) this.#bySender.set(spec.senderId, (list = []));
      list.push(token);
    }
  }

  /** A registered device's spec (a copy), or undefined. */
  spec(token: string): DeviceSpec | undefined {
    const d = this.#devices.get(token);
    if (d === undefined) return undefined;
    const out: DeviceSpec = { state: d.state };
    if (d.senderId !== undefined) out.senderId = d.senderId;
    if (d.canonicalId !== undefined) out.canonicalId = d.canonicalId;
    if (d.maxPerSecond !== undefined) out.maxPerSecond = d.maxPerSecond;
    return out;
  }

  /** Forgets every device and rate window. */
  clear(): void {
    this.#devices.clear();
    this.#bySender.clear();
    this.#deviceRates.clear();
    this.#topicRates.clear();
  }

  /** Tokens registered for a sender (or every registered token), in registration order. */
  tokens(senderId?: string): string[] {
    if (senderId !== undefined) return [...(this.#bySender.get(senderId) ?? [])];
    return [...this.#devices.keys()];
  }

  /** Resolves a downstream target for a sender at time `now` (ms). */
  resolve(senderId: string, to: string | undefined, condition: string | undefined, now: number): Verdict {
    if (to === undefined) return this.#resolveCondition(condition ?? '', now);
    if (to.startsWith(TOPIC_PREFIX)) return this.#resolveTopic(to, now);
    return this.#resolveToken(senderId, to, now);
  }

  #resolveToken(senderId: string, token: string, now: number): Verdict {
    const device = this.#devices.get(token);
    if (device === undefined) {
      // Special prefixes work without setup (see README "Token conventions").
      if (token.startsWith('unregistered-')) return nack('DEVICE_UNREGISTERED', 'The device is not registered.');
      if (token.startsWith('bad-')) return nack('BAD_REGISTRATION', 'The registration token is invalid.');
      if (token.startsWith('ratelimited-')) return nack('DEVICE_MESSAGE_RATE_EXCEEDED', 'Too many messages to this device.');
      if (token.startsWith('canonical-') && token.length > 'canonical-'.length) {
        const canonical = token.slice('canonical-'.length);
        return { ok: true, deliverTo: canonical, registrationId: canonical };
      }
      if (!this.#options.acceptUnknownTokens) return nack('BAD_REGISTRATION', 'The registration token is invalid.');
      const limit = this.#options.deviceMaxPerSecond;
      if (limit !== undefined && !this.#window(this.#deviceRates, token).take(now, limit)) {
        return nack('DEVICE_MESSAGE_RATE_EXCEEDED', 'Too many messages to this device.');
      }
      return { ok: true, deliverTo: token, registrationId: undefined };
    }
    if (device.senderId !== undefined && device.senderId !== senderId) {
      return nack('BAD_REGISTRATION', 'The registration token belongs to another sender.');
    }
    if (device.state === 'unregistered') return nack('DEVICE_UNREGISTERED', 'The device is not registered.');
    if (device.state === 'bad') return nack('BAD_REGISTRATION', 'The registration token is invalid.');
    const limit = device.maxPerSecond ?? this.#options.deviceMaxPerSecond;
    if (limit !== undefined && !this.#window(this.#deviceRates, token).take(now, limit)) {
      return nack('DEVICE_MESSAGE_RATE_EXCEEDED', 'Too many messages to this device.');
    }
    const canonical = device.canonicalId;
    return { ok: true, deliverTo: canonical ?? token, registrationId: canonical };
  }

  #resolveTopic(to: string, now: number): Verdict {
    const name = to.slice(TOPIC_PREFIX.length);
    if (!TOPIC_NAME.test(name)) return nack('INVALID_JSON', `InvalidJson : INVALID_TARGET : Invalid topic name ${JSON.stringify(name)}\n`);
    const limited = this.#topicLimited([name], now);
    return limited ?? { ok: true, deliverTo: to, registrationId: undefined };
  }

  #resolveCondition(condition: string, now: number): Verdict {
    const topics = parseCondition(condition);
    if (topics === undefined) return nack('INVALID_JSON', 'InvalidJson : INVALID_CONDITION : Invalid condition expression\n');
    const limited = this.#topicLimited(topics, now);
    return limited ?? { ok: true, deliverTo: `condition:${condition}`, registrationId: undefined };
  }

  #topicLimited(names: string[], now: number): Verdict | undefined {
    for (const name of names) {
      if (name.startsWith('ratelimited-')) return nack('TOPICS_MESSAGE_RATE_EXCEEDED', 'Too many messages to this topic.');
    }
    const limit = this.#options.topicMaxPerSecond;
    if (limit !== undefined) {
      for (const name of names) {
        if (!this.#window(this.#topicRates, name).take(now, limit)) return nack('TOPICS_MESSAGE_RATE_EXCEEDED', 'Too many messages to this topic.');
      }
    }
    return undefined;
  }

  #window(map: Map<string, RateWindow>, key: string): RateWindow {
    let w = map.get(key);
    if (!w) map.set(key, (w = new RateWindow()));
    return w;
  }
}

function nack(code: NackCode, description: string): Verdict {
  return { ok: false, code, description };
}

/**
 * Parses an FCM topic condition (`'a' in topics && ('b' in topics || !('c' in topics))`) and
 * returns the topic names it mentions, or `undefined` when it is not a valid expression.
 * The operator count limit is the validator's job (`validateDownstream`).
 */
export function parseCondition(condition: string): string[] | undefined {
  const tokens = condition.match(/'[^']*'|"[^"]*"|&&|\|\||[()!]|[A-Za-z_]+|\S/g) ?? [];
  const names: string[] = [];
  let i = 0;
  const peek = (): string | undefined => tokens[i];
  // expr := term (('&&' | '||') term)*
  // term := '!'? ( '(' expr ')' | QUOTED 'in' 'topics' )
  const term = (): boolean => {
    if (peek() === '!') i++;
    const t = peek();
    if (t === '(') {
      i++;
      if (!expr() || peek() !== ')') return false;
      i++;
      return true;
    }
    if (t === undefined || !(t.startsWith("'") || t.startsWith('"'))) return false;
    const name = t.slice(1, -1);
    if (!TOPIC_NAME.test(name) || tokens[i + 1] !== 'in' || tokens[i + 2] !== 'topics') return false;
    names.push(name);
    i += 3;
    return true;
  };
  const expr = (): boolean => {
    if (!term()) return false;
    while (peek() === '&&' || peek() === '||') {
      i++;
      if (!term()) return false;
    }
    return true;
  };
  if (tokens.length > 64 || !expr() || i !== tokens.length) return undefined;
  return names;
}

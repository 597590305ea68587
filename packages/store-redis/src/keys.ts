/**
 * The key layout: every key of one sender starts with `ccs:{SENDER}:`. The braces are a Redis
 * Cluster hash tag, so all of a sender's keys live in one hash slot and the multi-key Lua scripts
 * below stay valid on a cluster (the scripts build the per-instance key names from this prefix,
 * which is safe because they are in the same slot).
 *
 * | key | type | holds |
 * |---|---|---|
 * | `ccs:{S}:out` | hash | message id → the serialised outbox record |
 * | `ccs:{S}:own:<instance>` | sorted set | ids an instance owns, scored by submission order (records it adopted below its own, in adoption order) |
 * | `ccs:{S}:instances` | sorted set | instances that may own records (the adoption scan's list) |
 * | `ccs:{S}:lease:<instance>` | string, TTL | the instance's heartbeat; gone = the instance is dead |
 * | `ccs:{S}:outcomes` | stream, MAXLEN ~ | final outcomes (all, or adopted messages only) |
 * | `ccs:{S}:up:<from>\n<id>` | string, TTL | upstream de-duplication: `r:<instance>:<claim token>` running, `d` done |
 * | `ccs:{S}:done` | list | completed upstream keys, newest first (the count bound of the window) |
 */
export class Keys {
  /** `ccs:{SENDER}:` */
  readonly prefix: string;
  readonly out: string;
  readonly instances: string;
  readonly outcomes: string;
  readonly done: string;

  constructor(senderId: string, namespace = 'ccs') {
    if (typeof senderId !== 'string' || senderId.length === 0 || /[{}\s]/.test(senderId)) {
      throw new TypeError(`senderId must be a non-empty string without braces or whitespace (it becomes the Redis hash tag), got ${JSON.stringify(senderId)}`);
    }
    if (typeof namespace !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(namespace)) {
      throw new TypeError(`keyNamespace must be letters, digits, '_', '.' or '-', got ${JSON.stringify(namespace)}`);
    }
    this.prefix = `${namespace}:{${senderId}}:`;
    this.out = `${this.prefix}out`;
    this.instances = `${this.prefix}instances`;
    this.outcomes = `${this.prefix}outcomes`;
    this.done = `${this.prefix}done`;
  }

  /** The sorted set of ids `instance` owns. */
  own(instance: string): string {
    return `${this.prefix}own:${instance}`;
  }

  /** `instance`'s heartbeat key. */
  lease(instance: string): string {
    return `${this.prefix}lease:${instance}`;
  }

  /** The suffix after `up:` of an upstream message's de-duplication key (NUL-free on the wire, so `\n` separates safely). */
  static upstream(from: string, messageId: string): string {
    return `${from}\n${messageId}`;
  }
}

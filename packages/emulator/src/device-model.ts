/**
 * The simulated devices' side of delivery: whether a device is online, offline, idle or
 * unregistered, and what becomes of a message CCS accepted for it (PROTOCOL.md "Downstream";
 * GCM's documented semantics of `time_to_live`, `collapse_key` and `delay_while_idle`):
 *
 * - online: delivered at once;
 * - offline: held until the device reconnects; idle: held only when `delay_while_idle` is set;
 * - `time_to_live` runs from acceptance: a held message past it is expired, never delivered;
 *   `0` means "now or never" (expired at once when it cannot be delivered at once);
 * - `collapse_key`: a held message replaces an older held one of the same sender and key (the
 *   older is "collapsed"); at most 4 distinct keys are held per device, the oldest key giving way;
 * - unregistered: new messages get `DEVICE_UNREGISTERED`; what was held is dropped.
 *
 * The model is pure (no timers, no I/O): the emulator passes `now`, calls `sweep(now)` by
 * `nextExpiry()`, and learns of each delivery through the sink, where it records the delivery
 * and sends the `dr2:` receipt — at the moment the message reaches the device, not at ACK time.
 *
 * Transitions are scripted (`set`) or follow a seeded random schedule that counts the messages
 * sent to each device, not the clock: a device is online for N messages, then offline (or idle)
 * for M, then online again (held messages delivered as the M-th arrives)… with N and M drawn from
 * a hash of the seed and the token, so a seed reproduces every transition whatever the timing.
 */
import { hashUnit } from './seeded-decisions.js';

/** A simulated device's presence. */
export type DevicePresence = 'online' | 'offline' | 'idle' | 'unregistered';

/** What became of a message: per message, in the device's log. */
export type MessageFate = 'held' | 'delivered' | 'expired' | 'collapsed' | 'dropped';

/** Most distinct collapse keys held per device (GCM documented 4). */
export const MAX_COLLAPSE_KEYS = 4;
/** Most messages held per device; past it the oldest is dropped (GCM kept 100 non-collapsible). */
export const MAX_HELD_PER_DEVICE = 100;
/** Default `time_to_live`: 4 weeks, in seconds. */
export const DEFAULT_TTL_SECONDS = 2419200;

/** A message accepted for a device, as the model keeps it. */
export interface DeviceMessage {
  readonly senderId: string;
  readonly messageId: string;
  readonly data: object | undefined;
  readonly collapseKey: string | undefined;
  readonly delayWhileIdle: boolean;
  /** `time_to_live` in seconds (already validated: 0…2419200). */
  readonly ttlSeconds: number;
  /** Send a `dr2:` receipt when it reaches the device. */
  readonly receipt: boolean;
  /** What makes a second delivery a duplicate (default `messageId`; per member for a device group). */
  readonly dedupeKey?: string;
}

/** One line of a device's log. */
export interface FateRecord {
  message_id: string;
  fate: MessageFate;
  /** When (ms, the emulator's clock). */
  at: number;
}

/** Where deliveries go: called synchronously, once per message that reaches a device. */
export interface DeliverySink {
  delivered(token: string, msg: DeviceMessage, now: number): void;
}

/** The seeded random schedule (see the module comment). */
export interface DeviceSchedule {
  /** Share of devices that start offline, and of "off" phases that are offline (vs idle). */
  offlineShare: number;
  /** Share of devices that start idle. Default 0. */
  idleShare?: number;
  /** Mean length of a phase, in messages sent to the device. Default 3. */
  meanMessages?: number;
}

/** A scripted transition: `token` becomes `state` `atMs` after the emulator starts. */
export interface ScriptedTransition {
  token: string;
  state: DevicePresence;
  atMs: number;
}

/** Totals across devices. */
export interface DeviceTotals {
  /** Messages held right now. */
  held: number;
  /** Messages that were ever held (delivered later, expired, collapsed, dropped or still held). */
  heldEver: number;
  /** Held messages delivered on reconnect or wake-up. */
  deliveredLater: number;
  expired: number;
  collapsed: number;
  dropped: number;
  /** Devices offline / idle / unregistered right now (among those the model knows). */
  offline: number;
  idle: number;
  unregistered: number;
  /** Transitions made (scripted and scheduled). */
  transitions: number;
}

interface Held {
  msg: DeviceMessage;
  acceptedAt: number;
  /** `Infinity` never happens (TTL ≤ 4 weeks) but keeps the arithmetic honest. */
  expiresAt: number;
}

interface Device {
  presence: DevicePresence;
  held: Held[];
  /** Scheduled: messages left in the current phase; -1 once scripted (the schedule stops). */
  remaining: number;
  cycle: number;
}

/** Options of {@link DeviceModel}. */
export interface DeviceModelOptions {
  seed: number;
  sink: DeliverySink;
  schedule?: DeviceSchedule;
  /** Keep each device's log (`log(token)`). Default true. */
  keepLog?: boolean;
}

/** The devices' presence, held messages and per-message fates. */
export class DeviceModel {
  readonly #seed: number;
  readonly #sink: DeliverySink;
  readonly #schedule: Required<DeviceSchedule> | undefined;
  readonly #keepLog: boolean;
  readonly #devices = new Map<string, Device>();
  readonly #logs = new Map<string, FateRecord[]>();
  /** Devices holding something: the sweep looks at these only. */
  readonly #holding = new Set<string>();
  /** `sender \0 message_id` of every held message: an ACK of its ACK is recognised while it waits. */
  readonly #heldIds = new Set<string>();
  #heldEver = 0;
  #deliveredLater = 0;
  #expired = 0;
  #collapsed = 0;
  #dropped = 0;
  #transitions = 0;

  constructor(options: DeviceModelOptions) {
    this.#seed = options.seed >>> 0;
    this.#sink = options.sink;
    const s = options.schedule;
    this.#schedule = s === undefined ? undefined : { offlineShare: s.offlineShare, idleShare: s.idleShare ?? 0, meanMessages: Math.max(1, s.meanMessages ?? 3) };
    this.#keepLog = options.keepLog ?? true;
  }

  /** A device's presence (`online` for one the model has not seen, unless the schedule says otherwise). */
  presence(token: string): DevicePresence {
    return this.#device(token).presence;
  }

  /**
   * Sets a device's presence (a scripted transition; the random schedule stops for it). Online
   * delivers everything held, idle what was not `delay_while_idle`; unregistered drops it all.
   */
  set(token: string, presence: DevicePresence, now: number): void {
    const d = this.#device(token);
    d.remaining = -1;
    this.#enter(token, d, presence, now);
  }

  /**
   * A message CCS accepted for `token` (its ACK is the caller's business). Returns its fate now:
   * `delivered`, `held`, `expired` (TTL 0 and not deliverable), or `unregistered` — then nothing
   * was kept and the caller answers `DEVICE_UNREGISTERED` instead of an ACK.
   */
  accept(token: string, msg: DeviceMessage, now: number): MessageFate | 'unregistered' {
    if (this.#schedule === undefined && !this.#devices.has(token)) {
      // Always online unless told otherwise: no record kept per token, so a run over millions of
      // tokens (benchmarks, acceptUnknownTokens) costs no memory here.
      this.#deliver(token, msg, now, false);
      return 'delivered';
    }
    const d = this.#device(token);
    if (d.remaining > 0 && --d.remaining === 0) this.#nextPhase(token, d, now);
    if (d.presence === 'unregistered') return 'unregistered';
    this.#expireDue(token, d, now);
    if (this.#deliverable(d.presence, msg)) {
      this.#deliver(token, msg, now, false);
      return 'delivered';
    }
    if (msg.ttlSeconds === 0) {
      this.#expired++;
      this.#log(token, msg.messageId, 'expired', now);
      return 'expired';
    }
    this.#hold(token, d, msg, now);
    return 'held';
  }

  /** Expires every held message past its `time_to_live` at `now`. */
  sweep(now: number): void {
    for (const token of [...this.#holding]) this.#expireDue(token, this.#devices.get(token) as Device, now);
  }

  /** When the next held message expires (ms), or undefined when nothing is held. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const token of this.#holding) {
      for (const h of (this.#devices.get(token) as Device).held) if (next === undefined || h.expiresAt < next) next = h.expiresAt;
    }
    return next;
  }

  /** Whether this sender's message is held for some device right now. */
  isHeld(senderId: string, messageId: string): boolean {
    return this.#heldIds.size > 0 && this.#heldIds.has(`${senderId}\u0000${messageId}`);
  }

  /** Message ids held for a device, oldest first. */
  heldFor(token: string): string[] {
    return (this.#devices.get(token)?.held ?? []).map((h) => h.msg.messageId);
  }

  /** A device's log: every message's fate changes, in order (empty when `keepLog` is off). */
  log(token: string): FateRecord[] {
    return [...(this.#logs.get(token) ?? [])];
  }

  /** Totals across devices. */
  totals(): DeviceTotals {
    let held = 0;
    let offline = 0;
    let idle = 0;
    let unregistered = 0;
    for (const d of this.#devices.values()) {
      held += d.held.length;
      if (d.presence === 'offline') offline++;
      else if (d.presence === 'idle') idle++;
      else if (d.presence === 'unregistered') unregistered++;
    }
    return {
      held, heldEver: this.#heldEver, deliveredLater: this.#deliveredLater, expired: this.#expired,
      collapsed: this.#collapsed, dropped: this.#dropped, offline, idle, unregistered, transitions: this.#transitions,
    };
  }

  // --- internals ------------------------------------------------------------------------------

  #device(token: string): Device {
    let d = this.#devices.get(token);
    if (d === undefined) {
      d = { presence: 'online', held: [], remaining: 0, cycle: 0 };
      const s = this.#schedule;
      if (s !== undefined) {
        // The first phase: offline / idle / online by the device's own draw, then its length.
        const r = hashUnit(this.#seed, `device\u0000${token}`, 0);
        d.presence = r < s.offlineShare ? 'offline' : r < s.offlineShare + s.idleShare ? 'idle' : 'online';
        d.remaining = this.#phaseLength(token, 0);
      }
      this.#devices.set(token, d);
    }
    return d;
  }

  /** 1…2·mean messages, from the seed, the token and the phase number. */
  #phaseLength(token: string, cycle: number): number {
    const mean = (this.#schedule as Required<DeviceSchedule>).meanMessages;
    return 1 + Math.floor(hashUnit(this.#seed, `phase\u0000${token}`, cycle) * 2 * mean);
  }

  #nextPhase(token: string, d: Device, now: number): void {
    const s = this.#schedule as Required<DeviceSchedule>;
    d.cycle++;
    let next: DevicePresence = 'online';
    if (d.presence === 'online') {
      const off = s.offlineShare + s.idleShare;
      // An "off" phase: offline or idle in the proportion of the two shares.
      next = off > 0 && hashUnit(this.#seed, `off\u0000${token}`, d.cycle) * off >= s.offlineShare ? 'idle' : 'offline';
      if (off <= 0) next = 'online';
    }
    d.remaining = this.#phaseLength(token, d.cycle);
    this.#enter(token, d, next, now);
  }

  #enter(token: string, d: Device, presence: DevicePresence, now: number): void {
    if (d.presence !== presence) this.#transitions++;
    d.presence = presence;
    this.#expireDue(token, d, now);
    if (presence === 'unregistered') {
      for (const h of d.held) {
        this.#dropped++;
        this.#heldIds.delete(`${h.msg.senderId}\u0000${h.msg.messageId}`);
        this.#log(token, h.msg.messageId, 'dropped', now);
      }
      d.held = [];
      this.#holding.delete(token);
      return;
    }
    if (presence === 'offline' || d.held.length === 0) return;
    const keep: Held[] = [];
    for (const h of d.held) {
      if (this.#deliverable(presence, h.msg)) {
        this.#heldIds.delete(`${h.msg.senderId}\u0000${h.msg.messageId}`);
        this.#deliver(token, h.msg, now, true);
      } else keep.push(h);
    }
    d.held = keep;
    if (keep.length === 0) this.#holding.delete(token);
  }

  #deliverable(presence: DevicePresence, msg: DeviceMessage): boolean {
    return presence === 'online' || (presence === 'idle' && !msg.delayWhileIdle);
  }

  #deliver(token: string, msg: DeviceMessage, now: number, later: boolean): void {
    if (later) this.#deliveredLater++;
    this.#log(token, msg.messageId, 'delivered', now);
    this.#sink.delivered(token, msg, now);
  }

  #hold(token: string, d: Device, msg: DeviceMessage, now: number): void {
    this.#heldEver++;
    this.#log(token, msg.messageId, 'held', now);
    if (msg.collapseKey !== undefined) {
      // Newest per (sender, key): the older one is collapsed.
      const i = d.held.findIndex((h) => h.msg.collapseKey === msg.collapseKey && h.msg.senderId === msg.senderId);
      if (i !== -1) this.#remove(token, d, i, 'collapsed', now);
    }
    d.held.push({ msg, acceptedAt: now, expiresAt: now + msg.ttlSeconds * 1000 });
    this.#heldIds.add(`${msg.senderId}\u0000${msg.messageId}`);
    this.#holding.add(token);
    if (msg.collapseKey !== undefined) {
      // At most 4 distinct keys: the oldest-held key gives way.
      const keys = new Set<string>();
      for (const h of d.held) if (h.msg.collapseKey !== undefined) keys.add(`${h.msg.senderId}\u0000${h.msg.collapseKey}`);
      if (keys.size > MAX_COLLAPSE_KEYS) {
        const i = d.held.findIndex((h) => h.msg.collapseKey !== undefined);
        this.#remove(token, d, i, 'collapsed', now);
      }
    }
    if (d.held.length > MAX_HELD_PER_DEVICE) this.#remove(token, d, 0, 'dropped', now);
  }

  #remove(token: string, d: Device, i: number, fate: 'collapsed' | 'dropped' | 'expired', now: number): void {
    const [h] = d.held.splice(i, 1);
    if (h === undefined) return;
    this.#heldIds.delete(`${h.msg.senderId}\u0000${h.msg.messageId}`);
    if (fate === 'collapsed') this.#collapsed++;
    else if (fate === 'dropped') this.#dropped++;
    else this.#expired++;
    this.#log(token, h.msg.messageId, fate, now);
    if (d.held.length === 0) this.#holding.delete(token);
  }

  #expireDue(token: string, d: Device, now: number): void {
    for (let i = 0; i < d.held.length; ) {
      const h = d.held[i] as Held;
      if (h.expiresAt <= now) this.#remove(token, d, i, 'expired', now);
      else i++;
    }
  }

  #log(token: string, messageId: string, fate: MessageFate, at: number): void {
    if (!this.#keepLog) return;
    let list = this.#logs.get(token);
    if (!list) this.#logs.set(token, (list = []));
    list.push({ message_id: messageId, fate, at });
  }
}

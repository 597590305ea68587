/**
 * The emulator's devices at delivery time: the device model (presence, held messages, TTL,
 * collapse keys) driven by the clock and by scripted transitions, and device groups (notification
 * keys). Sessions see one narrow method per concern; the emulator gives it a {@link DeviceHost}
 * to record deliveries in the ledger and to send `dr2:` receipts.
 */
import type { JsonObject } from '@ccs-xmpp/stanza';
import { ttlValue } from '@ccs-xmpp/stanza';
import {
  DEFAULT_TTL_SECONDS, DeviceModel, type DevicePresence, type DeviceSchedule, type DeviceTotals, type FateRecord, type MessageFate,
  type DeliverySink, type ScriptedTransition,
} from './device-model.js';
import { EmulatorError } from './errors.js';
import { MAX_TIMER_MS } from './faults.js';

export type { DeviceTotals } from './device-model.js';
import type { Ledger } from './ledger.js';
import type { CcsEmulatorOptions } from './options.js';
import type { UpstreamRouter } from './upstream-router.js';
import type { UpstreamSource } from './upstream-source.js';

/** Options (the emulator's `deviceSchedule`, `deviceScript`, `deviceGroups`). */
export interface DevicesOptions {
  schedule?: DeviceSchedule;
  script?: readonly ScriptedTransition[];
  /** Notification key → member tokens. */
  groups?: Readonly<Record<string, readonly string[]>>;
  keepLog?: boolean;
}

/** The device options of the emulator's options. */
export function devicesOptions(o: CcsEmulatorOptions): DevicesOptions {
  return {
    ...(o.deviceSchedule === undefined ? {} : { schedule: o.deviceSchedule }),
    ...(o.deviceScript === undefined ? {} : { script: o.deviceScript }),
    ...(o.deviceGroups === undefined ? {} : { groups: o.deviceGroups }),
    keepLog: o.keepDeliveries ?? true,
  };
}

/**
 * The emulator's side of deliveries: the ledger records them; a held message's receipt, sent when
 * the device reconnects, has no connection of its own and goes to any of the sender's.
 */
export function deviceHost(ledger: Ledger, router: UpstreamRouter, source: UpstreamSource): DeviceHost {
  return {
    deliver: (senderId, token, messageId, data, dedupeKey) => ledger.deliver(senderId, token, messageId, data, dedupeKey),
    receipt: (senderId, originalId, token) => {
      ledger.receiptsSent++;
      router.enqueue(source.receipt(senderId, originalId, token));
    },
  };
}

/** What the devices need from the emulator. */
export interface DeviceHost {
  /** Records a delivery (ledger); true when it was a duplicate. */
  deliver(senderId: string, token: string, messageId: string, data: object | undefined, dedupeKey: string): boolean;
  /** Sends the `dr2:` receipt of a message that reached `token` (to the sender's connections). */
  receipt(senderId: string, originalId: string, token: string): void;
}

/** What `accept` did with a message. */
export interface Acceptance {
  fate: MessageFate | 'unregistered';
  /** Delivered now and already delivered before (at-least-once resend). */
  duplicate: boolean;
}

const PRESENCES: readonly DevicePresence[] = ['online', 'offline', 'idle', 'unregistered'];
// The clock granularity of TTL expiry: fine for tests with 1 s TTLs, cheap when nothing is held.
const SWEEP_MS = 100;

/** Checks the device options; throws `EMU_ERR_CONFIG`. */
export function checkDevicesOptions(o: DevicesOptions): void {
  const s = o.schedule;
  if (s !== undefined) {
    const share = (name: string, v: number | undefined): void => {
      if (v !== undefined && !(typeof v === 'number' && v >= 0 && v <= 1)) throw new EmulatorError('EMU_ERR_CONFIG', `deviceSchedule.${name} must be a number in [0, 1]`);
    };
    share('offlineShare', s.offlineShare);
    share('idleShare', s.idleShare);
    if ((s.offlineShare ?? 0) + (s.idleShare ?? 0) > 1) throw new EmulatorError('EMU_ERR_CONFIG', 'deviceSchedule.offlineShare + idleShare must be at most 1');
    if (s.meanMessages !== undefined && !(Number.isInteger(s.meanMessages) && s.meanMessages >= 1)) throw new EmulatorError('EMU_ERR_CONFIG', 'deviceSchedule.meanMessages must be a positive integer');
  }
  for (const t of o.script ?? []) {
    // atMs is a timer's delay: past Node's limit it fired after 1 ms instead (the transition at once).
    if (typeof t.token !== 'string' || t.token === '' || !PRESENCES.includes(t.state) || !(Number.isInteger(t.atMs) && t.atMs >= 0 && t.atMs <= MAX_TIMER_MS)) {
      throw new EmulatorError('EMU_ERR_CONFIG', `bad device transition ${JSON.stringify(t)}: token, state (${PRESENCES.join('|')}), atMs from 0 to ${MAX_TIMER_MS}`);
    }
  }
  for (const [key, tokens] of Object.entries(o.groups ?? {})) {
    if (!Array.isArray(tokens) || tokens.length === 0 || tokens.some((x) => typeof x !== 'string' || x === '')) {
      throw new EmulatorError('EMU_ERR_CONFIG', `device group ${JSON.stringify(key)} must list at least one token`);
    }
  }
}

/**
 * Devices and device groups of one emulator (`emu.deviceModel`): set a device's presence, read
 * what it holds and each message's fate, add device groups.
 */
export class Devices {
  /** The pure model underneath (presence, held messages, fates). */
  model: DeviceModel;
  readonly #seed: number;
  readonly #options: DevicesOptions;
  readonly #sink: DeliverySink;
  readonly #script: readonly ScriptedTransition[];
  readonly #groups = new Map<string, readonly string[]>();
  readonly #timers = new Set<NodeJS.Timeout>();
  #sweep: NodeJS.Timeout | undefined;
  /** Set while `accept` runs: a delivery then is "now", and its receipt follows the ACK instead. */
  #inAccept = false;
  #duplicate = false;

  constructor(seed: number, host: DeviceHost, options: DevicesOptions = {}) {
    checkDevicesOptions(options);
    this.#seed = seed;
    this.#options = options;
    this.#script = [...(options.script ?? [])];
    this.#sink = {
      delivered: (token, msg) => {
        const duplicate = host.deliver(msg.senderId, token, msg.messageId, msg.data, msg.dedupeKey ?? msg.messageId);
        if (this.#inAccept) this.#duplicate = duplicate;
        else if (msg.receipt) host.receipt(msg.senderId, msg.messageId, token);
      },
    };
    this.model = this.#newModel();
  }

  #newModel(): DeviceModel {
    this.#groups.clear();
    for (const [key, tokens] of Object.entries(this.#options.groups ?? {})) this.#groups.set(key, [...tokens]);
    const o = this.#options;
    return new DeviceModel({ seed: this.#seed, sink: this.#sink, ...(o.schedule === undefined ? {} : { schedule: o.schedule }), keepLog: o.keepLog ?? true });
  }

  /** Back to the start state (the emulator's `reset()`): every device online or as scheduled, nothing held, the configured groups. */
  reset(): void {
    this.model = this.#newModel();
  }

  /** A device's presence (`online` unless a schedule or a transition says otherwise). */
  presence(token: string): DevicePresence {
    return this.model.presence(token);
  }

  /** Message ids held for a device (offline, or idle with `delay_while_idle`), oldest first. */
  heldFor(token: string): string[] {
    return this.model.heldFor(token);
  }

  /** Starts the scripted transitions (relative to now). */
  start(): void {
    for (const t of this.#script) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        this.set(t.token, t.state);
      }, t.atMs);
      this.#timers.add(timer);
    }
  }

  /** Clears every timer. */
  stop(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#sweep !== undefined) clearInterval(this.#sweep);
    this.#sweep = undefined;
  }

  /**
   * Sets a device's presence now (a scripted transition): `online` delivers what it held, `idle`
   * what was not `delay_while_idle`, `unregistered` drops it and NACKs new messages
   * `DEVICE_UNREGISTERED`. Its seeded schedule, if any, stops.
   * @throws {EmulatorError} `EMU_ERR_CONFIG` for an unknown state.
   */
  set(token: string, state: DevicePresence): void {
    if (!PRESENCES.includes(state)) throw new EmulatorError('EMU_ERR_CONFIG', `device state must be one of ${PRESENCES.join(', ')}`);
    this.model.set(token, state, Date.now());
    this.#armSweep();
  }

  /** Registers (or replaces) a device group: ACKs of messages to `notificationKey` count its members' outcomes. */
  addGroup(notificationKey: string, tokens: readonly string[]): void {
    checkDevicesOptions({ groups: { [notificationKey]: tokens } });
    this.#groups.set(notificationKey, [...tokens]);
  }

  /** The member tokens of a notification key, or undefined when `to` is not one. */
  group(to: string | undefined): readonly string[] | undefined {
    return to === undefined || this.#groups.size === 0 ? undefined : this.#groups.get(to);
  }

  /**
   * A valid downstream message for a device token: delivered now, held, expired at once (TTL 0),
   * or refused because the device is unregistered (the caller NACKs `DEVICE_UNREGISTERED`).
   * `group`: one member's share of a device-group message (no receipt; de-duplicated per member).
   */
  accept(senderId: string, token: string, msg: JsonObject, messageId: string, group = false): Acceptance {
    const ttl = ttlValue(msg['time_to_live']);
    this.#inAccept = true;
    this.#duplicate = false;
    let fate: MessageFate | 'unregistered';
    try {
      fate = this.model.accept(token, {
        senderId, messageId,
        data: msg['data'] as object | undefined,
        collapseKey: typeof msg['collapse_key'] === 'string' ? msg['collapse_key'] : undefined,
        delayWhileIdle: msg['delay_while_idle'] === true,
        ttlSeconds: ttl ?? DEFAULT_TTL_SECONDS,
        // A device-group message is ACKed with counts, not followed by one receipt per member.
        receipt: !group && msg['delivery_receipt_requested'] === true,
        ...(group ? { dedupeKey: `${messageId}\u0000${token}` } : {}),
      }, Date.now());
    } finally {
      this.#inAccept = false;
    }
    if (fate === 'held') this.#armSweep();
    return { fate, duplicate: this.#duplicate };
  }

  /** Totals across devices. */
  totals(): DeviceTotals {
    return this.model.totals();
  }

  /** What became of each message sent to a device, and when: held, delivered, expired, collapsed, dropped. */
  log(token: string): FateRecord[] {
    return this.model.log(token);
  }

  #armSweep(): void {
    if (this.#sweep !== undefined || this.model.nextExpiry() === undefined) return;
    this.#sweep = setInterval(() => {
      this.model.sweep(Date.now());
      if (this.model.nextExpiry() === undefined) {
        clearInterval(this.#sweep);
        this.#sweep = undefined;
      }
    }, SWEEP_MS);
    // The emulator's listening server keeps the process alive while it runs; this timer alone must not.
    this.#sweep.unref();
  }
}

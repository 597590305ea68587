import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as tls from 'node:tls';
import { generateDevCertificate, TypedEventEmitter } from '@ccs-xmpp/stream';
import { Devices, deviceHost, devicesOptions } from './devices.js';
import { AdminServer } from './admin-server.js';
import { EmulatorError } from './errors.js';
import { checkFaults, type Faults } from './faults.js';
import type { CcsEmulatorEvents, EmulatorEvent, Hub } from './hub.js';
import { Ledger, type Delivery, type LedgerTotals } from './ledger.js';
import { TlsListener } from './listener.js';
import { checkOptions, type CcsEmulatorOptions, type CheckedOptions } from './options.js';
import { deriveSeed, Prng } from './prng.js';
import { DeviceRegistry, type DeviceSpec } from './registry.js';
import { SeededDecisions } from './seeded-decisions.js';
import { Session } from './session.js';
import type { ConnectionInfo, DeviceInfo, EmulatorStatus } from './status.js';
import { UpstreamRouter, type UpstreamEntry } from './upstream-router.js';
import { UpstreamGenerator, UpstreamSource, pickDevice, type UpstreamInput } from './upstream-source.js';

export type { CcsEmulatorOptions, SenderAccount } from './options.js';
export type { UpstreamInput } from './upstream-source.js';
export type { ConnectionInfo, DeviceInfo, EmulatorStatus } from './status.js';

/**
 * A local Google Cloud Connection Server (CCS) over TLS, built on this project's stream, SASL and
 * stanza layers. See the package README for behaviour, token conventions and faults.
 *
 * ```ts
 * const emu = new CcsEmulator({ port: 0 });
 * await emu.start();
 * // connect a client to emu.host:emu.port with { ca: emu.ca, servername: 'localhost' }
 * await emu.stop();
 * ```
 *
 * Emits `event` ({@link EmulatorEvent}) for every connection, auth, bind, message and fault — only
 * built when someone listens.
 */
export class CcsEmulator extends TypedEventEmitter<CcsEmulatorEvents> {
  /** The address listened on. */
  readonly host: string;
  /** The port listened on (the real one once started, when `port: 0`). */
  port: number;
  /** PEM of the certificate a client should trust (`ca`, with servername `localhost`); set at `start()`. */
  ca = '';
  /** Path of a file holding `ca`, written at `start()` and removed at `stop()`. */
  caFile = '';
  /** The PRNG seed in use (to reproduce a run). */
  readonly seed: number;
  /** The simulated devices' presence, held messages and device groups (README "Devices"). */ readonly deviceModel: Devices;
  /** `http://127.0.0.1:PORT` of the admin API and console once started with `adminPort`, else `''`. */
  adminUrl = '';

  readonly #options: CcsEmulatorOptions;
  readonly #o: CheckedOptions;
  readonly #registry: DeviceRegistry;
  readonly #ledger: Ledger;
  readonly #prng: Prng;
  readonly #router: UpstreamRouter;
  readonly #source: UpstreamSource;
  readonly #generator = new UpstreamGenerator();
  readonly #hub: Hub;
  /** The devices created at construction, for `reset()`. */
  readonly #initialDevices: Array<[string, DeviceSpec]> = [];
  #listener: TlsListener | undefined;
  #admin: AdminServer | undefined;
  readonly #sessions = new Map<number, Session>();
  #globalFaults: Faults;
  readonly #connFaults = new Map<number, Faults>();
  #nextId = 1;
  #emitting = false;
  #caDir: string | undefined;
  #state: EmulatorStatus['state'] = 'new';
  /** The listen in progress, so that stop() can wait for it. */
  #starting: Promise<void> | undefined;

  /** Validates the options and creates the devices; nothing listens until `start()`. */
  constructor(options: CcsEmulatorOptions = {}) {
    super();
    this.#options = options;
    this.#o = checkOptions(options);
    this.host = this.#o.host;
    this.port = this.#o.port;
    this.#globalFaults = this.#o.faults;
    this.seed = (options.seed ?? randomInt(0, 2 ** 32 - 1)) >>> 0;
    this.#prng = new Prng(this.seed);
    this.#registry = new DeviceRegistry({
      acceptUnknownTokens: options.acceptUnknownTokens ?? true,
      deviceMaxPerSecond: options.deviceMaxPerSecond,
      topicMaxPerSecond: options.topicMaxPerSecond,
    });
    this.#ledger = new Ledger(options.keepDeliveries ?? true);
    this.#router = new UpstreamRouter(this.#o.maxQueuedUpstream);
    this.#source = new UpstreamSource(this.#o.domain, this.#o.category);
    this.deviceModel = new Devices(this.seed, deviceHost(this.#ledger, this.#router, this.#source), devicesOptions(options));
    const devices = Math.floor(options.devices ?? 0);
    for (const senderId of this.#o.senders.keys()) {
      for (let i = 0; i < devices; i++) {
        const token = `dev-${senderId}-${i}-${this.#prng.hex()}${this.#prng.hex()}`;
        this.#initialDevices.push([token, { senderId }]);
        this.#registry.add(token, { senderId });
      }
    }
    this.on('newListener', (name: string | symbol) => {
      if (name === 'event') this.#emitting = true;
    });
    this.on('removeListener', (name: string | symbol) => {
      if (name === 'event') this.#emitting = this.listenerCount('event') > 0;
    });
    this.#hub = this.#makeHub();
  }

  /** Listens (TLS). Resolves once listening; `port`, `ca` and `caFile` are then set. */
  start(): Promise<void> {
    if (this.#state !== 'new') return Promise.reject(new EmulatorError('EMU_ERR_STATE', `start() on an emulator that is ${this.#state}`));
    this.#state = 'starting';
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const { cert, key } = this.#options.cert !== undefined && this.#options.key !== undefined
      ? { cert: this.#options.cert, key: this.#options.key }
      : generateDevCertificate();
    this.ca = cert;
    try {
      this.#listener = new TlsListener({
        cert, key,
        handshakeTimeoutMs: this.#o.handshakeTimeoutMs,
        maxConnections: this.#o.maxConnections,
        open: () => this.#sessions.size,
        onConnection: (socket) => this.#accept(socket),
        emit: (e) => this.#emit(e),
      });
      this.port = await this.#listener.listen(this.port, this.host);
      if (this.#o.admin !== undefined) {
        this.#admin = new AdminServer(this, this.#o.admin);
        this.adminUrl = await this.#admin.start();
      }
    } catch (err) {
      this.#state = 'stopped';
      await this.#listener?.close();
      this.#listener = undefined;
      throw err;
    }
    this.#caDir = mkdtempSync(join(tmpdir(), 'ccs-emulator-'));
    this.caFile = join(this.#caDir, 'ca.pem');
    writeFileSync(this.caFile, cert, { mode: 0o644 });
    if ((this.#state as string) === 'stopping') {
      throw new EmulatorError('EMU_ERR_STATE', 'stop() was called before start() finished');
    }
    this.#generator.start(this.#options.upstreamRate ?? 0, (n) => this.#generateUpstream(n));
    this.deviceModel.start();
    this.#state = 'running';
  }

  /**
   * Closes every connection with a stream close (waiting up to `timeoutMs` for each client's own
   * closing tag), then the server. Resolves when every socket is gone. Idempotent.
   */
  async stop(timeoutMs = 1000): Promise<void> {
    if (this.#state === 'stopped' || this.#state === 'new') {
      this.#state = 'stopped';
      return;
    }
    if (this.#state === 'starting') {
      // Let start() finish listening (or fail) first: closing a server whose listen() has not
      // completed leaves start() waiting forever. start() then sees 'stopping' and rejects.
      this.#state = 'stopping';
      await this.#starting?.catch(() => undefined);
    }
    this.#state = 'stopped';
    this.#router.pumping = false;
    this.#generator.stop();
    this.deviceModel.stop();
    const listener = this.#listener;
    const serverClosed = listener ? listener.close() : Promise.resolve();
    const adminClosed = this.#admin?.stop();
    await Promise.all([...this.#sessions.values()].map((s) => s.shutdown(timeoutMs)));
    listener?.destroyAll();
    await serverClosed;
    await adminClosed;
    if (this.#caDir) rmSync(this.#caDir, { recursive: true, force: true });
    this.#caDir = undefined;
  }

  /** The configured sender IDs. */
  senderIds(): string[] {
    return [...this.#o.senders.keys()];
  }

  /** Registered device tokens of a sender (or of every sender). */
  deviceTokens(senderId?: string): string[] {
    return this.#registry.tokens(senderId);
  }

  /** Registers (or replaces) a simulated device. */
  addDevice(token: string, spec: DeviceSpec = {}): void {
    if (typeof token !== 'string' || token === '') throw new EmulatorError('EMU_ERR_CONFIG', 'a device token must be a non-empty string');
    this.#registry.add(token, spec);
    this.#emit({ type: 'device', token, state: spec.state ?? 'valid' });
  }

  /** A registered device, or undefined. */
  device(token: string): DeviceInfo | undefined {
    const spec = this.#registry.spec(token);
    if (spec === undefined) return undefined;
    return {
      token, senderId: spec.senderId, state: spec.state ?? 'valid', canonicalId: spec.canonicalId, maxPerSecond: spec.maxPerSecond,
      delivered: this.#ledger.deliveryCount(spec.canonicalId ?? token),
    };
  }

  /** Registered devices of a sender (or of every sender), in registration order. */
  devices(senderId?: string): DeviceInfo[] {
    return this.#registry.tokens(senderId).map((t) => this.device(t) as DeviceInfo);
  }

  /**
   * Queues an upstream message from a simulated device to `senderId`; it is written to one bound
   * connection of that sender (now, or when one exists and has room), re-sent until ACKed.
   * @returns its `message_id`.
   * @throws {EmulatorError} `EMU_ERR_UNKNOWN_SENDER`, `EMU_ERR_UPSTREAM_FULL`.
   */
  injectUpstream(senderId: string, msg: UpstreamInput = {}): string {
    if (!this.#o.senders.has(senderId)) throw new EmulatorError('EMU_ERR_UNKNOWN_SENDER', `no sender ${JSON.stringify(senderId)}`);
    if (this.#router.isFull(senderId)) {
      throw new EmulatorError('EMU_ERR_UPSTREAM_FULL', `${this.#o.maxQueuedUpstream} upstream messages already wait for a connection of sender ${senderId}`);
    }
    const from = msg.from ?? this.#registry.tokens(senderId)[0] ?? 'emulator-device';
    const entry = this.#source.message(senderId, from, msg);
    this.#ledger.upstreamInjected++;
    this.#router.enqueue(entry);
    return entry.id;
  }

  /**
   * Sends `CONNECTION_DRAINING` to the bound connections of a sender, one connection, or all; they
   * NACK new messages with `CONNECTION_DRAINING`, deliver what they owe, then close.
   * @returns how many connections started draining.
   */
  drain(target: { senderId?: string; connectionId?: number } = {}): number {
    let n = 0;
    for (const s of this.#sessions.values()) {
      if (target.connectionId !== undefined && s.id !== target.connectionId) continue;
      if (target.senderId !== undefined && s.senderId !== target.senderId) continue;
      if (s.drain()) n++;
    }
    return n;
  }

  /**
   * Replaces the global faults (no target), or one connection's own faults, which override the
   * global ones field by field. `setFaults({})` clears. Applies to open connections at once.
   */
  setFaults(faults: Faults, target: { connectionId?: number } = {}): void {
    const clean = checkFaults(faults);
    if (target.connectionId !== undefined) {
      this.#connFaults.set(target.connectionId, clean);
      this.#sessions.get(target.connectionId)?.applyFaults(this.#faultsFor(target.connectionId));
    } else {
      this.#globalFaults = clean;
      for (const s of this.#sessions.values()) s.applyFaults(this.#faultsFor(s.id));
    }
    this.#emit({ type: 'faults', ...(target.connectionId === undefined ? {} : { connectionId: target.connectionId }), faults: clean });
  }

  /** The global faults, or the ones in effect on a connection (undefined when it is not open). */
  faults(target: { connectionId?: number } = {}): Faults | undefined {
    if (target.connectionId === undefined) return { ...this.#globalFaults };
    return this.#sessions.has(target.connectionId) ? this.#faultsFor(target.connectionId) : undefined;
  }

  /** Open connections. */
  connections(): ConnectionInfo[] {
    return [...this.#sessions.values()].map((s) => ({
      id: s.id, senderId: s.senderId, jid: s.jid, state: s.state, draining: s.draining, pendingUpstream: s.pendingUpstream,
      owedAnswers: s.owedAnswers, since: s.since, faults: s.faults, flowControl: { ...s.flow.stats },
    }));
  }

  /** Everything at once: connections, senders, global faults, queued upstream and the ledger totals. */
  status(): EmulatorStatus {
    return {
      host: this.host, port: this.port, seed: this.seed, state: this.#state, senders: this.senderIds(),
      connections: this.connections(), faults: { ...this.#globalFaults }, queuedUpstream: this.#router.queuedTotal(), totals: this.ledger(), deviceTotals: this.deviceModel.totals(),
    };
  }

  /** The ledger's totals (see {@link LedgerTotals}). */
  ledger(): LedgerTotals {
    const l = this.#ledger;
    return l.totals(l.upstreamInjected - l.upstreamAcked);
  }

  /** What a simulated device (or `/topics/x`, or `condition:EXPR`) received, in order. */
  deliveredTo(token: string): Delivery[] {
    return this.#ledger.deliveredTo(token);
  }

  /**
   * Back to the start state without closing anything: the devices created at construction (others
   * forgotten), an empty ledger, the configured faults (connection overrides dropped), no upstream
   * waiting. Upstream in flight on open connections is still re-sent, but its ACK no longer counts.
   */
  reset(): void {
    this.#registry.clear();
    for (const [token, spec] of this.#initialDevices) this.#registry.add(token, spec);
    this.#ledger.reset();
    this.deviceModel.reset();
    this.#router.clear();
    this.#source.epoch++;
    this.#connFaults.clear();
    this.#globalFaults = this.#o.faults;
    for (const s of this.#sessions.values()) s.applyFaults(this.#faultsFor(s.id));
    this.#emit({ type: 'reset' });
  }

  // --- internals ------------------------------------------------------------------------------

  #accept(socket: tls.TLSSocket): void {
    if (this.#state !== 'running') {
      socket.destroy();
      return;
    }
    const id = this.#nextId++;
    const o = this.#options;
    const session = new Session(socket, id, this.#hub, {
      keepaliveIntervalMs: o.keepaliveIntervalMs ?? 30_000,
      idleTimeoutMs: o.idleTimeoutMs ?? 0,
      maxStanzaBytes: o.maxStanzaBytes ?? 256 * 1024,
      handshakeTimeoutMs: this.#o.handshakeTimeoutMs,
      seed: deriveSeed(this.seed, id),
    });
    this.#sessions.set(id, session);
    session.applyFaults(this.#faultsFor(id));
  }

  #faultsFor(id: number): Faults {
    const own = this.#connFaults.get(id);
    return own === undefined ? this.#globalFaults : { ...this.#globalFaults, ...own };
  }

  #emit(e: EmulatorEvent): void {
    if (this.#emitting) this.emit('event', e);
  }

  #generateUpstream(n: number): void {
    for (const senderId of this.#o.senders.keys()) {
      const tokens = this.#registry.tokens(senderId);
      for (let k = 0; k < n; k++) {
        if (this.#router.isFull(senderId)) {
          // Nobody takes them (no connection, or none with room): the devices' messages are lost,
          // and the ledger says how many, instead of a queue that grows for as long as it runs.
          this.#ledger.upstreamDropped += n - k;
          break;
        }
        const from = pickDevice(tokens, this.#prng);
        this.injectUpstream(senderId, { ...(from === undefined ? {} : { from }), data: { seq: this.#source.nextSeq, sentAt: Date.now() } });
      }
    }
  }

  #makeHub(): Hub {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const emu = this;
    const suffix = `@${this.#o.domain}`;
    const senderOf = (authcid: string): string | undefined => (authcid.endsWith(suffix) ? authcid.slice(0, -suffix.length) : undefined);
    const router = this.#router;
    return {
      domain: this.#o.domain,
      registry: this.#registry,
      ledger: this.#ledger,
      maxPendingUpstream: this.#options.maxPendingUpstream ?? 100,
      upstreamResendMs: this.#options.upstreamResendMs ?? 10_000,
      drainTimeoutMs: this.#options.drainTimeoutMs ?? 5000,
      drainMinMs: this.#options.drainMinMs ?? 0,
      decisions: new SeededDecisions(this.seed),
      devices: this.deviceModel,
      flowControl: this.#o.flowControl,
      legacyNacks: this.#o.legacyNacks,
      get emitting() {
        return emu.#emitting;
      },
      emit: (e) => this.emit('event', e),
      password: (authcid) => {
        const senderId = senderOf(authcid);
        return senderId === undefined ? undefined : this.#o.senders.get(senderId);
      },
      senderOf,
      bound: (outlet) => router.online(outlet),
      capacity: (outlet) => router.capacity(outlet),
      acked: (entry: UpstreamEntry) => {
        router.acked(entry);
        // An entry from before a reset() belongs to the old ledger.
        if (entry.epoch !== this.#source.epoch) return;
        if (entry.receipt) this.#ledger.receiptsAcked++;
        else this.#ledger.upstreamAcked++;
      },
      wasAcked: (senderId, id) => router.wasAcked(senderId, id),
      receipt: (outlet, originalId, token) => {
        this.#ledger.receiptsSent++;
        // Prefer the connection the message came on, as CCS tends to; else any.
        router.sendOrEnqueue(outlet, this.#source.receipt(outlet.senderId as string, originalId, token));
      },
      closed: (id, outlet, inflight) => {
        this.#sessions.delete(id);
        this.#connFaults.delete(id);
        router.offline(outlet, inflight);
      },
    };
  }
}

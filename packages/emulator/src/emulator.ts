import { constants, randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { accept, generateDevCertificate } from '@ccs-xmpp/stream';
import { EmulatorError } from './errors.js';
import { checkFaults, type Faults } from './faults.js';
import { Fifo } from './fifo.js';
import type { EmulatorEvent, Hub, UpstreamEntry } from './hub.js';
import { IdSet } from './id-set.js';
import { Ledger, type Delivery, type LedgerTotals } from './ledger.js';
import { deriveSeed, Prng } from './prng.js';
import { SeededDecisions } from './seeded-decisions.js';
import { DeviceRegistry, type DeviceSpec } from './registry.js';
import { Session } from './session.js';
import { upstreamStanza } from './wire.js';

/** One sender account: SASL PLAIN authcid `<senderId>@gcm.googleapis.com`, password `apiKey`. */
export interface SenderAccount {
  senderId: string;
  apiKey: string;
}

/** Options of {@link CcsEmulator}. Every one has a default. */
export interface CcsEmulatorOptions {
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Port; `0` picks a free one (read it from `emu.port` after `start()`). Default 5235. */
  port?: number;
  /** Server certificate (PEM). With `key`; when absent a development certificate is generated in process. */
  cert?: string;
  /** Private key (PEM) of `cert`. */
  key?: string;
  /** Accounts. Default `[{ senderId: '1234567890', apiKey: 'emulator-api-key' }]`. */
  senders?: SenderAccount[];
  /** Simulated devices created per sender (tokens in `deviceTokens(senderId)`). Default 0. */
  devices?: number;
  /** Treat any token that is not registered and has no special prefix as a valid device. Default true. */
  acceptUnknownTokens?: boolean;
  /** Un-ACKed upstream messages per connection before the emulator stops sending upstream on it. Default 100. */
  maxPendingUpstream?: number;
  /** Re-send an un-ACKed upstream message on the same connection after this long. Default 10 000 ms. */
  upstreamResendMs?: number;
  /** Faults for every connection (see {@link Faults}). Default none. */
  faults?: Faults;
  /** Seed of the PRNG behind fault probabilities and generated tokens. Default: random (see `emu.seed`). */
  seed?: number;
  /** Upstream messages per second that the simulated devices send, per sender. Default 0. */
  upstreamRate?: number;
  /** Default per-device rate limit (messages per second) before `DEVICE_MESSAGE_RATE_EXCEEDED`. Default none. */
  deviceMaxPerSecond?: number;
  /** Per-topic rate limit (messages per second) before `TOPICS_MESSAGE_RATE_EXCEEDED`. Default none. */
  topicMaxPerSecond?: number;
  /** `category` (app package name) of upstream messages and receipts. Default `com.example.emulator`. */
  category?: string;
  /** The XMPP domain. Default `gcm.googleapis.com`. */
  domain?: string;
  /** Whitespace keepalive interval. Default 30 000 ms; 0 disables. */
  keepaliveIntervalMs?: number;
  /** Close a connection that sent nothing for this long (`connection-timeout`). Default 0 (never). */
  idleTimeoutMs?: number;
  /** Largest stanza accepted (`policy-violation` above). Default 256 KiB. */
  maxStanzaBytes?: number;
  /** After CONNECTION_DRAINING, close once nothing is owed, or after this long at the latest. Default 5 000 ms. */
  drainTimeoutMs?: number;
  /** Keep every delivery for `deliveredTo` (turn off for long benchmarks). Default true. */
  keepDeliveries?: boolean;
  /**
   * A connection must finish TLS, SASL and bind within this long, or it is closed with a
   * `connection-timeout` stream error: a server left running must not hold half-open connections
   * (each costs ~45 KB). Default 10 000 ms; 0 disables.
   */
  handshakeTimeoutMs?: number;
  /**
   * Open connections at most; one more gets a `resource-constraint` stream error and is closed.
   * Default 1000.
   */
  maxConnections?: number;
  /**
   * Upstream messages waiting for a connection, per sender, at most. Past it, a message from the
   * simulated devices (`upstreamRate`) is dropped and counted in the ledger (`upstreamDropped`);
   * `injectUpstream` throws `EMU_ERR_UPSTREAM_FULL`. Default 10 000.
   */
  maxQueuedUpstream?: number;
}

/** A connection as `connections()` lists it. */
export interface ConnectionInfo {
  id: number;
  senderId: string | undefined;
  jid: string | undefined;
  draining: boolean;
  pendingUpstream: number;
}

/** What `injectUpstream` sends: an upstream message from a simulated device. */
export interface UpstreamInput {
  /** The device's registration token. Default: the sender's first device, else `emulator-device`. */
  from?: string;
  data?: object;
  category?: string;
  /** Default `up-N`. */
  message_id?: string;
}

const DEFAULT_SENDERS: SenderAccount[] = [{ senderId: '1234567890', apiKey: 'emulator-api-key' }];
const SENDER_ID = /^[^@/\s]+$/;
/** Sockets still in their TLS handshake beyond `maxConnections` (each is refused with a stream error once TLS is up). */
const PRE_TLS_SLACK = 64;

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
export class CcsEmulator extends EventEmitter {
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

  readonly #options: CcsEmulatorOptions;
  readonly #senders = new Map<string, string>();
  readonly #registry: DeviceRegistry;
  readonly #ledger: Ledger;
  readonly #prng: Prng;
  readonly #domain: string;
  readonly #hub: Hub;
  #server: tls.Server | undefined;
  readonly #sockets = new Set<net.Socket>();
  readonly #sessions = new Map<number, Session>();
  readonly #online = new Map<string, Session[]>();
  readonly #rr = new Map<string, number>();
  readonly #queues = new Map<string, Fifo<UpstreamEntry>>();
  readonly #acked = new Map<string, IdSet>();
  #globalFaults: Faults;
  readonly #connFaults = new Map<number, Faults>();
  #nextId = 1;
  #upstreamSeq = 0;
  #emitting = false;
  #rateTimer: NodeJS.Timeout | undefined;
  #rateCredit = 0;
  #caDir: string | undefined;
  #state: 'new' | 'starting' | 'stopping' | 'running' | 'stopped' = 'new';
  readonly #handshakeMs: number;
  readonly #maxConnections: number;
  readonly #maxQueuedUpstream: number;
  /** The listen in progress, so that stop() can wait for it. */
  #starting: Promise<void> | undefined;

  /** Validates the options and creates the devices; nothing listens until `start()`. */
  constructor(options: CcsEmulatorOptions = {}) {
    super();
    this.#options = options;
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 5235;
    if (!Number.isInteger(this.port) || this.port < 0 || this.port > 65535) throw new EmulatorError('EMU_ERR_CONFIG', 'port must be an integer 0…65535');
    if ((options.cert === undefined) !== (options.key === undefined)) throw new EmulatorError('EMU_ERR_CONFIG', 'cert and key go together');
    for (const { senderId, apiKey } of options.senders ?? DEFAULT_SENDERS) {
      if (typeof senderId !== 'string' || !SENDER_ID.test(senderId)) throw new EmulatorError('EMU_ERR_CONFIG', `invalid sender ID ${JSON.stringify(senderId)}`);
      // Never echo the key itself.
      if (typeof apiKey !== 'string' || apiKey === '') throw new EmulatorError('EMU_ERR_CONFIG', `sender ${senderId} needs a non-empty API key`);
      this.#senders.set(senderId, apiKey);
    }
    if (this.#senders.size === 0) throw new EmulatorError('EMU_ERR_CONFIG', 'at least one sender is required');
    const positive = (name: keyof CcsEmulatorOptions, min: number): void => {
      const v = options[name];
      if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < min)) throw new EmulatorError('EMU_ERR_CONFIG', `${name} must be a number ≥ ${min}`);
    };
    positive('devices', 0);
    positive('maxPendingUpstream', 1);
    positive('upstreamResendMs', 1);
    positive('upstreamRate', 0);
    positive('deviceMaxPerSecond', 0);
    positive('topicMaxPerSecond', 0);
    positive('keepaliveIntervalMs', 0);
    positive('idleTimeoutMs', 0);
    positive('maxStanzaBytes', 64);
    positive('drainTimeoutMs', 0);
    positive('handshakeTimeoutMs', 0);
    positive('maxConnections', 1);
    positive('maxQueuedUpstream', 1);
    this.#globalFaults = checkFaults(options.faults);
    this.#handshakeMs = options.handshakeTimeoutMs ?? 10_000;
    this.#maxConnections = Math.floor(options.maxConnections ?? 1000);
    this.#maxQueuedUpstream = Math.floor(options.maxQueuedUpstream ?? 10_000);
    this.seed = (options.seed ?? randomInt(0, 2 ** 32 - 1)) >>> 0;
    this.#prng = new Prng(this.seed);
    this.#domain = options.domain ?? 'gcm.googleapis.com';
    this.#registry = new DeviceRegistry({
      acceptUnknownTokens: options.acceptUnknownTokens ?? true,
      deviceMaxPerSecond: options.deviceMaxPerSecond,
      topicMaxPerSecond: options.topicMaxPerSecond,
    });
    this.#ledger = new Ledger(options.keepDeliveries ?? true);
    const devices = Math.floor(options.devices ?? 0);
    for (const senderId of this.#senders.keys()) {
      for (let i = 0; i < devices; i++) this.#registry.add(`dev-${senderId}-${i}-${this.#prng.hex()}${this.#prng.hex()}`, { senderId });
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
    let server: tls.Server;
    try {
      server = tls.createServer({
        cert, key,
        // Client-initiated renegotiation is refused outright: each costs a full handshake of CPU,
        // and Node only reports (never stops) a client that renegotiates in a loop.
        secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
        // The TLS part of the handshake deadline (Node's default is 120 s).
        handshakeTimeout: this.#handshakeMs > 0 ? this.#handshakeMs : 120_000,
      });
    } catch (err) {
      this.#state = 'stopped';
      throw new EmulatorError('EMU_ERR_CONFIG', `unusable cert/key: ${(err as Error).message}`, { cause: err });
    }
    this.#server = server;
    server.on('connection', (socket: net.Socket) => {
      // Past the cap (with room for the TLS handshakes of the ones about to be refused with a
      // stream error), a socket is dropped before TLS: there is no stream yet to carry an error.
      if (this.#sockets.size >= this.#maxConnections + PRE_TLS_SLACK) {
        socket.destroy();
        this.#emit({ type: 'connection-refused', reason: 'max-connections' });
        return;
      }
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => this.#accept(socket));
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => this.#emit({ type: 'tls-error', code: err.code ?? 'TLS_ERROR' }));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.port, this.host, () => {
          server.removeListener('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.#state = 'stopped';
      this.#server = undefined;
      throw new EmulatorError('EMU_ERR_LISTEN', `cannot listen on ${this.host}:${this.port}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
    server.on('error', (err) => this.#emit({ type: 'server-error', message: err.message }));
    this.port = (server.address() as net.AddressInfo).port;
    this.#caDir = mkdtempSync(join(tmpdir(), 'ccs-emulator-'));
    this.caFile = join(this.#caDir, 'ca.pem');
    writeFileSync(this.caFile, cert, { mode: 0o644 });
    if ((this.#state as string) === 'stopping') {
      throw new EmulatorError('EMU_ERR_STATE', 'stop() was called before start() finished');
    }
    const rate = this.#options.upstreamRate ?? 0;
    if (rate > 0) this.#rateTimer = setInterval(() => this.#generateUpstream(rate / 10), 100).unref();
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
    if (this.#rateTimer) clearInterval(this.#rateTimer);
    this.#rateTimer = undefined;
    const server = this.#server;
    const serverClosed = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await Promise.all([...this.#sessions.values()].map((s) => s.shutdown(timeoutMs)));
    // Sockets that never finished their TLS handshake have no session.
    for (const socket of this.#sockets) socket.destroy();
    await serverClosed;
    if (this.#caDir) rmSync(this.#caDir, { recursive: true, force: true });
    this.#caDir = undefined;
  }

  /** Registered device tokens of a sender (or of every sender). */
  deviceTokens(senderId?: string): string[] {
    return this.#registry.tokens(senderId);
  }

  /** Registers (or replaces) a simulated device. */
  addDevice(token: string, spec: DeviceSpec = {}): void {
    if (typeof token !== 'string' || token === '') throw new EmulatorError('EMU_ERR_CONFIG', 'a device token must be a non-empty string');
    this.#registry.add(token, spec);
  }

  /**
   * Queues an upstream message from a simulated device to `senderId`; it is written to one bound
   * connection of that sender (now, or when one exists and has room), re-sent until ACKed.
   * @returns its `message_id`.
   * @throws {EmulatorError} `EMU_ERR_UNKNOWN_SENDER`.
   */
  injectUpstream(senderId: string, msg: UpstreamInput = {}): string {
    if (!this.#senders.has(senderId)) throw new EmulatorError('EMU_ERR_UNKNOWN_SENDER', `no sender ${JSON.stringify(senderId)}`);
    if (this.#queueFull(senderId)) {
      throw new EmulatorError('EMU_ERR_UPSTREAM_FULL', `${this.#maxQueuedUpstream} upstream messages already wait for a connection of sender ${senderId}`);
    }
    const id = msg.message_id ?? `up-${++this.#upstreamSeq}`;
    const from = msg.from ?? this.#registry.tokens(senderId)[0] ?? 'emulator-device';
    const payload = {
      category: msg.category ?? this.#options.category ?? 'com.example.emulator',
      data: msg.data ?? {},
      message_id: id,
      from,
      time_to_live: 86400,
    };
    this.#ledger.upstreamInjected++;
    this.#enqueue({ id, senderId, stanza: upstreamStanza(`${senderId}@${this.#domain}`, payload), receipt: false, sentAt: 0, sends: 0 });
    return id;
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
      return;
    }
    this.#globalFaults = clean;
    for (const s of this.#sessions.values()) s.applyFaults(this.#faultsFor(s.id));
  }

  /** Open connections. */
  connections(): ConnectionInfo[] {
    return [...this.#sessions.values()].map((s) => ({
      id: s.id, senderId: s.senderId, jid: s.jid, draining: s.draining, pendingUpstream: s.pendingUpstream,
    }));
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

  // --- internals ------------------------------------------------------------------------------

  #accept(socket: tls.TLSSocket): void {
    if (this.#state !== 'running') {
      socket.destroy();
      return;
    }
    if (this.#sessions.size >= this.#maxConnections) {
      // RFC 6120 §4.9.3.17: the server lacks the resources to serve this stream.
      const conn = accept(socket, { keepaliveIntervalMs: 0, closeTimeoutMs: 1000 }, { onStanza: () => undefined });
      conn.streamError('resource-constraint', `connection limit (${this.#maxConnections}) reached`);
      this.#emit({ type: 'connection-refused', reason: 'max-connections' });
      return;
    }
    const id = this.#nextId++;
    const o = this.#options;
    const session = new Session(socket, id, this.#hub, {
      keepaliveIntervalMs: o.keepaliveIntervalMs ?? 30_000,
      idleTimeoutMs: o.idleTimeoutMs ?? 0,
      maxStanzaBytes: o.maxStanzaBytes ?? 256 * 1024,
      handshakeTimeoutMs: this.#handshakeMs,
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

  #enqueue(entry: UpstreamEntry): void {
    let q = this.#queues.get(entry.senderId);
    if (!q) this.#queues.set(entry.senderId, (q = new Fifo()));
    q.push(entry);
    this.#pump(entry.senderId);
  }

  /** Hands queued upstream messages to the sender's connections that have room, round robin. */
  #pump(senderId: string): void {
    const q = this.#queues.get(senderId);
    const online = this.#online.get(senderId);
    if (!q || q.length === 0 || !online || online.length === 0) return;
    const now = Date.now();
    let i = this.#rr.get(senderId) ?? 0;
    let misses = 0;
    while (q.length > 0 && misses < online.length) {
      const s = online[i % online.length] as Session;
      i++;
      if (!s.canTakeUpstream || s.hasUpstream((q.peek() as UpstreamEntry).id)) {
        misses++;
        continue;
      }
      misses = 0;
      s.sendUpstream(q.shift() as UpstreamEntry, now);
    }
    this.#rr.set(senderId, i % online.length);
  }

  #queueFull(senderId: string): boolean {
    return (this.#queues.get(senderId)?.length ?? 0) >= this.#maxQueuedUpstream;
  }

  #generateUpstream(perTick: number): void {
    this.#rateCredit += perTick;
    // Bounded: a stalled event loop must not turn into a burst of millions.
    const n = Math.min(Math.floor(this.#rateCredit), 10_000);
    this.#rateCredit -= Math.floor(this.#rateCredit);
    for (const senderId of this.#senders.keys()) {
      const tokens = this.#registry.tokens(senderId);
      for (let k = 0; k < n; k++) {
        if (this.#queueFull(senderId)) {
          // Nobody takes them (no connection, or none with room): the devices' messages are lost,
          // and the ledger says how many, instead of a queue that grows for as long as it runs.
          this.#ledger.upstreamDropped += n - k;
          break;
        }
        const from = tokens.length > 0 ? tokens[Math.floor(this.#prng.next() * tokens.length)] : undefined;
        this.injectUpstream(senderId, { ...(from === undefined ? {} : { from }), data: { seq: this.#upstreamSeq + 1, sentAt: Date.now() } });
      }
    }
  }

  #makeHub(): Hub {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const emu = this;
    const suffix = `@${this.#domain}`;
    return {
      domain: this.#domain,
      registry: this.#registry,
      ledger: this.#ledger,
      maxPendingUpstream: this.#options.maxPendingUpstream ?? 100,
      upstreamResendMs: this.#options.upstreamResendMs ?? 10_000,
      drainTimeoutMs: this.#options.drainTimeoutMs ?? 5000,
      decisions: new SeededDecisions(this.seed),
      get emitting() {
        return emu.#emitting;
      },
      emit: (e) => this.emit('event', e),
      password: (authcid) => {
        const senderId = authcid.endsWith(suffix) ? authcid.slice(0, -suffix.length) : undefined;
        return senderId === undefined ? undefined : this.#senders.get(senderId);
      },
      senderOf: (authcid) => (authcid.endsWith(suffix) ? authcid.slice(0, -suffix.length) : undefined),
      faultsFor: (session) => this.#faultsFor(session.id),
      bound: (session) => {
        const senderId = session.senderId as string;
        let list = this.#online.get(senderId);
        if (!list) this.#online.set(senderId, (list = []));
        list.push(session);
        this.#pump(senderId);
      },
      capacity: (session) => {
        if (session.senderId !== undefined) this.#pump(session.senderId);
      },
      acked: (_session, entry) => {
        let set = this.#acked.get(entry.senderId);
        if (!set) this.#acked.set(entry.senderId, (set = new IdSet()));
        set.add(entry.id);
        if (entry.receipt) this.#ledger.receiptsAcked++;
        else this.#ledger.upstreamAcked++;
      },
      wasAcked: (senderId, id) => this.#acked.get(senderId)?.has(id) ?? false,
      receipt: (session, originalId, token) => {
        const senderId = session.senderId as string;
        const payload = {
          message_type: 'receipt',
          message_id: `dr2:${originalId}`,
          from: this.#domain,
          category: this.#options.category ?? 'com.example.emulator',
          data: {
            message_status: 'MESSAGE_SENT_TO_DEVICE',
            original_message_id: originalId,
            device_registration_id: token,
            message_sent_timestamp: String(Date.now()),
          },
        };
        this.#ledger.receiptsSent++;
        const entry: UpstreamEntry = { id: payload.message_id, senderId, stanza: upstreamStanza(`${senderId}@${this.#domain}`, payload), receipt: true, sentAt: 0, sends: 0 };
        // Prefer the connection the message came on, as CCS tends to; else any.
        if (session.canTakeUpstream && !session.hasUpstream(entry.id)) session.sendUpstream(entry, Date.now());
        else this.#enqueue(entry);
      },
      closed: (session, inflight) => {
        this.#sessions.delete(session.id);
        this.#connFaults.delete(session.id);
        const senderId = session.senderId;
        if (senderId === undefined) return;
        const list = this.#online.get(senderId);
        if (list) {
          const at = list.indexOf(session);
          if (at !== -1) list.splice(at, 1);
        }
        if (inflight.length > 0) {
          let q = this.#queues.get(senderId);
          if (!q) this.#queues.set(senderId, (q = new Fifo()));
          // Un-ACKed upstream goes first on the sender's next connection (PROTOCOL.md "Upstream").
          q.prepend(inflight);
        }
        if (this.#state === 'running') this.#pump(senderId);
      },
    };
  }
}

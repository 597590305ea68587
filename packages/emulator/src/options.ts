import { isLoopback } from './admin-http.js';
import { EmulatorError } from './errors.js';
import type { DeviceSchedule, ScriptedTransition } from './device-model.js';
import { checkFaults, MAX_TIMER_MS, type Faults } from './faults.js';
import type { FlowControlOptions } from './flow-control.js';

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
  /** Simulated devices created per sender (tokens in `deviceTokens(senderId)`), at most 100 000. Default 0. */
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
  /**
   * After `CONNECTION_DRAINING` (and the XEP-0199 ping that follows it), the connection closes once
   * nothing is owed and the client answered the ping — by then everything it sent before the answer
   * has been read and answered — or after this long at the latest: un-ACKed upstream moves to
   * another connection, and a client that never answers pings cannot keep it open. Default 5 000 ms.
   */
  drainTimeoutMs?: number;
  /**
   * A drained connection stays open at least this long, even once the ping is answered and nothing
   * is owed: messages a client sends after that (one that ignores `CONNECTION_DRAINING`) still get
   * their `CONNECTION_DRAINING` NACK for this long. Default 0: it closes as soon as it may.
   */
  drainMinMs?: number;
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
  /**
   * Devices go offline, idle and back on a seeded schedule counted in messages sent to each device
   * (see `DeviceSchedule`); what an offline device is sent is held, expires after its
   * `time_to_live`, collapses by `collapse_key`. Default: every device always online.
   */
  deviceSchedule?: DeviceSchedule;
  /** Scripted transitions, `atMs` after `start()`: `[{ token, state: 'offline', atMs: 0 }, …]`. */
  deviceScript?: ScriptedTransition[];
  /** Device groups: notification key → member tokens (ACKs carry `success`/`failure`). */
  deviceGroups?: Record<string, string[]>;
  /**
   * The flow-control window a client must respect: un-answered downstream messages per connection
   * (the CCS document's 1000). Each connection's maximum and every message past the window are
   * counted (`connections()[i].flowControl`, `ledger().flowControlViolations`). Default 1000.
   */
  maxPendingDownstream?: number;
  /** Close a connection that goes past `maxPendingDownstream` with a `policy-violation` stream error. Default false. */
  strictFlowControl?: boolean;
  /**
   * Answer as the CCS document's era did: an `INVALID_JSON` NACK carries its composite text in
   * `error` (`"InvalidJson : INVALID_TTL : …"`, no `error_description`), and tokens `authfailed-…` /
   * `quota-…` get `AUTHENTICATION_FAILED` / `QUOTA_EXCEEDED`. Default false (the later shape).
   */
  legacyNacks?: boolean;
  /** Serve the admin HTTP API and web console on this port (0 = any free one; read `emu.adminUrl`). Default: none. */
  adminPort?: number;
  /** Address of the admin API. Default `127.0.0.1`; any other than loopback requires `adminToken`. */
  adminHost?: string;
  /** Token the admin API requires on every request (`Authorization: Bearer T` or `?token=T`). */
  adminToken?: string;
}

export const DEFAULT_SENDERS: SenderAccount[] = [{ senderId: '1234567890', apiKey: 'emulator-api-key' }];
const SENDER_ID = /^[^@/\s]+$/;

/** The options after validation, defaults applied. */
export interface CheckedOptions {
  host: string;
  port: number;
  senders: Map<string, string>;
  faults: Faults;
  domain: string;
  category: string;
  handshakeTimeoutMs: number;
  maxConnections: number;
  maxQueuedUpstream: number;
  flowControl: FlowControlOptions;
  legacyNacks: boolean;
  admin: { host: string; port: number; token: string | undefined } | undefined;
}

/** Simulated devices per sender at most. */
const MAX_DEVICES = 100_000;

/**
 * Validates the options.
 * @throws {EmulatorError} `EMU_ERR_CONFIG` naming the bad option; never quoting an API key.
 */
export function checkOptions(options: CcsEmulatorOptions): CheckedOptions {
  const port = options.port ?? 5235;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new EmulatorError('EMU_ERR_CONFIG', 'port must be an integer 0…65535');
  if ((options.cert === undefined) !== (options.key === undefined)) throw new EmulatorError('EMU_ERR_CONFIG', 'cert and key go together');
  const senders = new Map<string, string>();
  for (const { senderId, apiKey } of options.senders ?? DEFAULT_SENDERS) {
    if (typeof senderId !== 'string' || !SENDER_ID.test(senderId)) throw new EmulatorError('EMU_ERR_CONFIG', `invalid sender ID ${JSON.stringify(senderId)}`);
    // Never echo the key itself.
    if (typeof apiKey !== 'string' || apiKey === '') throw new EmulatorError('EMU_ERR_CONFIG', `sender ${senderId} needs a non-empty API key`);
    senders.set(senderId, apiKey);
  }
  if (senders.size === 0) throw new EmulatorError('EMU_ERR_CONFIG', 'at least one sender is required');
  const positive = (name: keyof CcsEmulatorOptions, min: number): void => {
    const v = options[name];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < min)) throw new EmulatorError('EMU_ERR_CONFIG', `${name} must be a number ≥ ${min}`);
  };
  positive('devices', 0);
  // Every device is created up front (tokens, presence, delivery lists): 10^11 of them ran the process
  // out of memory instead of being refused. 10^5 take about 50 MB and a second.
  if ((options.devices ?? 0) > MAX_DEVICES) throw new EmulatorError('EMU_ERR_CONFIG', `devices must be at most ${MAX_DEVICES} per sender`);
  positive('maxPendingUpstream', 1);
  positive('upstreamResendMs', 1);
  positive('upstreamRate', 0);
  positive('deviceMaxPerSecond', 0);
  positive('topicMaxPerSecond', 0);
  positive('keepaliveIntervalMs', 0);
  positive('idleTimeoutMs', 0);
  positive('maxStanzaBytes', 64);
  positive('drainTimeoutMs', 0);
  positive('drainMinMs', 0);
  positive('handshakeTimeoutMs', 0);
  positive('maxConnections', 1);
  positive('maxQueuedUpstream', 1);
  positive('maxPendingDownstream', 1);
  // A Node timer waits at most 2^31 - 1 ms; a longer delay fires after 1 ms instead (a
  // TimeoutOverflowWarning): a handshakeTimeoutMs of 3e9 cut every connection at once.
  for (const name of ['upstreamResendMs', 'keepaliveIntervalMs', 'idleTimeoutMs', 'drainTimeoutMs', 'drainMinMs', 'handshakeTimeoutMs'] as const) {
    const v = options[name];
    if (v !== undefined && v > MAX_TIMER_MS) throw new EmulatorError('EMU_ERR_CONFIG', `${name} must be at most ${MAX_TIMER_MS} ms`);
  }
  const adminPort = options.adminPort;
  if (adminPort !== undefined && (!Number.isInteger(adminPort) || adminPort < 0 || adminPort > 65535)) throw new EmulatorError('EMU_ERR_CONFIG', 'adminPort must be an integer 0…65535');
  const adminHost = options.adminHost ?? '127.0.0.1';
  const adminToken = options.adminToken;
  if (adminToken !== undefined && (typeof adminToken !== 'string' || adminToken.length < 8)) throw new EmulatorError('EMU_ERR_CONFIG', 'adminToken must be a string of at least 8 characters');
  if (adminPort !== undefined && !isLoopback(adminHost) && adminToken === undefined) {
    throw new EmulatorError('EMU_ERR_CONFIG', `the admin API on ${adminHost} (not loopback) needs adminToken`);
  }
  return {
    admin: adminPort === undefined ? undefined : { host: adminHost, port: adminPort, token: adminToken },
    host: options.host ?? '127.0.0.1',
    port,
    senders,
    faults: checkFaults(options.faults),
    domain: options.domain ?? 'gcm.googleapis.com',
    category: options.category ?? 'com.example.emulator',
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
    maxConnections: Math.floor(options.maxConnections ?? 1000),
    maxQueuedUpstream: Math.floor(options.maxQueuedUpstream ?? 10_000),
    flowControl: { maxPendingDownstream: Math.floor(options.maxPendingDownstream ?? 1000), strict: options.strictFlowControl === true },
    legacyNacks: options.legacyNacks === true,
  };
}

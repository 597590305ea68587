/**
 * The echo app server of the CCS seed document, run against an embedded emulator: simulated
 * devices send upstream messages, the app server (a `CcsClient`) ACKs each one after echoing its
 * `data` back to the sender, with NACKs, a drain and a connection cut along the way. The result is
 * checked against the emulator's ledger, message by message.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CcsClient, NackError, type ConnectionEvent, type UpstreamMessage } from '@ccs-xmpp/ccs';
import { CcsEmulator, Prng, type Delivery } from '@ccs-xmpp/emulator';
import { Progress, type DemoOutput, type ProgressSnapshot } from './progress.js';
import { formatSummary } from './summary.js';

/** Faults the demo provokes. Each one is shown handled with nothing lost. */
export interface DemoFaults {
  /** Share of upstream messages sent by devices whose echo CCS refuses for good (half `unregistered-…`, half `bad-…`). Default 0.02. */
  nackRate?: number;
  /** Share of echoes the emulator answers with `SERVICE_UNAVAILABLE` (retried with backoff). Default 0.01. */
  serviceUnavailableRate?: number;
  /** When to drain one connection (`CONNECTION_DRAINING`), as a fraction of the messages injected; `false`: never. Default 0.4. */
  drainAt?: number | false;
  /** When to cut one connection (socket destroyed, answers lost), as a fraction; `false`: never. Default 0.7. */
  cutAt?: number | false;
  /** Bursts of 3 from one device limited to 2 messages/s: `DEVICE_MESSAGE_RATE_EXCEEDED`, retried after a per-device slow-down. Default true. */
  rateLimit?: boolean;
  /**
   * Share of devices (chosen by the seed) offline until the end of the run: CCS ACKs echoes to
   * them and holds them; they are delivered when the devices come back at the end, except every
   * tenth echo, sent with `time_to_live: 0` ("now or never"), which expires. Default 0.1.
   */
  offlineShare?: number;
}

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Simulated devices. Default 300. */
  devices?: number;
  /** Upstream messages to inject. Default 5000. */
  messages?: number;
  /** Run this long instead: `messages = rate × durationSec`. */
  durationSec?: number;
  /** Upstream messages per second. Default 400. */
  rate?: number;
  /** App server connections. Default 2. */
  connections?: number;
  faults?: DemoFaults;
  /** Seed of the device choice and of the emulator's fault draws. Default: random (printed). */
  seed?: number;
  /** After the last injection, wait this long at most for everything to settle. Default 30 000 ms. */
  settleTimeoutMs?: number;
  /** Status redraw interval. Default 100 ms on a TTY, 2000 ms otherwise. */
  progressIntervalMs?: number;
  /** Stops injecting; what was injected still settles and is summarised. */
  signal?: AbortSignal;
  /**
   * Serve the emulator's web console (its admin API on a free loopback port, URL printed first)
   * and keep the emulator and console up after the summary until `signal` aborts.
   */
  console?: boolean;
}

/** Where the demo writes and how it tells time. */
export interface DemoIo {
  out: DemoOutput;
  /** Milliseconds, monotonic. Default `performance.now()`. */
  now?: () => number;
}

/** NACKs of one code as the app server saw them. */
export interface NackCount {
  /** NACKs received (each retry's NACK included). */
  received: number;
  /** Sends that ended with this NACK (the promise rejected). */
  final: number;
}

/** The numbers of the summary table. */
export interface DemoSummary {
  seed: number;
  devices: number;
  connections: number;
  elapsedMs: number;
  /** Stopped early by the signal. */
  aborted: boolean;
  upstream: {
    /** Upstream messages the devices sent (`injectUpstream`). */
    injected: number;
    /** Distinct ones the app server ACKed, per the emulator's ledger. */
    acked: number;
    /** Not ACKed, per the ledger. */
    unacked: number;
    /** Distinct ones that reached the handler. */
    handled: number;
    /** Re-sent upstream messages the client dropped (already handled). */
    duplicatesDropped: number;
  };
  echoes: {
    /** Echoes sent (one per handled upstream message; a handler re-run after a failure sends the same message again). */
    sent: number;
    acked: number;
    /** Refused for good (NACK). */
    nacked: number;
    /** Other failures (timeout, close), after which the upstream message was left un-ACKed for CCS to resend. */
    errors: number;
    /** ACKs with a canonical `registration_id`. */
    canonical: number;
    /** Distinct messages delivered to devices, per the ledger. */
    delivered: number;
    /** Deliveries of a message already delivered (at-least-once re-sends after a cut). */
    deliveredDuplicates: number;
  };
  /** By NACK code. */
  nacks: Record<string, NackCount>;
  /** NACK-driven retries. */
  retries: number;
  /** Messages re-sent because their connection closed or drained before answering. */
  resent: number;
  reconnects: number;
  drainings: number;
  /** Connections lost with an error (the cut). */
  cuts: number;
  /**
   * ACK latency of the client's downstream messages (the echoes): from each one's last write to its
   * ACK, read from the client's `stats().ackLatency` histogram (percentiles are bucket bounds, √2 apart).
   */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Messages the ledger shows lost: see {@link DemoSummary.lostDetail}. 0 for a good run. */
  lost: number;
  lostDetail: {
    /** Upstream messages never ACKed by the app server (per the ledger), though the run settled. */
    notAcked: number;
    /** Upstream messages that never reached the handler. */
    notHandled: number;
    /** Echoes whose send never settled. */
    unsettled: number;
    /** ACKed echoes missing from the receiving device in the ledger (or with other data). */
    notDelivered: number;
  };
  /** What the simulated devices did with ACKed echoes (the emulator's device model). */
  devicesSeen: {
    /** Devices offline during the run (back online at its end). */
    offline: number;
    /** Echoes CCS held for them. */
    held: number;
    /** Held echoes delivered when the devices came back. */
    deliveredLater: number;
    /** Echoes that expired instead (`time_to_live: 0` to an offline device): ACKed, never delivered, not lost. */
    expired: number;
  };
  /** Echoes to valid devices refused for good (reported to the app, not lost, but not delivered either). */
  failed: number;
  /** Handler calls for an upstream message it had already handled. */
  duplicatesToHandler: number;
  /** `lost === 0 && failed === 0`. */
  ok: boolean;
}

const SENDER_ID = '1234567890';
// Echoes to these are refused for good, as the seed document's echo server would see them.
const INVALID_POOL = 4;
const CANONICAL_SHARE = 0.005;
const CHATTY_LIMIT = 2;
const CHATTY_BURST = 3;
const TICK_MS = 20;

const enum EchoState {
  /** Injected, not handled yet. */
  Injected,
  /** The echo is being sent. */
  Sending,
  Acked,
  Nacked,
  /** The send failed without a NACK; the upstream message is waiting to be re-sent by CCS. */
  Failed,
}

interface Track {
  from: string;
  seq: string;
  /** A device whose echo CCS must refuse. */
  refuse: boolean;
  state: EchoState;
  deliverTo: string;
}

interface Resolved {
  devices: number;
  messages: number;
  rate: number;
  connections: number;
  seed: number;
  nackRate: number;
  serviceUnavailableRate: number;
  drainAt: number | false;
  cutAt: number | false;
  rateLimit: boolean;
  offlineShare: number;
  settleTimeoutMs: number;
}

function resolve(o: DemoOptions): Resolved {
  const num = (name: string, v: number | undefined, def: number, min: number, max = Infinity): number => {
    const n = v ?? def;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max) throw new RangeError(`${name} must be a number in [${min}, ${max}], got ${String(v)}`);
    return n;
  };
  const frac = (name: string, v: number | false | undefined, def: number): number | false => (v === false ? false : num(name, v, def, 0, 1));
  const f = o.faults ?? {};
  const rate = num('rate', o.rate, 400, 1, 100_000);
  const messages = o.durationSec !== undefined
    ? Math.max(1, Math.round(rate * num('durationSec', o.durationSec, 0, 0.01, 86_400)))
    : Math.floor(num('messages', o.messages, 5000, 1, 10_000_000));
  return {
    devices: Math.floor(num('devices', o.devices, 300, 1, 1_000_000)),
    messages,
    rate,
    connections: Math.floor(num('connections', o.connections, 2, 1, 64)),
    seed: Math.floor(num('seed', o.seed ?? randomInt(0, 2 ** 31), 0, 0, 2 ** 32 - 1)),
    nackRate: num('nackRate', f.nackRate, 0.02, 0, 1),
    serviceUnavailableRate: num('serviceUnavailableRate', f.serviceUnavailableRate, 0.01, 0, 0.5),
    drainAt: frac('drainAt', f.drainAt, 0.4),
    cutAt: frac('cutAt', f.cutAt, 0.7),
    rateLimit: f.rateLimit ?? true,
    offlineShare: num('offlineShare', f.offlineShare, 0.1, 0, 1),
    settleTimeoutMs: num('settleTimeoutMs', o.settleTimeoutMs, 30_000, 0),
  };
}

function pct(x: number): string {
  return `${+(x * 100).toFixed(2)}%`;
}

/**
 * Runs the demo and resolves with its summary (also printed to `io.out`, after live progress).
 * Never calls `process.exit`; everything it opened is closed when it resolves.
 * @throws {RangeError} for a bad option, before anything starts.
 */
export async function runDemo(options: DemoOptions, io: DemoIo): Promise<DemoSummary> {
  const cfg = resolve(options);
  const now = io.now ?? (() => performance.now());
  const out = io.out;
  const rng = new Prng(cfg.seed);
  // A throwaway key: it only has to match between the two ends of this process.
  const apiKey = randomBytes(16).toString('hex');
  const emu = new CcsEmulator({
    port: 0,
    devices: cfg.devices,
    seed: cfg.seed,
    senders: [{ senderId: SENDER_ID, apiKey }],
    faults: cfg.serviceUnavailableRate > 0 ? { serviceUnavailableRate: cfg.serviceUnavailableRate } : {},
    upstreamResendMs: 5000,
    // Offline for the whole run (phases far longer than it), back online at its end: which devices,
    // and so which echoes are held or expire, depends on the seed alone.
    ...(cfg.offlineShare > 0 ? { deviceSchedule: { offlineShare: cfg.offlineShare, meanMessages: 1_000_000_000 } } : {}),
    ...(options.console === true ? { adminPort: 0 } : {}),
  });
  const devices = emu.deviceTokens(SENDER_ID);
  const invalid: string[] = [];
  for (let i = 0; i < INVALID_POOL; i++) {
    invalid.push(`unregistered-demo-${i}`, `bad-demo-${i}`);
    emu.addDevice(`unregistered-demo-${i}`, { senderId: SENDER_ID, state: 'unregistered' });
    emu.addDevice(`bad-demo-${i}`, { senderId: SENDER_ID, state: 'bad' });
  }
  const moved: string[] = [];
  for (let i = 0; i < 3; i++) {
    moved.push(`moved-demo-${i}`);
    emu.addDevice(`moved-demo-${i}`, { senderId: SENDER_ID, canonicalId: `moved-demo-${i}-new` });
  }
  const chatty = 'chatty-demo-0';
  emu.addDevice(chatty, { senderId: SENDER_ID, maxPerSecond: CHATTY_LIMIT });
  // A burst every ~4 s: over the device's limit for a moment, well under it on average. Closer
  // bursts overlap the previous burst's retries (up to ~1.5 s of backoff), and then the client's
  // per-device throttle lets new messages overtake parked retries, which can exhaust maxRetries.
  const chattyEvery = Math.max(CHATTY_BURST * 10, Math.round(cfg.rate * 4));

  await emu.start();
  if (options.console === true) out.write(`console: ${emu.adminUrl}/\n`);
  // With the console, the emulator outlives the run (until the signal); a failed run stops it at once.
  const keepEmulator = options.console === true;
  let ran = false;
  const client = new CcsClient({
    senderId: SENDER_ID,
    apiKey,
    host: emu.host,
    port: emu.port,
    tls: { ca: emu.ca, servername: 'localhost' },
    connections: cfg.connections,
    maxPending: 100,
    // Short delays so that retries show within a demo's seconds (the defaults suit real CCS).
    retryBaseMs: 100,
    retryMaxMs: 2000,
    reconnectBaseMs: 100,
    reconnectMaxMs: 2000,
    messageIdPrefix: 'demo-',
    // Retry jitter from the seed too: each pause is a hash of the seed, the message (or the
    // rate-limited device, or the reconnect) and its attempt, so a rerun pauses a message NACKed
    // the same way exactly as long, in whatever order the NACKs come. Which messages are NACKed
    // by a drain or a rate limit still follows timing (the seed test leaves those out).
    jitterSeed: (cfg.seed ^ 0x6a09e667) >>> 0,
  });

  const started = now();
  const elapsed = (): number => now() - started;
  const progress = new Progress(out, options.progressIntervalMs);
  const tracks = new Map<string, Track>();
  const finalNacks: Record<string, number> = {};
  let injected = 0;
  let echoesSent = 0;
  let echoesAcked = 0;
  let echoesNacked = 0;
  let echoErrors = 0;
  let canonical = 0;
  let duplicatesToHandler = 0;
  let unknownUpstream = 0;
  let cuts = 0;
  let errorLines = 0;

  out.write(`CCS echo demo: emulator on ${emu.host}:${emu.port} (TLS), ${cfg.devices} simulated devices, seed ${cfg.seed}\n`);
  const faultWords = [
    cfg.nackRate > 0 ? `${pct(cfg.nackRate)} from unregistered/bad devices` : '',
    cfg.serviceUnavailableRate > 0 ? `${pct(cfg.serviceUnavailableRate)} SERVICE_UNAVAILABLE` : '',
    cfg.rateLimit ? 'bursts from a rate-limited device' : '',
    cfg.drainAt !== false ? `drain at ${pct(cfg.drainAt)}` : '',
    cfg.cutAt !== false ? `cut at ${pct(cfg.cutAt)}` : '',
  ].filter((w) => w !== '');
  out.write(`app server: CcsClient, ${cfg.connections} connection${cfg.connections === 1 ? '' : 's'}; ${cfg.messages} upstream messages at ${cfg.rate}/s\nfaults: ${faultWords.length > 0 ? faultWords.join(', ') : 'none'}\n`);

  // The echo app server: echo first, ACK after (the handler's promise), so an upstream message is
  // ACKed only once CCS has taken responsibility for its echo — or refused it for good.
  client.onUpstream(async (msg: UpstreamMessage) => {
    const t = tracks.get(msg.messageId);
    if (t === undefined) {
      unknownUpstream++;
      return;
    }
    if (t.state === EchoState.Acked || t.state === EchoState.Nacked || t.state === EchoState.Sending) {
      duplicatesToHandler++;
      return;
    }
    t.state = EchoState.Sending;
    echoesSent++;
    try {
      // Every tenth echo is "now or never": it expires if its device is offline.
      const nowOrNever = Number(t.seq) % 10 === 9;
      const r = await client.send({ to: msg.from, data: msg.data, message_id: `echo-${msg.messageId}`, ...(nowOrNever ? { time_to_live: 0 } : {}) });
      echoesAcked++;
      t.state = EchoState.Acked;
      if (r.registrationId !== undefined) {
        canonical++;
        t.deliverTo = r.registrationId;
      }
    } catch (err) {
      if (err instanceof NackError) {
        echoesNacked++;
        t.state = EchoState.Nacked;
        finalNacks[err.nackCode] = (finalNacks[err.nackCode] ?? 0) + 1;
        return;
      }
      // Not refused, not accepted: leave the upstream message un-ACKed; CCS resends it.
      echoErrors++;
      t.state = EchoState.Failed;
      throw err;
    }
  });
  let closing = false;
  client.on('draining', (e: ConnectionEvent) => {
    progress.event(elapsed(), `connection ${e.connectionId}: CONNECTION_DRAINING — no new sends there, a replacement opens, owed ACKs still arrive`);
  });
  client.on('offline', (e: ConnectionEvent) => {
    if (closing) return;
    if (e.drained) {
      progress.event(elapsed(), `connection ${e.connectionId}: closed by CCS after draining`);
      return;
    }
    cuts++;
    progress.event(elapsed(), `connection ${e.connectionId} lost (${e.error?.message.replace(/^connection \S+ lost: /, '') ?? 'closed'}) — its un-answered echoes are re-sent on another connection`);
  });
  client.on('online', (e: ConnectionEvent) => {
    if (client.stats().drainings > 0 || cuts > 0) progress.event(elapsed(), `connection ${e.connectionId} online`);
  });
  client.on('error', (err: Error) => {
    // Non-fatal (a handler failure, a failed reconnect attempt): a few lines, never a flood.
    if (++errorLines <= 5) progress.event(elapsed(), `client: ${err.message}`);
  });

  const samples: Array<[number, number]> = [];
  const snapshot = (): ProgressSnapshot => {
    const t = elapsed();
    const s = client.stats();
    const acked = emu.ledger().upstreamAcked;
    samples.push([t, acked]);
    while (samples.length > 2 && t - (samples[1] as [number, number])[0] >= 1000) samples.shift();
    const [t1, a1] = samples[0] as [number, number];
    return {
      elapsedMs: t,
      injected,
      total: cfg.messages,
      upstreamAcked: acked,
      echoesSent,
      echoesAcked,
      echoesNacked,
      rate: t - t1 > 0 ? ((acked - a1) * 1000) / (t - t1) : 0,
      online: s.connections.online,
      draining: s.connections.draining,
      reconnects: s.reconnects,
    };
  };

  const injectOne = (i: number): void => {
    let from: string;
    let refuse = false;
    if (cfg.rateLimit && i % chattyEvery < CHATTY_BURST) from = chatty;
    else {
      const r = rng.next();
      if (r < cfg.nackRate) {
        from = invalid[rng.int(invalid.length)] as string;
        refuse = true;
      } else if (r < cfg.nackRate + CANONICAL_SHARE) from = moved[rng.int(moved.length)] as string;
      else from = devices[rng.int(devices.length)] as string;
    }
    const id = `u${i}`;
    const seq = String(i);
    tracks.set(id, { from, seq, refuse, state: EchoState.Injected, deliverTo: from });
    emu.injectUpstream(SENDER_ID, { from, data: { seq, text: 'hello from a device' }, message_id: id });
  };

  let drained = cfg.drainAt === false;
  let cutSet = cfg.cutAt === false;
  const pickConnection = (): number | undefined => emu.connections().find((c) => c.jid !== undefined && !c.draining)?.id;
  const faultsDue = (): void => {
    if (!drained && injected >= (cfg.drainAt as number) * cfg.messages) {
      const id = pickConnection();
      if (id !== undefined && emu.drain({ connectionId: id }) > 0) drained = true;
    }
    if (!cutSet && injected >= (cfg.cutAt as number) * cfg.messages) {
      // The last non-draining one: after the drain that is the replacement, busy with traffic.
      const ids = emu.connections().filter((c) => c.jid !== undefined && !c.draining).map((c) => c.id);
      const id = ids[ids.length - 1];
      if (id !== undefined) {
        // The cut comes right after the next few messages: they are delivered, their ACKs lost.
        emu.setFaults({ cutAfterStanzas: 3 }, { connectionId: id });
        cutSet = true;
      }
    }
  };

  const settled = (): boolean => {
    if (echoesAcked + echoesNacked < tracks.size) return false;
    return emu.ledger().upstreamUnacked === 0;
  };

  let aborted = false;
  let timedOut = false;
  try {
    await client.connect();
    const t0 = now();
    await new Promise<void>((done) => {
      let injectEnd = Infinity;
      const tick = (): void => {
        const t = now();
        if (options.signal?.aborted && !aborted && injected < cfg.messages) {
          aborted = true;
          progress.event(elapsed(), 'stopping: no more upstream messages; waiting for what was sent to settle');
        }
        if (!aborted) {
          const due = Math.min(cfg.messages, Math.floor(((t - t0) * cfg.rate) / 1000) + 1);
          while (injected < due) injectOne(injected++);
          faultsDue();
        }
        progress.update(snapshot());
        if (aborted || injected >= cfg.messages) {
          if (injectEnd === Infinity) injectEnd = t;
          if (settled() || t - injectEnd >= cfg.settleTimeoutMs) {
            timedOut = !settled();
            clearInterval(timer);
            done();
          }
        }
      };
      const timer = setInterval(tick, TICK_MS);
      tick();
    });
    progress.finish(snapshot());
    closing = true;
    if (timedOut) out.write(`gave up waiting after ${cfg.settleTimeoutMs} ms: not everything settled\n`);
    ran = true;
  } finally {
    closing = true;
    await client.close({ timeoutMs: 5000 });
    // A failed run stops the emulator here; a finished one after the devices came back (or, with the console, after the signal).
    if (!ran) await emu.stop();
  }
  // The devices that were offline come back: CCS delivers what it held for them.
  const whileOffline = emu.deviceModel.totals();
  for (const token of new Set([...tracks.values()].map((t) => t.deliverTo))) {
    if (emu.deviceModel.presence(token) !== 'online') emu.deviceModel.set(token, 'online');
  }
  const afterwards = emu.deviceModel.totals();
  if (!keepEmulator) await emu.stop();

  // --- the check, message by message, against the emulator's ledger --------------------------
  const ledger = emu.ledger();
  const byTarget = new Map<string, Map<string, Delivery>>();
  const deliveriesOf = (token: string): Map<string, Delivery> => {
    let m = byTarget.get(token);
    if (m === undefined) {
      m = new Map();
      for (const d of emu.deliveredTo(token)) m.set(d.message_id, d);
      byTarget.set(token, m);
    }
    return m;
  };
  let notHandled = 0;
  let unsettled = 0;
  let notDelivered = 0;
  let expired = 0;
  let failed = 0;
  for (const [id, t] of tracks) {
    switch (t.state) {
      case EchoState.Injected:
        notHandled++;
        break;
      case EchoState.Sending:
      case EchoState.Failed:
        unsettled++;
        break;
      case EchoState.Acked: {
        const d = deliveriesOf(t.deliverTo).get(`echo-${id}`);
        const seq = (d?.data as { seq?: unknown } | undefined)?.seq;
        if (d === undefined && !t.refuse && emu.deviceModel.log(t.deliverTo).some((r) => r.message_id === `echo-${id}` && r.fate === 'expired')) expired++;
        else if (seq !== t.seq || t.refuse) notDelivered++;
        break;
      }
      case EchoState.Nacked:
        if (!t.refuse) failed++;
        break;
    }
  }
  // Un-ACKed upstream messages that were not already counted as never handled.
  const notAcked = Math.max(0, ledger.upstreamUnacked - notHandled);
  const lost = notAcked + notHandled + unsettled + notDelivered;

  const stats = client.stats();
  const nacks: Record<string, NackCount> = {};
  for (const [code, n] of Object.entries(stats.nacked)) nacks[code] = { received: n ?? 0, final: 0 };
  for (const [code, n] of Object.entries(finalNacks)) (nacks[code] ??= { received: n, final: 0 }).final = n;
  const summary: DemoSummary = {
    seed: cfg.seed,
    devices: cfg.devices,
    connections: cfg.connections,
    elapsedMs: elapsed(),
    aborted,
    upstream: {
      injected: ledger.upstreamInjected,
      acked: ledger.upstreamAcked,
      unacked: ledger.upstreamUnacked,
      handled: tracks.size - notHandled,
      duplicatesDropped: stats.duplicatesDropped,
    },
    echoes: {
      sent: echoesSent,
      acked: echoesAcked,
      nacked: echoesNacked,
      errors: echoErrors,
      canonical,
      delivered: ledger.downstreamUnique,
      deliveredDuplicates: ledger.downstreamDuplicates,
    },
    nacks,
    retries: stats.retries,
    resent: stats.resent,
    reconnects: stats.reconnects,
    drainings: stats.drainings,
    cuts,
    latencyMs: { p50: stats.ackLatency.p50, p90: stats.ackLatency.p90, p99: stats.ackLatency.p99, max: stats.ackLatency.maxMs },
    lost,
    lostDetail: { notAcked, notHandled, unsettled, notDelivered },
    devicesSeen: { offline: whileOffline.offline, held: afterwards.heldEver, deliveredLater: afterwards.deliveredLater, expired },
    failed,
    duplicatesToHandler: duplicatesToHandler + unknownUpstream,
    ok: lost === 0 && failed === 0,
  };
  out.write(formatSummary(summary));
  if (keepEmulator) {
    const signal = options.signal;
    if (signal !== undefined && !signal.aborted) {
      out.write(`the emulator and its console stay up at ${emu.adminUrl}/ — Ctrl-C to stop\n`);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    }
    await emu.stop();
  }
  return summary;
}

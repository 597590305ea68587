// The soak suite (issue 11 §6): each scenario drives real TLS connections on 127.0.0.1 for a time box
// or a message count, checks its invariant (every promise settled once; the emulator's ledger: nothing
// lost, nothing invented, duplicates only after cuts) and its resource bound (heap, fds,
// connections), and returns one row of the table that `npm run test:soak` prints. Each is seeded
// (faults, their order, message mix) and replayable with the seed; the interleaving of a loaded
// machine is not. `soak.short.test.ts` runs each for seconds in `npm test`.
import { readdirSync } from 'node:fs';
import * as tls from 'node:tls';
import { CcsClient, CcsError, type CcsClientOptions } from '@ccs-xmpp/ccs';
import { CcsEmulator, type Faults } from '@ccs-xmpp/emulator';
import { HOSTILE_KEY, HOSTILE_SENDER, startHostileServer, type Hostility } from './hostile-server.js';

/** How big a run is: `short` (seconds, in `npm test`) or `long` (`npm run test:soak`). */
export type Scale = 'short' | 'long';

export interface SoakParams {
  seed: number;
  scale: Scale;
  /** Time box in seconds: a scenario stops starting new work past it. */
  seconds: number;
}

/** One line of the table. */
export interface SoakRow {
  scenario: string;
  seed: number;
  /** What was done: messages, cycles, connections. */
  work: string;
  seconds: number;
  /** Empty when the invariant held; otherwise what broke. */
  violations: string[];
  heapPeakMB: number;
  heapBoundMB: number;
  fdsPeak: number;
  fdsBound: number;
  connsPeak: number;
  connsBound: number;
}

const SENDER = '1234567890';
const KEY = 'emulator-api-key';

/** mulberry32: small, seeded, good enough to pick faults and tokens. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const fds = (): number => {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return 0;
  }
};
const mb = (n: number): number => Math.round(n / 1048576);

/** Samples heap (+ external buffers), fds and a connection count every 50 ms. */
class Sampler {
  heapPeak = 0;
  fdsPeak = 0;
  connsPeak = 0;
  readonly heapStart: number;
  readonly fdsStart: number;
  readonly #timer: NodeJS.Timeout;
  constructor(conns: () => number) {
    const m = process.memoryUsage();
    this.heapStart = m.heapUsed + m.arrayBuffers;
    this.fdsStart = fds();
    const sample = (): void => {
      const u = process.memoryUsage();
      this.heapPeak = Math.max(this.heapPeak, u.heapUsed + u.arrayBuffers);
      this.fdsPeak = Math.max(this.fdsPeak, fds());
      this.connsPeak = Math.max(this.connsPeak, conns());
    };
    sample();
    this.#timer = setInterval(sample, 50);
  }
  stop(): void {
    clearInterval(this.#timer);
  }
}

function row(
  scenario: string, p: SoakParams, work: string, t0: number, violations: string[], s: Sampler,
  bounds: { heapGrowthMB: number; fds: number; conns: number },
): SoakRow {
  s.stop();
  const heapBoundMB = mb(s.heapStart) + bounds.heapGrowthMB;
  const fdsBound = s.fdsStart + bounds.fds;
  if (mb(s.heapPeak) > heapBoundMB) violations.push(`heap ${mb(s.heapPeak)} MB > ${heapBoundMB} MB`);
  if (s.fdsPeak > fdsBound) violations.push(`fds ${s.fdsPeak} > ${fdsBound}`);
  if (s.connsPeak > bounds.conns) violations.push(`connections ${s.connsPeak} > ${bounds.conns}`);
  return {
    scenario, seed: p.seed, work, seconds: Math.round((Date.now() - t0) / 100) / 10, violations,
    heapPeakMB: mb(s.heapPeak), heapBoundMB, fdsPeak: s.fdsPeak, fdsBound, connsPeak: s.connsPeak, connsBound: bounds.conns,
  };
}

function clientOptions(emu: CcsEmulator, extra: Partial<CcsClientOptions> = {}): CcsClientOptions {
  return {
    senderId: SENDER, apiKey: KEY, host: '127.0.0.1', port: emu.port, tls: { ca: emu.ca, servername: 'localhost' },
    reconnectBaseMs: 10, reconnectMaxMs: 200, retryBaseMs: 10, retryMaxMs: 200, handshakeTimeoutMs: 15_000, ...extra,
  };
}

/** Counts, per message index, what the emulator delivered; anything else is "invented". */
class DeliveryLedger {
  readonly delivered: Uint8Array;
  invented = 0;
  closes = 0;
  constructor(readonly total: number, readonly prefix: string) {
    this.delivered = new Uint8Array(total);
  }
  attach(emu: CcsEmulator): void {
    emu.on('event', (e: { type: string; messageId?: string }) => {
      if (e.type === 'downstream') {
        const id = e.messageId ?? '';
        const i = id.startsWith(this.prefix) ? Number(id.slice(this.prefix.length)) : -1;
        if (!Number.isInteger(i) || i < 0 || i >= this.total) this.invented++;
        else if (this.delivered[i]! < 255) this.delivered[i]!++;
      } else if (e.type === 'close') this.closes++;
    });
  }
}

/**
 * Sends `count` messages through `client` with at most `window` unsettled, recording how each
 * settled. Stops starting new sends past `deadline`.
 */
async function pump(client: CcsClient, count: number, window: number, prefix: string, deadline: number, tokens: number) {
  const settled = new Uint8Array(count);
  const acked = new Uint8Array(count);
  const errors = new Map<string, number>();
  let started = 0;
  let done = 0;
  let twice = 0;
  let wake: (() => void) | undefined;
  const settle = (i: number, ok: boolean, err?: unknown): void => {
    if (settled[i]!++ > 0) twice++;
    if (ok) acked[i] = 1;
    else {
      const code = err instanceof CcsError ? err.code : String(err);
      errors.set(code, (errors.get(code) ?? 0) + 1);
    }
    done++;
    if (wake && (started - done < window / 2 || done === started)) {
      const w = wake;
      wake = undefined;
      w();
    }
  };
  while (started < count && Date.now() < deadline) {
    const burst = Math.min(count, started + window - (started - done));
    for (; started < burst; started++) {
      const i = started;
      client.send({ to: `dev-${i % tokens}`, message_id: `${prefix}${i}`, data: { i } }).then(() => settle(i, true), (e: unknown) => settle(i, false, e));
    }
    if (started - done >= window / 2) await new Promise<void>((r) => (wake = r));
    else await sleep(0);
  }
  while (done < started) await new Promise<void>((r) => (wake = r));
  return { started, done, settled, acked, errors, twice };
}

/** Checks the send ledger against the emulator's deliveries; returns what broke. */
function checkDelivery(sent: Awaited<ReturnType<typeof pump>>, ledger: DeliveryLedger, cuts: number): { violations: string[]; dups: number; lost: number } {
  const violations: string[] = [];
  let lost = 0;
  let dups = 0;
  let unsettled = 0;
  for (let i = 0; i < sent.started; i++) {
    if (sent.settled[i] === 0) unsettled++;
    if (sent.acked[i] === 1 && ledger.delivered[i] === 0) lost++;
    if (ledger.delivered[i]! > 1) dups += ledger.delivered[i]! - 1;
  }
  for (let i = sent.started; i < ledger.total; i++) if (ledger.delivered[i]! > 0) ledger.invented++;
  if (unsettled) violations.push(`${unsettled} promises never settled`);
  if (sent.twice) violations.push(`${sent.twice} promises settled twice`);
  if (lost) violations.push(`${lost} ACKed but never delivered (lost)`);
  if (ledger.invented) violations.push(`${ledger.invented} deliveries of messages never sent (invented)`);
  if (dups > 0 && cuts === 0) violations.push(`${dups} duplicates without any cut`);
  return { violations, dups, lost };
}

// --- scenarios -----------------------------------------------------------------------------------

/** Every emulator fault in a seeded rotation while many messages go over several connections. */
export async function faultSoak(p: SoakParams): Promise<SoakRow> {
  const count = p.scale === 'long' ? 1_000_000 : 6_000;
  const connections = p.scale === 'long' ? 6 : 3;
  const rnd = prng(p.seed);
  const emu = new CcsEmulator({ port: 0, seed: p.seed, keepaliveIntervalMs: 0, keepDeliveries: false, drainTimeoutMs: 500 });
  await emu.start();
  const ledger = new DeliveryLedger(count, 'f');
  ledger.attach(emu);
  const client = new CcsClient(clientOptions(emu, { connections, maxPending: 100, maxRetries: 1000, sendTimeoutMs: 0 }));
  const s = new Sampler(() => emu.connections().length);
  const t0 = Date.now();
  const rotation: Array<Faults | 'drain'> = [
    {}, { cutProbability: 0.002 }, { serviceUnavailableRate: 0.05 }, { internalErrorRate: 0.05 }, { ackDelayMs: 20 },
    { stallMs: 250 }, { tinyWrites: true }, 'drain', { cutAfterStanzas: 400 }, { ackDelayMs: 5, cutProbability: 0.001, tinyWrites: 64 },
  ];
  const applied: string[] = [];
  let stop = false;
  const rotate = (async () => {
    while (!stop) {
      const f = rotation[Math.floor(rnd() * rotation.length)]!;
      applied.push(f === 'drain' ? 'drain' : Object.keys(f).join('+') || 'none');
      if (f === 'drain') emu.drain();
      else emu.setFaults(f);
      await sleep(p.scale === 'long' ? 400 : 150);
    }
    emu.setFaults({});
  })();
  let sent;
  try {
    await client.connect();
    sent = await pump(client, count, 2000, 'f', t0 + p.seconds * 1000, 97);
  } finally {
    stop = true;
    await rotate;
    await client.close({ timeoutMs: 10_000 }).catch(() => undefined);
    await emu.stop();
  }
  const check = checkDelivery(sent, ledger, ledger.closes);
  const kinds = new Set(applied).size;
  const errs = [...sent.errors].map(([k, v]) => `${k}×${v}`).join(' ');
  return row('fault soak', p, `${sent.started.toLocaleString('en')} msgs, ${connections} conns, ${kinds} fault kinds, ${ledger.closes} closes, ${check.dups} dups${errs ? `, failed: ${errs}` : ''}`, t0, check.violations, s,
    { heapGrowthMB: p.scale === 'long' ? 400 : 200, fds: 20 + 6 * connections, conns: 2 * connections + 2 });
}

/** Connections cut or drained over and over while traffic flows; nothing is lost, nothing leaks. */
export async function reconnectCycles(p: SoakParams): Promise<SoakRow> {
  const cycles = p.scale === 'long' ? 300 : 12;
  const rnd = prng(p.seed);
  const emu = new CcsEmulator({ port: 0, seed: p.seed, keepaliveIntervalMs: 0, keepDeliveries: false, drainTimeoutMs: 300 });
  await emu.start();
  const perCycle = 40;
  const ledger = new DeliveryLedger(cycles * perCycle, 'r');
  ledger.attach(emu);
  const client = new CcsClient(clientOptions(emu, { connections: 2, maxPending: 20, maxRetries: 1000, sendTimeoutMs: 0 }));
  const s = new Sampler(() => emu.connections().length);
  const t0 = Date.now();
  const deadline = t0 + p.seconds * 1000;
  const violations: string[] = [];
  const settled = new Uint8Array(cycles * perCycle);
  const acked = new Uint8Array(cycles * perCycle);
  let twice = 0;
  let done = 0;
  let c = 0;
  try {
    await client.connect();
    for (; c < cycles && Date.now() < deadline; c++) {
      if (c % 2 === 0) emu.setFaults({ cutAfterStanzas: 10 + Math.floor(rnd() * 30) }); // ≥ 10: with 1, every resend meets the same cut before its ACK (no progress possible)
      else {
        emu.setFaults({});
        emu.drain();
      }
      const ps: Array<Promise<void>> = [];
      for (let k = 0; k < perCycle; k++) {
        const i = c * perCycle + k;
        ps.push(client.send({ to: `dev-${i % 13}`, message_id: `r${i}`, data: { i } }).then(
          () => {
            if (settled[i]!++) twice++;
            acked[i] = 1;
          },
          () => {
            if (settled[i]!++) twice++;
          },
        ));
      }
      await Promise.all(ps);
      done += perCycle;
    }
  } finally {
    emu.setFaults({});
    await client.close({ timeoutMs: 10_000 }).catch(() => undefined);
  }
  await sleep(200);
  const left = emu.connections().length;
  await emu.stop();
  if (left > 0) violations.push(`${left} connections still open at the emulator after close()`);
  const check = checkDelivery({ started: done, done, settled, acked, errors: new Map(), twice }, ledger, ledger.closes);
  violations.push(...check.violations);
  const notAcked = done - acked.reduce((a, b) => a + b, 0);
  if (notAcked) violations.push(`${notAcked} messages not ACKed (retries are unlimited here)`);
  return row('reconnect cycles', p, `${c} cut/drain cycles, ${done} msgs, ${ledger.closes} closes, ${check.dups} dups`, t0, violations, s,
    { heapGrowthMB: 150, fds: 30, conns: 2 + 4 });
}

/** Upstream injected faster than it is ACKed, with cuts: each (from, message_id) handled once. */
export async function upstreamFlood(p: SoakParams): Promise<SoakRow> {
  const total = p.scale === 'long' ? 200_000 : 3_000;
  const emu = new CcsEmulator({ port: 0, seed: p.seed, keepaliveIntervalMs: 0, keepDeliveries: false, upstreamResendMs: 2000, maxQueuedUpstream: 100_000 });
  await emu.start();
  const handled = new Uint8Array(total);
  let invented = 0;
  let closes = 0;
  emu.on('event', (e: { type: string }) => {
    if (e.type === 'close') closes++;
  });
  const rnd = prng(p.seed);
  const client = new CcsClient(clientOptions(emu, { connections: 2 }));
  client.onUpstream(async (m) => {
    const i = Number(m.messageId.slice(1));
    if (!Number.isInteger(i) || i < 0 || i >= total || m.from !== `dev-${i % 16}`) invented++;
    else handled[i]!++;
    if (i % 7 === 0) await sleep(1);
  });
  const s = new Sampler(() => emu.connections().length);
  const t0 = Date.now();
  const deadline = t0 + p.seconds * 1000;
  let injected = 0;
  const violations: string[] = [];
  try {
    await client.connect();
    while (injected < total && Date.now() < deadline) {
      if (emu.ledger().upstreamUnacked < 5000) {
        for (let k = 0; k < 500 && injected < total; k++, injected++) emu.injectUpstream(SENDER, { from: `dev-${injected % 16}`, message_id: `u${injected}`, data: { k } });
        if (rnd() < 0.05) emu.setFaults({ cutAfterStanzas: 10 + Math.floor(rnd() * 50) });
        else if (rnd() < 0.1) emu.setFaults({});
      }
      await sleep(1);
    }
    emu.setFaults({});
    const until = Date.now() + 60_000;
    while (emu.ledger().upstreamUnacked > 0 && Date.now() < until) await sleep(20);
  } finally {
    await client.close({ timeoutMs: 10_000 }).catch(() => undefined);
  }
  const l = emu.ledger();
  await emu.stop();
  let missing = 0;
  let twice = 0;
  for (let i = 0; i < injected; i++) {
    if (handled[i] === 0) missing++;
    else if (handled[i]! > 1) twice += handled[i]! - 1;
  }
  if (l.upstreamUnacked > 0) violations.push(`${l.upstreamUnacked} upstream never ACKed`);
  if (missing) violations.push(`${missing} upstream never handled (lost)`);
  if (invented) violations.push(`${invented} handled that were never sent (invented)`);
  if (twice > 0 && closes === 0) violations.push(`${twice} handled twice without any cut`);
  return row('upstream flood', p, `${injected.toLocaleString('en')} upstream, ${closes} closes, ${twice} handled twice, ${l.upstreamDuplicatesAcked} dup ACKs`, t0, violations, s,
    { heapGrowthMB: p.scale === 'long' ? 300 : 150, fds: 30, conns: 2 + 4 });
}

/** A server that misbehaves after SASL (issue 11 §3–§4): the client stays bounded and settles. */
export async function hostileServer(hostility: Hostility, p: SoakParams): Promise<SoakRow> {
  const server = await startHostileServer(hostility);
  const connections = 2;
  const client = new CcsClient({
    senderId: HOSTILE_SENDER, apiKey: HOSTILE_KEY, host: '127.0.0.1', port: server.port, tls: { ca: server.ca, servername: 'localhost' },
    connections, handshakeTimeoutMs: 5000, reconnectBaseMs: 50, reconnectMaxMs: 2000,
  });
  client.on('error', () => undefined);
  let upstream = 0;
  client.onUpstream(() => void upstream++);
  const s = new Sampler(() => server.open);
  const t0 = Date.now();
  const violations: string[] = [];
  let work = '';
  try {
    if (hostility === 'withhold-bind-and-flood') {
      const err = await Promise.race([client.connect().then(() => undefined, (e: unknown) => e), sleep(p.seconds * 1000 + 10_000).then(() => 'hang')]);
      if (err === 'hang') violations.push('connect() neither resolved nor rejected');
      else if (!(err instanceof CcsError)) violations.push(`connect() ended with ${err === undefined ? 'success' : String(err)}, not a typed error`);
      work = `connect() → ${err instanceof CcsError ? err.code : String(err)}`;
    } else {
      const settledSends: string[] = [];
      void client.connect().catch(() => undefined);
      const send = client.send({ to: 'dev', data: {} }, { timeoutMs: p.seconds * 1000 }).then(() => 'ack', (e: unknown) => (e instanceof CcsError ? e.code : String(e)));
      void send.then((r) => settledSends.push(r));
      await sleep(p.seconds * 1000);
      await client.close({ timeoutMs: 3000 }).catch(() => undefined);
      const r = await Promise.race([send, sleep(10_000).then(() => 'unsettled')]);
      if (r === 'unsettled') violations.push('the send promise never settled');
      const perSlotPerMinute = (server.binds / connections) * (60 / p.seconds);
      work = `${server.binds} handshakes in ${p.seconds} s (${perSlotPerMinute.toFixed(0)}/slot/min), send → ${r}${upstream ? `, ${upstream} upstream handled` : ''}`;
      // Issue 11 §4: "a handful of attempts per connection slot per minute at most".
      if (hostility === 'close-after-bind' && server.binds > connections * Math.max(3, (10 * p.seconds) / 60)) {
        violations.push(`${server.binds} handshakes in ${p.seconds} s with ${connections} slots (reconnect storm)`);
      }
    }
  } finally {
    client.destroy();
    await server.stop();
  }
  return row(`hostile server: ${hostility}`, p, work, t0, violations, s, { heapGrowthMB: 150, fds: 40, conns: connections + 3 });
}

/** Clients that never finish the handshake, or send garbage: the emulator stays bounded and serves. */
export async function hostileClients(p: SoakParams): Promise<SoakRow> {
  const halfOpen = p.scale === 'long' ? 900 : 60;
  const emu = new CcsEmulator({ port: 0, seed: p.seed, keepaliveIntervalMs: 0, handshakeTimeoutMs: Math.min(10_000, p.seconds * 400), maxConnections: 1000 });
  await emu.start();
  const s = new Sampler(() => emu.connections().length);
  const t0 = Date.now();
  const violations: string[] = [];
  const sockets: tls.TLSSocket[] = [];
  let through = 0; // connections through TLS or failed
  const rnd = prng(p.seed);
  try {
    for (let i = 0; i < halfOpen; i++) {
      const sock = tls.connect({ host: '127.0.0.1', port: emu.port, ca: emu.ca, servername: 'localhost' });
      sock.on('error', () => void through++);
      sock.on('secureConnect', () => {
        through++;
        if (i % 3 === 0) sock.write("<?xml version='1.0'?><stream:stream to='gcm.googleapis.com' xmlns='jabber:c"); // half a header
        else if (i % 3 === 1) sock.write(Buffer.from(Array.from({ length: 512 }, () => Math.floor(rnd() * 256)))); // garbage
        else sock.write("<?xml version='1.0'?><stream:stream to='gcm.googleapis.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'><auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGZvbwBiYXI=</auth>");
      });
      sockets.push(sock);
      if (i % 50 === 49) await sleep(5);
    }
    // Every hostile connection through TLS (or failed) first: on a loaded 2-core machine a good
    // client's handshake queued behind 900 others can take longer than any sane handshake timeout.
    const settledUntil = Date.now() + 60_000;
    while (through < halfOpen && Date.now() < settledUntil) await sleep(50);
    // A well-behaved client is still served while they hang around.
    const client = new CcsClient(clientOptions(emu, { handshakeTimeoutMs: 30_000 }));
    try {
      await client.connect();
      await client.send({ to: 'good-device', data: { ok: true } });
    } catch (err) {
      violations.push(`a good client was not served: ${String(err)}`);
    } finally {
      await client.close({ timeoutMs: 3000 }).catch(() => undefined);
    }
    // After the handshake deadline every hostile connection is gone.
    const until = Date.now() + Math.min(10_000, p.seconds * 400) + 30_000;
    while (emu.connections().length > 0 && Date.now() < until) await sleep(50);
    const left = emu.connections().length;
    if (left > 0) violations.push(`${left} hostile connections still held after the handshake deadline`);
  } finally {
    for (const sock of sockets) sock.destroy();
    await emu.stop();
  }
  return row('hostile clients', p, `${halfOpen} half-open/garbage/failed-auth connections, good client served`, t0, violations, s,
    { heapGrowthMB: p.scale === 'long' ? 200 : 100, fds: halfOpen * 2 + 40, conns: 1000 });
}

/** Every scenario, in table order. */
export interface Scenario {
  name: string;
  run: (p: SoakParams) => Promise<SoakRow>;
  shortSeconds: number;
  longSeconds: number;
}

export const SCENARIOS: Scenario[] = [
  { name: 'fault-soak', run: faultSoak, shortSeconds: 20, longSeconds: 900 },
  { name: 'reconnect-cycles', run: reconnectCycles, shortSeconds: 15, longSeconds: 300 },
  { name: 'upstream-flood', run: upstreamFlood, shortSeconds: 15, longSeconds: 300 },
  { name: 'hostile-server-bind-flood', run: (p) => hostileServer('withhold-bind-and-flood', p), shortSeconds: 2, longSeconds: 20 },
  { name: 'hostile-server-no-read', run: (p) => hostileServer('flood-and-never-read', p), shortSeconds: 2, longSeconds: 30 },
  { name: 'hostile-server-close-after-bind', run: (p) => hostileServer('close-after-bind', p), shortSeconds: 3, longSeconds: 60 },
  { name: 'hostile-server-drain-after-bind', run: (p) => hostileServer('drain-after-bind', p), shortSeconds: 3, longSeconds: 30 },
  { name: 'hostile-clients', run: hostileClients, shortSeconds: 5, longSeconds: 25 },
];

/** The table, as Markdown. */
export function formatTable(rows: SoakRow[]): string {
  const out = ['| scenario | seed | work | s | heap peak / bound MB | fds peak / bound | conns peak / bound | verdict |', '|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    out.push(`| ${r.scenario} | ${r.seed} | ${r.work} | ${r.seconds} | ${r.heapPeakMB} / ${r.heapBoundMB} | ${r.fdsPeak} / ${r.fdsBound} | ${r.connsPeak} / ${r.connsBound} | ${r.violations.length ? `FAIL: ${r.violations.join('; ')}` : 'ok'} |`);
  }
  return out.join('\n');
}

// The outbox conformance suite: a model-based property test of Outbox + retry policy + target
// throttle over an OutboxStore, with fake connections and the fake clock — no sockets, no sleeping.
// Any store implementation runs through it unchanged: `runOutboxModel(() => new MyStore(), …)`.
// After every step it checks the invariants the client promises (see `check`).
import fc from 'fast-check';
import { nackRetryClass, type NackCode, type NackError as StanzaNack } from '@ccs-xmpp/stanza';
import { KeepAlive } from '../../src/clock.js';
import { AbortError, ClosedError, DuplicateIdError, NackError, TimeoutError } from '../../src/errors.js';
import { MessageIdGenerator } from '../../src/message-id.js';
import type { Outbound, SendCallback, SendResult } from '../../src/outbound.js';
import { Outbox, type OutboxConnection } from '../../src/outbox.js';
import { Counters } from '../../src/stats.js';
import type { OutboxRecord, OutboxStore } from '../../src/store.js';
import { FakeClock } from './fake-clock.js';

export type Op =
  | { t: 'send'; target: number; callerId: number | undefined; timeoutMs: number; signal: number | undefined; poison: boolean; dispatch: boolean }
  | { t: 'ack'; conn: number; pick: number }
  | { t: 'nack'; conn: number; pick: number; code: NackCode }
  | { t: 'stanzaError'; conn: number; pick: number; wait: boolean }
  | { t: 'advance'; ms: number }
  | { t: 'abort'; signal: number }
  | { t: 'lose'; conn: number }
  | { t: 'drain'; conn: number }
  | { t: 'block'; conn: number }
  | { t: 'unblock'; conn: number }
  | { t: 'connect' }
  | { t: 'adopt'; n: number; target: number }
  | { t: 'ref'; on: boolean };

const NACKS: NackCode[] = [
  'BAD_REGISTRATION', 'DEVICE_UNREGISTERED', 'INVALID_JSON', 'SERVICE_UNAVAILABLE', 'INTERNAL_SERVER_ERROR',
  'DEVICE_MESSAGE_RATE_EXCEEDED', 'TOPICS_MESSAGE_RATE_EXCEEDED', 'CONNECTION_DRAINING', 'QUOTA_EXCEEDED',
];

export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({
    t: fc.constant('send' as const), target: fc.nat(3), callerId: fc.option(fc.nat(6), { freq: 3 }).map((v) => v ?? undefined),
    timeoutMs: fc.constantFrom(0, 0, 30, 400), signal: fc.option(fc.nat(1), { freq: 3 }).map((v) => v ?? undefined), poison: fc.nat(19).map((n) => n === 0),
    // Settled by a callback (`dispatch()`) instead of a promise: the same invariants, and the callback never runs inside a step.
    dispatch: fc.nat(3).map((n) => n === 0),
  }) },
  // Plain sends (a generated id, nothing rare): the only ones whose records the outbox reuses once ACKed.
  { weight: 4, arbitrary: fc.record({
    t: fc.constant('send' as const), target: fc.nat(3), callerId: fc.constant(undefined), timeoutMs: fc.constant(0), signal: fc.constant(undefined), poison: fc.constant(false),
    dispatch: fc.nat(3).map((n) => n === 0),
  }) },
  { weight: 8, arbitrary: fc.record({ t: fc.constant('ack' as const), conn: fc.nat(2), pick: fc.nat(20) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('nack' as const), conn: fc.nat(2), pick: fc.nat(20), code: fc.constantFrom(...NACKS) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('stanzaError' as const), conn: fc.nat(2), pick: fc.nat(20), wait: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.constantFrom(1, 10, 100, 1000, 5000) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('abort' as const), signal: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('lose' as const), conn: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('drain' as const), conn: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('block' as const), conn: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('unblock' as const), conn: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('connect' as const) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('adopt' as const), n: fc.integer({ min: 1, max: 3 }), target: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('ref' as const), on: fc.boolean() }) },
);

/** Settings of one model run. */
export interface ModelSettings {
  maxPending: number;
  maxQueued: number;
  maxRetries: number;
}

export const settingsArb: fc.Arbitrary<ModelSettings> = fc.record({
  maxPending: fc.integer({ min: 1, max: 3 }),
  maxQueued: fc.integer({ min: 0, max: 6 }),
  maxRetries: fc.integer({ min: 0, max: 3 }),
});

/** A fake connection: the window, the write log, and the write-time ordering check. */
class FakeConn implements OutboxConnection {
  readonly inflight = new Map<string, Outbound>();
  blocked = false;
  draining = false;
  closed = false;
  constructor(readonly name: string, readonly maxPending: number, readonly onWrite: (out: Outbound) => void) {}
  get usable(): boolean {
    return !this.blocked && !this.draining && !this.closed;
  }
  get free(): number {
    return this.maxPending - this.inflight.size;
  }
  write(out: Outbound): boolean | TypeError {
    if (this.closed) return false;
    if ((out.msg.data as { poison?: string } | undefined)?.poison === 'yes') return new TypeError('poisoned');
    this.onWrite(out);
    this.inflight.set(out.id, out);
    return true;
  }
  takeOwed(): Outbound[] {
    const owed = [...this.inflight.values()];
    this.inflight.clear();
    return owed;
  }
}

interface Sent {
  id: string;
  settled: number;
  outcome: 'ack' | 'nack' | 'timeout' | 'abort' | 'closed' | 'invalid' | 'duplicate' | undefined;
  deadline: number;
  accepted: boolean;
  /** Taken by `submit` without a callback: a promise waits (the client's write mark follows these). */
  promise?: boolean;
}

const nackOf = (code: NackCode): StanzaNack => ({ code, reason: undefined, description: code, retry: nackRetryClass(code), known: true, raw: code });

const flushMicrotasks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs one sequence of operations against a fresh outbox over `store`; throws on the first broken invariant. */
export async function runOutboxModel(store: OutboxStore, settings: ModelSettings, ops: readonly Op[]): Promise<void> {
  const clock = new FakeClock();
  const counters = new Counters();
  const conns: FakeConn[] = [];
  const sent: Sent[] = [];
  const adoptedOutcomes = new Map<string, number>();
  let outbox!: Outbox;
  let nextConn = 0;
  const keepAlive = new KeepAlive(() => outbox.outstanding > 0);
  /** What the outbox last told its host: `send()` promises are outstanding. */
  let promising = false;
  const fail = (why: string): never => {
    throw new Error(`${why} (after ${ops.length} ops)`);
  };
  const onWrite = (out: Outbound): void => {
    // Resends keep submission order per target: nothing older of its target is still queued.
    for (const r of outbox.records()) {
      if (r.state === 'queued' && r.target === out.target && r.seq < out.seq) fail(`${out.id} written before older queued ${r.id} of ${out.target}`);
    }
  };
  const openConn = (): void => {
    conns.push(new FakeConn(`c${nextConn++}`, settings.maxPending, onWrite));
  };
  const pick = (): FakeConn | undefined => {
    let best: FakeConn | undefined;
    for (const c of conns) if (c.usable && c.free > 0 && (best === undefined || c.free > best.free)) best = c;
    return best;
  };
  outbox = new Outbox({
    maxQueued: settings.maxQueued, sendTimeoutMs: 0, maxRetries: settings.maxRetries, retryBaseMs: 100, retryMaxMs: 2000,
    // Spare records on: over the memory store, the records of ACKed plain messages carry later sends.
    jitter: () => 0.5, store, clock, keepAlive, ids: new MessageIdGenerator('m-'), counters, spareRecords: 64,
  }, {
    pick,
    // The reference answer: what pick() would return now.
    pickAgain: (conn) => pick() === conn,
    inFlight: (id) => {
      for (const c of conns) {
        const o = c.inflight.get(id);
        if (o !== undefined) return o;
      }
      return undefined;
    },
    capacity: () => {},
    idle: () => {},
    promises: (on) => {
      if (on === promising) fail(`promises(${on}) twice in a row`);
      promising = on;
    },
    settled: (record: OutboxRecord) => adoptedOutcomes.set(record.id, (adoptedOutcomes.get(record.id) ?? 0) + 1),
    error: (err) => fail(`store error ${err.message}`),
  });
  const controllers = [new AbortController(), new AbortController()];
  let adoptSeq = 0;
  openConn();

  /** True while a step calls into the outbox: a callback that runs then was called from inside it. */
  let inStep = false;
  let calledInside: string | undefined;
  const outcomeOf = (e: unknown): Sent['outcome'] => (e instanceof NackError ? 'nack' : e instanceof TimeoutError ? 'timeout' : e instanceof AbortError ? 'abort'
    : e instanceof ClosedError ? 'closed' : e instanceof DuplicateIdError ? 'duplicate' : 'invalid');
  const trackCallback = (id: string, deadline: number): { sent: Sent; cb: SendCallback } => {
    const s: Sent = { id, settled: 0, outcome: undefined, deadline, accepted: false };
    sent.push(s);
    const cb: SendCallback = (err, result) => {
      if (inStep) calledInside ??= id;
      if ((err === undefined) === (result === undefined)) calledInside ??= `${id} (error and result both ${err === undefined ? 'unset' : 'set'})`;
      s.settled++;
      s.outcome = err === undefined ? 'ack' : outcomeOf(err);
    };
    return { sent: s, cb };
  };

  const track = (id: string, p: Promise<SendResult> | undefined, deadline: number): void => {
    const s: Sent = { id, settled: 0, outcome: undefined, deadline, accepted: p !== undefined, promise: true };
    sent.push(s);
    if (p === undefined) return;
    p.then(
      () => {
        s.settled++;
        s.outcome = 'ack';
      },
      (e: unknown) => {
        s.settled++;
        s.outcome = outcomeOf(e);
      },
    );
  };

  const unsettledIds = (): Set<string> => {
    const ids = new Set<string>();
    const add = (o: Outbound, where: string): void => {
      if (o.settled) fail(`settled ${o.id} still held (${where})`);
      if (ids.has(o.id)) fail(`${o.id} held twice (${where})`);
      ids.add(o.id);
    };
    for (const r of outbox.records()) add(r, r.state);
    for (const c of conns) for (const o of c.inflight.values()) if (!o.settled) add(o, c.name);
    return ids;
  };

  /** The invariants, after every step. */
  const check = async (): Promise<void> => {
    const flushed = store.flush();
    if (flushed !== undefined) await flushed;
    await flushMicrotasks();
    if (calledInside !== undefined) fail(`the callback of ${calledInside} was called inside a step`);
    for (const s of sent) {
      if (s.settled > 1) fail(`${s.id} settled ${s.settled} times`);
      if (s.accepted && s.settled === 0 && s.deadline <= clock.now()) fail(`${s.id} outlived its deadline`);
    }
    for (const [id, n] of adoptedOutcomes) if (n > 1) fail(`adopted ${id} reported ${n} times`);
    for (const c of conns) if (c.inflight.size > settings.maxPending) fail(`${c.name} holds ${c.inflight.size} > maxPending`);
    // Work-conserving: once the store has recorded everything, nothing waits in the queue while a connection has room.
    if (outbox.queued > 0 && conns.some((c) => c.usable && c.free > 0)) fail(`${outbox.queued} queued while a connection has room`);
    // Gauges equal a recount from the records; nothing settled stays counted.
    let queued = 0;
    let waiting = 0;
    for (const r of outbox.records()) {
      if (r.state === 'queued') queued++;
      else if (r.state === 'waiting') waiting++;
      else fail(`${r.id} is ${r.state} outside any connection`);
    }
    if (queued !== outbox.queued) fail(`queued gauge ${outbox.queued} != recount ${queued}`);
    if (waiting !== outbox.waiting) fail(`waiting gauge ${outbox.waiting} != recount ${waiting}`);
    const live = unsettledIds();
    if (live.size !== outbox.outstanding) fail(`outstanding ${outbox.outstanding} != recount ${live.size}`);
    const promisesLive = sent.filter((s) => s.accepted && s.settled === 0).length;
    const adoptedLive = adoptedTotal - adoptedOutcomes.size;
    if (promisesLive + adoptedLive !== outbox.outstanding) fail(`promises unsettled ${promisesLive} + adopted ${adoptedLive} != outstanding ${outbox.outstanding}`);
    // The host hears when `send()` promises start being outstanding, and when the outbox is idle
    // again after them (the write mark follows): told so while any promise is unsettled, and not once nothing is outstanding.
    const promisedLive = sent.some((s) => s.promise === true && s.accepted && s.settled === 0);
    if (promisedLive && !promising) fail('a promise is outstanding and the host was not told');
    if (outbox.outstanding === 0 && promising) fail('nothing is outstanding and the host still hears of promises');
    // Timers: the one pending timer holds the process exactly while there is work and the embedder allows it.
    if (clock.timers.size > 1) fail(`${clock.timers.size} timers pending`);
    for (const t of clock.timers) if (t.refed !== keepAlive.active) fail(`timer ref ${t.refed} with keepAlive ${keepAlive.active}`);
  };
  let adoptedTotal = 0;

  const pickInflight = (connIdx: number, pick: number): [FakeConn, Outbound] | undefined => {
    const c = conns[connIdx % conns.length];
    if (c === undefined || c.inflight.size === 0) return undefined;
    const list = [...c.inflight.values()];
    const out = list[pick % list.length] as Outbound;
    c.inflight.delete(out.id);
    return [c, out];
  };

  for (const op of ops) {
    inStep = true;
    switch (op.t) {
      case 'send': {
        const id = op.callerId === undefined ? undefined : `u${op.callerId}`;
        const msg = { to: `tok${op.target}`, ...(id === undefined ? {} : { message_id: id }), ...(op.poison ? { data: { poison: 'yes' } } : {}) };
        const signal = op.signal === undefined ? undefined : (controllers[op.signal] as AbortController).signal;
        const before = outbox.queued;
        const deadline = op.timeoutMs > 0 ? clock.now() + op.timeoutMs : Infinity;
        if (op.dispatch) {
          const { sent: s, cb } = trackCallback(id ?? `gen${sent.length}`, deadline);
          s.accepted = outbox.submit(msg, { timeoutMs: op.timeoutMs, signal }, cb);
          if (!s.accepted && before < settings.maxQueued) fail('dispatch refused with room in the queue');
          break;
        }
        const p = outbox.submit(msg, { timeoutMs: op.timeoutMs, signal });
        if (p === undefined && before < settings.maxQueued) fail('refused with room in the queue');
        track(id ?? `gen${sent.length}`, p, deadline);
        break;
      }
      case 'ack': {
        const hit = pickInflight(op.conn, op.pick);
        if (hit !== undefined) outbox.ack(hit[1], hit[1].target, undefined);
        break;
      }
      case 'nack': {
        const hit = pickInflight(op.conn, op.pick);
        if (hit === undefined) break;
        if (op.code === 'CONNECTION_DRAINING') hit[0].draining = true;
        outbox.nack(hit[1], nackOf(op.code), false);
        break;
      }
      case 'stanzaError': {
        const hit = pickInflight(op.conn, op.pick);
        if (hit !== undefined) outbox.nack(hit[1], nackOf(op.wait ? 'SERVICE_UNAVAILABLE' : 'INVALID_JSON'), true);
        break;
      }
      case 'advance':
        clock.advance(op.ms);
        break;
      case 'abort': {
        const c = controllers[op.signal] as AbortController;
        controllers[op.signal] = new AbortController();
        c.abort(new Error('model abort'));
        break;
      }
      case 'lose': {
        const c = conns[op.conn % conns.length];
        if (c === undefined) break;
        c.closed = true;
        conns.splice(conns.indexOf(c), 1);
        outbox.requeueOwed(c.takeOwed());
        break;
      }
      case 'drain': {
        const c = conns[op.conn % conns.length];
        if (c !== undefined) c.draining = true;
        break;
      }
      case 'block': {
        const c = conns[op.conn % conns.length];
        if (c !== undefined) c.blocked = true;
        break;
      }
      case 'unblock': {
        const c = conns[op.conn % conns.length];
        if (c !== undefined && c.blocked) {
          c.blocked = false;
          outbox.dispatch();
        }
        break;
      }
      case 'connect':
        if (conns.length < 3) {
          openConn();
          outbox.dispatch();
        }
        break;
      case 'adopt': {
        const records: OutboxRecord[] = [];
        for (let i = 0; i < op.n; i++) {
          const n = adoptSeq++;
          records.push({ id: `a${n}`, seq: 1000 - n, msg: { to: `tok${op.target}`, message_id: `a${n}` }, target: `tok${op.target}`, retries: 0, resends: 0, written: true, state: n % 3 === 2 ? 'waiting' : 'inflight', notBefore: n % 3 === 2 ? clock.now() + 500 : 0, storeSlot: -1 });
        }
        adoptedTotal += records.length;
        outbox.adopt(records);
        break;
      }
      case 'ref':
        keepAlive.embedderRef = op.on;
        outbox.refreshKeepAlive();
        break;
    }
    inStep = false;
    await check();
  }

  // Liveness: with a healthy connection that ACKs everything, every message settles in bounded time.
  for (const c of conns) c.blocked = false;
  openConn();
  outbox.dispatch();
  for (let round = 0; outbox.outstanding > 0; round++) {
    if (round > 500) fail(`stuck with ${outbox.outstanding} outstanding`);
    inStep = true;
    for (const c of conns) for (const out of c.takeOwed()) outbox.ack(out, out.target, undefined);
    clock.advance(2500);
    inStep = false;
    await check();
  }
  // Close: whatever a connection still holds is answered later or never; every promise has settled exactly once.
  inStep = true;
  outbox.failAll(new ClosedError('model close'), conns.flatMap((c) => c.takeOwed()));
  inStep = false;
  await check();
  for (const s of sent) if (s.accepted && s.settled !== 1) fail(`${s.id} settled ${s.settled} times at the end`);
  if (adoptedOutcomes.size !== adoptedTotal) fail(`adopted outcomes ${adoptedOutcomes.size} != ${adoptedTotal}`);
  if (outbox.outstanding !== 0 || outbox.queued !== 0 || outbox.waiting !== 0) fail('gauges not zero after close');
}

/** fast-check parameters: seeded in the default run, fresh seeds and many more runs under FUZZ=1, one replayed with FC_SEED (and FC_PATH). */
export function modelParams(numRuns: number): fc.Parameters<[ModelSettings, Op[]]> {
  const fuzz = process.env['FUZZ'] !== undefined && process.env['FUZZ'] !== '';
  if (process.env['FC_SEED'] !== undefined) {
    return { seed: Number(process.env['FC_SEED']), ...(process.env['FC_PATH'] ? { path: process.env['FC_PATH'] } : {}), numRuns: fuzz ? numRuns * 20 : numRuns, endOnFailure: true };
  }
  return fuzz ? { numRuns: numRuns * 20 } : { numRuns, seed: 0x0b0c5 };
}

/**
 * The conformance suite for an {@link OutboxStore}: `numRuns` random operation sequences (more
 * under FUZZ=1), each on a fresh store from `makeStore`, every invariant checked after each step.
 */
export async function runOutboxConformance(makeStore: () => OutboxStore | Promise<OutboxStore>, numRuns = 200): Promise<void> {
  await fc.assert(
    fc.asyncProperty(settingsArb, fc.array(opArb, { minLength: 1, maxLength: 40 }), async (settings, ops) => {
      const store = await makeStore();
      try {
        await runOutboxModel(store, settings, ops);
      } finally {
        await store.close();
      }
    }),
    modelParams(numRuns),
  );
}

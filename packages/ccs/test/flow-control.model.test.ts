// Model-based property test of the flow-control window and reconnect resend: random interleavings
// of send / ACK / NACK / connection cut against real TLS, checked against a model after each step.
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, NackError } from '../src/index.js';
import { clientOptions, startScriptedServer, type ScriptedServer, type ServerConn } from './helpers/scripted-server.js';

type Op =
  | { t: 'send'; n: number }
  | { t: 'ack'; pick: number }
  | { t: 'nack'; pick: number }
  | { t: 'cut' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('send' as const), n: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('ack' as const), pick: fc.nat(50) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('nack' as const), pick: fc.nat(50) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('cut' as const) }) },
);

const MAX_PENDING = 3;

let runs = 0;

async function runModel(server: ScriptedServer, ops: Op[]): Promise<void> {
  const run = runs++;
  const client = new CcsClient(clientOptions(server, { maxPending: MAX_PENDING, reconnectBaseMs: 1, reconnectMaxMs: 5 }));
  const settled = new Map<string, number>();
  const outcome = new Map<string, 'ack' | 'nack'>();
  const expected = new Map<string, 'ack' | 'nack'>();
  const order: string[] = []; // send order
  const open = new Set<string>(); // accepted and not yet answered by the server
  const promises: Array<Promise<unknown>> = [];
  let seq = 0;
  const firstConn = server.conns.length;
  const conn = (): ServerConn => server.latest();
  // Messages each connection has received and not yet answered: the window as the server sees it.
  const answered = new Set<string>();
  const windowOf = (c: ServerConn): number => c.received.filter((m) => !answered.has(`${c.id}/${m['message_id'] as string}`)).length;
  const settleWait = async (): Promise<void> => {
    // Quiescence: the live connection holds exactly min(window, open) un-answered messages.
    let last = '';
    await server.until(() => {
      const live = server.conns.slice(firstConn).filter((c) => c.online && !c.closed);
      last = `live ${live.map((c) => `${c.id}:${windowOf(c)}`).join(',')} open ${open.size}`;
      // The client has processed every answer the server sent (an ACK still on the wire when the
      // next op cuts the connection would be lost, and the message legitimately resent).
      const st = client.stats();
      const processed = st.acked + Object.values(st.nacked).reduce((a, b) => a + (b ?? 0), 0);
      return processed === answered.size && live.length === 1 && windowOf(live[0]!) === Math.min(MAX_PENDING, open.size);
    }, 3000).catch((err: Error) => {
      throw new Error(`${err.message}: ${last}`);
    });
  };
  if (process.env['MODEL_DEBUG']) client.on('error', (e: Error) => console.log('client error', e.message));
  try {
    await client.connect();
    for (const op of ops) {
      if (op.t === 'send') {
        for (let i = 0; i < op.n; i++) {
          const id = `r${run}-${seq++}`;
          order.push(id);
          open.add(id);
          promises.push(client.send({ to: 'tok', message_id: id }).then(
            () => {
              settled.set(id, (settled.get(id) ?? 0) + 1);
              outcome.set(id, 'ack');
            },
            (e: unknown) => {
              settled.set(id, (settled.get(id) ?? 0) + 1);
              outcome.set(id, e instanceof NackError ? 'nack' : 'ack');
              if (!(e instanceof NackError)) throw e;
            },
          ));
        }
      } else if (op.t === 'cut') {
        const c = conn();
        c.cut();
        await server.until(() => c.closed);
      } else {
        const c = conn();
        const waiting = c.received.map((m) => m['message_id'] as string).filter((id) => !answered.has(`${c.id}/${id}`));
        if (waiting.length === 0) continue;
        const id = waiting[op.pick % waiting.length]!;
        answered.add(`${c.id}/${id}`);
        open.delete(id);
        expected.set(id, op.t);
        if (op.t === 'ack') c.ack(id);
        else c.nack(id, 'BAD_REGISTRATION');
      }
      await settleWait();
      for (const c of server.conns.slice(firstConn)) {
        assert.ok(windowOf(c) <= MAX_PENDING || c.closed, 'window exceeded');
      }
    }
    // Answer whatever is left, in whatever order it arrives.
    while (open.size > 0) {
      const c = conn();
      for (const m of c.received) {
        const id = m['message_id'] as string;
        if (answered.has(`${c.id}/${id}`)) continue;
        answered.add(`${c.id}/${id}`);
        open.delete(id);
        expected.set(id, 'ack');
        c.ack(id);
      }
      await settleWait();
    }
    await Promise.all(promises);
    // Every promise settled exactly once, the way the server answered.
    for (const id of order) {
      assert.is(settled.get(id), 1, `${id} settled once`);
      assert.is(outcome.get(id), expected.get(id), `${id} outcome`);
    }
    // On every connection, messages arrived in original send order (resends included), each once.
    for (const c of server.conns.slice(firstConn)) {
      const idx = c.received.map((m) => order.indexOf(m['message_id'] as string));
      for (let i = 1; i < idx.length; i++) assert.ok(idx[i]! > idx[i - 1]!, `order on connection ${c.id}: ${idx.join(',')}`);
    }
    const s = client.stats();
    assert.is(s.pending + s.queued + s.waitingRetry, 0);
  } catch (err) {
    if (process.env['MODEL_DEBUG']) console.log(err, server.conns.slice(firstConn).map((c) => [c.id, c.online, c.closed, c.received.map((m) => m['message_id'])]), client.stats());
    throw err;
  } finally {
    client.destroy();
  }
}

test('the window is never exceeded, every promise settles once, resends keep the original order (model-based)', async () => {
  const server = await startScriptedServer({ autoAck: false });
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 14 }), (ops) => runModel(server, ops)),
      { seed: 20261128, numRuns: process.env['FUZZ'] ? 300 : 15, endOnFailure: true },
    );
  } finally {
    await server.stop();
  }
});

test.run();

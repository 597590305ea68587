// The fleet: one emulator, three `ccs echo --store redis://…` processes sharing one Redis, upstream
// injected at a steady rate; one process SIGKILLed mid-run and one stopped and started again.
// From the emulator's ledger and Redis: every upstream message ACKed, the echo handler ran once per
// message fleet-wide (twice at most for one whose handler ran in the killed process), every echo
// delivered at least once, the killed process's messages adopted and reported on the outcome
// stream, and nothing left owned by a dead lease.
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { CcsEmulator } from '@ccs-xmpp/emulator';
import { Keys } from '../src/index.js';
import { redisSuite, until } from './helpers/redis-suite.js';
import { EchoProcess } from './helpers/echo-fleet.js';

const t = redisSuite('echo fleet on Redis');

const SENDER = '1234567890';
const API_KEY = 'emulator-api-key';
const MESSAGES = 1200;
const PER_TICK = 3; // every 10 ms: 300 messages/s, about 4 s of injection
const DEVICES = 6;

t.test('three ccs echo processes, one SIGKILLed and one restarted: every upstream ACKed, handled once fleet-wide, every echo delivered, nothing owned by the dead', async (server) => {
  // ACKs of downstream messages are held a little, so each process has echoes in flight when it dies.
  const emu = new CcsEmulator({ port: 0, upstreamResendMs: 1500, faults: { ackDelayMs: 150 }, seed: 7 });
  await emu.start();
  const procs: EchoProcess[] = [];
  const redis = new Redis(server.url);
  try {
    const args = ['--host', '127.0.0.1', '--port', String(emu.port), '--ca', emu.caFile, '--servername', 'localhost', '--store', server.url, '--max-pending', '50'];
    const env = { CCS_SENDER_ID: SENDER, CCS_API_KEY: API_KEY };
    const start = (name: string): EchoProcess => {
      const p = new EchoProcess(name, args, env);
      procs.push(p);
      return p;
    };
    const [victim, restarted, steady] = [start('victim'), start('restarted'), start('steady')];
    await until(() => [victim, restarted, steady].every((p) => p.events('connected').length > 0), 'three processes online', 30_000);

    let injected = 0;
    const inject = setInterval(() => {
      for (let i = 0; i < PER_TICK && injected < MESSAGES; i++) {
        const n = injected++;
        emu.injectUpstream(SENDER, { from: `device-${n % DEVICES}`, message_id: `up-${n}`, data: { n: String(n) } });
      }
      if (injected >= MESSAGES) clearInterval(inject);
    }, 10);
    await until(() => injected >= MESSAGES / 4 && victim.events('upstream').length > 20, 'the victim handling messages', 30_000);
    victim.signal('SIGKILL');
    await victim.exited;
    await until(() => injected >= MESSAGES / 2, 'half injected', 30_000);
    restarted.signal('SIGTERM');
    assert.is(await restarted.exited, 0, `the stopped process exits cleanly\n${restarted.stderr}`);
    const again = start('restarted-again');
    await until(() => injected >= MESSAGES, 'all injected', 60_000);

    // Every upstream message ACKed, every echo delivered at least once.
    const echoed = (n: number): boolean => emu.deliveredTo(`device-${n % DEVICES}`).some((d) => (d.data as { n?: string } | undefined)?.n === String(n));
    await until(() => emu.ledger().upstreamAcked >= MESSAGES, 'every upstream message ACKed', 60_000);
    const missing = (): number[] => Array.from({ length: MESSAGES }, (_, n) => n).filter((n) => !echoed(n));
    try {
      await until(() => missing().length === 0, 'every echo delivered', 30_000);
    } catch (err) {
      const m = missing();
      const where = m.slice(0, 5).map((n) => `up-${n}: ${procs.filter((p) => p.events('upstream').some((l) => l.message_id === `up-${n}`)).map((p) => p.name).join('+')}`);
      const errors = procs.map((p) => `${p.name}: ${p.events('error').length} errors ${JSON.stringify(p.events('error')[0] ?? null)} stderr=${p.stderr.slice(0, 300)}`);
      throw new Error(`${(err as Error).message}: ${m.length} echoes missing; ${where.join('; ')}; ${errors.join(' | ')}; out hash ${await redis.hlen(new Keys(SENDER).out)}`);
    }
    const ledger = emu.ledger();
    assert.is(ledger.upstreamAcked, MESSAGES);
    assert.is(ledger.upstreamUnacked, 0);

    // The handler ran once per message fleet-wide; at most once more for one the victim had run.
    const runs = new Map<string, number>();
    for (const p of procs) for (const l of p.events('upstream')) runs.set(l.message_id as string, (runs.get(l.message_id as string) ?? 0) + 1);
    const ranInVictim = new Set(victim.events('upstream').map((l) => l.message_id as string));
    const twice: string[] = [];
    for (let n = 0; n < MESSAGES; n++) {
      const id = `up-${n}`;
      const count = runs.get(id) ?? 0;
      assert.ok(count >= 1, `${id} was handled`);
      if (count > 1) {
        assert.ok(count === 2 && ranInVictim.has(id), `${id} handled ${count} times (victim ran it: ${ranInVictim.has(id)})`);
        twice.push(id);
      }
    }

    // The victim's echoes still in flight were adopted by a survivor, sent again, and reported.
    const keys = new Keys(SENDER);
    await until(async () => (await redis.xlen(keys.outcomes)) > 0, 'adopted outcomes on the stream', 30_000);
    const entries = await redis.xrange(keys.outcomes, '-', '+');
    const settledLines = procs.flatMap((p) => p.events('settled'));
    assert.ok(settledLines.length > 0, 'a survivor reported adopted messages on `settled`');
    assert.is(settledLines.length, entries.length, 'each adopted outcome reported once on `settled` and once on the stream');
    for (const [, fields] of entries) {
      const f = Object.fromEntries(Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i], fields[2 * i + 1]]));
      assert.is(f['adopted'], '1');
      assert.is(f['status'], 'ack', `adopted ${f['id']} ACKed`);
    }

    // Nothing owned by a dead lease: no records, no running upstream claims.
    const instances = await redis.zrange(keys.instances, 0, -1);
    for (const inst of instances) {
      if (await redis.exists(keys.lease(inst))) continue;
      assert.is(await redis.zcard(keys.own(inst)), 0, `dead ${inst} owns records`);
    }
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', `${keys.prefix}up:*`, 'COUNT', 1000);
      cursor = next;
      for (const k of found) {
        const v = await redis.get(k);
        // `r:<instance>:<claim token>`
        if (v?.startsWith('r:')) assert.is(await redis.exists(keys.lease(v.slice(2, v.indexOf(':', 2)))), 1, `${k} held by dead ${v}`);
      }
    } while (cursor !== '0');

    // A clean stop of the survivors leaves no record at all.
    for (const p of [steady, again]) p.signal('SIGTERM');
    for (const p of [steady, again]) assert.is(await p.exited, 0, p.stderr);
    assert.is(await redis.hlen(keys.out), 0, 'every record settled and removed');
    console.log(`  fleet: ${MESSAGES} upstream, ${twice.length} handled twice (all run by the killed process), ${entries.length} adopted echoes settled, ${ledger.downstreamDuplicates} duplicate echo deliveries`);
  } finally {
    for (const p of procs) p.signal('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    redis.disconnect();
    await emu.stop();
  }
});

t.run();

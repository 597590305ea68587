import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isPing } from '@ccs-xmpp/stanza';
import { TestClient } from './helpers/client.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

test('the ccs-emulator CLI listens on --port 0, prints its JSON line, serves a client, and stops on SIGTERM with the totals', async () => {
  const child = spawn(process.execPath, [CLI, '--port', '0', '--sender-id', '555', '--handshake-timeout-ms', '0', '--drain-timeout-ms', '60000'], {
    env: { ...process.env, CCS_API_KEY: 'cli-secret-key' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // No handshake deadline: on a loaded machine the TLS + SASL handshake alone can pass the default
  // 10 s, and that limit has tests of its own (limits.test.ts). The drained connection stays open
  // until this client answers the ping that follows CONNECTION_DRAINING (--drain-timeout-ms: long
  // past anything a loaded machine takes), so the after-drain message meets an open stream.
  // Generous (a loaded machine), and still inside the runner's per-test deadline.
  const killer = setTimeout(() => child.kill('SIGKILL'), 50_000);
  try {
    const lines = createInterface({ input: child.stdout });
    const iterator = lines[Symbol.asyncIterator]();
    const first = await iterator.next();
    const info = JSON.parse(String(first.value)) as { host: string; port: number; caFile: string };
    assert.is(info.host, '127.0.0.1');
    assert.ok(info.port > 0);
    const ca = readFileSync(info.caFile, 'utf8');
    const c = await TestClient.connect({ port: info.port, ca, senderId: '555', apiKey: 'cli-secret-key', answerPings: false });
    assert.is((await c.request({ to: 'tok', message_id: 'e2e' })).kind, 'ack');
    // SIGUSR2: CONNECTION_DRAINING on demand; the next downstream message is NACKed for it.
    child.kill('SIGUSR2');
    const drained = JSON.parse(String((await iterator.next()).value)) as { type: string; connections: number };
    assert.equal(drained, { type: 'drain-requested', connections: 1 });
    const ping = await c.waitFor(isPing);
    const nack = await c.request({ to: 'tok', message_id: 'after-drain' });
    assert.is(nack.kind, 'nack');
    // Answered: the emulator closes the drained connection itself, before any SIGTERM.
    c.answerPing(ping);
    assert.is(await c.closed, undefined);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const rest: string[] = [];
    for (let r = await iterator.next(); !r.done; r = await iterator.next()) rest.push(String(r.value));
    assert.is(await exited, 0);
    const totals = JSON.parse(rest[rest.length - 1]!) as { type: string; downstreamDelivered: number };
    assert.is(totals.type, 'stopped');
    assert.is(totals.downstreamDelivered, 1);
    assert.equal((totals as unknown as { nacked: Record<string, number> }).nacked, { CONNECTION_DRAINING: 1 });
    assert.not.match(String(first.value) + rest.join('\n'), /cli-secret-key/);
  } finally {
    clearTimeout(killer);
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('`npx ccs-emulator` works from the repository root: npm links the bin, which runs the built CLI', async () => {
  // dist/test → package → packages → repository root. The bin is a committed shim, so `npm ci`
  // links it before anything is built (npm silently skips a bin whose file does not exist).
  const bin = fileURLToPath(new URL('../../../../node_modules/.bin/ccs-emulator', import.meta.url));
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(bin, ['--help'], { encoding: 'utf8', timeout: 20_000 });
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, 'Usage: ccs-emulator');
});

test.run();

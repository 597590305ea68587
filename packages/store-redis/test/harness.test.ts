import { existsSync, readFileSync } from 'node:fs';
import * as assert from 'uvu/assert';
import { Redis } from 'ioredis';
import { redisSuite } from './helpers/redis-suite.js';
import { startRedis } from './helpers/redis-server.js';

const t = redisSuite('redis test harness', { appendonly: true });

function listensOn(port: number): string[] {
  // /proc/net/tcp: local address as hex IP:port, state 0A = LISTEN.
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A' && cols[1]?.endsWith(`:${hexPort}`)) out.push(cols[1]);
    }
  }
  return out;
}

t.test('starts redis-server on a free 127.0.0.1 port only, with its own config and data dir', async (server) => {
  assert.equal(listensOn(server.port), ['0100007F:' + server.port.toString(16).toUpperCase().padStart(4, '0')]);
  assert.ok(existsSync(`${server.dir}/redis.conf`));
  const cmdline = readFileSync(`/proc/${server.pid}/cmdline`, 'utf8');
  assert.ok(cmdline.includes(server.dir), 'argv names our config (set-proc-title no), so setup-redis.sh never stops it');
  const r = new Redis(server.url, { lazyConnect: true });
  await r.connect();
  assert.is(await r.config('GET', 'dir').then((v) => (v as string[])[1]), server.dir);
  r.disconnect();
});

t.test('a SIGKILLed server restarts on the same port and keeps what it acknowledged (appendonly, fsync always)', async (server) => {
  const r = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
  r.on('error', () => {});
  await r.connect();
  await r.set('harness:kept', 'yes');
  const before = server.pid;
  await server.kill();
  assert.is(server.pid, undefined);
  await server.restart();
  assert.is.not(server.pid, before);
  const r2 = new Redis(server.url, { lazyConnect: true });
  await r2.connect();
  assert.is(await r2.get('harness:kept'), 'yes');
  assert.ok(server.cpuMicros() >= 0);
  r.disconnect();
  r2.disconnect();
});

t.test('stop() ends the process by pid and removes the temp dir', async () => {
  const s = await startRedis();
  const pid = s.pid as number;
  await s.stop();
  let alive = true;
  try {
    process.kill(pid, 0);
  } catch {
    alive = false;
  }
  assert.not.ok(alive);
  assert.not.ok(existsSync(s.dir));
});

t.run();

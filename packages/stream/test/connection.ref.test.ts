// Whether an open connection keeps its process alive, checked in real child processes: by default
// it does (like a net.Socket); `ref: false` or `unref()` lets the process exit; `ref()` undoes it.
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generateDevCertificate } from '../src/index.js';
import { listenLocal } from './helpers.js';

const { cert, key } = generateDevCertificate();
const streamUrl = new URL('../src/index.js', import.meta.url).href;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs a child that connects to `port` with `options`, then runs `after` on its connection `conn`. */
function child(port: number, options: string, after: string): { proc: ChildProcess; exited: Promise<number | null>; stdout: () => string } {
  const script = `
    import { connect } from ${JSON.stringify(streamUrl)};
    // Held open while connecting: an unref'd socket alone would let the process exit mid-handshake.
    const hold = setInterval(() => {}, 1000);
    const conn = await connect({ host: '127.0.0.1', port: ${port}, ca: ${JSON.stringify(cert)}, servername: 'localhost', keepaliveIntervalMs: 0, ${options} }, { onStanza() {} });
    conn.openStream({ to: 'x' });
    ${after}
    clearInterval(hold);
    // What still holds the event loop, said at once: on a loaded machine an exit can take longer
    // than any wait the test could afford, so a wrongly unref'd socket would otherwise go unseen.
    console.log('ready', JSON.stringify(process.getActiveResourcesInfo()));
  `;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, exited, stdout: () => out };
}

/** A TLS server that holds every connection open and says when a stream header arrived. */
async function holdingServer() {
  const sockets: tls.TLSSocket[] = [];
  let headers = 0;
  const server = tls.createServer({ cert, key }, (socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      if (d.toString().includes('<stream:stream')) headers++;
    });
  });
  const port = await listenLocal(server);
  return {
    port,
    headers: () => headers,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Resolves with the exit code, or 'running' if the child has not exited after `ms`. */
async function exitWithin(c: ReturnType<typeof child>, ms: number): Promise<number | null | 'running'> {
  return Promise.race([c.exited, sleep(ms).then(() => 'running' as const)]);
}

for (const [what, options, after, staysAlive] of [
  ['by default an open connection keeps the process alive', '', '', true],
  ['ref: false lets the process exit with the connection open', 'ref: false', '', false],
  ['unref() lets the process exit with the connection open', '', 'conn.unref();', false],
  ['ref() after ref: false keeps the process alive again', 'ref: false', 'conn.ref();', true],
] as const) {
  test(what, async () => {
    const srv = await holdingServer();
    const c = child(srv.port, options, after);
    try {
      if (staysAlive) {
        for (const deadline = Date.now() + 30_000; srv.headers() === 0 && Date.now() < deadline; ) await sleep(10);
        assert.is(srv.headers(), 1, 'the child connected and opened its stream');
        // Still there well after it had nothing left to do; then the server cuts it and it exits.
        assert.is(await exitWithin(c, 500), 'running');
        for (const deadline = Date.now() + 30_000; !c.stdout().includes('ready') && Date.now() < deadline; ) await sleep(10);
        assert.ok(c.stdout().includes('"TCPSocketWrap"'), `the socket holds the event loop: ${c.stdout()}`);
        await srv.stop();
        assert.is(await exitWithin(c, 30_000), 0, 'the child exits once its connection is gone');
      } else {
        assert.is(await exitWithin(c, 30_000), 0, 'the child exited by itself');
        assert.ok(c.stdout().includes('ready') && !c.stdout().includes('TCPSocketWrap'), `nothing holds the event loop: ${c.stdout()}`);
      }
    } finally {
      c.proc.kill();
      await srv.stop();
    }
  });
}

test('a destroyed or cleanly closed connection is garbage-collected: none of its timers outlives it', async () => {
  // In a child with --expose-gc. The keepalive and idle intervals and the close timer are unref'd,
  // so a forgotten one would not keep the process alive; it would keep the connection in memory.
  const script = `
    import * as tls from 'node:tls';
    import { connect, generateDevCertificate } from ${JSON.stringify(streamUrl)};
    const { cert, key } = generateDevCertificate();
    const server = tls.createServer({ cert, key }, (s) => {
      s.on('error', () => {});
      s.on('data', (d) => { if (d.toString().includes('</stream:stream>')) s.end('</stream:stream>'); });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const options = { host: '127.0.0.1', port: server.address().port, ca: cert, servername: 'localhost', keepaliveIntervalMs: 1000, idleTimeoutMs: 1000, closeTimeoutMs: 60000 };
    const refs = [];
    for (const how of ['destroy', 'close']) {
      let conn = await connect(options, { onStanza() {} });
      refs.push([how, new WeakRef(conn)]);
      conn.openStream({ to: 'x' });
      if (how === 'destroy') conn.destroy(); else await conn.close();
      await conn.closed;
      conn = undefined;
    }
    server.close();
    for (let i = 0; i < 20 && refs.some(([, r]) => r.deref() !== undefined); i++) {
      await new Promise((r) => setTimeout(r, 10));
      globalThis.gc();
    }
    console.log(JSON.stringify(refs.map(([how, r]) => [how, r.deref() === undefined])));
  `;
  const proc = spawn(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
  assert.is(code, 0);
  assert.equal(JSON.parse(out), [['destroy', true], ['close', true]]);
});

test('ref: false does not hold the process while connecting either (the connect timer is unref\'d too)', async () => {
  // A server that accepts TCP and never answers the TLS handshake: connect() stays pending.
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => sockets.push(s));
  const port = await listenLocal(silent);
  const script = `
    import { connect } from ${JSON.stringify(streamUrl)};
    console.log('connecting');
    await connect({ host: '127.0.0.1', port: ${port}, ref: false, connectTimeoutMs: 120000 }, { onStanza() {} });
  `;
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  try {
    const code = await Promise.race([exited, sleep(30_000).then(() => 'running' as const)]);
    // Node ends a process whose top-level await can never settle with exit code 13.
    assert.is(code, 13, 'the child exited while its connection attempt was pending');
  } finally {
    proc.kill();
    for (const s of sockets) s.destroy();
    silent.close();
  }
});

test.run();

// Reads, writes and deferred callbacks per message, by client and row: what each message costs in
// socket reads, TLS writes, `socket.write` calls and nextTicks, counted by hooks on Node's own
// prototypes while one client sends against the stub CCS (bench/lib/stub-ccs.mjs, a child process, so
// every socket in this process is the client's). The ninth pass counted these at one connection
// (bench/ANALYSIS.md, "the per-read and per-write cost"); this counts them at any row, and also how
// the writes fall on the connections (a write on the socket whose read came last, the read's own
// connection, or on another one; made after a read or after a `drain`), the `drain` events, and the
// encoders' fresh slabs and rewinds (GcmEncoder of this checkout: a `--base-dir` client's rewinds are
// not seen). bench/ANALYSIS.md, eleventh pass, has the table.
//
//   node bench/micro/wire-counts.mjs [--clients ccs,floor,trivial] [--windows 100,1000] [--connections 4,16]
//                                    [--n 150000] [--warmup 100000] [--slice 20000] [--base-dir DIR]
//
// `--base-dir DIR`: `ccs` is DIR's build (packages/ccs/dist of DIR) instead of this checkout's.
// CPU per message is with the hooks on: compare it only within one run.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import * as tls from 'node:tls';
import * as net from 'node:net';
import { startStub } from '../lib/start-stub.mjs';
import { driveQueue, payloadFor } from '../lib/queue-driver.mjs';
import { TrivialCcsClient } from '../lib/trivial-ccs-client.mjs';
import { FloorCcsClient } from '../lib/floor-ccs-client.mjs';
import { GcmEncoder } from '@ccs-xmpp/stanza';

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string' }, windows: { type: 'string' }, connections: { type: 'string' }, n: { type: 'string' },
    warmup: { type: 'string' }, slice: { type: 'string' }, 'base-dir': { type: 'string' },
  },
});
const list = (s, d) => (s === undefined ? d : s.split(','));
const CLIENTS = list(args.clients, ['ccs', 'floor', 'trivial']);
const WINDOWS = list(args.windows, ['100', '1000']).map(Number);
const CONNECTIONS = list(args.connections, ['4', '16']).map(Number);
const N = Number(args.n ?? 150_000);
const WARMUP = Number(args.warmup ?? 100_000);
const SLICE = Number(args.slice ?? 20_000);
const TOKEN = 'bench-device-token-0001';
const ccsDir = args['base-dir'] === undefined ? undefined : pathToFileURL(resolve(args['base-dir'], 'packages/ccs/dist/src/index.js')).href;
const { CcsClient } = await import(ccsDir ?? '@ccs-xmpp/ccs');

// --- the hooks ------------------------------------------------------------------------------------
const c = { reads: 0, writes: 0, writev: 0, socketWrites: 0, ticks: 0, immediates: 0, timeouts: 0, drains: 0, slabs: 0, rewinds: 0, rewound: 0, sameSocket: 0, afterDrain: 0, bytesOut: 0 };
/** The socket event whose callback (and the nextTicks after it) is running: a write is made after a read or after a drain. */
let lastEvent = '';
let lastRead;
const HIST = process.env.WIRE_HIST === '1';
const sizes = [];
const proto = tls.TLSSocket.prototype;
const writeGeneric = proto._writeGeneric;
proto._writeGeneric = function (writev, data, encoding, cb) {
  c.writes++;
  if (writev) c.writev++;
  return writeGeneric.call(this, writev, data, encoding, cb);
};
const socketWrite = net.Socket.prototype.write;
net.Socket.prototype.write = function (data, ...rest) {
  c.socketWrites++;
  if (this === lastRead) c.sameSocket++;
  if (lastEvent === 'drain') c.afterDrain++;
  const bytes = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
  c.bytesOut += bytes;
  if (HIST) sizes.push(bytes);
  return socketWrite.call(this, data, ...rest);
};
const emit = proto.emit;
proto.emit = function (event, ...rest) {
  if (event === 'data') {
    c.reads++;
    lastRead = this;
    lastEvent = 'data';
  } else if (event === 'drain') {
    c.drains++;
    lastEvent = 'drain';
  }
  return emit.call(this, event, ...rest);
};
// The encoders' slabs: a fresh 64 KiB one, or the current one reused from its start (rewind()).
const allocUnsafeSlow = Buffer.allocUnsafeSlow;
Buffer.allocUnsafeSlow = function (size) {
  if (size >= 16 * 1024) c.slabs++;
  return allocUnsafeSlow.call(Buffer, size);
};
const rewind = GcmEncoder.prototype.rewind;
GcmEncoder.prototype.rewind = function () {
  c.rewinds++;
  const r = rewind.call(this);
  if (r) c.rewound++;
  return r;
};
const nextTick = process.nextTick;
process.nextTick = function (...a) {
  c.ticks++;
  return nextTick.apply(process, a);
};
const setImmediate0 = globalThis.setImmediate;
globalThis.setImmediate = function (...a) {
  c.immediates++;
  return setImmediate0(...a);
};
const setTimeout0 = globalThis.setTimeout;
globalThis.setTimeout = function (...a) {
  c.timeouts++;
  return setTimeout0(...a);
};

// --- the drivers (bench/lib/client-worker.mjs's queue driver and payload) ----------------------------
const payload = payloadFor(TOKEN);

const stub = await startStub(TOKEN);
const common = { senderId: '1234567890', apiKey: 'stub-key', host: '127.0.0.1', port: stub.port, ca: stub.ca, to: TOKEN };
const rows = [];
try {
  for (const window of WINDOWS) {
    for (const connections of CONNECTIONS) {
      for (const name of CLIENTS) {
        let run;
        let close;
        if (name === 'trivial') {
          const t = new TrivialCcsClient({ ...common, maxPending: window, connections });
          await t.connect();
          run = (base, n) => t.run(base, n);
          close = () => t.close();
        } else if (name === 'floor') {
          const f = new FloorCcsClient({ ...common, maxPending: window, maxQueued: 10_000, connections });
          await f.connect();
          run = (base, n) => driveQueue(f, payload, base, n);
          close = () => f.close();
        } else {
          const client = new CcsClient({
            senderId: common.senderId, apiKey: common.apiKey, host: common.host, port: common.port, tls: { ca: stub.ca, servername: 'localhost' },
            maxPending: window, maxQueued: 10_000, connections, pingIntervalMs: 0, idleTimeoutMs: 0, keepaliveIntervalMs: 0,
          });
          await client.connect({ all: true });
          run = (base, n) => driveQueue(client, payload, base, n);
          close = () => client.close();
        }
        let next = 0;
        for (let w = 0; w < WARMUP; w += SLICE) await run((next += SLICE) - SLICE, SLICE);
        for (const k of Object.keys(c)) c[k] = 0;
        const cpu0 = process.cpuUsage();
        for (let w = 0; w < N; w += SLICE) await run((next += SLICE) - SLICE, SLICE);
        const u = process.cpuUsage(cpu0);
        const row = {
          client: name, window, connections,
          readsPerMsg: c.reads / N, acksPerRead: N / c.reads, writesPerMsg: c.writes / N, writevShare: c.writev / c.writes,
          msgsPerWrite: N / c.writes, sameSocketShare: c.sameSocket / c.socketWrites, afterDrainShare: c.afterDrain / c.socketWrites, socketWritesPerMsg: c.socketWrites / N,
          bytesPerWrite: c.bytesOut / c.socketWrites, ticksPerMsg: c.ticks / N, ticksPerRead: c.ticks / c.reads,
          immediatesPerMsg: c.immediates / N, drainsPerMsg: c.drains / N, msgsPerSlab: N / c.slabs, msgsPerRewind: N / c.rewound, rewindsRefused: (c.rewinds - c.rewound) / N, timeoutsPerMsg: c.timeouts / N, cpuUsPerMsg: (u.user + u.system) / N,
        };
        rows.push(row);
        if (HIST) {
          const h = new Map();
          for (const b of sizes) { const k = Math.round(b / 1000); h.set(k, (h.get(k) ?? 0) + 1); }
          process.stderr.write(`sizes (KB: count) ${[...h].sort((a, b) => a[0] - b[0]).map(([k, v]) => `${k}:${v}`).join(' ')}\n`);
          sizes.length = 0;
        }
        process.stderr.write(`${JSON.stringify(row)}\n`);
        await close();
      }
    }
  }
} finally {
  await stub.stop();
}
const f = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : '—');
process.stdout.write('| client, row | reads / msg | ACKs / read | TLS writes / msg (writev) | msgs / write | on the read\'s socket | after a drain | `socket.write` / msg | B / write | nextTicks / msg | per read | drains / msg | msgs / new slab | msgs / rewind | CPU µs/msg |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n');
for (const r of rows) {
  process.stdout.write(`| ${r.client} ${r.window} × ${r.connections} | ${f(r.readsPerMsg, 4)} | ${f(r.acksPerRead, 1)} | ${f(r.writesPerMsg, 4)} (${f(100 * r.writevShare, 0)}%) | ${f(r.msgsPerWrite, 1)} | ${f(100 * r.sameSocketShare, 0)}% | ${f(100 * r.afterDrainShare, 0)}% | ${f(r.socketWritesPerMsg, 4)} | ${f(r.bytesPerWrite, 0)} | ${f(r.ticksPerMsg, 3)} | ${f(r.ticksPerRead, 1)} | ${f(r.drainsPerMsg, 4)} | ${f(r.msgsPerSlab, 0)} | ${f(r.msgsPerRewind, 0)} | ${f(r.cpuUsPerMsg, 2)} |\n`);
}

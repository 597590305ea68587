// The benchmarks' own clients (the trivial client and the API floor) after close(): the stub may be
// stopped before their end of the stream reaches it, and the reset that follows must not be an
// uncaught exception in the process that closed them — it failed a test run once (ECONNRESET from
// queue-driver.test's floor, its stub stopped right after close()).
import type { EventEmitter } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const BENCH = fileURLToPath(new URL('../../../bench/lib/', import.meta.url));
const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(BENCH + file).href)) as T;

interface Closable {
  connect(): Promise<void>;
  close(): void;
}
interface StubModule {
  startStub(token: string): Promise<{ port: number; ca: string; stop(): Promise<unknown> }>;
}

test('a socket error after close() is not thrown: the floor and the trivial client', async () => {
  const { FloorCcsClient } = await load<{ FloorCcsClient: new (o: Record<string, unknown>) => Closable & { conns: Array<{ socket: EventEmitter }> } }>('floor-ccs-client.mjs');
  const { TrivialCcsClient } = await load<{ TrivialCcsClient: new (o: Record<string, unknown>) => Closable & { sockets: EventEmitter[] } }>('trivial-ccs-client.mjs');
  const { startStub } = await load<StubModule>('start-stub.mjs');
  const token = 'close-token';
  const stub = await startStub(token);
  const options = { host: '127.0.0.1', port: stub.port, ca: stub.ca, senderId: '1', apiKey: 'k', to: token, maxPending: 10, maxQueued: 10, connections: 2 };
  try {
    const floor = new FloorCcsClient(options);
    const trivial = new TrivialCcsClient(options);
    await floor.connect();
    await trivial.connect();
    const sockets = [...floor.conns.map((c) => c.socket), ...trivial.sockets];
    assert.is(sockets.length, 4);
    floor.close();
    trivial.close();
    // What a reset by the peer delivers: an 'error' event. With no listener, emit() throws it.
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    for (const s of sockets) assert.not.throws(() => s.emit('error', reset));
  } finally {
    await stub.stop();
  }
});

test.run();

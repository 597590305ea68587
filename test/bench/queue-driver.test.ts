// bench/lib/queue-driver.mjs, the queue driver of the client micros: its dispatch variant settles a run through one
// shared callback and counts it like the promise driver — against the API floor's dispatch over real TLS to the stub
// CCS — and a client without `dispatch` (a build before the promise-free send) fails the run with a clear error
// instead of hanging it.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const BENCH = fileURLToPath(new URL('../../../bench/lib/', import.meta.url));

interface Counts {
  acked: number;
  failed: number;
}
interface Sender {
  connect(): Promise<void>;
  close(): void;
}
type Drive = (client: object, payload: (i: number) => object, base: number, n: number) => Promise<Counts>;
interface DriverModule {
  payloadFor(to: string): (i: number) => object;
  driveQueue: Drive;
  driveDispatch: Drive;
  driverFor(api: string | undefined): Drive;
}
interface FloorModule {
  FloorCcsClient: new (o: Record<string, unknown>) => Sender;
}
interface StubModule {
  startStub(token: string): Promise<{ port: number; ca: string; stop(): Promise<unknown> }>;
}
// bench/ is plain JavaScript outside this workspace: loaded by path, typed by the interfaces above.
const load = async <T>(file: string): Promise<T> => (await import(pathToFileURL(BENCH + file).href)) as T;

test('driveDispatch and driveQueue each settle a run of the floor\'s messages, every one ACKed once', async () => {
  const { payloadFor, driverFor, driveDispatch, driveQueue } = await load<DriverModule>('queue-driver.mjs');
  const { FloorCcsClient } = await load<FloorModule>('floor-ccs-client.mjs');
  const { startStub } = await load<StubModule>('start-stub.mjs');
  assert.is(driverFor('dispatch'), driveDispatch);
  assert.is(driverFor(undefined), driveQueue);
  assert.throws(() => driverFor('callback'), /unknown api/);
  const token = 'queue-driver-token';
  const stub = await startStub(token);
  const options = { host: '127.0.0.1', port: stub.port, ca: stub.ca, senderId: '1', apiKey: 'k', maxPending: 20, maxQueued: 100, connections: 2 };
  const floors = [new FloorCcsClient({ ...options, api: 'dispatch' }), new FloorCcsClient(options)];
  try {
    await Promise.all(floors.map((f) => f.connect()));
    const payload = payloadFor(token);
    for (const [floor, drive] of [[floors[0], driveDispatch], [floors[1], driveQueue]] as const) {
      // Twice: the second run starts on a client the first left idle, as the benchmark's warm-up runs do.
      for (const base of [0, 3000]) {
        const counts = await drive(floor as Sender, payload, base, 3000);
        // Settled more than once would show as more ACKs than sends by the next turn of the loop.
        await new Promise((r) => setImmediate(r));
        assert.equal({ acked: counts.acked, failed: counts.failed }, { acked: 3000, failed: 0 });
      }
    }
  } finally {
    for (const f of floors) f.close();
    await stub.stop();
  }
});

test('driveDispatch rejects a client without dispatch(message, callback) before sending anything', async () => {
  const { payloadFor, driveDispatch } = await load<DriverModule>('queue-driver.mjs');
  let sent = 0;
  const promiseOnly = { trySend: () => (sent++, Promise.resolve()), waitForCapacity: () => Promise.resolve() };
  try {
    await driveDispatch(promiseOnly, payloadFor('t'), 0, 10);
    assert.unreachable('driveDispatch resolved');
  } catch (err) {
    assert.match(String(err), /no dispatch\(message, callback\)/);
  }
  assert.is(sent, 0);
});

test.run();

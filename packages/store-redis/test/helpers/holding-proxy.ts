/**
 * A TCP proxy on 127.0.0.1 in front of a test Redis that holds up a big answer: once a connection
 * has received more than `afterBytes` from Redis, what Redis sends it next is held back for
 * `holdMs` (once per proxy), then passed on in order — a slow link or a slow reader under a reply
 * of megabytes. Every other connection, and every other byte, passes through at once.
 */
import * as net from 'node:net';

export interface HoldingProxy {
  readonly port: number;
  /** Connections held so far (0 or 1). */
  readonly holds: number;
  close(): Promise<void>;
}

export async function startHoldingProxy(redisPort: number, afterBytes: number, holdMs: number): Promise<HoldingProxy> {
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let holds = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(redisPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let received = 0;
    let held: Buffer[] | undefined;
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (d: Buffer) => upstream.write(d));
    upstream.on('data', (d: Buffer) => {
      if (held !== undefined) {
        held.push(d);
        return;
      }
      received += d.length;
      if (received > afterBytes && holds === 0) {
        holds++;
        held = [d];
        const timer = setTimeout(() => {
          timers.delete(timer);
          for (const b of held ?? []) client.write(b);
          held = undefined;
        }, holdMs);
        timers.add(timer);
        return;
      }
      client.write(d);
    });
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    get holds() {
      return holds;
    },
    close: () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * A TCP proxy on 127.0.0.1 in front of a test Redis that loses one answer, so the command has run
 * in Redis and its answer never arrives — a reset after the command, as a network drop does. The
 * connection is cut (both sides destroyed) instead of passing on: with `afterRequest`, the first
 * answer on the first connection that sent a chunk containing it; with `inReply`, the first answer
 * containing it. Every other byte, and everything after the cut, passes through.
 */
import * as net from 'node:net';

export interface CuttingProxy {
  readonly port: number;
  /** Connections cut so far (0 or 1). */
  readonly cuts: number;
  close(): Promise<void>;
}

export async function startCuttingProxy(redisPort: number, marker: { afterRequest: string } | { inReply: string }): Promise<CuttingProxy> {
  const sockets = new Set<net.Socket>();
  let armed = true;
  let cuts = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(redisPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    let cutThis = false;
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (d: Buffer) => {
      if (armed && 'afterRequest' in marker && d.includes(marker.afterRequest)) {
        armed = false;
        cutThis = true;
      }
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      if (armed && 'inReply' in marker && d.includes(marker.inReply)) {
        armed = false;
        cutThis = true;
      }
      if (cutThis) {
        cuts++;
        end();
      } else client.write(d);
    });
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    get cuts() {
      return cuts;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

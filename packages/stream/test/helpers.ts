import { once } from 'node:events';
import type * as net from 'node:net';
import { NS_CLIENT, NS_STREAM } from '../src/index.js';

// The parser helpers (recording sink, split runs, the behaviour table) are test support this
// package publishes as `@ccs-xmpp/stream/testing`, so that @ccs-xmpp/stanza runs the same ones.
export { HEADER, bytes, normal, parseChunked, parseSplit, progressSplit, recorder, runs, type Event, type NormalEl } from '../src/testing.js';

/** Stream header attributes the connection tests send as client and as server. */
export const CLIENT_HEADER = { to: 'gcm.googleapis.com', version: '1.0', xmlns: NS_CLIENT, 'xmlns:stream': NS_STREAM };
export const SERVER_HEADER = { from: 'gcm.googleapis.com', id: 's1', version: '1.0', xmlns: NS_CLIENT, 'xmlns:stream': NS_STREAM };

/** Listens on 127.0.0.1 (a free port) and resolves with the port. */
export async function listenLocal(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

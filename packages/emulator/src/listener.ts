/**
 * The emulator's TLS listener: the server, its open sockets, the connection cap and the TLS part
 * of the handshake deadline. A connection that completes TLS is handed to `onConnection`; one over
 * the cap gets a `resource-constraint` stream error instead.
 */
import { constants } from 'node:crypto';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { accept } from '@ccs-xmpp/stream';
import { EmulatorError } from './errors.js';
import type { EmulatorEvent } from './hub.js';

/** Sockets still in their TLS handshake beyond `maxConnections` (each is refused with a stream error once TLS is up). */
const PRE_TLS_SLACK = 64;

/** What the listener needs to know and whom it tells. */
export interface ListenerOptions {
  cert: string;
  key: string;
  handshakeTimeoutMs: number;
  maxConnections: number;
  /** How many connections are open now (sessions). */
  open(): number;
  onConnection(socket: tls.TLSSocket): void;
  emit(e: EmulatorEvent): void;
}

/** A TLS server that enforces the connection cap. */
export class TlsListener {
  readonly #server: tls.Server;
  readonly #sockets = new Set<net.Socket>();
  readonly #o: ListenerOptions;

  /** @throws {EmulatorError} `EMU_ERR_CONFIG` when the certificate or key is unusable. */
  constructor(o: ListenerOptions) {
    this.#o = o;
    try {
      this.#server = tls.createServer({
        cert: o.cert, key: o.key,
        // Client-initiated renegotiation is refused outright: each costs a full handshake of CPU,
        // and Node only reports (never stops) a client that renegotiates in a loop.
        secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
        // The TLS part of the handshake deadline (Node's default is 120 s).
        handshakeTimeout: o.handshakeTimeoutMs > 0 ? o.handshakeTimeoutMs : 120_000,
      });
    } catch (err) {
      throw new EmulatorError('EMU_ERR_CONFIG', `unusable cert/key: ${(err as Error).message}`, { cause: err });
    }
    const server = this.#server;
    server.on('connection', (socket: net.Socket) => {
      // Past the cap (with room for the TLS handshakes of the ones about to be refused with a
      // stream error), a socket is dropped before TLS: there is no stream yet to carry an error.
      if (this.#sockets.size >= o.maxConnections + PRE_TLS_SLACK) {
        socket.destroy();
        o.emit({ type: 'connection-refused', reason: 'max-connections' });
        return;
      }
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
    });
    server.on('secureConnection', (socket: tls.TLSSocket) => this.#secure(socket));
    server.on('tlsClientError', (err: NodeJS.ErrnoException) => o.emit({ type: 'tls-error', code: err.code ?? 'TLS_ERROR' }));
  }

  /** Listens; resolves with the port. @throws {EmulatorError} `EMU_ERR_LISTEN`. */
  async listen(port: number, host: string): Promise<number> {
    const server = this.#server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.removeListener('error', reject);
          resolve();
        });
      });
    } catch (err) {
      throw new EmulatorError('EMU_ERR_LISTEN', `cannot listen on ${host}:${port}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
    server.on('error', (err) => this.#o.emit({ type: 'server-error', message: err.message }));
    return (server.address() as net.AddressInfo).port;
  }

  /** Stops listening; resolves once the server has closed (after every socket is gone). */
  close(): Promise<void> {
    return new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /** Destroys every socket left (those that never finished TLS have no session to close them). */
  destroyAll(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  #secure(socket: tls.TLSSocket): void {
    if (this.#o.open() >= this.#o.maxConnections) {
      // RFC 6120 §4.9.3.17: the server lacks the resources to serve this stream.
      const conn = accept(socket, { keepaliveIntervalMs: 0, closeTimeoutMs: 1000 }, { onStanza: () => undefined });
      conn.streamError('resource-constraint', `connection limit (${this.#o.maxConnections}) reached`);
      this.#o.emit({ type: 'connection-refused', reason: 'max-connections' });
      return;
    }
    this.#o.onConnection(socket);
  }
}

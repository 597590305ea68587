// A small CCS test client built from this project's own layers (stream + sasl + stanza): connect
// over TLS, authenticate, bind, send JSON, and collect what the emulator answers.
import {
  connect, NS_CLIENT, NS_STREAM, type StreamError, type XmppConnection, type XmlElement,
} from '@ccs-xmpp/stream';
import { ClientNegotiator } from '@ccs-xmpp/sasl';
import {
  bindIq, decodeGcmMessage, encodeAckString, encodeGcmString, isPing, readBindResult, resultIq, sessionIq,
  type InboundMessage,
} from '@ccs-xmpp/stanza';

/**
 * Default deadline for something that should happen (an answer, a condition). Generous: the suite
 * runs on loaded 2-core machines, and a deadline that passes only fails slower, never wrongly.
 */
export const WAIT_MS = 20_000;

export const STREAM_ATTRS = { to: 'gcm.googleapis.com', version: '1.0', xmlns: NS_CLIENT, 'xmlns:stream': NS_STREAM };

export interface ClientOptions {
  port: number;
  ca: string;
  host?: string;
  senderId?: string;
  apiKey?: string;
  resource?: string;
  /** Send the optional session IQ after bind. */
  session?: boolean;
  /** Stop after the stream header + features (no SASL). */
  noAuth?: boolean;
  /** Authenticate but do not bind. */
  noBind?: boolean;
  keepaliveIntervalMs?: number;
  /** ACK upstream messages and receipts as they arrive (from the first one, which may come with the bind result). */
  autoAck?: boolean;
  /**
   * Answer the server's XEP-0199 pings as they are read, as an XMPP client must (RFC 6120 §8.2.3:
   * an IQ get gets a reply). Default true; false leaves them to the test (`answerPing`).
   */
  answerPings?: boolean;
}

interface Waiter {
  pred: (el: XmlElement) => boolean;
  resolve: (el: XmlElement) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class TestClient {
  conn!: XmppConnection;
  jid: string | undefined;
  /** Every stanza received (SASL elements excluded), in order. */
  readonly received: XmlElement[] = [];
  closeError: StreamError | undefined;
  isClosed = false;
  readonly closed: Promise<StreamError | undefined>;
  #resolveClosed!: (e: StreamError | undefined) => void;
  #taken = new Set<XmlElement>();
  #waiters: Waiter[] = [];
  #sasl: ClientNegotiator | undefined;
  /** Raw 'data' chunk sizes received on the TLS socket (for the tiny-writes fault). */
  readonly chunks: number[] = [];
  /** Everything received, as text (tests use ASCII). */
  raw = '';
  /** Auto-ACK upstream messages and receipts as they arrive. */
  autoAck = false;
  /** Answer pings as they are read. */
  answerPings = true;

  private constructor() {
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
  }

  static async connect(opts: ClientOptions): Promise<TestClient> {
    const c = new TestClient();
    c.autoAck = opts.autoAck === true;
    c.answerPings = opts.answerPings !== false;
    c.conn = await connect(
      { host: opts.host ?? '127.0.0.1', port: opts.port, ca: opts.ca, servername: 'localhost', keepaliveIntervalMs: opts.keepaliveIntervalMs ?? 0 },
      {
        onStanza: (el) => c.#onStanza(el),
        onClose: (err) => {
          c.isClosed = true;
          c.closeError = err;
          for (const w of c.#waiters) {
            clearTimeout(w.timer);
            w.reject(new Error(`connection closed while waiting${err ? `: ${err.code} ${err.condition}` : ''}`));
          }
          c.#waiters = [];
          c.#resolveClosed(err);
        },
      },
    );
    c.conn.rawSocket.on('data', (chunk: Buffer) => {
      c.chunks.push(chunk.length);
      c.raw += chunk.toString('latin1');
    });
    try {
      c.conn.openStream(STREAM_ATTRS);
      const features = await c.waitFor((el) => el.local === 'features');
      if (opts.noAuth) return c;
      const senderId = opts.senderId ?? '1234567890';
      c.#sasl = new ClientNegotiator({
        credentials: { authcid: `${senderId}@gcm.googleapis.com`, password: opts.apiKey ?? 'emulator-api-key' },
        encrypted: c.conn.encrypted,
        send: (el) => c.conn.send(el),
      });
      await c.#sasl.start(features);
      c.conn.restart();
      c.conn.openStream(STREAM_ATTRS);
      await c.waitFor((el) => el.local === 'features');
      if (opts.noBind) return c;
      c.conn.send(bindIq('bind-1', opts.resource));
      const result = await c.waitFor((el) => el.local === 'iq' && el.attr('id') === 'bind-1');
      c.jid = readBindResult(result);
      if (opts.session) {
        c.conn.send(sessionIq('sess-1'));
        await c.waitFor((el) => el.local === 'iq' && el.attr('id') === 'sess-1');
      }
      return c;
    } catch (err) {
      c.conn.destroy();
      await c.closed;
      throw err;
    }
  }

  #onStanza(el: XmlElement): void {
    if (this.#sasl?.handle(el)) return;
    this.received.push(el);
    if (this.autoAck && el.local === 'message') {
      const m = decodeGcmMessage(el);
      if (m.kind === 'upstream' || m.kind === 'receipt') {
        this.#taken.add(el);
        this.conn.send(encodeAckString(m.from, m.messageId));
        // Still let waiters see it.
      }
    } else if (this.answerPings && isPing(el)) this.answerPing(el); // Waiters see it too.
    for (let i = 0; i < this.#waiters.length; i++) {
      const w = this.#waiters[i] as Waiter;
      if (w.pred(el)) {
        this.#waiters.splice(i, 1);
        clearTimeout(w.timer);
        this.#taken.add(el);
        w.resolve(el);
        return;
      }
    }
  }

  /** The first received stanza not yet taken that matches, now or within `timeoutMs`. */
  waitFor(pred: (el: XmlElement) => boolean, timeoutMs = WAIT_MS): Promise<XmlElement> {
    for (const el of this.received) {
      if (!this.#taken.has(el) && pred(el)) {
        this.#taken.add(el);
        return Promise.resolve(el);
      }
    }
    if (this.isClosed) return Promise.reject(new Error('connection closed'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.timer !== timer);
        reject(new Error(`timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiters.push({ pred, resolve, reject, timer });
    });
  }

  /** The next decoded CCS message whose JSON message_id (or kind) matches. */
  async waitGcm(pred: (m: InboundMessage) => boolean, timeoutMs = WAIT_MS): Promise<InboundMessage> {
    const el = await this.waitFor((e) => e.local === 'message' && pred(decodeGcmMessage(e)), timeoutMs);
    return decodeGcmMessage(el);
  }

  /** Waits for the ACK/NACK/stanza error about this message_id. */
  answerTo(messageId: string, timeoutMs = WAIT_MS): Promise<InboundMessage> {
    return this.waitGcm((m) => (m.kind === 'ack' || m.kind === 'nack' || m.kind === 'stanzaError') && m.messageId === messageId, timeoutMs);
  }

  sendJson(payload: object, stanzaId?: string): void {
    const id = stanzaId ?? (payload as { message_id?: unknown }).message_id;
    this.conn.send(encodeGcmString(payload, typeof id === 'string' ? id : undefined));
  }

  /** Sends a downstream message and waits for its answer. */
  async request(payload: { message_id: string; [k: string]: unknown }, timeoutMs = WAIT_MS): Promise<InboundMessage> {
    const answer = this.answerTo(payload.message_id, timeoutMs);
    this.sendJson(payload);
    return answer;
  }

  sendRaw(xml: string): void {
    this.conn.send(xml);
  }

  /** Answers a ping (a `result` IQ with its id, to its sender). */
  answerPing(ping: XmlElement): void {
    this.conn.send(resultIq(ping.attr('id') ?? '', ping.attr('from')));
  }

  ack(to: string, messageId: string): void {
    this.conn.send(encodeAckString(to, messageId));
  }

  /** Clean close (stream close handshake). */
  async close(): Promise<void> {
    if (!this.isClosed) await this.conn.close(1000);
    await this.closed;
  }
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` every 5 ms until true or `timeoutMs`. */
export async function until(cond: () => boolean, timeoutMs = WAIT_MS, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * A thin XMPP client made only of this project's layers — `connect` (stream), `ClientNegotiator`
 * (sasl), the bind/session/ping builders and the GCM encoder/decoder (stanza) — for driving a real
 * server in the interop tests. It is deliberately not the CCS client: no reconnects, no flow
 * control window, just the protocol steps in order, each bounded by a timeout.
 */
import {
  connect,
  escapeAttr,
  NS_CLIENT,
  NS_STREAM,
  type StreamError,
  type StreamHeader,
  type XmlElement,
  type XmppConnection,
} from '@ccs-xmpp/stream';
import { ClientNegotiator, type SaslError, type SaslSuccess } from '@ccs-xmpp/sasl';
import {
  bindIq,
  decodeGcmMessage,
  encodeGcmString,
  GcmEncoder,
  pingIq,
  readBindResult,
  readIq,
  readStreamFeatures,
  sessionIq,
  type InboundMessage,
  type StreamFeatures,
} from '@ccs-xmpp/stanza';

const STEP_TIMEOUT_MS = 10_000;

/** Where and as whom to log in. */
export interface ClientOptions {
  host: string;
  port: number;
  /** XMPP domain: the stream `to`, the TLS server name. */
  domain: string;
  /** PEM the server certificate must chain to. */
  ca: string;
  /** SASL PLAIN authcid: the account's localpart (RFC 6120 §6.3.8: a simple user name). */
  username: string;
  password: string;
  /** Resource to ask for; the server picks one when absent. */
  resource?: string;
  /** Our whitespace keepalive interval (stream layer option); 0 disables. Default 0. */
  keepaliveIntervalMs?: number;
  /** Our idle timeout (stream layer option); 0 disables. Default 0. */
  idleTimeoutMs?: number;
  /** Called for every `<message>` after login, decoded; `el` is the element as parsed. */
  onMessage?(message: InboundMessage, el: XmlElement): void;
}

/** What the login saw, for assertions. */
export interface LoginTranscript {
  /** The server's first stream header. */
  firstHeader: StreamHeader | undefined;
  /** The server's stream header after the SASL restart. */
  secondHeader: StreamHeader | undefined;
  preAuthFeatures: StreamFeatures | undefined;
  postAuthFeatures: StreamFeatures | undefined;
  sasl: SaslSuccess | undefined;
  /** Errors of failed SASL attempts before the successful one. */
  saslFailures: SaslError[];
  /** Whether the session IQ got a result. */
  sessionEstablished: boolean;
}

/** A pending step: one resolver and one timer at a time (the login is strictly sequential). */
interface Waiter {
  match(el: XmlElement): boolean;
  resolve(el: XmlElement): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * One logged-in (or logging-in) connection. Create with {@link XmppTestClient.connect}, then
 * {@link XmppTestClient.login}.
 */
export class XmppTestClient {
  readonly options: ClientOptions;
  conn!: XmppConnection;
  /** The full JID the server bound. */
  jid = '';
  readonly transcript: LoginTranscript = {
    firstHeader: undefined, secondHeader: undefined, preAuthFeatures: undefined, postAuthFeatures: undefined,
    sasl: undefined, saslFailures: [], sessionEstablished: false,
  };
  /** Set once the connection closed: the reason (`undefined` for a clean close). */
  closeReason: StreamError | undefined;
  closedFlag = false;
  /** The server sent `</stream:stream>`. */
  peerClosedStream = false;
  /** Elements that matched no waiter and are not messages, oldest first (consumed by `waitFor`). */
  readonly stray: XmlElement[] = [];
  /** Plaintext bytes received, for assertions on what the server wrote (bounded). */
  received = '';
  receivedLimit = 0;

  readonly #waiters: Waiter[] = [];
  readonly #headers: StreamHeader[] = [];
  #headerWaiter: { resolve(h: StreamHeader): void; reject(err: Error): void } | undefined;
  #negotiator: ClientNegotiator | undefined;
  #preAuthFeaturesEl: XmlElement | undefined;
  #iqCounter = 0;
  readonly encoder = new GcmEncoder();

  private constructor(options: ClientOptions) {
    this.options = options;
  }

  /** Opens the TLS connection and sends the first stream header. */
  static async connect(options: ClientOptions): Promise<XmppTestClient> {
    const client = new XmppTestClient(options);
    client.conn = await connect(
      {
        host: options.host,
        port: options.port,
        servername: options.domain,
        ca: options.ca,
        keepaliveIntervalMs: options.keepaliveIntervalMs ?? 0,
        idleTimeoutMs: options.idleTimeoutMs ?? 0,
        closeTimeoutMs: 3_000,
      },
      {
        onStreamOpen: (header) => client.#onHeader(header),
        onStanza: (el) => client.#onStanza(el),
        onStreamEnd: () => {
          client.peerClosedStream = true;
        },
        onClose: (err) => {
          client.closedFlag = true;
          client.closeReason = err;
          const failure = new Error(`connection closed${err ? `: ${err.code} ${err.message}` : ''}`);
          const headerWaiter = client.#headerWaiter;
          client.#headerWaiter = undefined;
          headerWaiter?.reject(failure);
          for (const w of client.#waiters.splice(0)) {
            clearTimeout(w.timer);
            w.reject(failure);
          }
        },
      },
    );
    client.conn.rawSocket.on('data', (chunk: Buffer) => {
      if (client.received.length < client.receivedLimit) client.received += chunk.toString('utf8');
    });
    client.#openStream();
    return client;
  }

  /** Connects and performs the whole login: SASL PLAIN, restart, bind, session. */
  static async login(options: ClientOptions): Promise<XmppTestClient> {
    const client = await XmppTestClient.connect(options);
    try {
      await client.authenticate(options.password);
      await client.bindAndSession();
    } catch (err) {
      client.conn.destroy();
      await client.conn.closed;
      throw err;
    }
    return client;
  }

  #openStream(): void {
    this.conn.openStream({ to: this.options.domain, version: '1.0', xmlns: NS_CLIENT, 'xmlns:stream': NS_STREAM });
  }

  #onHeader(header: StreamHeader): void {
    this.#headers.push(header);
    const w = this.#headerWaiter;
    this.#headerWaiter = undefined;
    w?.resolve(header);
  }

  #onStanza(el: XmlElement): void {
    if (this.#negotiator?.handle(el)) return;
    for (let i = 0; i < this.#waiters.length; i++) {
      const w = this.#waiters[i] as Waiter;
      if (w.match(el)) {
        this.#waiters.splice(i, 1);
        clearTimeout(w.timer);
        w.resolve(el);
        return;
      }
    }
    if (el.local === 'message' && this.options.onMessage) {
      this.options.onMessage(decodeGcmMessage(el), el);
      return;
    }
    this.stray.push(el);
  }

  /** Waits for the next depth-1 element `match` accepts (elements already seen are not replayed). */
  waitFor(what: string, match: (el: XmlElement) => boolean, timeoutMs = STEP_TIMEOUT_MS): Promise<XmlElement> {
    // Elements that arrived before anyone waited (a header and its features often share a TLS
    // record) are kept in `stray` and consumed here first.
    const early = this.stray.findIndex(match);
    if (early !== -1) return Promise.resolve(this.stray.splice(early, 1)[0] as XmlElement);
    return new Promise((resolve, reject) => {
      if (this.closedFlag) {
        reject(new Error(`waiting for ${what}: the connection is closed`));
        return;
      }
      const timer = setTimeout(() => {
        const i = this.#waiters.indexOf(waiter);
        if (i !== -1) this.#waiters.splice(i, 1);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const waiter: Waiter = { match, resolve, reject, timer };
      this.#waiters.push(waiter);
    });
  }

  #nextHeader(): Promise<StreamHeader> {
    const seen = this.#headers.shift();
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#headerWaiter = undefined;
        reject(new Error(`timed out after ${STEP_TIMEOUT_MS} ms waiting for the server's stream header`));
      }, STEP_TIMEOUT_MS);
      this.#headerWaiter = {
        resolve: (h) => {
          clearTimeout(timer);
          this.#headers.shift();
          resolve(h);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
    });
  }

  #features(): Promise<XmlElement> {
    return this.waitFor('<stream:features>', (el) => el.local === 'features' && el.uri === NS_STREAM);
  }

  /** Waits for the server's first stream header and its (pre-auth) features, once. */
  async readFeatures(): Promise<StreamFeatures | undefined> {
    if (this.#preAuthFeaturesEl === undefined) {
      this.transcript.firstHeader = await this.#nextHeader();
      this.#preAuthFeaturesEl = await this.#features();
      this.transcript.preAuthFeatures = readStreamFeatures(this.#preAuthFeaturesEl);
    }
    return this.transcript.preAuthFeatures;
  }

  /**
   * SASL PLAIN with `password` on the current (pre-auth) stream. On `<failure>` the error is
   * recorded and thrown; the stream stays open, so a caller may try again (RFC 6120 §6.4.5).
   */
  async authenticate(password: string): Promise<SaslSuccess> {
    await this.readFeatures();
    const negotiator = new ClientNegotiator({
      credentials: { authcid: this.options.username, password },
      encrypted: this.conn.encrypted,
      send: (out) => this.conn.send(out),
    });
    this.#negotiator = negotiator;
    const timer = setTimeout(() => negotiator.abort('timed out'), STEP_TIMEOUT_MS);
    try {
      const success = await negotiator.start(this.#preAuthFeaturesEl as XmlElement);
      this.transcript.sasl = success;
      return success;
    } catch (err) {
      this.transcript.saslFailures.push(err as SaslError);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** After SASL success: restart the stream, bind a resource, establish the session. */
  async bindAndSession(): Promise<void> {
    // The features of the new stream may arrive in the same TLS record as <success>: the waiter
    // must exist before the restart lets the parser go on.
    this.conn.restart();
    const featuresPromise = this.#features();
    const headerPromise = this.#nextHeader();
    this.#openStream();
    this.transcript.secondHeader = await headerPromise;
    const features = readStreamFeatures(await featuresPromise);
    this.transcript.postAuthFeatures = features;
    if (!features?.bind) throw new Error('the server offered no resource binding after SASL');

    const bindId = this.nextId('bind');
    const bound = this.iq(bindIq(bindId, this.options.resource), bindId);
    const result = await bound;
    const jid = readBindResult(result);
    if (jid === undefined) throw new Error(`bind failed: ${serializeBrief(result)}`);
    this.jid = jid;

    // RFC 6121 / RFC 3921 §3: session establishment; Prosody offers it as <optional/>. Send it
    // anyway: a CCS-era client does, and a server must answer it.
    if (features.session) {
      const sessionId = this.nextId('sess');
      const answer = await this.iq(sessionIq(sessionId), sessionId);
      this.transcript.sessionEstablished = answer.attr('type') === 'result';
    }
  }

  /** A fresh IQ id. */
  nextId(prefix: string): string {
    return `${prefix}-${++this.#iqCounter}`;
  }

  /** Sends an IQ and resolves with the `result` or `error` IQ of the same id. */
  iq(el: XmlElement, id: string, timeoutMs = STEP_TIMEOUT_MS): Promise<XmlElement> {
    const answer = this.waitFor(`IQ answer ${id}`, (r) => {
      const info = readIq(r);
      return info !== undefined && info.id === id && (info.type === 'result' || info.type === 'error');
    }, timeoutMs);
    this.conn.send(el);
    return answer;
  }

  /** XEP-0199 ping to the server; resolves with the answer IQ. */
  ping(timeoutMs?: number): Promise<XmlElement> {
    const id = this.nextId('ping');
    return this.iq(pingIq(id, this.options.domain), id, timeoutMs);
  }

  /**
   * A GCM stanza for `to` as the stanza package encodes it (JSON escaped for XML, stanza id from
   * `message_id`), with the `to` attribute XMPP routing needs spliced in. `form` picks the encoder
   * entry point: `string` (`encodeGcmString`), `buffer` (`GcmEncoder.encode`), or `prefixed`
   * (the same body under `<data:gcm xmlns:data=…>`, the form CCS itself writes).
   */
  gcmStanza(to: string, payload: object, stanzaId: string | undefined, form: 'string' | 'buffer' | 'prefixed'): string | Buffer {
    const toAttr = `<message to="${escapeAttr(to)}"`;
    if (form === 'buffer') {
      const encoded = this.encoder.encode(payload, stanzaId);
      // encoded starts with `<message` (8 bytes); one copy, fine for a test.
      return Buffer.concat([Buffer.from(toAttr), encoded.subarray('<message'.length)]);
    }
    const s = encodeGcmString(payload, stanzaId);
    const withTo = toAttr + s.slice('<message'.length);
    if (form === 'string') return withTo;
    return withTo
      .replace('<gcm xmlns="google:mobile:data">', '<data:gcm xmlns:data="google:mobile:data">')
      .replace(/<\/gcm><\/message>$/, '</data:gcm></message>');
  }

  /**
   * Writes stanzas as fast as the socket takes them, waiting for `drain` when `send` says the
   * buffer is full. Resolves when everything was handed to the socket.
   */
  async sendAll(stanzas: Iterable<string | Buffer>): Promise<void> {
    for (const s of stanzas) {
      if (!this.conn.send(s)) {
        await new Promise<void>((resolve, reject) => {
          const socket = this.conn.rawSocket;
          const done = (): void => {
            socket.off('drain', done);
            socket.off('close', closed);
            resolve();
          };
          const closed = (): void => {
            socket.off('drain', done);
            reject(new Error('connection closed while sending'));
          };
          socket.once('drain', done);
          socket.once('close', closed);
        });
      }
    }
  }

  /** Closes the stream (`</stream:stream>`) and waits for the connection to end. */
  async close(): Promise<void> {
    await this.conn.close();
  }
}

function serializeBrief(el: XmlElement): string {
  return `<${el.name} ${Object.entries(el.attrs).map(([k, v]) => `${k}="${v}"`).join(' ')}>`;
}

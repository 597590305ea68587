/**
 * Interop: this project's XMPP layers (stream, sasl, stanza) against a real Prosody 0.12 server
 * started by the test itself on 127.0.0.1 (direct TLS, SASL PLAIN only, as CCS). Skipped — visibly,
 * with the reason — only when Prosody is not installed (scripts/setup-prosody.sh installs it).
 */
import { rmSync, existsSync } from 'node:fs';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { StreamErrorReceived, type XmlElement } from '@ccs-xmpp/stream';
import { SaslFailureError } from '@ccs-xmpp/sasl';
import type { InboundMessage } from '@ccs-xmpp/stanza';
import { listeningAddresses, processAlive, prosodyAvailability, startProsody, type ProsodyServer } from '../lib/prosody.js';
import { XmppTestClient, type ClientOptions } from '../lib/xmpp-client.js';
import { messageId, payload } from '../lib/payloads.js';
import { CcsClient, HandshakeError } from '@ccs-xmpp/ccs';

// Accounts. The password mixes non-ASCII (Latin-1, CJK, an astral emoji) with every XML-special
// character: it travels base64 in <auth>, but prosodyctl, Prosody's storage and SASLprep see it raw.
const PASSWORD_A = 'pässwörd <&>"\' ✓ 密码 🔑 ]]> \\';
const PASSWORD_B = 'Ünïcødé & "more" <b>🙂</b>';
const USER_A = 'alice';
const USER_B = 'björn'; // a non-ASCII localpart: PLAIN's authcid and the JID carry UTF-8 too
const USER_OFFLINE = 'carol';
// Resources travel in the bind request and in every `to`/`from` attribute: make them awkward
// (stringprep's Resourceprep, which Prosody 0.12 applies, leaves these characters as they are).
const RESOURCE_A = 'ccs-a';
const RESOURCE_B = 'ccs-b «ресурс» <&>"\' ~ \u00e9';
// An astral emoji is unassigned in Unicode 3.2, so Prosody's strict Resourceprep refuses it and
// binds a random resource instead (see test/README.md: RFC 6120 §7.7.1 allows the override).
const RESOURCE_EMOJI = 'ccs 🔑';
const MESSAGES_PER_DIRECTION = 1000; // 2000 exchanged in all
const DELIVERY_DEADLINE_MS = 30_000;

const test = suite('prosody interop');
const availability = prosodyAvailability();

interface Ctx {
  server?: ProsodyServer;
  startError?: unknown;
  a?: XmppTestClient;
  b?: XmppTestClient;
  extra: XmppTestClient[];
}
const ctx: Ctx = { extra: [] };

function server(): ProsodyServer {
  if (ctx.server === undefined) throw ctx.startError instanceof Error ? ctx.startError : new Error(`prosody did not start: ${String(ctx.startError)}`);
  return ctx.server;
}

function clientOptions(username: string, password: string, resource: string, extra: Partial<ClientOptions> = {}): ClientOptions {
  const s = server();
  return { host: s.host, port: s.port, domain: s.domain, ca: s.ca, username, password, resource, ...extra };
}

/** Adds the tail of Prosody's log to a failure, which is where the other side of the story is. */
async function withLog<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Error && ctx.server) err.message += `\n--- prosody log (tail) ---\n${ctx.server.logTail(20)}`;
    throw err;
  }
}

const inbox = { a: [] as Array<{ m: InboundMessage; el: XmlElement }>, b: [] as Array<{ m: InboundMessage; el: XmlElement }> };
let onInbox: (() => void) | undefined;

async function loginPair(): Promise<{ a: XmppTestClient; b: XmppTestClient }> {
  if (ctx.a && ctx.b && !ctx.a.closedFlag && !ctx.b.closedFlag) return { a: ctx.a, b: ctx.b };
  ctx.a = await XmppTestClient.login(clientOptions(USER_A, PASSWORD_A, RESOURCE_A, {
    onMessage: (m, el) => { inbox.a.push({ m, el }); onInbox?.(); },
  }));
  ctx.b = await XmppTestClient.login(clientOptions(USER_B, PASSWORD_B, RESOURCE_B, {
    onMessage: (m, el) => { inbox.b.push({ m, el }); onInbox?.(); },
  }));
  return { a: ctx.a, b: ctx.b };
}

// Test timers stay ref'd (and bounded): an unref'd wait could let the process exit mid-test.
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `done()` holds, re-checking on every delivered message; bounded. */
function until(done: () => boolean, what: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (done()) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      onInbox = undefined;
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    onInbox = () => {
      if (!done()) return;
      onInbox = undefined;
      clearTimeout(timer);
      resolve();
    };
  });
}

const TESTS: Array<[string, () => Promise<void>]> = [];
const it = (name: string, fn: () => Promise<void>): void => {
  TESTS.push([name, fn]);
};

it('Prosody listens on 127.0.0.1 and on its one direct-TLS port only', () => withLog(async () => {
  const s = server();
  assert.equal(listeningAddresses(s.pid), [`127.0.0.1:${s.port}`]);
}));

it('opens a direct-TLS stream to Prosody and reads its header and PLAIN-only features', () => withLog(async () => {
  const c = await XmppTestClient.connect(clientOptions(USER_A, PASSWORD_A, 'probe'));
  ctx.extra.push(c);
  await c.readFeatures();
  assert.ok(c.conn.encrypted, 'TLS from the first byte');
  const h = c.transcript.firstHeader;
  assert.ok(h, 'a stream header');
  assert.is(h.name, 'stream:stream');
  assert.is(h.attrs['from'], 'localhost');
  assert.is(h.attrs['version'], '1.0');
  assert.ok((h.attrs['id'] ?? '').length > 0, 'a stream id (RFC 6120 §4.7.3)');
  const f = c.transcript.preAuthFeatures;
  assert.ok(f);
  assert.equal(f.mechanisms, ['PLAIN']);
  assert.is(f.starttls, false, 'no STARTTLS on a direct-TLS port');
  // Closing before authenticating is legal (RFC 6120 §4.4); after <success> it would not be: the
  // server has reset its parser and reads our </stream:stream> as a broken new stream.
  await c.close();
  assert.is(c.closeReason, undefined);
  assert.is(c.peerClosedStream, true);
}));

it('logs in with SASL PLAIN (non-ASCII, XML-special password; non-ASCII user), binds a resource and establishes the session', () => withLog(async () => {
  const { a, b } = await loginPair();
  for (const [c, user, resource] of [[a, USER_A, RESOURCE_A], [b, USER_B, RESOURCE_B]] as const) {
    assert.is(c.transcript.sasl?.mechanism, 'PLAIN');
    assert.is(c.transcript.saslFailures.length, 0);
    assert.ok(c.transcript.secondHeader, 'the server restarted the stream after <success>');
    assert.is.not(c.transcript.secondHeader.attrs['id'], c.transcript.firstHeader?.attrs['id'], 'a new stream id after the restart');
    assert.is(c.transcript.postAuthFeatures?.bind, true);
    assert.equal(c.transcript.postAuthFeatures?.mechanisms, [], 'no SASL offered twice');
    assert.is(c.jid, `${user}@localhost/${resource}`);
    assert.is(c.transcript.postAuthFeatures?.session, true);
    assert.is(c.transcript.sessionEstablished, true, 'the session IQ is answered with a result');
  }
}));

it('a resource Prosody cannot prep (astral emoji) is replaced by a server-generated one, and we use the JID it returns', () => withLog(async () => {
  const c = await XmppTestClient.login(clientOptions(USER_A, PASSWORD_A, RESOURCE_EMOJI));
  ctx.extra.push(c);
  const m = /^alice@localhost\/(.+)$/.exec(c.jid);
  assert.ok(m, `a full JID for alice (${c.jid})`);
  assert.is.not(m[1], RESOURCE_EMOJI, 'Prosody 0.12 overrides the resource instead of answering bad-request');
  assert.is((await c.ping()).attr('type'), 'result');
  await c.close();
}));

it('a wrong password fails with SASL_ERR_NOT_AUTHORIZED, leaks no secret, and a retry on the same stream succeeds', () => withLog(async () => {
  const c = await XmppTestClient.connect(clientOptions(USER_A, PASSWORD_A, 'retry'));
  ctx.extra.push(c);
  const wrong = `${PASSWORD_A}x`;
  let failure: unknown;
  try {
    await c.authenticate(wrong);
  } catch (err) {
    failure = err;
  }
  assert.instance(failure, SaslFailureError);
  const e = failure as SaslFailureError;
  assert.is(e.code, 'SASL_ERR_NOT_AUTHORIZED');
  assert.is(e.condition, 'not-authorized');
  for (const text of [e.message, e.text ?? '', String(e.stack)]) {
    assert.not.ok(text.includes(wrong) || text.includes(Buffer.from(`\0${USER_A}\0${wrong}`).toString('base64')), 'no password or SASL payload in the error');
  }
  // RFC 6120 §6.4.5: the server SHOULD allow a configurable number of retries on the stream.
  await c.authenticate(PASSWORD_A);
  await c.bindAndSession();
  assert.is(c.jid, `${USER_A}@localhost/retry`);
  await c.close();
  assert.is(c.closeReason, undefined);
}));

it('whitespace keepalives: Prosody accepts ours, and our parser and idle timer take Prosody\'s', () => withLog(async () => {
  // Ours: a 100 ms interval, then silence. Prosody (read_timeout 1 s) would itself ping a silent
  // client; this one is never silent.
  const ours = await XmppTestClient.login(clientOptions(USER_A, PASSWORD_A, 'ka-ours', { keepaliveIntervalMs: 100 }));
  // Theirs: no keepalive from us, a 2.2 s idle timeout (checked every 550 ms, so it would fire by
  // 2.75 s); only Prosody's ' ' every second can keep it alive through the 3 s wait.
  const theirs = await XmppTestClient.login(clientOptions(USER_B, PASSWORD_B, 'ka-theirs', { idleTimeoutMs: 2_200 }));
  ctx.extra.push(ours, theirs);
  theirs.receivedLimit = 1 << 16;
  theirs.received = '';
  const written = ours.conn.rawSocket.bytesWritten;
  await sleep(3_000);
  assert.ok(ours.conn.rawSocket.bytesWritten - written >= 5, `keepalive bytes went out (${ours.conn.rawSocket.bytesWritten - written})`);
  assert.is(ours.closedFlag, false, 'Prosody kept the connection we kept alive');
  assert.is(theirs.closedFlag, false, `our idle timer saw Prosody's keepalives (closed: ${theirs.closeReason?.code})`);
  assert.match(theirs.received, /^ +$/, 'what Prosody sent while we were silent is whitespace only');
  for (const c of [ours, theirs]) {
    const pong = await c.ping();
    assert.is(pong.attr('type'), 'result', 'XEP-0199 ping answered after the idle period');
  }
  await Promise.all([ours.close(), theirs.close()]);
}));

it(`exchanges ${2 * MESSAGES_PER_DIRECTION} hostile GCM payloads through Prosody, each identical after JSON parsing and in order`, () => withLog(async () => {
  const { a, b } = await loginPair();
  inbox.a.length = 0;
  inbox.b.length = 0;
  b.receivedLimit = 1 << 20;
  b.received = '';
  const forms = ['string', 'buffer', 'prefixed'] as const;
  const build = (from: XmppTestClient, to: XmppTestClient, dir: string): { stanzas: Array<string | Buffer>; expected: string[] } => {
    const stanzas: Array<string | Buffer> = [];
    const expected: string[] = [];
    for (let i = 0; i < MESSAGES_PER_DIRECTION; i++) {
      const p = payload(dir, i);
      expected.push(JSON.stringify(p));
      stanzas.push(from.gcmStanza(to.jid, p, messageId(dir, i), forms[i % forms.length] as (typeof forms)[number]));
    }
    return { stanzas, expected };
  };
  const ab = build(a, b, 'ab');
  const ba = build(b, a, 'ba');
  const started = Date.now();
  const arrived = until(
    () => inbox.a.length >= MESSAGES_PER_DIRECTION && inbox.b.length >= MESSAGES_PER_DIRECTION,
    `${MESSAGES_PER_DIRECTION} messages each way (a got ${inbox.a.length}, b got ${inbox.b.length})`,
    DELIVERY_DEADLINE_MS,
  ).catch((err: Error) => {
    err.message += ` — a got ${inbox.a.length}, b got ${inbox.b.length}; a closed: ${a.closeReason?.code ?? a.closedFlag}, b closed: ${b.closeReason?.code ?? b.closedFlag}`;
    throw err;
  });
  // Pipelined, both directions at once: write until the socket pushes back, resume on drain.
  await Promise.all([a.sendAll(ab.stanzas), b.sendAll(ba.stanzas)]);
  await arrived;
  const elapsed = Date.now() - started;

  for (const [got, exp, sender, dir] of [[inbox.b, ab.expected, a, 'a→b'], [inbox.a, ba.expected, b, 'b→a']] as const) {
    assert.is(got.length, exp.length, `${dir}: every message arrived, none extra`);
    for (let i = 0; i < exp.length; i++) {
      const { m, el } = got[i] as { m: InboundMessage; el: XmlElement };
      assert.is(m.kind, 'upstream', `${dir} #${i}: decoded as upstream (${m.kind === 'invalid' ? m.error.message : m.kind})`);
      if (m.kind !== 'upstream') return;
      // Byte-identical after JSON parsing: the re-serialised value equals what was sent
      // (JSON.stringify is deterministic and escapes lone surrogates, so this compares code units).
      const actual = JSON.stringify(m.payload);
      if (actual !== exp[i]) assert.fixture(actual, exp[i] as string, `${dir} #${i}: payload changed in transit`);
      assert.is(m.stanzaId, m.messageId, `${dir} #${i}: the stanza id attribute survived escaping`);
      assert.is(el.attr('from'), sender.jid, `${dir} #${i}: Prosody stamps the sender's full JID`);
    }
  }
  // What Prosody did to our bytes on the way (the variety our parser just handled).
  const raw = b.received;
  assert.ok(raw.includes('&quot;'), 'Prosody re-escapes " in text as &quot;');
  assert.ok(raw.includes('xml:lang='), 'Prosody adds xml:lang to relayed stanzas');
  assert.not.ok(raw.includes('<data:gcm'), 'Prosody drops the data: prefix of the CCS form');
  console.log(`  prosody relay: ${2 * MESSAGES_PER_DIRECTION} messages (${MESSAGES_PER_DIRECTION} each way) in ${elapsed} ms`);
}));

it('a message to an account that is not online bounces as a service-unavailable stanza error', () => withLog(async () => {
  const { a } = await loginPair();
  inbox.a.length = 0;
  const id = 'to-offline-1';
  await a.sendAll([a.gcmStanza(`${USER_OFFLINE}@localhost/nowhere`, payload('off', 1), id, 'string')]);
  await until(() => inbox.a.length >= 1, 'the bounce', 10_000);
  const { m } = inbox.a[0] as { m: InboundMessage };
  assert.is(m.kind, 'stanzaError');
  if (m.kind !== 'stanzaError') return;
  assert.is(m.condition, 'service-unavailable');
  assert.is(m.stanzaId, id);
  assert.is(m.type, 'cancel');
}));

it('Prosody ends a stream carrying a raw U+FFFF with not-well-formed (why the encoder \\u-escapes it)', () => withLog(async () => {
  const c = await XmppTestClient.login(clientOptions(USER_A, PASSWORD_A, 'raw-ffff'));
  ctx.extra.push(c);
  // Bypasses the stanza encoder on purpose: U+FFFF is JSON-legal but not an XML Char (XML 1.0 §2.2).
  c.conn.send('<message to="carol@localhost"><gcm xmlns="google:mobile:data">{"message_id":"x","data":{"v":"\uFFFF"}}</gcm></message>');
  await c.conn.closed;
  assert.instance(c.closeReason, StreamErrorReceived);
  assert.is((c.closeReason as StreamErrorReceived).condition, 'not-well-formed');
}));

it('a second login with the same resource replaces the first, which receives a conflict stream error', () => withLog(async () => {
  const first = await XmppTestClient.login(clientOptions(USER_A, PASSWORD_A, 'dup'));
  ctx.extra.push(first);
  const second = await XmppTestClient.login(clientOptions(USER_A, PASSWORD_A, 'dup'));
  ctx.extra.push(second);
  await first.conn.closed;
  assert.instance(first.closeReason, StreamErrorReceived);
  assert.is((first.closeReason as StreamErrorReceived).condition, 'conflict');
  assert.is(second.jid, `${USER_A}@localhost/dup`);
  assert.is((await second.ping()).attr('type'), 'result');
  await second.close();
}));

it('our CcsClient itself works against Prosody: TLS, SASL PLAIN, bind, session, answered pings, a clean close; a wrong key is HandshakeError auth/not-authorized', () => withLog(async () => {
  const s = server();
  const base = {
    senderId: USER_OFFLINE, host: s.host, port: s.port, tls: { ca: s.ca, servername: s.domain },
    // Prosody is not CCS: its domain, and the bare username as authcid (RFC 6120 §6.3.8).
    domain: s.domain, authcid: USER_OFFLINE,
    handshakeTimeoutMs: 5000, reconnectBaseMs: 50, maxRetries: 0,
  };
  const wrong = new CcsClient({ ...base, apiKey: 'not-the-password' });
  const err = await wrong.connect().then(() => undefined, (e: unknown) => e);
  await wrong.close({ timeoutMs: 500 });
  assert.instance(err, HandshakeError);
  assert.is((err as HandshakeError).step, 'auth');
  assert.is((err as HandshakeError).condition, 'not-authorized');
  assert.not.match((err as Error).message, 'not-the-password');
  // Pings every 100 ms and an idle timeout of 400 ms: the connection survives only if Prosody
  // answers our XEP-0199 pings (it sends nothing else while idle).
  const client = new CcsClient({ ...base, apiKey: 'unused-password', pingIntervalMs: 100, idleTimeoutMs: 400, keepaliveIntervalMs: 0 });
  const offline: unknown[] = [];
  client.on('offline', (e: unknown) => offline.push(e));
  await client.connect();
  await sleep(1000);
  assert.equal(offline, [], 'no connection lost while idle');
  assert.is(client.stats().connections.online, 1);
  await client.close({ timeoutMs: 2000 });
}));

it('closes cleanly: our </stream:stream> is answered by Prosody\'s, with no error', () => withLog(async () => {
  const { a, b } = await loginPair();
  await Promise.all([a.close(), b.close()]);
  // Prosody's closing tag arriving is what proves the handshake completed rather than timed out;
  // elapsed time would only measure the machine's load.
  for (const c of [a, b]) {
    assert.is(c.peerClosedStream, true, 'Prosody sent its closing tag');
    assert.is(c.closeReason, undefined, 'no error');
  }
}));

it('stopping Prosody by pid ends the process and removes its temp dir; a connected client is told system-shutdown', () => withLog(async () => {
  const s = server();
  const c = await XmppTestClient.login(clientOptions(USER_A, PASSWORD_A, 'shutdown'));
  ctx.extra.push(c);
  assert.is((await c.ping()).attr('type'), 'result');
  // Prosody 0.12.3 race: a SIGTERM within a few ms of its last reply loses the <stream:error> it
  // logs as sent (strace: only the 24-byte TLS close_notify reaches the socket), and the client
  // sees a bare EOF. 100 ms of quiet avoids it (0 failures in 36 tries at ≥ 10 ms; ~25% at 0 ms).
  await sleep(100);
  await s.stop();
  await c.conn.closed;
  assert.instance(c.closeReason, StreamErrorReceived);
  assert.is((c.closeReason as StreamErrorReceived).condition, 'system-shutdown');
  assert.not.ok(processAlive(s.pid), `prosody pid ${s.pid} is gone`);
  assert.not.ok(existsSync(s.dir), 'temp dir removed');
}));

if (availability.available) {
  test.before(async () => {
    try {
      ctx.server = await startProsody();
      await ctx.server.register(USER_A, PASSWORD_A);
      await ctx.server.register(USER_B, PASSWORD_B);
      await ctx.server.register(USER_OFFLINE, 'unused-password');
    } catch (err) {
      // uvu swallows a throwing before hook (its runner returns from `finally`): keep the error
      // and let every test report it instead.
      ctx.startError = err;
      await ctx.server?.stop();
      ctx.server = undefined;
    }
  });
  test.after(async () => {
    const all = [ctx.a, ctx.b, ...ctx.extra].filter((c): c is XmppTestClient => c !== undefined);
    for (const c of all) if (!c.closedFlag) c.conn.destroy();
    await Promise.all(all.map((c) => c.conn.closed));
    if (ctx.server) {
      const { dir } = ctx.server;
      await ctx.server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  for (const [name, fn] of TESTS) test(name, fn);
} else {
  console.log(`prosody unavailable: ${availability.reason} — skipping ${TESTS.length} Prosody interop tests`);
  for (const [name, fn] of TESTS) test.skip(name, fn);
}
test.run();

import { serialize, type XmlElement } from '@ccs-xmpp/stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  MechanismRegistry,
  NS_SASL,
  ServerNegotiator,
  encodePlain,
  plainServer,
  type PlainServerOptions,
  type SaslError,
  type SaslIdentity,
  type SaslServerFailure,
  type ServerMechanismFactory,
  type ServerNegotiatorOptions,
} from '../src/index.js';
import { Outbox, parse, tick } from './helpers.js';

const AUTHCID = '123456789@gcm.googleapis.com';
const API_KEY = 'AIzaSy-server-key-ÿ';

function b64(s: string | Buffer): string {
  return Buffer.from(s).toString('base64');
}

function setup(options: Partial<ServerNegotiatorOptions> = {}, lookup: PlainServerOptions['lookup'] = (id) => (id === AUTHCID ? API_KEY : undefined)) {
  const out = new Outbox();
  const successes: SaslIdentity[] = [];
  const failures: SaslServerFailure[] = [];
  const closed: number[] = [];
  const errors: SaslError[] = [];
  const server = new ServerNegotiator(
    { mechanisms: [plainServer({ lookup })], offer: ['X-OAUTH2', 'X-GOOGLE-TOKEN', 'PLAIN'], encrypted: true, ...options },
    {
      send: out.send,
      onSuccess: (id) => successes.push(id),
      onFailure: (f) => failures.push(f),
      onTooManyFailures: (n) => closed.push(n),
      onError: (e) => errors.push(e),
    },
  );
  return { server, out, successes, failures, closed, errors };
}

function auth(body: string, mechanism = 'PLAIN'): XmlElement {
  return parse(`<auth xmlns="${NS_SASL}" mechanism="${mechanism}">${body}</auth>`);
}

function failureXml(condition: string): string {
  return `<failure xmlns="${NS_SASL}"><${condition}/></failure>`;
}

test('offers X-OAUTH2, X-GOOGLE-TOKEN and PLAIN like CCS', () => {
  const { server } = setup();
  assert.is(
    serialize(server.mechanismsElement()),
    `<mechanisms xmlns="${NS_SASL}"><mechanism>X-OAUTH2</mechanism><mechanism>X-GOOGLE-TOKEN</mechanism><mechanism>PLAIN</mechanism></mechanisms>`,
  );
});

test('offers every registered mechanism when no offer list is given', () => {
  const out = new Outbox();
  const server = new ServerNegotiator(
    { mechanisms: new MechanismRegistry<ServerMechanismFactory>([plainServer({ lookup: () => undefined })]), encrypted: true },
    { send: out.send, onSuccess() {}, onTooManyFailures() {} },
  );
  assert.equal(server.offered(), ['PLAIN']);
});

test('answers <success/> to the right PLAIN credentials and reports the authcid', async () => {
  const { server, out, successes, failures } = setup();
  assert.ok(server.handle(auth(b64(encodePlain(AUTHCID, API_KEY)))));
  await tick();
  assert.equal(out.xml, [`<success xmlns="${NS_SASL}"/>`]);
  assert.equal(successes, [{ mechanism: 'PLAIN', authcid: AUTHCID, authzid: undefined }]);
  assert.equal(failures, []);
  assert.is(server.state, 'succeeded');
  // After success the stream restarts; stray SASL elements are swallowed, not answered.
  assert.ok(server.handle(auth('=')));
  assert.is(out.sent.length, 1);
});

test('answers not-authorized to a wrong API key, without echoing anything the client sent', async () => {
  const { server, out, failures } = setup();
  const payload = b64(encodePlain(AUTHCID, 'wrong-key'));
  server.handle(auth(payload));
  await tick();
  assert.equal(out.xml, [failureXml('not-authorized')]);
  assert.not.ok(out.xml.join('').includes(payload));
  assert.equal(failures, [{ condition: 'not-authorized', mechanism: 'PLAIN', failures: 1 }]);
  assert.is(server.state, 'waiting');
  assert.not.ok(JSON.stringify(failures).includes('wrong-key'));
});

test('lets the client retry after a failure and succeed', async () => {
  const { server, out, successes } = setup();
  server.handle(auth(b64(encodePlain(AUTHCID, 'wrong'))));
  await tick();
  server.handle(auth(b64(encodePlain(AUTHCID, API_KEY))));
  await tick();
  assert.equal(out.xml, [failureXml('not-authorized'), `<success xmlns="${NS_SASL}"/>`]);
  assert.is(successes.length, 1);
  assert.is(server.failures, 1);
});

test('answers incorrect-encoding to an initial response that is not strict base64', () => {
  const { server, out } = setup();
  server.handle(auth('AHVzZXIAcGFzcw'));
  assert.equal(out.xml, [failureXml('incorrect-encoding')]);
});

test('answers malformed-request to a PLAIN message with the wrong number of fields', async () => {
  const { server, out } = setup();
  server.handle(auth(b64(`\u0000${AUTHCID}`)));
  server.handle(auth(b64(`\u0000${AUTHCID}\u0000${API_KEY}\u0000x`)));
  await tick();
  assert.equal(out.xml, [failureXml('malformed-request'), failureXml('malformed-request')]);
});

test('answers invalid-mechanism to an offered mechanism it does not implement, an unknown one, or none', () => {
  const { server, out, failures } = setup({ maxFailures: 5 });
  server.handle(auth('=', 'X-OAUTH2'));
  server.handle(auth('=', 'SCRAM-SHA-1'));
  server.handle(parse(`<auth xmlns="${NS_SASL}">=</auth>`));
  assert.equal(out.xml, [failureXml('invalid-mechanism'), failureXml('invalid-mechanism'), failureXml('invalid-mechanism')]);
  assert.equal(failures.map((f) => f.mechanism), ['X-OAUTH2', 'SCRAM-SHA-1', undefined]);
});

test('answers invalid-mechanism to a registered mechanism that is not offered', () => {
  const { server, out } = setup({ offer: ['X-OAUTH2'] });
  server.handle(auth(b64(encodePlain(AUTHCID, API_KEY))));
  assert.equal(out.xml, [failureXml('invalid-mechanism')]);
});

test('on an unencrypted stream, does not offer PLAIN and answers encryption-required to it', () => {
  const { server, out } = setup({ encrypted: false });
  assert.equal(server.offered(), ['X-OAUTH2', 'X-GOOGLE-TOKEN']);
  server.handle(auth(b64(encodePlain(AUTHCID, API_KEY))));
  assert.equal(out.xml, [failureXml('encryption-required')]);
});

test('offers and accepts PLAIN on an unencrypted stream when allowPlaintextUnencrypted is set', async () => {
  const { server, successes } = setup({ encrypted: false, allowPlaintextUnencrypted: true });
  assert.ok(server.offered().includes('PLAIN'));
  server.handle(auth(b64(encodePlain(AUTHCID, API_KEY))));
  await tick();
  assert.is(successes.length, 1);
});

test('answers account-disabled, credentials-expired and invalid-authzid from the account', async () => {
  const { server, out } = setup({ maxFailures: 5 }, (id) =>
    id === 'off' ? { password: 'p', disabled: true } : id === 'old' ? { password: 'p', expired: true } : 'p');
  server.handle(auth(b64(encodePlain('off', 'p'))));
  await tick();
  server.handle(auth(b64(encodePlain('old', 'p'))));
  await tick();
  server.handle(auth(b64(encodePlain('me', 'p', 'you'))));
  await tick();
  assert.equal(out.xml, [failureXml('account-disabled'), failureXml('credentials-expired'), failureXml('invalid-authzid')]);
});

test('answers temporary-auth-failure when the lookup throws or rejects, and reports the cause', async () => {
  const boom = new Error('db down');
  const sync = setup({}, () => { throw boom; });
  sync.server.handle(auth(b64(encodePlain(AUTHCID, API_KEY))));
  await tick();
  assert.equal(sync.out.xml, [failureXml('temporary-auth-failure')]);
  assert.is(sync.failures[0]?.cause, boom);
  const async = setup({}, async () => Promise.reject(boom));
  async.server.handle(auth(b64(encodePlain(AUTHCID, API_KEY))));
  await tick();
  assert.equal(async.out.xml, [failureXml('temporary-auth-failure')]);
});

test('answers temporary-auth-failure when a mechanism step throws synchronously', () => {
  const out = new Outbox();
  const failures: SaslServerFailure[] = [];
  const broken: ServerMechanismFactory = { name: 'X-BROKEN', plaintext: false, create: () => ({ step: () => { throw new Error('bug'); } }) };
  const server = new ServerNegotiator({ mechanisms: [broken], encrypted: true }, { send: out.send, onSuccess() {}, onFailure: (f) => failures.push(f), onTooManyFailures() {} });
  server.handle(auth('=', 'X-BROKEN'));
  assert.equal(out.xml, [failureXml('temporary-auth-failure')]);
  assert.is(failures[0]?.mechanism, 'X-BROKEN');
});

test('answers <abort/> with <aborted/>, also while an async lookup is pending, and drops the late result', async () => {
  let release!: (v: string) => void;
  const { server, out, successes } = setup({}, () => new Promise<string>((r) => { release = r; }));
  server.handle(auth(b64(encodePlain(AUTHCID, API_KEY))));
  assert.is(server.state, 'exchanging');
  server.handle(parse(`<abort xmlns="${NS_SASL}"/>`));
  release(API_KEY);
  await tick();
  assert.equal(out.xml, [failureXml('aborted')]);
  assert.equal(successes, []);
  assert.is(server.state, 'waiting');
});

test('drops a late lookup rejection after an abort', async () => {
  let fail!: (e: Error) => void;
  const { server, out } = setup({}, () => new Promise<string>((_, reject) => { fail = reject; }));
  server.handle(auth(b64(encodePlain(AUTHCID, API_KEY))));
  server.handle(parse(`<abort xmlns="${NS_SASL}"/>`));
  fail(new Error('late'));
  await tick();
  assert.equal(out.xml, [failureXml('aborted')]);
});

test('answers malformed-request to a <response> out of turn or a second <auth> during an exchange', async () => {
  const { server, out } = setup({ maxFailures: 9 }, () => new Promise<string>(() => {}));
  server.handle(parse(`<response xmlns="${NS_SASL}">=</response>`));
  server.handle(auth(b64(encodePlain(AUTHCID, API_KEY))));
  server.handle(parse(`<response xmlns="${NS_SASL}">=</response>`));
  server.handle(auth(b64(encodePlain(AUTHCID, API_KEY))));
  server.handle(auth(b64(encodePlain(AUTHCID, API_KEY))));
  assert.equal(out.xml, [failureXml('malformed-request'), failureXml('malformed-request'), failureXml('malformed-request')]);
  // Each failure ends the exchange it interrupted.
  assert.is(server.state, 'waiting');
});

test('answers malformed-request to elements only a server may send', () => {
  const { server, out } = setup();
  server.handle(parse(`<success xmlns="${NS_SASL}"/>`));
  assert.equal(out.xml, [failureXml('malformed-request')]);
});

test('runs a challenge round for PLAIN without an initial response', async () => {
  const { server, out, successes } = setup();
  server.handle(parse(`<auth xmlns="${NS_SASL}" mechanism="PLAIN"/>`));
  assert.equal(out.xml, [`<challenge xmlns="${NS_SASL}">=</challenge>`]);
  server.handle(parse(`<response xmlns="${NS_SASL}">${b64(encodePlain(AUTHCID, API_KEY))}</response>`));
  await tick();
  assert.is(out.xml[1], `<success xmlns="${NS_SASL}"/>`);
  assert.is(successes.length, 1);
});

test('answers incorrect-encoding to a <response> that is not strict base64, and reads an empty one as zero-length', async () => {
  const a = setup();
  a.server.handle(parse(`<auth xmlns="${NS_SASL}" mechanism="PLAIN"/>`));
  a.server.handle(parse(`<response xmlns="${NS_SASL}">%%%%</response>`));
  assert.equal(a.out.xml.slice(1), [failureXml('incorrect-encoding')]);
  const b = setup();
  b.server.handle(parse(`<auth xmlns="${NS_SASL}" mechanism="PLAIN"/>`));
  b.server.handle(parse(`<response xmlns="${NS_SASL}"/>`));
  await tick();
  assert.equal(b.out.xml.slice(1), [failureXml('malformed-request')]);
});

test('closes after maxFailures failed attempts: the last <failure> goes out, then onTooManyFailures, then nothing', async () => {
  const { server, out, closed, failures } = setup({ maxFailures: 2 });
  server.handle(auth(b64(encodePlain(AUTHCID, 'x'))));
  await tick();
  assert.equal(closed, []);
  server.handle(auth(b64(encodePlain(AUTHCID, 'y'))));
  await tick();
  assert.equal(closed, [2]);
  assert.is(server.state, 'closed');
  assert.equal(failures.map((f) => f.failures), [1, 2]);
  assert.ok(server.handle(auth(b64(encodePlain(AUTHCID, API_KEY)))));
  await tick();
  assert.equal(out.xml, [failureXml('not-authorized'), failureXml('not-authorized')]);
});

test('allows three failed attempts by default and counts aborts among them', () => {
  const { server, closed } = setup();
  server.handle(parse(`<abort xmlns="${NS_SASL}"/>`));
  server.handle(parse(`<abort xmlns="${NS_SASL}"/>`));
  assert.equal(closed, []);
  server.handle(parse(`<abort xmlns="${NS_SASL}"/>`));
  assert.equal(closed, [3]);
});

test('refuses a maxFailures that is not a positive integer', () => {
  assert.throws(() => setup({ maxFailures: 0 }), RangeError);
  assert.throws(() => setup({ maxFailures: 1.5 }), RangeError);
});

test('sends additional data with <success> and challenges from a custom mechanism', () => {
  const out = new Outbox();
  const ids: SaslIdentity[] = [];
  const twoStep: ServerMechanismFactory = {
    name: 'X-TWO',
    plaintext: false,
    create: () => {
      let round = 0;
      return {
        step: (data) => (round++ === 0
          ? { type: 'challenge', data: Buffer.from(`got ${data?.toString()}`) }
          : { type: 'success', authcid: 'u', authzid: 'z', additionalData: Buffer.from('proof') }),
      };
    },
  };
  const server = new ServerNegotiator({ mechanisms: [twoStep], encrypted: false }, { send: out.send, onSuccess: (id) => ids.push(id), onTooManyFailures() {} });
  server.handle(auth(b64('hi'), 'X-TWO'));
  server.handle(parse(`<response xmlns="${NS_SASL}">=</response>`));
  assert.equal(out.xml, [`<challenge xmlns="${NS_SASL}">${b64('got hi')}</challenge>`, `<success xmlns="${NS_SASL}">${b64('proof')}</success>`]);
  assert.equal(ids, [{ mechanism: 'X-TWO', authcid: 'u', authzid: 'z' }]);
});

test('puts a mechanism failure text in <text xml:lang="en">', () => {
  const out = new Outbox();
  const refusing: ServerMechanismFactory = { name: 'X-NO', plaintext: false, create: () => ({ step: () => ({ type: 'failure', condition: 'mechanism-too-weak', text: 'use SCRAM' }) }) };
  const server = new ServerNegotiator({ mechanisms: [refusing], encrypted: true }, { send: out.send, onSuccess() {}, onTooManyFailures() {} });
  server.handle(auth('=', 'X-NO'));
  assert.equal(out.xml, [`<failure xmlns="${NS_SASL}"><mechanism-too-weak/><text xml:lang="en">use SCRAM</text></failure>`]);
});

test('leaves elements outside the SASL namespace to the caller', () => {
  const { server, out } = setup();
  assert.not.ok(server.handle(parse('<iq type="get" id="1"/>')));
  assert.equal(out.sent, []);
});

test('reports a throwing send through onError instead of throwing', async () => {
  const errors: SaslError[] = [];
  const server = new ServerNegotiator(
    { mechanisms: [plainServer({ lookup: () => API_KEY })], encrypted: true },
    { send: () => { throw new Error('closed'); }, onSuccess() {}, onTooManyFailures() {}, onError: (e) => errors.push(e) },
  );
  server.handle(parse(`<abort xmlns="${NS_SASL}"/>`));
  assert.equal(errors.map((e) => e.code), ['SASL_ERR_SEND_FAILED']);
  const silent = new ServerNegotiator(
    { mechanisms: [plainServer({ lookup: () => API_KEY })], encrypted: true },
    { send: () => { throw new Error('closed'); }, onSuccess() {}, onTooManyFailures() {} },
  );
  silent.handle(parse(`<abort xmlns="${NS_SASL}"/>`));
  assert.is(silent.failures, 1);
});

test.run();

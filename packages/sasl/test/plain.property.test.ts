import fc from 'fast-check';
import { xml } from '@ccs-xmpp/stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ClientNegotiator,
  NS_SASL,
  ServerNegotiator,
  decodePlain,
  decodeSaslData,
  encodePlain,
  encodeSaslData,
  plainServer,
  type SaslIdentity,
} from '../src/index.js';
import { features, wire } from './helpers.js';

// Fixed seed and run count so every run is the same; FUZZ=1 (npm run test:fuzz) runs far more.
const FUZZ = process.env['FUZZ'] === '1';
const SEED = 20240611;
const runs = (n: number): number => (FUZZ ? n * 50 : n);

// Any Unicode scalar values, astral planes included, except NUL; non-empty.
const field = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\u0000'));
const optionalAuthzid = fc.option(field, { nil: undefined });

test('any UTF-8 authcid/password pair without NUL round-trips through client encode → <auth> on the wire → server decode', () => {
  fc.assert(
    fc.property(field, field, optionalAuthzid, (authcid, password, authzid) => {
      const [auth] = wire(xml('auth', { xmlns: NS_SASL, mechanism: 'PLAIN' }, encodeSaslData(encodePlain(authcid, password, authzid))));
      const bytes = decodeSaslData(auth?.text() ?? '');
      assert.ok(bytes);
      const message = decodePlain(bytes);
      assert.ok(message);
      assert.is(message.authcid, authcid);
      assert.is(message.authzid, authzid);
      assert.is(message.password.toString('utf8'), password);
    }),
    { seed: SEED, numRuns: runs(300) },
  );
});

test('any UTF-8 authcid/password pair without NUL authenticates through the client and server negotiators', async () => {
  await fc.assert(
    fc.asyncProperty(field, field, async (authcid, password) => {
      const ids: SaslIdentity[] = [];
      const server = new ServerNegotiator(
        { mechanisms: [plainServer({ lookup: (id) => (id === authcid ? password : undefined) })], encrypted: true },
        { send: (el) => { for (const e of wire(el)) client.handle(e); }, onSuccess: (id) => ids.push(id), onTooManyFailures() {} },
      );
      const client: ClientNegotiator = new ClientNegotiator({
        credentials: { authcid, password },
        encrypted: true,
        send: (el) => { for (const e of wire(el)) server.handle(e); },
      });
      const offered = features(...server.offered());
      const result = await client.start(offered);
      assert.is(result.mechanism, 'PLAIN');
      assert.equal(ids, [{ mechanism: 'PLAIN', authcid, authzid: undefined }]);
    }),
    { seed: SEED, numRuns: runs(100) },
  );
});

test('base64 encode → strict decode is the identity on arbitrary bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
      assert.equal(decodeSaslData(encodeSaslData(bytes)), Buffer.from(bytes));
    }),
    { seed: SEED, numRuns: runs(500) },
  );
});

test('strict base64 decoding accepts exactly the canonical encodings', () => {
  const chars = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/= -_\n'.split(''));
  fc.assert(
    fc.property(fc.string({ unit: chars, maxLength: 16 }), (text) => {
      const out = decodeSaslData(text);
      if (out === undefined) return;
      assert.is(text === '=' ? '=' : out.toString('base64'), text);
    }),
    { seed: SEED, numRuns: runs(2000) },
  );
});

test('decoding arbitrary bytes as PLAIN never throws and yields non-empty authcid and password', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      const m = decodePlain(bytes);
      if (m) {
        assert.ok(m.authcid.length > 0);
        assert.ok(m.password.length > 0);
      }
    }),
    { seed: SEED, numRuns: runs(1000) },
  );
});

test('the server negotiator answers arbitrary <auth> content with exactly one element and never throws', async () => {
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: 'grapheme-ascii', maxLength: 60 }), fc.constantFrom('PLAIN', 'X-OAUTH2', 'NOPE'), async (body, mechanism) => {
      const sent: string[] = [];
      const server = new ServerNegotiator(
        { mechanisms: [plainServer({ lookup: () => 'pw' })], offer: ['X-OAUTH2', 'PLAIN'], encrypted: true },
        { send: (el) => sent.push(el.local), onSuccess() {}, onTooManyFailures() {} },
      );
      server.handle(xml('auth', { xmlns: NS_SASL, mechanism }, body));
      await new Promise((r) => setImmediate(r));
      assert.is(sent.length, 1);
      assert.ok(['failure', 'challenge'].includes(sent[0] as string));
    }),
    { seed: SEED, numRuns: runs(300) },
  );
});

test.run();

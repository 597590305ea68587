// Server negotiator behaviours that mutation testing found unchecked (test/README.md, "Mutation
// testing"): the initial state, the smallest failure limit, and a failure text that is empty.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { NS_SASL, ServerNegotiator, plainServer, type SaslError, type ServerMechanismFactory, type ServerStep } from '../src/index.js';
import { Outbox, parse, tick } from './helpers.js';

const sink = (out: Outbox, closed: number[] = []) => ({ send: out.send, onSuccess() {}, onTooManyFailures: (n: number) => closed.push(n) });
const plain = plainServer({ lookup: () => undefined });

test('a new server negotiator is waiting, with no failures', () => {
  const server = new ServerNegotiator({ mechanisms: [plain], encrypted: true }, sink(new Outbox()));
  assert.is(server.state, 'waiting');
  assert.is(server.failures, 0);
});

test('maxFailures 1 is allowed: the first failure closes', () => {
  const out = new Outbox();
  const closed: number[] = [];
  const server = new ServerNegotiator({ mechanisms: [plain], encrypted: true, maxFailures: 1 }, sink(out, closed));
  server.handle(parse(`<abort xmlns="${NS_SASL}"/>`));
  assert.is(server.state, 'closed');
  assert.equal(closed, [1]);
});

test('a maxFailures that is not a positive integer is refused with a RangeError that says so', () => {
  for (const maxFailures of [0, -1, 1.5, Number.NaN]) {
    assert.throws(
      () => new ServerNegotiator({ mechanisms: [plain], encrypted: true, maxFailures }, sink(new Outbox())),
      (e: unknown) => e instanceof RangeError && e.message === 'maxFailures must be a positive integer',
    );
  }
});

test('an empty failure text from a mechanism sends no <text> element', () => {
  const out = new Outbox();
  const refusing: ServerMechanismFactory = {
    name: 'X-NO',
    plaintext: false,
    create: () => ({ step: () => ({ type: 'failure', condition: 'mechanism-too-weak', text: '' }) }),
  };
  const server = new ServerNegotiator({ mechanisms: [refusing], encrypted: true }, sink(out));
  server.handle(parse(`<auth xmlns="${NS_SASL}" mechanism="X-NO">=</auth>`));
  assert.equal(out.xml, [`<failure xmlns="${NS_SASL}"><mechanism-too-weak/></failure>`]);
});

test('a send that throws reaches onError as SASL_ERR_SEND_FAILED naming the element, with the transport error as cause', () => {
  const broken = new Error('socket gone');
  const errors: SaslError[] = [];
  const server = new ServerNegotiator(
    { mechanisms: [plain], encrypted: true },
    { send: () => { throw broken; }, onSuccess() {}, onTooManyFailures() {}, onError: (e) => errors.push(e) },
  );
  server.handle(parse(`<abort xmlns="${NS_SASL}"/>`));
  assert.equal(errors.map((e) => [e.code, e.message, e.cause]), [['SASL_ERR_SEND_FAILED', 'could not send <failure>', broken]]);
});

/** A two-round mechanism whose first step answers when released; the second succeeds. */
function twoRounds(): { factory: ServerMechanismFactory; release: (step: ServerStep) => void } {
  let release: (step: ServerStep) => void = () => {};
  const factory: ServerMechanismFactory = {
    name: 'X-TWO',
    plaintext: false,
    create: () => {
      let round = 0;
      return {
        step: () => (++round === 1 ? new Promise<ServerStep>((resolve) => (release = resolve)) : { type: 'success', authcid: 'u', authzid: undefined }),
      };
    },
  };
  return { factory, release: (step) => release(step) };
}

test('a <response> while an async step is pending is out of turn; once it settled, the next one is taken', async () => {
  const early = twoRounds();
  const out = new Outbox();
  const server = new ServerNegotiator({ mechanisms: [early.factory], encrypted: true }, sink(out));
  server.handle(parse(`<auth xmlns="${NS_SASL}" mechanism="X-TWO">=</auth>`));
  server.handle(parse(`<response xmlns="${NS_SASL}">=</response>`));
  assert.equal(out.xml, [`<failure xmlns="${NS_SASL}"><malformed-request/></failure>`]);

  const later = twoRounds();
  const out2 = new Outbox();
  const server2 = new ServerNegotiator({ mechanisms: [later.factory], encrypted: true }, sink(out2));
  server2.handle(parse(`<auth xmlns="${NS_SASL}" mechanism="X-TWO">=</auth>`));
  later.release({ type: 'challenge', data: Buffer.from('c') });
  await tick();
  server2.handle(parse(`<response xmlns="${NS_SASL}">=</response>`));
  assert.equal(out2.xml, [`<challenge xmlns="${NS_SASL}">Yw==</challenge>`, `<success xmlns="${NS_SASL}"/>`]);
  assert.is(server2.state, 'succeeded');
});

test('after an exchange aborted while its async step was pending, the next exchange takes its <response>', async () => {
  let exchanges = 0;
  const factory: ServerMechanismFactory = {
    name: 'X-TWO',
    plaintext: false,
    create: () => {
      // The first exchange's step never settles; the next one challenges, then succeeds.
      if (++exchanges === 1) return { step: () => new Promise<ServerStep>(() => {}) };
      let round = 0;
      return { step: () => (++round === 1 ? { type: 'challenge', data: Buffer.from('c') } : { type: 'success', authcid: 'u', authzid: undefined }) };
    },
  };
  const out = new Outbox();
  const server = new ServerNegotiator({ mechanisms: [factory], encrypted: true }, sink(out));
  server.handle(parse(`<auth xmlns="${NS_SASL}" mechanism="X-TWO">=</auth>`));
  server.handle(parse(`<abort xmlns="${NS_SASL}"/>`));
  server.handle(parse(`<auth xmlns="${NS_SASL}" mechanism="X-TWO">=</auth>`));
  server.handle(parse(`<response xmlns="${NS_SASL}">=</response>`));
  assert.equal(out.xml, [
    `<failure xmlns="${NS_SASL}"><aborted/></failure>`,
    `<challenge xmlns="${NS_SASL}">Yw==</challenge>`,
    `<success xmlns="${NS_SASL}"/>`,
  ]);
});

test.run();

// abort() and what follows it: the negotiator's state with a synchronous transport, and retrying.
import { serialize, type XmlElement } from '@ccs-xmpp/stream';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ClientNegotiator, ServerNegotiator, plainServer, type SaslError } from '../src/index.js';
import { features, tick, wire } from './helpers.js';

const AUTHCID = '123456789@gcm.googleapis.com';
const API_KEY = 'AIzaSy-review-key';
const CREDS = { authcid: AUTHCID, password: API_KEY };

/** A server negotiator whose lookup settles only when the test says so (a slow account store). */
function slowServer(send: (el: XmlElement) => void) {
  const pending: Array<() => void> = [];
  const successes: string[] = [];
  const server = new ServerNegotiator(
    {
      mechanisms: [plainServer({ lookup: (id) => new Promise((r) => pending.push(() => r(id === AUTHCID ? API_KEY : undefined))) })],
      encrypted: true,
    },
    { send, onSuccess: (id) => successes.push(id.authcid), onTooManyFailures: () => {} },
  );
  return { server, pending, successes };
}

test('with a synchronous transport, abort() ends in "failed" once the reply to <abort/> arrived', async () => {
  // In-memory wire: each side's send() hands the element (round-tripped through the parser) to the
  // other side at once, as a loopback test harness or a synchronous in-process transport does.
  let client!: ClientNegotiator;
  const { server } = slowServer((el) => client.handle(wire(el)[0] as XmlElement));
  client = new ClientNegotiator({ credentials: CREDS, encrypted: true, send: (el) => server.handle(wire(el)[0] as XmlElement) });
  const result = client.start(features('PLAIN')).catch((e: SaslError) => e);
  assert.is(server.state, 'exchanging'); // lookup pending
  client.abort('user gave up');
  // The server answered <failure><aborted/></failure> synchronously from inside our send(<abort/>);
  // the reply owed to the abort has been received, so nothing is outstanding any more.
  assert.is(((await result) as SaslError).code, 'SASL_ERR_ABORTED');
  assert.is(server.state, 'waiting');
  assert.is(client.state, 'failed', 'the negotiator still waits for an <aborted/> it already swallowed');
});

test('a retry after abort() gets its own answer when elements go to the aborted negotiator while it is aborting', async () => {
  // abort() rejects at once, but the server's <failure><aborted/></failure> is still on its way.
  // As the README says, SASL elements are offered to the aborted negotiator while its state is
  // 'aborting' (it consumes the late reply), and only then to the new attempt.
  const toServer: XmlElement[] = [];
  const toClient: XmlElement[] = [];
  const { server, pending, successes } = slowServer((el) => toClient.push(wire(el)[0] as XmlElement));
  const send = (el: XmlElement): void => {
    toServer.push(wire(el)[0] as XmlElement);
  };
  const old = new ClientNegotiator({ credentials: CREDS, encrypted: true, send });
  const first = old.start(features('PLAIN')).catch((e: SaslError) => e);
  old.abort('changed my mind');
  assert.is(((await first) as SaslError).code, 'SASL_ERR_ABORTED');
  assert.is(old.state, 'aborting');
  const sasl = new ClientNegotiator({ credentials: CREDS, encrypted: true, send });
  const second = sasl.start(features('PLAIN')).then(
    () => 'ok',
    (e: SaslError) => e.code,
  );
  // The wire delivers, in order: <auth>(1), <abort/>, <auth>(2) to the server.
  for (const el of toServer.splice(0)) server.handle(el);
  for (let i = 0; i < 5 && pending.length > 0; i++) {
    pending.splice(0).forEach((r) => r());
    await tick();
  }
  // ...and its replies, <failure><aborted/> then <success/>, to the client.
  assert.equal(toClient.map((e) => serialize(e).replace(/ xmlns="[^"]*"/g, '')), ['<failure><aborted/></failure>', '<success/>']);
  assert.equal(successes, [AUTHCID], 'the server authenticated the second attempt');
  for (const el of toClient.splice(0)) {
    if (old.state === 'aborting' && old.handle(el)) continue;
    sasl.handle(el);
  }
  assert.is(old.state, 'failed');
  assert.is(await second, 'ok');
});

test.run();

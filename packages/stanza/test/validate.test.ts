import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  validateDownstream, validateAck, validateOutbound, isValidDownstream, isValidAck, dataByteLength,
  ValidationError, StanzaError, ttlValue, MAX_TTL,
} from '@ccs-xmpp/stanza';

const base = { to: 'REG', message_id: 'm-1' };

const valid: Array<[string, unknown]> = [
  ['a minimal message to a token', base],
  ['a message to a topic condition with 2 operators', { condition: "'a' in topics && ('b' in topics || 'c' in topics)", message_id: 'm' }],
  ['every optional field with the right type', {
    ...base, collapse_key: 'k', priority: 'high', content_available: true, mutable_content: false, delay_while_idle: true,
    delivery_receipt_requested: true, dry_run: false, time_to_live: 0, data: { hello: 'world', n: 1 },
    notification: { title: 't', body: 'b', body_loc_args: ['x'], title_loc_args: [], extra: 5 }, unknown_field: [1],
  }],
  ['time_to_live at its maximum', { ...base, time_to_live: 2419200 }],
  ['the request example of the CCS document, time_to_live as the string "600"', { to: 'REGISTRATION_ID', message_id: 'm-1366082849205', data: { hello: 'world' }, time_to_live: '600', delay_while_idle: true }],
  ['a numeric string time_to_live of "0"', { ...base, time_to_live: '0', collapse_key: 'k' }],
  ['data of exactly 4096 bytes', { ...base, data: { k: 'x'.repeat(4095) } }],
  ['data keys that merely contain from or google', { ...base, data: { fromage: '1', my_google: '2', Google: '3' } }],
];
for (const [name, msg] of valid) {
  test(`validateDownstream accepts ${name}`, () => {
    assert.is(validateDownstream(msg), undefined);
    assert.ok(isValidDownstream(msg));
    assert.is(validateOutbound(msg), undefined);
  });
}

// [name, message, field, reason, stanzaError]
const invalid: Array<[string, unknown, string, string, boolean]> = [
  ['a non-object', 'hello', '', 'JSON_PARSING_ERROR', true],
  ['an array', [base], '', 'JSON_PARSING_ERROR', true],
  ['a missing message_id (as a stanza error)', { to: 'REG' }, 'message_id', 'JSON_PARSING_ERROR', true],
  ['an empty message_id', { to: 'REG', message_id: '' }, 'message_id', 'JSON_PARSING_ERROR', true],
  ['a numeric message_id', { to: 'REG', message_id: 1 }, 'message_id', 'JSON_PARSING_ERROR', true],
  ['neither to nor condition', { message_id: 'm' }, 'to', 'JSON_PARSING_ERROR', false],
  ['both to and condition', { ...base, condition: "'a' in topics" }, 'condition', 'INVALID_TARGET', false],
  ['a non-string to', { to: 5, message_id: 'm' }, 'to', 'JSON_TYPE_ERROR', false],
  ['an empty to', { to: '', message_id: 'm' }, 'to', 'INVALID_TARGET', false],
  ['a non-string condition', { condition: true, message_id: 'm' }, 'condition', 'JSON_TYPE_ERROR', false],
  ['an empty condition', { condition: ' ', message_id: 'm' }, 'condition', 'INVALID_CONDITION', false],
  ['a condition with 3 operators', { condition: "'a' in topics && 'b' in topics || 'c' in topics && 'd' in topics", message_id: 'm' }, 'condition', 'INVALID_CONDITION', false],
  ['a non-string collapse_key', { ...base, collapse_key: 1 }, 'collapse_key', 'JSON_TYPE_ERROR', false],
  ['a non-string priority', { ...base, priority: 10 }, 'priority', 'JSON_TYPE_ERROR', false],
  ['an unknown priority', { ...base, priority: 'urgent' }, 'priority', 'INVALID_PRIORITY', false],
  ['a string delay_while_idle', { ...base, delay_while_idle: 'true' }, 'delay_while_idle', 'JSON_TYPE_ERROR', false],
  ['a numeric dry_run', { ...base, dry_run: 1 }, 'dry_run', 'JSON_TYPE_ERROR', false],
  ['a non-numeric string time_to_live', { ...base, time_to_live: 'abc' }, 'time_to_live', 'JSON_TYPE_ERROR', false],
  ['a numeric string time_to_live of -1', { ...base, time_to_live: '-1' }, 'time_to_live', 'INVALID_TTL', false],
  ['a numeric string time_to_live over 4 weeks', { ...base, time_to_live: '2419201' }, 'time_to_live', 'INVALID_TTL', false],
  ['a time_to_live string in exponent form', { ...base, time_to_live: '6e2' }, 'time_to_live', 'JSON_TYPE_ERROR', false],
  ['a boolean time_to_live', { ...base, time_to_live: true }, 'time_to_live', 'JSON_TYPE_ERROR', false],
  ['registration_ids next to to (no multicast on CCS)', { ...base, registration_ids: ['A', 'B'] }, 'registration_ids', 'INVALID_TARGET', false],
  ['registration_ids instead of to', { message_id: 'm', registration_ids: ['A'] }, 'registration_ids', 'INVALID_TARGET', false],
  ['a negative time_to_live', { ...base, time_to_live: -1 }, 'time_to_live', 'INVALID_TTL', false],
  ['a time_to_live over 4 weeks', { ...base, time_to_live: 2419201 }, 'time_to_live', 'INVALID_TTL', false],
  ['a fractional time_to_live', { ...base, time_to_live: 1.5 }, 'time_to_live', 'INVALID_TTL', false],
  ['data that is an array', { ...base, data: ['x'] }, 'data', 'JSON_TYPE_ERROR', false],
  ['a data key "from"', { ...base, data: { from: 'x' } }, 'data.from', 'INVALID_DATA_KEY', false],
  ['a data key starting with google', { ...base, data: { 'google.x': 'x' } }, 'data.google.x', 'INVALID_DATA_KEY', false],
  ['data of 4097 bytes', { ...base, data: { k: 'x'.repeat(4096) } }, 'data', 'MESSAGE_TOO_BIG', false],
  ['data of 4097 bytes counted in UTF-8', { ...base, data: { k: 'é'.repeat(2048) } }, 'data', 'MESSAGE_TOO_BIG', false],
  ['a notification that is a string', { ...base, notification: 'hi' }, 'notification', 'JSON_TYPE_ERROR', false],
  ['a numeric notification title', { ...base, notification: { title: 1 } }, 'notification.title', 'JSON_TYPE_ERROR', false],
  ['notification body_loc_args that is not an array', { ...base, notification: { body_loc_args: 'x' } }, 'notification.body_loc_args', 'JSON_TYPE_ERROR', false],
  ['notification title_loc_args with a number', { ...base, notification: { title_loc_args: ['a', 2] } }, 'notification.title_loc_args[1]', 'JSON_TYPE_ERROR', false],
];
for (const [name, msg, field, reason, stanzaError] of invalid) {
  test(`validateDownstream rejects ${name} naming "${field}"`, () => {
    const err = validateDownstream(msg);
    assert.instance(err, ValidationError);
    assert.instance(err, StanzaError);
    assert.is(err!.code, 'STANZA_ERR_INVALID_MESSAGE');
    assert.is(err!.field, field);
    assert.is(err!.nackCode, 'INVALID_JSON');
    assert.is(err!.reason, reason);
    assert.is(err!.stanzaError, stanzaError);
    assert.is(err!.messageId, stanzaError ? undefined : (msg as { message_id: string }).message_id);
    assert.ok(err!.ccsError.startsWith(`InvalidJson : ${reason} : `));
    assert.ok(err!.ccsError.endsWith('\n'));
    assert.not.ok(isValidDownstream(msg));
  });
}

test('validateDownstream words a TTL error as CCS does', () => {
  assert.is(validateDownstream({ ...base, time_to_live: -1 })!.ccsError,
    'InvalidJson : INVALID_TTL : Invalid value (-1) for "time_to_live": must be between 0 and "2419200"\n');
  assert.is(validateDownstream({ ...base, delay_while_idle: 'not-boolean-user-supplied-value' })!.ccsError,
    'InvalidJson : JSON_TYPE_ERROR : Field "delay_while_idle" must be a JSON java.lang.Boolean: not-boolean-user-supplied-value\n');
  assert.is(validateDownstream({ to: 'x' })!.ccsError, 'InvalidJson : JSON_PARSING_ERROR : Missing Required Field: message_id\n');
});

test('validateDownstream cuts long values short in its text', () => {
  const err = validateDownstream({ ...base, collapse_key: ['y'.repeat(200)] })!;
  assert.ok(err.ccsError.length < 200);
  assert.ok(err.ccsError.includes('...'));
});

test('dataByteLength counts keys and values in UTF-8, non-strings as JSON', () => {
  assert.is(dataByteLength({ ab: 'é', n: 12, o: { x: null } }), 2 + 2 + 1 + 2 + 1 + 10);
});

test('validateAck accepts an ACK and rejects a bad one with BAD_ACK', () => {
  const ack = { to: 'REG', message_id: 'm', message_type: 'ack' };
  assert.is(validateAck(ack), undefined);
  assert.ok(isValidAck(ack));
  assert.is(validateOutbound(ack), undefined);
  const noTo = validateAck({ message_id: 'm', message_type: 'ack' })!;
  assert.is(noTo.nackCode, 'BAD_ACK');
  assert.is(noTo.field, 'to');
  assert.ok(noTo.ccsError.startsWith('BadAck : INVALID_ACK : '));
  assert.is(validateAck({ to: 'R', message_id: 'm' })!.field, 'message_type');
  assert.is(validateAck({ to: 'R' })!.field, 'message_id');
  assert.is(validateAck(null)!.field, '');
});

test('validateOutbound refuses message types an app server never sends', () => {
  const err = validateOutbound({ to: 'R', message_id: 'm', message_type: 'nack' })!;
  assert.is(err.field, 'message_type');
  assert.is(err.messageId, 'm');
  assert.is(validateOutbound({ message_type: 'receipt' })!.field, 'message_id');
  assert.is(validateOutbound({ message_id: 'm', to: 'R', message_type: 'ack' }), undefined);
});

test('an assigned messageId stands in for a missing message_id, never for a bad own one', () => {
  assert.is(validateDownstream({ to: 'R' })?.field, 'message_id');
  assert.is(validateDownstream({ to: 'R' }, 'assigned-1'), undefined);
  assert.is(validateDownstream({ to: 'R', message_id: 5 }, 'assigned-1')?.field, 'message_id');
  assert.is(validateDownstream({ to: 'R', message_id: '' }, 'assigned-1')?.field, 'message_id');
  assert.is(validateDownstream({ to: 'R', time_to_live: -1 }, 'assigned-1')?.messageId, 'assigned-1');
});

test('data JSON cannot carry (a BigInt, a cycle) is a JSON_TYPE_ERROR, never a throw', () => {
  const cyclic: Record<string, unknown> = {};
  cyclic['self'] = cyclic;
  for (const data of [{ n: 10n }, { c: cyclic }]) {
    const err = validateDownstream({ ...base, data });
    assert.instance(err, ValidationError);
    assert.is(err!.reason, 'JSON_TYPE_ERROR');
    assert.is(err!.field, 'data');
  }
});

// The size check skips the exact UTF-8 count while 3 × UTF-16 units stays within the limit: the
// verdict must still be exactly "dataByteLength > 4096", for any mix of 1- to 4-byte characters.
test('the data size verdict is exactly dataByteLength > 4096, near the limit and far from it', () => {
  const char = fc.constantFrom('a', 'é', '€', '🎉', '\u0000', '"');
  // Lengths around the limit for every character width: 4096 / 3 ≈ 1365 units, 4096 / 2 = 2048.
  const length = fc.oneof(fc.nat(64), fc.integer({ min: 1300, max: 1400 }), fc.integer({ min: 1990, max: 2100 }), fc.integer({ min: 4000, max: 4200 }));
  const value = fc.tuple(char, length).map(([c, n]) => c.repeat(Math.max(1, Math.round(n / c.length))));
  const data = fc.dictionary(fc.stringMatching(/^[a-z]{1,4}$/), fc.oneof({ weight: 6, arbitrary: value }, fc.integer(), fc.constant(null)), { minKeys: 1, maxKeys: 3 });
  fc.assert(
    fc.property(data, (d) => {
      const err = validateDownstream({ ...base, data: d });
      const tooBig = dataByteLength(d) > 4096;
      assert.is(err?.reason === 'MESSAGE_TOO_BIG', tooBig, `${dataByteLength(d)} bytes`);
      if (!tooBig) assert.is(err, undefined);
    }),
    { numRuns: 300, seed: 0x5a7e },
  );
});

// CCS read a number field from a numeric string (the CCS document's example sends "600"): a
// string of digits must get exactly the verdict of the number it spells, in range and out of it.
test('a numeric string time_to_live gets the verdict of its number, for any integer', () => {
  const n = fc.oneof(fc.integer({ min: -5, max: 5 }), fc.integer({ min: MAX_TTL - 5, max: MAX_TTL + 5 }), fc.integer({ min: -1e9, max: 1e9 }));
  fc.assert(
    fc.property(n, (x) => {
      const asNumber = validateDownstream({ ...base, time_to_live: x });
      const asString = validateDownstream({ ...base, time_to_live: String(x) });
      const inRange = x >= 0 && x <= MAX_TTL;
      assert.is(asNumber === undefined, inRange);
      assert.is(asString === undefined, inRange);
      if (!inRange) {
        assert.is(asString!.reason, 'INVALID_TTL');
        assert.is(asString!.ccsError, `InvalidJson : INVALID_TTL : Invalid value (${x}) for "time_to_live": must be between 0 and "${MAX_TTL}"\n`);
      }
      assert.is(ttlValue(String(x)), x);
    }),
    { numRuns: 300, seed: 0x771 },
  );
});

test('a time_to_live string that is not a decimal integer is a JSON_TYPE_ERROR naming the value', () => {
  const notDigits = fc.string({ maxLength: 12 }).filter((s) => !/^[+-]?[0-9]{1,16}$/.test(s));
  fc.assert(
    fc.property(notDigits, (s) => {
      const err = validateDownstream({ ...base, time_to_live: s });
      assert.is(err?.reason, 'JSON_TYPE_ERROR');
      assert.is(err!.field, 'time_to_live');
      assert.is(ttlValue(s), undefined);
    }),
    { numRuns: 300, seed: 0x772 },
  );
  assert.is(validateDownstream({ ...base, time_to_live: 'abc' })!.ccsError,
    'InvalidJson : JSON_TYPE_ERROR : Field "time_to_live" must be a JSON java.lang.Number: abc\n');
});

test('registration_ids is refused whatever its value, before the target is looked at', () => {
  for (const ids of [[], ['A'], 'A', null, 0]) {
    const err = validateDownstream({ message_id: 'm', registration_ids: ids });
    assert.is(err?.field, 'registration_ids', JSON.stringify(ids));
    assert.is(err!.reason, 'INVALID_TARGET');
    assert.ok(err!.ccsError.includes('not supported on CCS'));
    assert.is(validateOutbound({ to: 'R', message_id: 'm', registration_ids: ids })?.field, 'registration_ids');
  }
});

// The text of each refusal is what the emulator puts in its NACK or stanza error: [message, the detail after `InvalidJson : REASON : `].
const worded: Array<[unknown, string]> = [
  ['hello', 'Message must be a JSON object: hello'],
  [null, 'Message must be a JSON object: null'],
  [{ to: 'REG', message_id: 1 }, 'Field "message_id" must be a non-empty JSON string: 1'],
  [{ message_id: 'm' }, 'Missing Required Field: to'],
  [{ ...base, condition: "'a' in topics" }, 'Must specify exactly one of "to" and "condition", not both'],
  [{ to: 5, message_id: 'm' }, 'Field "to" must be a JSON java.lang.String: 5'],
  [{ to: '', message_id: 'm' }, 'Field "to" must not be empty'],
  [{ condition: false, message_id: 'm' }, 'Field "condition" must be a JSON java.lang.String: false'],
  [{ condition: ' ', message_id: 'm' }, 'Field "condition" must not be empty'],
  [{ condition: "'a' in topics && 'b' in topics || 'c' in topics && 'd' in topics", message_id: 'm' }, 'Condition has 3 operators; at most 2 are allowed'],
  [{ ...base, collapse_key: {} }, 'Field "collapse_key" must be a JSON java.lang.String: {}'],
  [{ ...base, priority: 10 }, 'Field "priority" must be a JSON java.lang.String: 10'],
  [{ ...base, priority: 'urgent' }, 'Invalid value (urgent) for "priority": must be "normal" or "high"'],
  [{ ...base, content_available: 1 }, 'Field "content_available" must be a JSON java.lang.Boolean: 1'],
  [{ ...base, mutable_content: 'yes' }, 'Field "mutable_content" must be a JSON java.lang.Boolean: yes'],
  [{ ...base, delivery_receipt_requested: null }, 'Field "delivery_receipt_requested" must be a JSON java.lang.Boolean: null'],
  [{ ...base, dry_run: [] }, 'Field "dry_run" must be a JSON java.lang.Boolean: []'],
  [{ ...base, time_to_live: 1.5 }, 'Invalid value (1.5) for "time_to_live": must be between 0 and "2419200"'],
  [{ ...base, data: 'x' }, 'Field "data" must be a JSON java.util.Map: x'],
  [{ ...base, data: { from: 'x' } }, 'Invalid data key "from": "from" and keys starting with "google" are reserved'],
  [{ ...base, data: { k: 'x'.repeat(4096) } }, '"data" is 4097 bytes; at most 4096 are allowed'],
  [{ ...base, data: { n: 10n } }, 'Field "data" cannot be written as JSON: Do not know how to serialize a BigInt'],
  [{ ...base, notification: [] }, 'Field "notification" must be a JSON java.util.Map: []'],
  [{ ...base, notification: { title: 1 } }, 'Field "notification.title" must be a JSON java.lang.String: 1'],
  [{ ...base, notification: { body_loc_args: 'x' } }, 'Field "notification.body_loc_args" must be a JSON java.util.List: x'],
  [{ ...base, notification: { title_loc_args: ['a', 2] } }, 'Field "notification.title_loc_args[1]" must be a JSON java.lang.String: 2'],
  [{ ...base, registration_ids: ['A'] }, 'Field "registration_ids" is not supported on CCS (no multiple recipients): send one message per token with "to"'],
  // A value JSON cannot write (a BigInt) is shown as String() gives it.
  [{ ...base, to: 10n }, 'Field "to" must be a JSON java.lang.String: 10'],
];
for (const [msg, detail] of worded) {
  test(`validateDownstream words its refusal: ${detail.slice(0, 60)}`, () => {
    const err = validateDownstream(msg)!;
    assert.is(err.ccsError, `InvalidJson : ${err.reason} : ${detail}\n`);
    assert.is(err.message, `${err.field === '' ? 'message' : `"${err.field}"`}: ${detail}`);
  });
}

test('the error message names the field, or "message" for the whole message', () => {
  assert.is(validateDownstream('hello')!.message, 'message: Message must be a JSON object: hello');
  assert.is(validateDownstream({ to: 'REG' })!.message, '"message_id": Missing Required Field: message_id');
});

test('a value is shown in full up to 64 characters, and cut to 61 and "..." beyond', () => {
  const at64 = 'p'.repeat(64);
  assert.ok(validateDownstream({ ...base, priority: at64 })!.ccsError.includes(`(${at64})`));
  assert.ok(validateDownstream({ ...base, priority: `${at64}q` })!.ccsError.includes(`(${'p'.repeat(61)}...)`));
});

test('validateAck and validateOutbound word their refusals', () => {
  assert.is(validateAck({ message_id: 'm', to: '', message_type: 'ack' })!.ccsError, 'BadAck : INVALID_ACK : Field "to" of an ACK must be a non-empty JSON string: \n');
  assert.is(validateAck({ to: 'R', message_id: 'm', message_type: 'nack' })!.ccsError, 'BadAck : INVALID_ACK : Field "message_type" of an ACK must be "ack": nack\n');
  const err = validateOutbound({ to: 'R', message_id: 'm', message_type: 'receipt' })!;
  assert.is(err.ccsError, 'InvalidJson : JSON_PARSING_ERROR : Invalid value (receipt) for "message_type": an app server sends only "ack"\n');
  assert.is(err.nackCode, 'INVALID_JSON');
});

test('inherited fields never count: only own properties are validated', () => {
  const inherit = (proto: object, own: object): unknown => Object.assign(Object.create(proto) as object, own);
  // An inherited target or message_id is no target or id at all.
  assert.is(validateDownstream(inherit({ to: 'R' }, { message_id: 'm' }))?.ccsError, 'InvalidJson : JSON_PARSING_ERROR : Missing Required Field: to\n');
  assert.is(validateDownstream(inherit({ message_id: 'm' }, { to: 'R' }))?.field, 'message_id');
  assert.is(validateDownstream(inherit({ condition: "'a' in topics" }, base)), undefined);
  // Inherited bad values are not looked at.
  assert.is(validateDownstream(inherit({ priority: 'urgent', dry_run: 1, time_to_live: -1, registration_ids: ['A'], collapse_key: 1 }, base)), undefined);
  assert.is(validateDownstream({ ...base, data: inherit({ from: 'x', google: 'y' }, { a: 'b' }) }), undefined);
  assert.is(validateDownstream({ ...base, notification: inherit({ title: 1, body_loc_args: 'x' }, { body: 'b' }) }), undefined);
  assert.is(validateAck(inherit({ message_id: 'm' }, { to: 'R', message_type: 'ack' }))?.field, 'message_id');
});

test('a condition counts && and || pairs only: a run of six & is three operators, &| is none', () => {
  assert.is(validateDownstream({ message_id: 'm', condition: "'a' in topics &&&&&& 'b' in topics" })?.ccsError,
    'InvalidJson : INVALID_CONDITION : Condition has 3 operators; at most 2 are allowed\n');
  assert.is(validateDownstream({ message_id: 'm', condition: "'a' in topics |||||| 'b' in topics" })?.reason, 'INVALID_CONDITION');
  assert.is(validateDownstream({ message_id: 'm', condition: "'a' in topics &| 'b' in topics |& 'c' in topics && 'd' in topics || 'e' in topics" }), undefined);
  assert.is(validateDownstream({ message_id: 'm', condition: "'a' in topics && 'b' in topics || 'c' in topics &" }), undefined);
});

test('every string field of notification is type-checked, and every flag', () => {
  for (const f of ['title', 'body', 'icon', 'sound', 'badge', 'tag', 'color', 'click_action', 'body_loc_key', 'title_loc_key']) {
    assert.is(validateDownstream({ ...base, notification: { [f]: 1 } })?.field, `notification.${f}`, f);
    assert.is(validateDownstream({ ...base, notification: { [f]: 'ok' } }), undefined, f);
  }
  for (const f of ['content_available', 'mutable_content', 'delay_while_idle', 'delivery_receipt_requested', 'dry_run']) {
    assert.is(validateDownstream({ ...base, [f]: 'true' })?.field, f, f);
  }
  assert.is(validateDownstream({ ...base, priority: 'normal' }), undefined);
});

test('an own field that is undefined counts as absent, as JSON leaves it out', () => {
  assert.is(validateDownstream({ to: 'R', message_id: undefined })?.ccsError, 'InvalidJson : JSON_PARSING_ERROR : Missing Required Field: message_id\n');
  assert.is(validateDownstream({ ...base, notification: { title: undefined, body_loc_args: undefined } }), undefined);
  assert.is(validateDownstream({ ...base, priority: undefined, time_to_live: undefined, data: undefined }), undefined);
});

test('data entries JSON leaves out are not counted in its size', () => {
  assert.is(dataByteLength({ k: 'x', gone: undefined, f: () => 1 } as never), 2);
  assert.is(validateDownstream({ ...base, data: { k: 'x'.repeat(4095), gone: undefined } }), undefined);
  assert.is(validateDownstream({ ...base, data: { k: 'x'.repeat(4095), n: 1 } })?.reason, 'MESSAGE_TOO_BIG');
});

test('time_to_live is a number or a string of digits, nothing that merely prints as one', () => {
  for (const ttl of [[600], ['600'], { valueOf: () => 600 }]) {
    assert.is(validateDownstream({ ...base, time_to_live: ttl })?.reason, 'JSON_TYPE_ERROR', JSON.stringify(ttl));
    assert.is(ttlValue(ttl), undefined);
  }
});

test('a condition counts only && and ||, not other doubled characters', () => {
  assert.is(validateDownstream({ message_id: 'm', condition: "'apple' in topics && 'coffee' in topics || 'zz' in topics" }), undefined);
});

test('the checks after data still run when data is valid', () => {
  assert.is(validateDownstream({ ...base, data: { a: 'b' }, notification: { title: 1 } })?.field, 'notification.title');
});

test('validateAck words a non-object, and isValidAck is false for a bad ACK', () => {
  assert.is(validateAck('hello')!.ccsError, 'InvalidJson : JSON_PARSING_ERROR : Message must be a JSON object: hello\n');
  assert.not.ok(isValidAck({ to: 'R', message_id: 'm' }));
  assert.not.ok(isValidAck(null));
});

test.run();

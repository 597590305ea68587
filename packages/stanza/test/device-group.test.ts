import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readDeviceGroupAck, decodeGcmText } from '@ccs-xmpp/stanza';

// [name, ACK payload, expected]
const cases: Array<[string, Record<string, unknown>, unknown]> = [
  ['a plain ACK has none', { from: 'tok', message_id: 'm', message_type: 'ack' }, undefined],
  ['a full success', { from: 'aUniqueKey', message_type: 'ack', success: 2, failure: 0, message_id: 'm-1' }, { success: 2, failure: 0, failedRegistrationIds: [] }],
  ['a partial failure with its tokens', { from: 'aUniqueKey', message_type: 'ack', success: 1, failure: 2, failed_registration_ids: ['regId1', 'regId2'], message_id: 'm-1' },
    { success: 1, failure: 2, failedRegistrationIds: ['regId1', 'regId2'] }],
  ['only a failure count', { failure: 3 }, { success: 0, failure: 3, failedRegistrationIds: [] }],
  ['a failure count missing, read from the token list', { success: 0, failed_registration_ids: ['a', 7, 'b'] }, { success: 0, failure: 2, failedRegistrationIds: ['a', 'b'] }],
  ['counts that are not non-negative integers read as 0', { success: -1, failure: 'x' }, { success: 0, failure: 0, failedRegistrationIds: [] }],
  ['fractional and numeric-string counts read as 0', { success: 1.5, failure: '2' }, { success: 0, failure: 0, failedRegistrationIds: [] }],
  ['an explicit failure count of 0 is kept, not read from the token list', { success: 0, failure: 0, failed_registration_ids: ['a'] },
    { success: 0, failure: 0, failedRegistrationIds: ['a'] }],
];
for (const [name, payload, expected] of cases) {
  test(`readDeviceGroupAck: ${name}`, () => {
    assert.equal(readDeviceGroupAck(payload), expected);
  });
}

test('a decoded device-group ACK keeps the counts in its payload for readDeviceGroupAck', () => {
  const m = decodeGcmText('{"from":"aUniqueKey","message_type":"ack","success":1,"failure":2,"failed_registration_ids":["regId1","regId2"],"message_id":"m-1"}', undefined);
  assert.is(m.kind, 'ack');
  if (m.kind !== 'ack') return;
  assert.equal(readDeviceGroupAck(m.payload), { success: 1, failure: 2, failedRegistrationIds: ['regId1', 'regId2'] });
});

test.run();

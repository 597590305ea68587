/**
 * Device-group ACKs (`to` a notification key). CCS fans such a message out to every token of the
 * group and answers with one ACK that counts the outcome (FCM XMPP documentation, "Device group
 * messaging"): `{"from":KEY,"message_id":ID,"message_type":"ack","success":2,"failure":0}`, and on
 * partial failure `"failure":1,"failed_registration_ids":["regId1"]`. A plain ACK has none of these
 * fields; this reads them when it does.
 */
import type { JsonObject } from './types.js';

/** The outcome of a device-group send, as its ACK counts it. */
export interface DeviceGroupResult {
  /** Tokens of the group the message reached. */
  success: number;
  /** Tokens it could not reach. The app server should retry those with backoff. */
  failure: number;
  /** The tokens that failed, when CCS listed them (`[]` when it did not). */
  failedRegistrationIds: string[];
}

const hasOwn = Object.prototype.hasOwnProperty;

function count(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

/**
 * The device-group fields of an ACK payload, or `undefined` for a plain ACK (no `success` and no
 * `failure`). A count that is absent or not a non-negative integer reads as 0, so a half-formed
 * answer is still surfaced rather than mistaken for a plain ACK; non-string entries of
 * `failed_registration_ids` are skipped. Never throws.
 */
export function readDeviceGroupAck(payload: JsonObject): DeviceGroupResult | undefined {
  const hasSuccess = hasOwn.call(payload, 'success');
  const hasFailure = hasOwn.call(payload, 'failure');
  if (!hasSuccess && !hasFailure) return undefined;
  const failed = payload['failed_registration_ids'];
  const ids: string[] = [];
  if (Array.isArray(failed)) for (const id of failed) if (typeof id === 'string') ids.push(id);
  return {
    success: count(payload['success']) ?? 0,
    failure: count(payload['failure']) ?? ids.length,
    failedRegistrationIds: ids,
  };
}

import type { OutboxRecord, OutboxStoreHost, SendResult } from '@ccs-xmpp/ccs';

/** A record as the client's outbox makes one. */
export function record(id: string, seq: number, target = 'device-a', data: Record<string, string> = { n: String(seq) }): OutboxRecord {
  return { id, seq, msg: { to: target, data }, target, retries: 0, resends: 0, written: false, state: 'queued', notBefore: 0, storeSlot: -1 };
}

/** An ACK outcome. */
export function acked(id: string, retries = 0): SendResult {
  return { messageId: id, from: undefined, registrationId: undefined, retries };
}

/** A final NACK outcome (the fields the store reads of the client's `NackError`). */
export function nacked(code: string): Error {
  return Object.assign(new Error(`nack ${code}`), { nackCode: code });
}

/** An outbox stand-in: counts wakes, keeps adopted and refused records and errors. */
export class TestHost implements OutboxStoreHost {
  wakes = 0;
  adopted: OutboxRecord[] = [];
  refusedRecords: OutboxRecord[] = [];
  refusedErrors: Error[] = [];
  errors: Error[] = [];
  wake(): void {
    this.wakes++;
  }
  adopt(records: OutboxRecord[]): void {
    this.adopted.push(...records);
  }
  error(err: Error): void {
    this.errors.push(err);
  }
  refused(records: readonly OutboxRecord[], err: Error): void {
    this.refusedRecords.push(...records);
    this.refusedErrors.push(err);
  }
}

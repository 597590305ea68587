import type { StoreHost, StoreRecord } from '../../src/index.js';

/** A record as the client's outbox makes one. */
export function record(id: string, seq: number, target = 'device-a', data: Record<string, string> = { n: String(seq) }): StoreRecord {
  return { id, seq, msg: { to: target, data }, target, retries: 0, resends: 0, written: false, state: 'queued', notBefore: 0, storeSlot: -1 };
}

/** An outbox stand-in: counts wakes, keeps adopted and refused records and errors. */
export class TestHost implements StoreHost {
  wakes = 0;
  adopted: StoreRecord[] = [];
  refusedRecords: StoreRecord[] = [];
  refusedErrors: Error[] = [];
  errors: Error[] = [];
  wake(): void {
    this.wakes++;
  }
  adopt(records: StoreRecord[]): void {
    this.adopted.push(...records);
  }
  error(err: Error): void {
    this.errors.push(err);
  }
  refused(records: StoreRecord[], err: Error): void {
    this.refusedRecords.push(...records);
    this.refusedErrors.push(err);
  }
}

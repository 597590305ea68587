/**
 * The record shapes of the client's store seam (`OutboxRecord`, `OutboxStoreHost` in
 * `@ccs-xmpp/ccs`), restated structurally so this package type-checks against them without a
 * runtime import.
 */

/** Where a record is. */
export type StoreRecordState = 'queued' | 'inflight' | 'waiting';

/** The serialisable half of a downstream message (the client's `OutboxRecord`). */
export interface StoreRecord {
  readonly id: string;
  readonly seq: number;
  readonly msg: object;
  readonly target: string;
  retries: number;
  resends: number;
  written: boolean;
  state: StoreRecordState;
  notBefore: number;
  storeSlot: number;
}

/** The fields a durable store persists. */
export const RECORD_FIELDS = ['id', 'seq', 'msg', 'target', 'retries', 'resends', 'written', 'state', 'notBefore'] as const;

/** What the outbox offers a store that answers later than the call (the client's `OutboxStoreHost`). */
export interface StoreHost {
  wake(): void;
  adopt(records: StoreRecord[]): void;
  error(err: Error): void;
  /** Records whose append failed: the outbox fails their callers' promises (they were never sent). */
  refused?(records: StoreRecord[], err: Error): void;
}

/** Serialises the persisted fields. */
export function serializeRecord(r: StoreRecord): string {
  return JSON.stringify({
    id: r.id, seq: r.seq, msg: r.msg, target: r.target, retries: r.retries, resends: r.resends,
    written: r.written, state: r.state, notBefore: r.notBefore,
  });
}

/** Reads a stored record back; `undefined` when it is not one (a corrupted or foreign value). */
export function parseRecord(text: string): StoreRecord | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o['id'] !== 'string' || typeof o['seq'] !== 'number' || typeof o['msg'] !== 'object' || o['msg'] === null
    || typeof o['target'] !== 'string') return undefined;
  const state = o['state'];
  return {
    id: o['id'],
    seq: o['seq'],
    msg: o['msg'],
    target: o['target'],
    retries: typeof o['retries'] === 'number' ? o['retries'] : 0,
    resends: typeof o['resends'] === 'number' ? o['resends'] : 0,
    written: o['written'] === true,
    state: state === 'inflight' || state === 'waiting' ? state : 'queued',
    notBefore: typeof o['notBefore'] === 'number' ? o['notBefore'] : 0,
    storeSlot: -1,
  };
}

import type { OutboxRecord, OutgoingMessage } from '@ccs-xmpp/ccs';

/** Serialises the persisted fields of a record (the client's `recordFields`). */
export function serializeRecord(r: OutboxRecord): string {
  return JSON.stringify({
    id: r.id, seq: r.seq, msg: r.msg, target: r.target, retries: r.retries, resends: r.resends,
    written: r.written, state: r.state, notBefore: r.notBefore,
  });
}

/** Reads a stored record back; `undefined` when it is not one (a corrupted or foreign value). */
export function parseRecord(text: string): OutboxRecord | undefined {
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
    msg: o['msg'] as OutgoingMessage,
    target: o['target'],
    retries: typeof o['retries'] === 'number' ? o['retries'] : 0,
    resends: typeof o['resends'] === 'number' ? o['resends'] : 0,
    written: o['written'] === true,
    state: state === 'inflight' || state === 'waiting' ? state : 'queued',
    notBefore: typeof o['notBefore'] === 'number' ? o['notBefore'] : 0,
    storeSlot: -1,
  };
}

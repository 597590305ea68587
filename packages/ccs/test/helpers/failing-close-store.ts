import { MemoryOutboxStore } from '../../src/index.js';

/** The memory outbox store, whose close() fails as `how` says (and counts its calls). Its error's text holds a "password", which no report may show. */
export class FailingCloseOutbox extends MemoryOutboxStore {
  closes = 0;
  constructor(readonly how: 'throw' | 'reject') {
    super();
  }
  override close(): Promise<void> {
    this.closes++;
    if (this.how === 'throw') throw new Error('outbox close: password=hunter2');
    return Promise.reject(new Error('outbox close: password=hunter2'));
  }
}

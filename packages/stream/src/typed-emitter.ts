import { EventEmitter } from 'node:events';

/** An event map: each event name to the arguments its listeners receive. */
export type EventMap<E> = { [K in keyof E]: unknown[] };

/** Node's own events on every emitter: a listener is about to be added, or was removed. */
export interface EmitterMetaEvents<E> {
  newListener: [event: keyof E | 'newListener' | 'removeListener', listener: (...args: never[]) => unknown];
  removeListener: [event: keyof E | 'newListener' | 'removeListener', listener: (...args: never[]) => unknown];
}

/** An event map plus Node's `newListener` / `removeListener`. */
export type WithMeta<E> = E & EmitterMetaEvents<E>;

/**
 * Node's `EventEmitter` with the event names and listener arguments checked by the compiler:
 * `client.on('recieve', …)` or a listener that takes the wrong payload does not compile. At run
 * time it is a plain `EventEmitter` (`instanceof EventEmitter` holds; `events.once()` works).
 */
export interface TypedEventEmitter<E extends EventMap<E>> {
  on<K extends keyof WithMeta<E>>(event: K, listener: (...args: WithMeta<E>[K]) => void): this;
  once<K extends keyof WithMeta<E>>(event: K, listener: (...args: WithMeta<E>[K]) => void): this;
  addListener<K extends keyof WithMeta<E>>(event: K, listener: (...args: WithMeta<E>[K]) => void): this;
  prependListener<K extends keyof WithMeta<E>>(event: K, listener: (...args: WithMeta<E>[K]) => void): this;
  prependOnceListener<K extends keyof WithMeta<E>>(event: K, listener: (...args: WithMeta<E>[K]) => void): this;
  off<K extends keyof WithMeta<E>>(event: K, listener: (...args: WithMeta<E>[K]) => void): this;
  removeListener<K extends keyof WithMeta<E>>(event: K, listener: (...args: WithMeta<E>[K]) => void): this;
  removeAllListeners(event?: keyof E): this;
  emit<K extends keyof E>(event: K, ...args: E[K]): boolean;
  listenerCount(event: keyof E): number;
  listeners<K extends keyof E>(event: K): Array<(...args: E[K]) => void>;
  rawListeners<K extends keyof E>(event: K): Array<(...args: E[K]) => void>;
  eventNames(): Array<keyof E>;
  setMaxListeners(n: number): this;
  getMaxListeners(): number;
}

/**
 * `EventEmitter` typed for an event map, to extend: `class X extends TypedEventEmitter<XEvents>`.
 * The cast is the whole trick: the class is Node's own, only its declared surface is narrowed.
 */
export const TypedEventEmitter = EventEmitter as unknown as new <E extends EventMap<E>>() => TypedEventEmitter<E>;

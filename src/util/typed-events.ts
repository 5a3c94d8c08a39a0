/** Listeners of an event map `{ name: payload }`: typed `on`, and `emit` for the owner. */
export class TypedEvents<E> {
  private readonly listeners: { [K in keyof E]?: Array<(payload: E[K]) => void> } = {};

  on<K extends keyof E>(event: K, listener: (payload: E[K]) => void): void {
    (this.listeners[event] ??= []).push(listener);
  }

  emit<K extends keyof E>(event: K, payload: E[K]): void {
    for (const listener of this.listeners[event] ?? []) listener(payload);
  }
}

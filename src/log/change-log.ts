/**
 * Logs a condition when it changes, not each time it is seen: a forwarding
 * target that fails every retry for an hour is one "failing" line, then one
 * "works again" line; a different failure is a new line.
 *
 *   const changes = new ChangeLog<string>({
 *     changed: (key, problem) => log.warn({ target: key }, `forwarding to ${key} failing: ${problem}`),
 *     cleared: (key, was) => log.info({ target: key }, `forwarding to ${key} works again`),
 *   });
 *   changes.set('mimir', 'HTTP 503');   // logged
 *   changes.set('mimir', 'HTTP 503');   // the same: nothing
 *   changes.set('mimir', undefined);    // cleared: logged
 *
 * States are compared with === unless `same` says otherwise (a failure
 * whose text varies per attempt, a request id or a time in an error body, is
 * the same failure); undefined means "all well" (nothing is logged for a key
 * that was never in trouble).
 */
export interface ChangeHandlers<S> {
  /** A key entered a state, or moved from one problem to another (`was` is the previous one, if any). */
  changed(key: string, state: S, was: S | undefined): void;
  /** A key that was in trouble is well again. */
  cleared(key: string, was: S): void;
  /** Whether two states are the same condition; default ===. */
  same?(a: S, b: S): boolean;
}

export class ChangeLog<S> {
  private readonly states = new Map<string, S>();
  private readonly handlers: ChangeHandlers<S>;

  constructor(handlers: ChangeHandlers<S>) {
    this.handlers = handlers;
  }

  /** Records the key's state now; true when that was a change (and was logged). */
  set(key: string, state: S | undefined): boolean {
    const was = this.states.get(key);
    if (state === was || (state !== undefined && was !== undefined && this.handlers.same?.(state, was))) return false;
    if (state === undefined) {
      this.states.delete(key);
      this.handlers.cleared(key, was as S);
    } else {
      this.states.set(key, state);
      this.handlers.changed(key, state, was);
    }
    return true;
  }

  /** The key's current state (undefined: well). */
  get(key: string): S | undefined {
    return this.states.get(key);
  }
}

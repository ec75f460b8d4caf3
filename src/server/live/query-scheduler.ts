/**
 * Live queries evaluated on a budget, so that no number of subscribers can
 * hold the main thread (which also carries the capture: a batch waits while
 * JavaScript runs). One evaluation per distinct query, its result sent to
 * every listener of that query:
 *
 *   subscribe(key) ──> queries: key → { evaluate, refreshMs, listeners, last result, next due }
 *                                        │
 *   one evaluation per macrotask  <──────┘  the query due longest ago first (none twice while
 *   (setImmediate between them: I/O         another waits); only while the time budget has
 *    and capture batches run in between)    credit: it refills at budgetMsPerSecond, up to a
 *                                           tenth of that, and each evaluation spends what it took
 *
 * So live queries take at most budgetMsPerSecond of main-thread time per
 * second on average, and the event loop is never blocked longer than one
 * evaluation. The small credit keeps evaluations from bunching: after a
 * costly one the scheduler rests (about 4 times as long with a 20 % budget),
 * so a request needing several loop turns does not wait an evaluation at
 * each. With more work than budget, updates come less often, never all at
 * once. A new listener gets the query's last result at once when there is
 * one (no evaluation); otherwise the query is due now.
 */

/** Gets a query's results; owned by whoever subscribed it. */
export interface QueryListener {
  /** The result, as JSON text (serialized once for all listeners). */
  update(json: string): void;
  /** The evaluation threw; the query stays and is tried again when next due. */
  fail(message: string): void;
}

export interface QuerySpec {
  /** The result as JSON text. Runs on the main thread: its cost is what the budget meters. */
  evaluate: () => string;
  /** How often the result is refreshed while someone listens. */
  refreshMs: number;
}

interface SharedQuery extends QuerySpec {
  listeners: Set<QueryListener>;
  lastJson: string | undefined;
  nextDueMs: number;
}

export interface SchedulerStats {
  queries: number;
  evaluations: number;
  evaluationMs: number;
  /** The longest single evaluation: how long the event loop was held at most. */
  maxEvaluationMs: number;
}

export class QueryScheduler {
  private readonly budgetMsPerSecond: number;
  private readonly maxCreditMs: number;
  private readonly queries = new Map<string, SharedQuery>();
  private creditMs: number;
  private creditAtMs: number;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private closed = false;
  private readonly counters = { evaluations: 0, evaluationMs: 0, maxEvaluationMs: 0 };

  constructor(budgetMsPerSecond: number) {
    this.budgetMsPerSecond = budgetMsPerSecond;
    this.maxCreditMs = budgetMsPerSecond / 10;
    this.creditMs = this.maxCreditMs;
    this.creditAtMs = performance.now();
  }

  get size(): number {
    return this.queries.size;
  }

  /** How many listen to the query `key` (0: no such query). */
  listenerCount(key: string): number {
    return this.queries.get(key)?.listeners.size ?? 0;
  }

  /** Adds a listener to the query `key` (made from `spec` when new). */
  subscribe(key: string, spec: QuerySpec, listener: QueryListener): void {
    let q = this.queries.get(key);
    if (!q) {
      q = { ...spec, listeners: new Set(), lastJson: undefined, nextDueMs: performance.now() };
      this.queries.set(key, q);
      this.wake();
    }
    q.listeners.add(listener);
    if (q.lastJson !== undefined) listener.update(q.lastJson);
  }

  /** Removes the listener; the query goes with its last listener. */
  unsubscribe(key: string, listener: QueryListener): void {
    const q = this.queries.get(key);
    if (!q) return;
    q.listeners.delete(listener);
    if (q.listeners.size === 0) this.queries.delete(key);
  }

  stats(): SchedulerStats {
    return { queries: this.queries.size, ...this.counters };
  }

  close(): void {
    this.closed = true;
    this.queries.clear();
    clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
  }

  /** Runs the next step in its own macrotask, unless one is already on the way. */
  private wake(): void {
    if (this.immediate || this.closed) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.immediate = setImmediate(() => {
      this.immediate = undefined;
      this.step();
    });
  }

  private sleep(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.step();
    }, Math.max(1, Math.ceil(ms)));
    this.timer.unref();
  }

  /** Evaluates the query due longest ago if it is due and the budget has credit; then plans the next step. */
  private step(): void {
    if (this.closed) return;
    let due: SharedQuery | undefined;
    for (const q of this.queries.values()) if (!due || q.nextDueMs < due.nextDueMs) due = q;
    if (!due) return; // idle until the next subscribe
    const now = performance.now();
    this.creditMs = Math.min(this.maxCreditMs, this.creditMs + ((now - this.creditAtMs) * this.budgetMsPerSecond) / 1000);
    this.creditAtMs = now;
    if (due.nextDueMs > now) return this.sleep(due.nextDueMs - now);
    if (this.creditMs <= 0) return this.sleep((-this.creditMs * 1000) / this.budgetMsPerSecond);
    let json: string | undefined;
    let failure: string | undefined;
    try {
      json = due.evaluate();
    } catch (e) {
      failure = (e as Error).message;
    }
    const tookMs = performance.now() - now;
    this.creditMs -= tookMs;
    this.counters.evaluations++;
    this.counters.evaluationMs += tookMs;
    this.counters.maxEvaluationMs = Math.max(this.counters.maxEvaluationMs, tookMs);
    due.nextDueMs = now + due.refreshMs;
    if (json !== undefined) due.lastJson = json;
    for (const l of due.listeners) {
      if (json !== undefined) l.update(json);
      else l.fail(failure!);
    }
    this.wake();
  }
}

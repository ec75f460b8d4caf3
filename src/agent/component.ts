/**
 * What the agent is made of: components started in order and shut down in
 * reverse (the OpenTelemetry Collector's contract). A component that starts
 * later may use those before it; none reaches past the composition root
 * (agent.ts) to find another.
 *
 *   start:    engine → capture → live hub → server       (a throw: those started are shut down, in reverse)
 *   shutdown: server → live hub → capture → engine       (each one even if another failed; the first error is rethrown)
 */

export interface Component {
  /** For messages: "engine", "capture", "server". */
  readonly name: string;
  /** Brings the component up; it may use the components started before it. */
  start(): void | Promise<void>;
  /**
   * Flushes what the component holds (counts, queued notifications, rows)
   * and lets go of everything (timers, sockets, threads). Idempotent, and
   * safe without start() or after a start() that threw.
   */
  shutdown(): Promise<void>;
}

/** A component around what its start makes: `value` once started, shut down once (and not at all if never made). */
export interface Made<T> extends Component {
  /** What start() made; throws before. */
  readonly value: T;
  /** What start() made, or undefined before. */
  readonly current: T | undefined;
}

export function component<T>(name: string, make: () => T | Promise<T>, stop: (made: T) => void | Promise<void>): Made<T> {
  let made: T | undefined;
  let started = false;
  let stopped: Promise<void> | undefined;
  return {
    name,
    async start() {
      made = await make();
      started = true;
    },
    shutdown() {
      return (stopped ??= started ? Promise.resolve().then(() => stop(made as T)) : Promise.resolve());
    },
    get value(): T {
      if (!started) throw new Error(`${name}: not started`);
      return made as T;
    },
    get current(): T | undefined {
      return made;
    },
  };
}

/**
 * Starts the components in order and returns their shutdown (in reverse,
 * idempotent). When one fails to start, it and those before it are shut down
 * in reverse, and its error is rethrown.
 */
export async function startInOrder(components: readonly Component[]): Promise<() => Promise<void>> {
  let shutdown: Promise<void> | undefined;
  const shutdownAll = (upTo: number): Promise<void> =>
    (shutdown ??= (async () => {
      let first: unknown;
      for (let i = upTo; i >= 0; i--) {
        try {
          await components[i].shutdown();
        } catch (e) {
          first ??= e;
        }
      }
      if (first !== undefined) throw first;
    })());
  for (let i = 0; i < components.length; i++) {
    try {
      await components[i].start();
    } catch (e) {
      await shutdownAll(i).catch(() => undefined); // the start's error is the one to report
      throw e;
    }
  }
  return () => shutdownAll(components.length - 1);
}

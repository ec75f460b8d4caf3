/**
 * What bounds and guards the live WebSocket endpoints: the configuration
 * (src/config) fills these, the agent hands them to the LiveHub once, at
 * start. Every limit here is what one agent grants all its clients together
 * unless its name says "per connection".
 */
export interface LiveOptions {
  maxConnections: number;
  heartbeatMs: number;
  /** How often /ws/analytics gets a snapshot. */
  snapshotMs: number;
  maxBufferedBytes: number;
  /** Exchanges sent as new_event per second, at most (the rest are counted, not sent). */
  maxEventsPerSecond: number;
  /** new_metric announcements per second, at most (the rest are counted, not sent). */
  maxNewMetricsPerSecond: number;
  /** Distinct metric queries subscribed over all connections (identical subscriptions share one). */
  maxQueries: number;
  /** Main-thread time live queries may take, per second on average; one evaluation at a time. */
  queryBudgetMsPerSecond: number;
  /** Messages a client may send per second, per connection, and in a burst. */
  messagesPerSecond: number;
  messageBurst: number;
}

export const DEFAULT_LIVE: LiveOptions = {
  maxConnections: 100,
  heartbeatMs: 30_000,
  snapshotMs: 2_000,
  maxBufferedBytes: 1 << 20,
  maxEventsPerSecond: 50,
  maxNewMetricsPerSecond: 100,
  maxQueries: 100,
  queryBudgetMsPerSecond: 200,
  messagesPerSecond: 20,
  messageBurst: 40,
};

/** Who may connect and what captured data may show. */
export interface LiveSecurity {
  /** When set, every upgrade must carry it (header, or the bearer.<token> subprotocol). */
  token?: string;
  /** Origins allowed besides the agent's own, as browsers send them: "https://grafana.example:3000". */
  allowedOrigins: string[];
  /** Regular expressions; their matches in captured paths are sent as {redacted}. */
  redactPatterns: string[];
}

export const DEFAULT_LIVE_SECURITY: LiveSecurity = { allowedOrigins: [], redactPatterns: [] };

/**
 * Bounds on the HTTP port's clients, with their defaults: the configuration
 * (http_max_connections) sets some, the server (src/server/app.ts) applies
 * them all. The defaults suit a Prometheus, a kubelet and a few dashboards.
 */
export interface HttpLimits {
  /** Sockets open at once; past it the oldest idle one is closed for the new one. */
  maxConnections: number;
  /** A request's headers must arrive within this (slow-header clients), and a socket silent this long is closed (half-open ones). */
  headersTimeoutMs: number;
  /** A whole request must arrive within this. */
  requestTimeoutMs: number;
  /** An idle keep-alive socket is closed after this. */
  keepAliveTimeoutMs: number;
  /** How often Node checks the headers and request timeouts. */
  connectionsCheckingIntervalMs: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = { maxConnections: 1000, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, connectionsCheckingIntervalMs: 1_000 };

/**
 * The HTTP port's connections, bounded: at most maxConnections sockets (so a
 * flood of half-open or idle sockets cannot fill the process's file
 * descriptors), and still room for /api/health and /metrics while abused.
 *
 *   new socket ──> below the cap? keep it
 *                  at the cap?    close the oldest socket with no request in
 *                                 progress (idle keep-alive, slow headers,
 *                                 silent half-open), then keep the new one;
 *                                 every socket busy → close the new one
 *
 * Taking the slot of the oldest idle socket is what keeps health answerable:
 * refusing new sockets at the cap would let anyone holding the cap lock out
 * Prometheus and the kubelet. A scraper sends its request at once, so it is
 * never the oldest idle. Node's timeouts (set in app.ts: headers, request,
 * keep-alive) reap the rest on their own. WebSocket sockets count, and are
 * never taken (the live hub caps those); closing the port ends them
 * (endUpgraded), since Node's close waits for every socket it accepted.
 */
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionGuardStats {
  open: number;
  /** Idle sockets closed to make room, and new sockets closed because every slot was busy. */
  evictedIdle: number;
  refusedBusy: number;
}

export interface ConnectionGuard {
  stats(): ConnectionGuardStats;
  /** Ends every upgraded (WebSocket) socket still open: the port is closing. */
  endUpgraded(): void;
}

/** withUpgrades: someone (the live hub) takes upgraded sockets; without one, Node answers an upgrade as a plain request. */
export function guardConnections(server: Server, maxConnections: number, withUpgrades: boolean): ConnectionGuard {
  // Insertion order is age: the first idle one found is the oldest.
  const open = new Set<Socket>();
  const busy = new Set<Socket>();
  const upgraded = new Set<Socket>();
  const stats = { evictedIdle: 0, refusedBusy: 0 };
  server.on('connection', (socket: Socket) => {
    if (open.size >= maxConnections) {
      let victim: Socket | undefined;
      for (const s of open) {
        if (!busy.has(s)) {
          victim = s;
          break;
        }
      }
      if (!victim) {
        stats.refusedBusy++;
        socket.destroy();
        return;
      }
      stats.evictedIdle++;
      open.delete(victim);
      victim.destroy();
    }
    open.add(socket);
    socket.once('close', () => {
      open.delete(socket);
      busy.delete(socket);
      upgraded.delete(socket);
    });
  });
  server.on('request', (req, res) => {
    const socket = req.socket as Socket;
    busy.add(socket);
    res.once('close', () => busy.delete(socket));
  });
  // Upgraded to WebSocket: owned by the live hub from now on, never evicted here. (Listening
  // to 'upgrade' claims upgrades from Node, hence only when the hub listens too.)
  if (withUpgrades) {
    server.on('upgrade', (req) => {
      busy.add(req.socket as Socket);
      upgraded.add(req.socket as Socket);
    });
  }
  return {
    stats: () => ({ open: open.size, ...stats }),
    endUpgraded: () => {
      for (const s of upgraded) s.destroy();
    },
  };
}

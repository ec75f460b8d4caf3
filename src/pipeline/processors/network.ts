/**
 * Network processor: bytes each way, connections and accepts (counted at the
 * first exchange the kernel saw on a connection), and exchanges cut off at
 * the connection level. TCP-level events (retransmits, refused connects) are
 * not captured yet.
 */
import { familiesOf, type ProcessorPlugin } from '../processor';

export const networkProcessor: ProcessorPlugin = {
  name: 'network',
  families: familiesOf('network'),
  create(ctx) {
    const rx = ctx.identitySeries('network_bytes_total', (id) => [id.service, id.side, 'tcp', 'rx']);
    const tx = ctx.identitySeries('network_bytes_total', (id) => [id.service, id.side, 'tcp', 'tx']);
    const connections = ctx.identitySeries('network_connections_total', (id) => [id.service, id.side]);
    const accepts = ctx.identitySeries('network_accepts_total', (id) => (id.side === 'server' ? [id.service] : undefined));
    const errors = ctx.identitySeries('network_errors_total', (id) => (id.abortReason ? [id.service, id.side, id.abortReason] : undefined));
    return {
      process(events, count) {
        for (let i = 0; i < count; i++) {
          const e = events[i];
          // The traced process receives requests as a server and responses as a client.
          const server = e.identity.side === 'server';
          rx.add(e, server ? e.requestBytes : e.responseBytes);
          tx.add(e, server ? e.responseBytes : e.requestBytes);
          if (e.newConnection) {
            connections.add(e, 1);
            accepts.add(e, 1);
          }
          if (e.identity.abortReason) errors.add(e, 1);
        }
      },
    };
  },
};

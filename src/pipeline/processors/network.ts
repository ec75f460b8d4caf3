/**
 * Network processor: bytes each way, connections and accepts (counted at the
 * first exchange the kernel saw on a connection), and exchanges cut off at
 * the connection level. TCP-level events (retransmits, refused connects) are
 * not captured yet.
 */
import { familiesOf, workloadLabels, type ProcessorPlugin } from '../processor';

export const networkProcessor: ProcessorPlugin = {
  name: 'network',
  families: familiesOf('network'),
  create(ctx) {
    const rx = ctx.identitySeries('network_bytes_total', (id) => workloadLabels(id, id.service, id.side, 'tcp', 'rx'));
    const tx = ctx.identitySeries('network_bytes_total', (id) => workloadLabels(id, id.service, id.side, 'tcp', 'tx'));
    const connections = ctx.identitySeries('network_connections_total', (id) => workloadLabels(id, id.service, id.side));
    const accepts = ctx.identitySeries('network_accepts_total', (id) => (id.side === 'server' ? workloadLabels(id, id.service) : undefined));
    const errors = ctx.identitySeries('network_errors_total', (id) => (id.abortReason ? workloadLabels(id, id.service, id.side, id.abortReason) : undefined));
    return {
      process(groups, count) {
        for (let i = 0; i < count; i++) {
          const g = groups[i];
          // The traced process receives requests as a server and responses as a client.
          const server = g.identity.side === 'server';
          rx.add(g, server ? g.requestBytes : g.responseBytes);
          tx.add(g, server ? g.responseBytes : g.requestBytes);
          if (g.newConnections > 0) {
            connections.add(g, g.newConnections);
            accepts.add(g, g.newConnections);
          }
          if (g.identity.abortReason) errors.add(g, g.count);
        }
      },
    };
  },
};

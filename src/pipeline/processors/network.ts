/**
 * Network processor. From exchanges: bytes each way and the exchanges cut
 * off at the connection level. From TCP events (bpf/tracer/tcp.h), per
 * service and peer: connections established (connect or accept) and failed,
 * failures by reason, handshake times, lifetimes and smoothed RTTs of closed
 * connections, their bytes, retransmitted segments and resets.
 */
import { familiesOf, tcpLabels, workloadLabels, type ProcessorPlugin } from '../processor';
import { CONNECT_FAILURE_REASONS } from '../tcp-event';

export const networkProcessor: ProcessorPlugin = {
  name: 'network',
  families: familiesOf('network'),
  create(ctx) {
    const rx = ctx.identitySeries('network_bytes_total', (id) => workloadLabels(id, id.service, id.side, 'tcp', 'rx'));
    const tx = ctx.identitySeries('network_bytes_total', (id) => workloadLabels(id, id.service, id.side, 'tcp', 'tx'));
    const errors = ctx.identitySeries('network_errors_total', (id) => (id.abortReason ? workloadLabels(id, id.service, id.side, id.abortReason) : undefined));

    const established = ctx.tcpSeries('network_connections_total', (id) => tcpLabels(id, id.service, id.side, 'established'));
    const failed = ctx.tcpSeries('network_connections_total', (id) => tcpLabels(id, id.service, id.side, 'failed'));
    const accepts = ctx.tcpSeries('network_accepts_total', (id) => (id.side === 'server' ? workloadLabels(id, id.service) : undefined));
    const failures = CONNECT_FAILURE_REASONS.map((reason) => ctx.tcpSeries('network_connect_failures_total', (id) => tcpLabels(id, id.service, reason)));
    const connectTimes = ctx.tcpSeries('network_connect_duration_seconds', (id) => tcpLabels(id, id.service));
    const lifetimes = ctx.tcpSeries('network_connection_duration_seconds', (id) => tcpLabels(id, id.service, id.side));
    const rtts = ctx.tcpSeries('tcp_rtt_seconds', (id) => tcpLabels(id, id.service, id.side));
    const retransmits = ctx.tcpSeries('tcp_retransmits_total', (id) => tcpLabels(id, id.service, id.side));
    const resetsSent = ctx.tcpSeries('tcp_resets_total', (id) => tcpLabels(id, id.service, id.side, 'sent'));
    const resetsReceived = ctx.tcpSeries('tcp_resets_total', (id) => tcpLabels(id, id.service, id.side, 'received'));
    const bytesSent = ctx.tcpSeries('tcp_bytes_total', (id) => tcpLabels(id, id.service, id.side, 'tx'));
    const bytesReceived = ctx.tcpSeries('tcp_bytes_total', (id) => tcpLabels(id, id.service, id.side, 'rx'));
    return {
      process(groups, count) {
        for (let i = 0; i < count; i++) {
          const g = groups[i];
          // The traced process receives requests as a server and responses as a client.
          const server = g.identity.side === 'server';
          rx.add(g, server ? g.requestBytes : g.responseBytes);
          tx.add(g, server ? g.responseBytes : g.requestBytes);
          if (g.identity.abortReason) errors.add(g, g.count);
        }
      },
      processTcp(groups, count) {
        for (let i = 0; i < count; i++) {
          const g = groups[i];
          if (g.established > 0) {
            established.add(g, g.established);
            if (g.identity.side === 'server') accepts.add(g, g.established);
          }
          let failedCount = 0;
          for (let r = 0; r < failures.length; r++) {
            if (g.failures[r] > 0) {
              failures[r].add(g, g.failures[r]);
              failedCount += g.failures[r];
            }
          }
          if (failedCount > 0) failed.add(g, failedCount);
          if (g.connects > 0) connectTimes.observe(g, g.connectSeconds, g.connects);
          if (g.closes > 0) {
            lifetimes.observe(g, g.lifetimeSeconds, g.closes);
            bytesSent.add(g, g.bytesSent);
            bytesReceived.add(g, g.bytesReceived);
          }
          if (g.rtts > 0) rtts.observe(g, g.rttSeconds, g.rtts);
          if (g.retransmits > 0) retransmits.add(g, g.retransmits);
          if (g.resetsSent > 0) resetsSent.add(g, g.resetsSent);
          if (g.resetsReceived > 0) resetsReceived.add(g, g.resetsReceived);
        }
      },
    };
  },
};

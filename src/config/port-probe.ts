/**
 * Can the agent open its port? Bound and released before anything is loaded,
 * so a port in use or an address that is not this machine's stops start-up
 * at once, naming the key, the address and the port, not after the eBPF
 * programs are loaded:
 *
 *   in use, or no permission   HT_ERR_LISTEN (exit 1: the machine's state, not the configuration's)
 *   not this machine's address HT_ERR_OPTION (exit 2: the configuration is wrong here)
 *
 * Someone could take the port between the probe and the real listen; that
 * rare case still fails, later (after the programs loaded), with HT_ERR_LISTEN.
 */
import net from 'node:net';
import { TracerError } from '../errors';

export async function probeListen(address: string, port: number, where: { address: string; port: string }): Promise<void> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: address, port, exclusive: true }, resolve);
    });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new TracerError('HT_ERR_LISTEN', `${where.port}: ${port} is in use on ${address} (EADDRINUSE): stop what listens there or choose another port`);
    if (code === 'EADDRNOTAVAIL') throw new TracerError('HT_ERR_OPTION', `${where.address}: ${JSON.stringify(address)} is not an address of this machine (EADDRNOTAVAIL): use one of its own, 127.0.0.1, or 0.0.0.0 for all`);
    throw new TracerError('HT_ERR_LISTEN', `${where.port}: cannot listen on ${address}:${port}: ${(e as Error).message}`);
  } finally {
    await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  }
}

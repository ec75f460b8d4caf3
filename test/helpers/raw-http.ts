/**
 * Raw bytes to the agent's HTTP port and whatever comes back, for requests
 * fetch() cannot send (CONNECT, broken heads) and for slow or silent sockets.
 */
import net from 'node:net';

/**
 * Sends `text` (then half-closes, unless `end` is false), and collects the
 * answer until the server closes or `timeoutMs` passes (then rejects).
 */
export function rawExchange(port: number, text: string | Buffer, timeoutMs = 5000, end = true): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; received ${JSON.stringify(received.slice(0, 200))}`));
    }, timeoutMs);
    socket.on('connect', () => (end ? socket.end(text) : socket.write(text)));
    socket.on('data', (d) => (received += d.toString('latin1')));
    socket.on('error', () => {}); // a reset after the answer is an answer too
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(received);
    });
  });
}

/** Opens `count` sockets that send nothing (or a partial head), as a slowloris client would. */
export async function silentSockets(port: number, count: number, partialHead = ''): Promise<net.Socket[]> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Socket>((resolve, reject) => {
          const socket = net.connect({ port, host: '127.0.0.1' }, () => {
            if (partialHead) socket.write(partialHead);
            resolve(socket);
          });
          socket.resume(); // read what the server sends, so its close is seen
          socket.on('error', () => {});
          socket.once('error', reject);
        }),
    ),
  );
}

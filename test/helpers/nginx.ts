/**
 * nginx from Debian in a throwaway prefix, serving a static root on a loopback
 * port. With `accessLog`, one line per request nginx finished, written when it
 * finished, with what nginx itself counted (method, target, status, bytes
 * sent, request length): tests judge the capture against it.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startChild, stopChild, waitForPort } from './kernel';

export interface NginxAccess {
  method: string;
  target: string;
  status: number;
  /** $bytes_sent: the whole response on the wire (status line, headers, body). */
  bytesSent: number;
  /** $request_length: request line, headers and body. */
  requestLength: number;
}

export interface Nginx {
  process: ChildProcess;
  root: string;
  /** The access log so far (empty unless started with accessLog). */
  accessLog(): NginxAccess[];
  stop(): Promise<void>;
}

export async function startNginx(port: number, files: Record<string, string | Buffer>, options: { accessLog?: boolean } = {}): Promise<Nginx> {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'nginx-'));
  const root = path.join(prefix, 'www');
  const log = path.join(prefix, 'access.log');
  fs.mkdirSync(root);
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(root, name), content, { mode: 0o644 });
  // Workers run as nobody: the prefix must be readable by them.
  fs.chmodSync(prefix, 0o755);
  fs.chmodSync(root, 0o755);
  fs.writeFileSync(
    path.join(prefix, 'nginx.conf'),
    `daemon off;
worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log;
events { worker_connections 1024; }
http {
  log_format exact '$request_method $request_uri $status $bytes_sent $request_length';
  access_log ${options.accessLog ? `${log} exact` : 'off'};
  sendfile on;
  keepalive_requests 1000000;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location = /dynamic { return 200 "dynamic\\n"; }
  }
}
`,
  );
  const child = startChild('nginx', ['-p', prefix, '-c', path.join(prefix, 'nginx.conf'), '-e', path.join(prefix, 'error.log')]);
  // The port probe is a connection without a request: nginx logs nothing for it.
  await waitForPort(port);
  return {
    process: child,
    root,
    accessLog: () =>
      !fs.existsSync(log)
        ? []
        : fs
            .readFileSync(log, 'latin1')
            .split('\n')
            .filter((l) => l.length > 0)
            .map((l) => {
              const [method, target, status, bytesSent, requestLength] = l.split(' ');
              return { method, target, status: Number(status), bytesSent: Number(bytesSent), requestLength: Number(requestLength) };
            }),
    stop: async () => {
      await stopChild(child);
      fs.rmSync(prefix, { recursive: true, force: true });
    },
  };
}

/** The node's name on alerts and forwarded series: NODE_NAME (set from the downward API in Kubernetes), else the host name. */
import os from 'node:os';

export function nodeName(env: NodeJS.ProcessEnv = process.env): string {
  return env.NODE_NAME || os.hostname();
}

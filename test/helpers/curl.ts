/** curl as the TLS tests drive it: several URLs over one keep-alive connection, -k for self-signed certificates. */
import { run } from './kernel';

export interface CurlTransfer {
  status: number;
  request: number;
  response: number;
}

/** curl -k over one keep-alive connection: status and bytes per URL as curl counted them. */
export async function curl(urls: string[]): Promise<CurlTransfer[]> {
  const r = await run('curl', ['-sk', '--http1.1', '-w', '%{http_code} %{size_request} %{size_header} %{size_download} %{num_connects}\\n', ...urls.flatMap((u) => ['-o', '/dev/null', u])]);
  if (r.code !== 0) throw new Error(`curl failed (${r.code}): ${r.stderr}`);
  const rows = r.stdout.trim().split('\n').map((line) => line.split(' ').map(Number));
  if (rows.slice(1).some((row) => row[4] !== 0)) throw new Error(`curl opened more than one connection: ${r.stdout}`);
  return rows.map(([status, request, header, body]) => ({ status, request, response: header + body }));
}

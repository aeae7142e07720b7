import { createServer, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Recorded {
  readonly method: string;
  readonly path: string;
}

/**
 * A real loopback forwarder in front of Azurite that records each request, to count what the
 * store asks for. Shared-key signatures cover the path, not the host, so they stay valid.
 */
export async function startRecordingProxy(port: number): Promise<{ requests: Recorded[]; connectionString(base: string): string; close(): Promise<void> }> {
  const requests: Recorded[] = [];
  const server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', path: req.url ?? '' });
    const upstream = httpRequest({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const own = (server.address() as AddressInfo).port;
  return {
    requests,
    connectionString: (base) => base.replace(/BlobEndpoint=http:\/\/127\.0\.0\.1:\d+\//, `BlobEndpoint=http://127.0.0.1:${own}/`),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import type { LocalCertificates } from '../../src/tls/local-ca.js';

/**
 * A real HTTPS server on loopback for the download tests: routes by path, records every
 * request it sees, and lets a handler misbehave (stall, truncate, flood) the way a real
 * server or proxy can.
 */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly at: number;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, nth: number) => unknown;

export interface TestServer {
  /** `https://<hostname>:<port>` */
  readonly origin: string;
  /** `<hostname>:<port>`, the allow-list entry for this server. */
  readonly hostPort: string;
  readonly requests: SeenRequest[];
  route(path: string, handler: Handler): void;
  seen(path: string, method?: string): SeenRequest[];
  close(): Promise<void>;
}

/**
 * `hostname` is what clients put in URLs (`localhost` or `127.0.0.1`); both reach this
 * loopback listener, and the test certificate covers both, so two servers can look like
 * two different hosts to the allow-list.
 */
export async function startTestServer(certs: LocalCertificates, hostname: 'localhost' | '127.0.0.1' = 'localhost'): Promise<TestServer> {
  const routes = new Map<string, Handler>();
  const counts = new Map<string, number>();
  const requests: SeenRequest[] = [];
  const server: Server = createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push({ method: req.method ?? '', path: req.url ?? '/', headers: req.headers, at: Date.now() });
    const nth = (counts.get(path) ?? 0) + 1;
    counts.set(path, nth);
    const handler = routes.get(path);
    if (!handler) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    Promise.resolve(handler(req, res, nth)).catch(() => res.destroy());
  });
  // Stalled responses would otherwise keep close() waiting.
  const sockets = new Set<import('node:net').Socket>();
  server.on('secureConnection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, hostname === 'localhost' ? 'localhost' : '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    origin: `https://${hostname}:${port}`,
    hostPort: `${hostname}:${port}`,
    requests,
    route: (path, handler) => void routes.set(path, handler),
    seen: (path, method) => requests.filter((r) => r.path.split('?')[0] === path && (method === undefined || r.method === method)),
    close: async () => {
      for (const s of sockets) s.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

export function sendText(res: ServerResponse, status: number, text: string | Buffer, type = 'application/json', headers: Record<string, string> = {}): void {
  const body = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  res.writeHead(status, { 'content-type': type, 'content-length': String(body.length), ...headers }).end(body);
}

/**
 * Writes `total` bytes of junk with back-pressure, counting what the socket accepted, and
 * stops as soon as the client goes away.
 */
export async function floodJunk(res: ServerResponse, total: number, counter: { sent: number }): Promise<void> {
  res.writeHead(200, { 'content-type': 'application/json' });
  const chunk = Buffer.alloc(256 * 1024, 0x61);
  let closed = false;
  const gone = new Promise<void>((resolve) => res.once('close', () => resolve((closed = true) && undefined)));
  while (!closed && counter.sent < total) {
    const more = res.write(chunk);
    counter.sent += chunk.length;
    if (!more && !closed) await Promise.race([once(res, 'drain'), gone]);
  }
  if (!closed) res.end();
}

const here = new URL('.', import.meta.url);

/** The bundled files, gunzipped: the real bytes Microsoft served. */
export function bundledServiceTags(name: 'Public_20251013' | 'Public_20251006' | 'Public_20250414' | 'AzureGovernment_20251013' | 'China_20251013'): Buffer {
  const path = name === 'Public_20251013'
    ? new URL('../../src/data/ServiceTags_Public_20251013.json.gz', here)
    : new URL(`../fixtures/service-tags/ServiceTags_${name}.json.gz`, here);
  return gunzipSync(readFileSync(path));
}

/** A download-centre page in today's shape: the file list embedded as JSON in a script. */
export function dlcDetailsPage(files: readonly { name: string; url: string }[]): string {
  const details = {
    dlcDetailsView: {
      title: 'Azure IP Ranges and Service Tags – Public Cloud',
      // Braces and quotes inside strings must not confuse the extraction.
      description: 'This file contains the IP address ranges for Public Azure {as a whole} and "each" region. </b>',
      downloadFile: files.map((f) => ({ ...f, size: '4106571', version: '1', datePublished: '10/14/2025 3:22:03 AM' })),
    },
    locale: 'en-us',
  };
  return `<!DOCTYPE html><html lang="en-US"><head><title>Download Azure IP Ranges and Service Tags</title>
<script>window.__RUNTIME__={"flags":{"a":true}};</script></head><body><div id="root"></div>
<script>window.__DLCDetails__=${JSON.stringify(details)};window.__OTHER__={};</script></body></html>`;
}

/** The page before its redesign: a plain link, upper-case in places. */
export function hrefPage(url: string): string {
  return `<html><body><h1>Azure IP Ranges and Service Tags</h1><p>
<a class="mscom-link failoverLink" HREF="${url}" data-bi-cN="click here to download manually">click here to download manually</a></p></body></html>`;
}

export const NO_LINK_PAGE = '<html><body><h1>We are sorry, the page you requested cannot be found.</h1><a href="https://www.microsoft.com/">Home</a></body></html>';

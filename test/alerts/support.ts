import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FolderStore } from '../../src/state/store.js';
import { createAlert } from '../../src/alerts/fingerprint.js';
import type { Alert, AlertKind, AlertLogger, AlertSeverity, AlertState, AlertStateAccess } from '../../src/alerts/types.js';

export const VAULT_A = '/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/rg-sec/providers/Microsoft.KeyVault/vaults/kv-prod';
export const VAULT_B = '/subscriptions/00000000-0000-0000-0000-00000000000b/resourceGroups/rg-sec/providers/Microsoft.KeyVault/vaults/kv-stage';

export function driftAlert(vault: string, rules: readonly string[], severity: AlertSeverity = 'warning'): Alert {
  return createAlert({
    vault,
    kind: 'drift',
    severity,
    subject: 'removed',
    title: `${rules.length} owned rule(s) were removed outside tagwall`,
    details: rules.map((r) => `removed ${r}`),
    rules,
    action: 'The rules will be restored on this run.',
  });
}

export function simpleAlert(vault: string, kind: AlertKind, severity: AlertSeverity = 'critical', subject?: string): Alert {
  return createAlert({ vault, kind, severity, subject, title: `${kind} on ${vault || 'run'}`, details: [`${kind} happened`], action: 'Nothing is written until this is fixed.' });
}

export interface LogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly props: Record<string, unknown> | undefined;
}

export function memoryLogger(): AlertLogger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at = (level: LogEntry['level']) => (message: string, props?: Record<string, unknown>) => void entries.push({ level, message, props });
  return { entries, info: at('info'), warn: at('warn'), error: at('error') };
}

/** Alert state over a FolderStore, one JSON file per scope, with the store's ETags. */
export function folderAlertState(dir: string): AlertStateAccess & { store: FolderStore } {
  const store = new FolderStore(dir);
  return {
    store,
    async load(scope) {
      const got = await store.get(`alerts-${scope}`);
      return got === undefined ? undefined : { state: JSON.parse(got.text) as AlertState, etag: got.etag };
    },
    async save(scope, state, etag) {
      return store.put(`alerts-${scope}`, JSON.stringify(state), etag === undefined ? { ifNoneExists: true } : { ifMatch: etag });
    },
  };
}

export interface ReceivedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
}

/** What the receiver does with the n-th request (0-based): answer, or never answer. */
export type Reply = { status: number; body?: string; headers?: Record<string, string> } | 'hang';

/** A real HTTP server on 127.0.0.1 that records every request it gets. */
export async function startReceiver(reply: (n: number) => Reply = () => ({ status: 200 })): Promise<{
  url: string;
  requests: ReceivedRequest[];
  close(): Promise<void>;
}> {
  const requests: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const n = requests.length;
      requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const r = reply(n);
      if (r === 'hang') return;
      res.writeHead(r.status, { 'content-type': 'text/plain', ...r.headers });
      res.end(r.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hooks/secret-token-123`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

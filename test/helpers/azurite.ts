import { spawn, type ChildProcess } from 'node:child_process';
import { AccountSASPermissions, AccountSASResourceTypes, generateAccountSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob';
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A real Azurite blob service (and, when asked, its queue service) on free loopback ports, in
 * memory, for one test file.
 * Start it in beforeAll and stop it in afterAll; if the test process dies first, the
 * exit hook still kills it so no emulator outlives the run.
 */
export interface Azurite {
  /** Shared-key connection string for the well-known development account (with QueueEndpoint when the queue service runs). */
  readonly connectionString: string;
  /** The account's blob endpoint, e.g. http://127.0.0.1:41995/devstoreaccount1. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Azurite with its queue service running too, on its own port. */
export interface AzuriteWithQueue extends Azurite {
  /** The account's queue endpoint, e.g. http://127.0.0.1:41996/devstoreaccount1. */
  readonly queueUrl: string;
  readonly queuePort: number;
}

/** Azurite's published development account (the same for every installation). */
export const DEV_ACCOUNT = 'devstoreaccount1';
export const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

/**
 * A connection string whose account SAS covers blobs (objects) only, not containers: Azurite,
 * like Azure, answers 403 to its request to create a container, yet lets it read and write
 * blobs in a container that exists. An identity with a role on one container looks the same.
 */
export function objectOnlySasConnectionString(azurite: Azurite): string {
  const sas = generateAccountSASQueryParameters(
    { services: 'b', resourceTypes: AccountSASResourceTypes.parse('o').toString(), permissions: AccountSASPermissions.parse('rwdc'), expiresOn: new Date(Date.now() + 3_600_000) },
    new StorageSharedKeyCredential(DEV_ACCOUNT, DEV_KEY),
  ).toString();
  return `BlobEndpoint=${azurite.url};SharedAccessSignature=${sas}`;
}

const BLOB_READY = /Azurite Blob service successfully listens on http:\/\/127\.0\.0\.1:(\d+)/;
const QUEUE_READY = /Azurite Queue service successfully listens on http:\/\/127\.0\.0\.1:(\d+)/;
const START_TIMEOUT_MS = 30_000;

interface Service {
  readonly port: number;
  stop(): Promise<void>;
}

/** One Azurite service (its own process, as the separate blob and queue entry points run). */
async function startService(service: 'blob' | 'queue'): Promise<Service> {
  const main = join(dirname(createRequire(import.meta.url).resolve('azurite/package.json')), `dist/src/${service}/main.js`);
  // Its own working folder: in-memory mode writes nothing today, but a later version might.
  const workDir = await mkdtemp(join(tmpdir(), `tagwall-azurite-${service}-`));
  const child = spawn(
    process.execPath,
    [main, `--${service}Host`, '127.0.0.1', `--${service}Port`, '0', '--inMemoryPersistence', '--silent', '--skipApiVersionCheck', '--disableTelemetry'],
    { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let port: number;
  try {
    port = await waitForPort(child, service === 'blob' ? BLOB_READY : QUEUE_READY);
  } catch (e) {
    process.removeListener('exit', killOnExit);
    await terminate(child);
    await rm(workDir, { recursive: true, force: true });
    throw e;
  }
  let stopped: Promise<void> | undefined;
  return {
    port,
    stop: () =>
      (stopped ??= (async () => {
        process.removeListener('exit', killOnExit);
        await terminate(child);
        await rm(workDir, { recursive: true, force: true });
      })()),
  };
}

/** The blob service, and with `{ queue: true }` the queue service as well. */
export async function startAzurite(options: { queue: true }): Promise<AzuriteWithQueue>;
export async function startAzurite(options?: { queue?: boolean }): Promise<Azurite>;
export async function startAzurite(options: { queue?: boolean } = {}): Promise<Azurite | AzuriteWithQueue> {
  const started = await Promise.allSettled([startService('blob'), ...(options.queue === true ? [startService('queue')] : [])]);
  const services = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(services.map((s) => s.stop()));
    throw failed.reason;
  }
  const [blob, queue] = services as [Service, Service | undefined];
  const url = `http://127.0.0.1:${blob.port}/${DEV_ACCOUNT}`;
  const queueUrl = queue === undefined ? undefined : `http://127.0.0.1:${queue.port}/${DEV_ACCOUNT}`;
  let stopped: Promise<void> | undefined;
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=${url};${queueUrl === undefined ? '' : `QueueEndpoint=${queueUrl};`}`,
    url,
    port: blob.port,
    ...(queue === undefined ? {} : { queueUrl, queuePort: queue.port }),
    stop: () => (stopped ??= Promise.all(services.map((s) => s.stop())).then(() => undefined)),
  };
}

function waitForPort(child: ChildProcess, ready: RegExp): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`Azurite did not report its port within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const m = ready.exec(output);
      if (m !== null) {
        cleanup();
        // Keep draining the pipes, or a chatty child would block on a full buffer.
        child.stdout?.resume();
        child.stderr?.resume();
        resolve(Number(m[1]));
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      fail(new Error(`Azurite exited before it was ready (code ${code}, signal ${signal}):\n${output}`));
    const fail = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', fail);
    };
    // Node-version warnings go to stderr; the ready line to stdout. Read both.
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', fail);
  });
}

/** SIGTERM, then SIGKILL if it has not gone in 3 s; resolves once the process is gone. */
function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 3_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

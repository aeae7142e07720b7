import { spawn, type ChildProcess } from 'node:child_process';
import { AccountSASPermissions, AccountSASResourceTypes, generateAccountSASQueryParameters, StorageSharedKeyCredential } from '@azure/storage-blob';
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A real Azurite blob service on a free loopback port, in memory, for one test file.
 * Start it in beforeAll and stop it in afterAll; if the test process dies first, the
 * exit hook still kills it so no emulator outlives the run.
 */
export interface Azurite {
  /** Shared-key connection string for the well-known development account. */
  readonly connectionString: string;
  /** The account's blob endpoint, e.g. http://127.0.0.1:41995/devstoreaccount1. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
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

const READY = /Azurite Blob service successfully listens on http:\/\/127\.0\.0\.1:(\d+)/;
const START_TIMEOUT_MS = 30_000;

export async function startAzurite(): Promise<Azurite> {
  const main = join(dirname(createRequire(import.meta.url).resolve('azurite/package.json')), 'dist/src/blob/main.js');
  // Its own working folder: in-memory mode writes nothing today, but a later version might.
  const workDir = await mkdtemp(join(tmpdir(), 'tagwall-azurite-'));
  const child = spawn(
    process.execPath,
    [main, '--blobHost', '127.0.0.1', '--blobPort', '0', '--inMemoryPersistence', '--silent', '--skipApiVersionCheck', '--disableTelemetry'],
    { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let port: number;
  try {
    port = await waitForPort(child);
  } catch (e) {
    process.removeListener('exit', killOnExit);
    await terminate(child);
    await rm(workDir, { recursive: true, force: true });
    throw e;
  }

  const url = `http://127.0.0.1:${port}/${DEV_ACCOUNT}`;
  let stopped: Promise<void> | undefined;
  return {
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=${url};`,
    url,
    port,
    stop: () =>
      (stopped ??= (async () => {
        process.removeListener('exit', killOnExit);
        await terminate(child);
        await rm(workDir, { recursive: true, force: true });
      })()),
  };
}

function waitForPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => fail(new Error(`Azurite did not report its port within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      const m = READY.exec(output);
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

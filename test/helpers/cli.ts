import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { sharedTestCertificates } from '../global-setup.js';

export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));
export const BUNDLED = fileURLToPath(new URL('../../src/data/ServiceTags_Public_20251013.json.gz', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('../fixtures/service-tags/', import.meta.url));

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built CLI as a user would, in its own process. */
export function runCli(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; onSpawn?: (child: ChildProcess) => void } = {},
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd ?? process.cwd(),
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    options.onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The CLI's environment against `emulator`: its managed identity, and every other credential or
 * configuration the developer's shell may hold blanked out.
 */
export function cliEnv(emulator: Emulator): NodeJS.ProcessEnv {
  return { IDENTITY_ENDPOINT: emulator.identityEndpoint, IDENTITY_HEADER: emulator.identityHeader, AZURE_CLIENT_ID: '', AZURE_TENANT_ID: '', AZURE_CLIENT_SECRET: '', TAGWALL_CONFIG: '' };
}

/**
 * One emulator for a whole CLI test file. `set` receives it and the CLI's environment once it has
 * started, so the file can keep plain `let emulator` and `let env`.
 */
export function useCliEmulator(set: (emulator: Emulator, env: NodeJS.ProcessEnv) => void): void {
  let emulator: Emulator | undefined;
  beforeAll(async () => {
    emulator = await startEmulator({ port: 0, certificates: await sharedTestCertificates() });
    set(emulator, cliEnv(emulator));
  });
  afterAll(async () => {
    await emulator?.close();
  });
}

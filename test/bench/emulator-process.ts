import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectEmulatorControl, type EmulatorControl } from '../../src/emulator/control-client.js';

/** The emulator accepts any bearer token; the bench has no Azure account. */
export const benchCredential: TokenCredential = {
  async getToken(): Promise<AccessToken> {
    return { token: 'bench', expiresOnTimestamp: Date.now() + 3_600_000 };
  },
};

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface EmulatorProcess {
  readonly url: string;
  readonly caCert: string;
  readonly control: EmulatorControl;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * `tagwall emulator` in its own process, as Azure would be on another machine: in this one it
 * would take its share of the event loop and the measurement would be of both. `args` go to the
 * command as given (`--seed FILE`, `--empty`, `--latency-ms N`).
 */
export async function startEmulatorProcess(work: string, args: readonly string[]): Promise<EmulatorProcess> {
  const child = spawn(process.execPath, [CLI, 'emulator', ...args, '--state-dir', join(work, 'emulator')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      // Only the banner is needed; the vault list of a big seed need not pile up here.
      if (out.length < 4096) out += d;
      const m = /listening on (https:\/\/\S+)/.exec(out);
      if (m !== null) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`the emulator exited (${code}): ${out}`)));
  });
  const caCert = await readFile(join(work, 'emulator', 'ca.pem'), 'utf8');
  const control = connectEmulatorControl(url, caCert);
  return {
    url,
    caCert,
    control,
    child,
    async stop() {
      await control.close();
      const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readEmulatorSeedFile, type EmulatorSeed } from './model.js';
import { sampleSeed } from './sample.js';
import { startEmulator, type Emulator } from './server.js';

export interface EmulatorCommandOptions {
  readonly port?: number;
  /** A seed file; without one the emulator starts with the two sample vaults. */
  readonly seed?: string;
  /** Start with no vaults at all (ignored when `seed` is given). */
  readonly empty?: boolean;
  /** Where the CA lives; defaults to .tagwall/emulator under the working directory. */
  readonly stateDir?: string;
  readonly latencyMs?: number;
  readonly oldApi?: boolean;
  /** Where to write the shell settings that point tagwall at the emulator; default `<stateDir>/env`. */
  readonly envFile?: string;
  /** Stops the emulator, as SIGINT and SIGTERM do. */
  readonly signal?: AbortSignal;
  /** Called once the emulator is listening (the demo and tests use it). */
  readonly onReady?: (emulator: Emulator) => void;
}

function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * `tagwall emulator`: runs the emulator (every firewall kind tagwall writes) in the foreground and prints how to
 * point tagwall and the Azure SDK at it. Resolves once it has stopped.
 */
/** What the command touches of the outside world: the CLI passes its own (cli/io.ts), a test its streams. */
export interface EmulatorIO {
  readonly stdout: NodeJS.WritableStream;
  readonly cwd: string;
}

function writeLine(stream: NodeJS.WritableStream, line = ''): void {
  stream.write(`${line}\n`);
}

export async function runEmulatorCommand(options: EmulatorCommandOptions, io: EmulatorIO): Promise<void> {
  const seed: EmulatorSeed =
    options.seed !== undefined
      ? await readEmulatorSeedFile(isAbsolute(options.seed) ? options.seed : resolve(io.cwd, options.seed))
      : options.empty === true
        ? { vaults: [] }
        : sampleSeed();
  const stateDir = options.stateDir === undefined ? join(io.cwd, '.tagwall', 'emulator') : resolve(io.cwd, options.stateDir);
  const emulator = await startEmulator({
    port: options.port ?? 0,
    seed,
    stateDir,
    ...(options.latencyMs === undefined ? {} : { latencyMs: options.latencyMs }),
    ...(options.oldApi === undefined ? {} : { oldApi: options.oldApi }),
  });
  const out = io.stdout;
  writeLine(out, `Azure emulator (ARM for every firewall kind tagwall writes, perimeters, Resource Graph, managed identity) listening on ${emulator.url}`);
  writeLine(out, `CA certificate: ${emulator.caPath ?? '(in memory)'}`);
  // Every seeded firewall, vaults and the other kinds alike: the provider in each ID says its kind.
  const firewalls = [...seed.vaults.map((v) => v.id), ...(seed.resources ?? []).map((r) => r.id)];
  writeLine(out, `Firewalls (${firewalls.length}):`);
  for (const id of firewalls) writeLine(out, `  ${id}`);
  if (seed.perimeters !== undefined && seed.perimeters.length > 0) {
    writeLine(out, `Network Security Perimeters (${seed.perimeters.length}):`);
    for (const p of seed.perimeters) writeLine(out, `  ${p.id} (${(p.associations ?? []).length} associations)`);
  }
  // One file a shell can source: Node trusts the CA, the SDK finds the managed identity, and the
  // plain app settings (TAGWALL_VAULTS + TAGWALL_SELECT) reach this emulator instead of Azure.
  const exports = [
    ...(emulator.caPath === undefined ? [] : [`export NODE_EXTRA_CA_CERTS=${shellQuote(emulator.caPath)}`]),
    `export IDENTITY_ENDPOINT=${shellQuote(emulator.identityEndpoint)}`,
    `export IDENTITY_HEADER=${shellQuote(emulator.identityHeader)}`,
    `export TAGWALL_ARM_ENDPOINT=${shellQuote(emulator.url)}`,
  ];
  const envFile = options.envFile === undefined ? join(stateDir, 'env') : resolve(io.cwd, options.envFile);
  await mkdir(dirname(envFile), { recursive: true });
  await writeFile(envFile, `${exports.join('\n')}\n`);
  writeLine(out);
  writeLine(out, `In the shell that runs tagwall: source ${shellQuote(envFile)}   (it holds)`);
  for (const line of exports) writeLine(out, `  ${line}`);
  writeLine(out, `and in a config file: "arm": { "endpoint": "${emulator.url}" } (TAGWALL_ARM_ENDPOINT does this for the plain app settings)`);
  // The built CLI by its path: `npx tagwall` outside the checkout would fetch whatever the npm registry holds under that name.
  writeLine(out, `Then run this checkout's tagwall: node ${shellQuote(fileURLToPath(new URL('../cli/main.js', import.meta.url)))} sync --dry-run`);
  writeLine(out, `Control API (tests and demos): ${emulator.url}/_emulator/ (vaults, perimeters, seed, reset, faults, settings, requests)`);
  writeLine(out, 'Press Ctrl+C to stop.');
  options.onReady?.(emulator);

  await new Promise<void>((done) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      options.signal?.removeEventListener('abort', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    if (options.signal?.aborted === true) stop();
    else options.signal?.addEventListener('abort', stop, { once: true });
  });
  await emulator.close();
  writeLine(out, 'Emulator stopped.');
}

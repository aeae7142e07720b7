import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { TagwallError } from './core/errors.js';
import { invalid, parseConfig, type RawConfig, type TagwallConfig } from './config.js';

/**
 * Where a configuration comes from: a file, the app setting TAGWALL_CONFIG (JSON text),
 * TAGWALL_CONFIG_PATH, or the plain settings for the common case. Every source goes through
 * parseConfig, so they are checked the same way.
 */

export async function loadConfigFile(path: string, cwd: string, defaultState?: RawConfig['state']): Promise<TagwallConfig> {
  const full = resolve(cwd, path);
  let text: string;
  try {
    text = await readFile(full, 'utf8');
  } catch (e) {
    throw new TagwallError('CONFIG_UNREADABLE', `${path}: cannot read the configuration (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseConfig(withDefaultState(parseJson(text, path), defaultState), { baseDir: dirname(full), source: path });
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new TagwallError('CONFIG_INVALID', `${source}: not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Where the Functions app and the CLI find their configuration, in order: an explicit file,
 * TAGWALL_CONFIG (JSON text), TAGWALL_CONFIG_PATH, or the plain settings TAGWALL_VAULTS +
 * TAGWALL_SELECT (+ TAGWALL_CLOUD) for the common case. `defaultState` is used when the
 * configuration names no state store (the Functions app keeps state in AzureWebJobsStorage).
 */
export async function loadConfig(options: { file?: string; env: NodeJS.ProcessEnv; cwd: string; defaultState?: RawConfig['state'] }): Promise<TagwallConfig> {
  const { env, defaultState } = options;
  if (options.file !== undefined) return loadConfigFile(options.file, options.cwd, defaultState);
  if (env.TAGWALL_CONFIG !== undefined && env.TAGWALL_CONFIG.trim() !== '') {
    return parseConfig(withDefaultState(parseJson(env.TAGWALL_CONFIG, 'TAGWALL_CONFIG'), defaultState), { baseDir: options.cwd, source: 'TAGWALL_CONFIG' });
  }
  if (env.TAGWALL_CONFIG_PATH !== undefined && env.TAGWALL_CONFIG_PATH.trim() !== '') return loadConfigFile(env.TAGWALL_CONFIG_PATH, options.cwd, defaultState);
  if (env.TAGWALL_VAULTS !== undefined || env.TAGWALL_SELECT !== undefined) {
    const problems: string[] = [];
    const vaults = (env.TAGWALL_VAULTS ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '');
    const select = (env.TAGWALL_SELECT ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '');
    if (vaults.length === 0) problems.push('TAGWALL_VAULTS: set it to one or more resource IDs of firewalls to keep in step (Key Vaults, Storage accounts, ...), comma-separated');
    if (select.length === 0) problems.push('TAGWALL_SELECT: set it to the service tags to allow, comma-separated');
    if (problems.length > 0) throw invalid('app settings', problems);
    // Any supported firewall's resource ID may be listed; the name is historical.
    const raw: Record<string, unknown> = { targets: vaults.map((id) => (/\/providers\/Microsoft\.KeyVault\/vaults\//i.test(id) ? { vault: id, select } : { resource: id, select })) };
    if (env.TAGWALL_CLOUD !== undefined && env.TAGWALL_CLOUD !== '') raw.cloud = env.TAGWALL_CLOUD;
    // So the plain settings can be tried against the local emulator and a local or mirrored file.
    if (env.TAGWALL_ARM_ENDPOINT !== undefined && env.TAGWALL_ARM_ENDPOINT.trim() !== '') raw.arm = { endpoint: env.TAGWALL_ARM_ENDPOINT.trim() };
    const tags = env.TAGWALL_SERVICE_TAGS?.trim();
    if (tags !== undefined && tags !== '') raw.serviceTags = /^https:\/\//i.test(tags) ? { source: 'url', url: tags } : { source: 'file', path: tags };
    try {
      return parseConfig(withDefaultState(raw, defaultState), { baseDir: options.cwd, source: 'app settings' });
    } catch (e) {
      // Name the settings a person set, not the JSON paths they were turned into.
      if (!(e instanceof TagwallError) || e.code !== 'CONFIG_INVALID') throw e;
      const renamed = [...new Set(e.details.map(settingName))];
      throw invalid('app settings', renamed);
    }
  }
  throw new TagwallError('CONFIG_MISSING', 'no configuration: pass --config FILE, or set TAGWALL_CONFIG, TAGWALL_CONFIG_PATH, or TAGWALL_VAULTS and TAGWALL_SELECT');
}

function settingName(problem: string): string {
  return problem
    .replace(/^cloud:/, 'TAGWALL_CLOUD:')
    .replace(/^targets\[(\d+)\]\.vault:/, (_, i: string) => `TAGWALL_VAULTS (item ${Number(i) + 1}):`)
    .replace(/^targets\[(\d+)\]\.resource:/, (_, i: string) => `TAGWALL_VAULTS (item ${Number(i) + 1}):`)
    .replace(/^targets\[\d+\]\.select(\[\d+\])?:/, 'TAGWALL_SELECT:')
    .replace(/^arm(\.endpoint)?:/, 'TAGWALL_ARM_ENDPOINT:')
    .replace(/^serviceTags(\.[a-z]+)?:/i, 'TAGWALL_SERVICE_TAGS:');
}

function withDefaultState(raw: unknown, state: RawConfig['state'] | undefined): unknown {
  if (state === undefined || typeof raw !== 'object' || raw === null || Array.isArray(raw) || 'state' in raw) return raw;
  return { ...raw, state };
}

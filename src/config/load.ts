import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { TagwallError } from '../core/errors.js';
import { jsonErrorPlace } from './suggest.js';
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
    const place = jsonErrorPlace(text, (e as Error).message);
    throw new TagwallError('CONFIG_INVALID', `${source}${place === undefined ? '' : `:${place}`}: not valid JSON (${(e as Error).message})`);
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
  const discoverTag = env.TAGWALL_DISCOVER_TAG?.trim();
  if (env.TAGWALL_VAULTS !== undefined || env.TAGWALL_SELECT !== undefined || (discoverTag !== undefined && discoverTag !== '')) {
    const problems: string[] = [];
    const list = (text: string | undefined) => (text ?? '').split(',').map((v) => v.trim()).filter((v) => v !== '');
    const vaults = list(env.TAGWALL_VAULTS);
    const select = list(env.TAGWALL_SELECT);
    const discovering = discoverTag !== undefined && discoverTag !== '';
    if (vaults.length === 0 && !discovering) problems.push('TAGWALL_VAULTS: set it to one or more resource IDs of firewalls to keep in step (Key Vaults, Storage accounts, ...), comma-separated, or set TAGWALL_DISCOVER_TAG to find them by tag');
    if (vaults.length > 0 && select.length === 0) problems.push('TAGWALL_SELECT: set it to the service tags to allow, comma-separated');
    let profiles: unknown;
    if (env.TAGWALL_PROFILES !== undefined && env.TAGWALL_PROFILES.trim() !== '') {
      try {
        profiles = JSON.parse(env.TAGWALL_PROFILES);
      } catch (e) {
        problems.push(`TAGWALL_PROFILES: not valid JSON (${(e as Error).message}); it is an object of profiles, e.g. {"devops": {"select": ["AzureDevOps"]}}`);
      }
    } else if (discovering) {
      problems.push('TAGWALL_PROFILES: discovery needs at least one profile for the tag to name, e.g. {"devops": {"select": ["AzureDevOps"]}}');
    }
    if (problems.length > 0) throw invalid('app settings', problems);
    // Any supported firewall's resource ID may be listed; the name is historical.
    const raw: Record<string, unknown> = { targets: vaults.map((id) => (/\/providers\/Microsoft\.KeyVault\/vaults\//i.test(id) ? { vault: id, select } : { resource: id, select })) };
    if (profiles !== undefined) raw.profiles = profiles;
    if (discovering) {
      const subscriptions = list(env.TAGWALL_DISCOVER_SUBSCRIPTIONS);
      const groups = list(env.TAGWALL_DISCOVER_MANAGEMENT_GROUPS);
      // Both go to the schema, which refuses both at once rather than one silently narrowing the other.
      raw.discover = { tag: discoverTag, scope: { ...(subscriptions.length > 0 ? { subscriptions } : {}), ...(groups.length > 0 ? { managementGroups: groups } : {}) } };
    }
    if (env.TAGWALL_CLOUD !== undefined && env.TAGWALL_CLOUD !== '') raw.cloud = env.TAGWALL_CLOUD;
    if (env.TAGWALL_OWNER_ID !== undefined && env.TAGWALL_OWNER_ID.trim() !== '') raw.ownerId = env.TAGWALL_OWNER_ID.trim();
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
  throw new TagwallError('CONFIG_MISSING', 'no configuration: pass --config FILE, or set TAGWALL_CONFIG, TAGWALL_CONFIG_PATH, TAGWALL_VAULTS and TAGWALL_SELECT, or TAGWALL_DISCOVER_TAG and TAGWALL_PROFILES');
}

function settingName(problem: string): string {
  return problem
    .replace(/^cloud:/, 'TAGWALL_CLOUD:')
    .replace(/^ownerId:/, 'TAGWALL_OWNER_ID:')
    .replace(/^targets\[(\d+)\]\.vault:/, (_, i: string) => `TAGWALL_VAULTS (item ${Number(i) + 1}):`)
    .replace(/^targets\[(\d+)\]\.resource:/, (_, i: string) => `TAGWALL_VAULTS (item ${Number(i) + 1}):`)
    .replace(/^targets\[\d+\]\.select(\[\d+\])?:/, 'TAGWALL_SELECT:')
    .replace(/^arm(\.endpoint)?:/, 'TAGWALL_ARM_ENDPOINT:')
    .replace(/^profiles(\.|:)/, 'TAGWALL_PROFILES$1')
    .replace(/^discover\.tag:/, 'TAGWALL_DISCOVER_TAG:')
    .replace(/^discover\.scope\.subscriptions(\[\d+\])?:/, 'TAGWALL_DISCOVER_SUBSCRIPTIONS:')
    .replace(/^discover\.scope\.managementGroups(\[\d+\])?:/, 'TAGWALL_DISCOVER_MANAGEMENT_GROUPS:')
    .replace(/^discover\.scope:/, 'TAGWALL_DISCOVER_SUBSCRIPTIONS, TAGWALL_DISCOVER_MANAGEMENT_GROUPS:')
    .replace(/^serviceTags(\.[a-z]+)?:/i, 'TAGWALL_SERVICE_TAGS:');
}

function withDefaultState(raw: unknown, state: RawConfig['state'] | undefined): unknown {
  if (state === undefined || typeof raw !== 'object' || raw === null || Array.isArray(raw) || 'state' in raw) return raw;
  return { ...raw, state };
}

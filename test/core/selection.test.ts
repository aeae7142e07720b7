import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { isTagwallError, type TagwallError } from '../../src/core/errors.js';
import { closest, selectTags, splitSelectors, TagIndex } from '../../src/core/selection.js';
import type { ServiceTagDocument } from '../../src/core/service-tags.js';
import { loadServiceTagFile } from '../../src/sources/file.js';
import { tinyDocument } from './documents.js';

const PUBLIC = fileURLToPath(new URL('../../src/data/ServiceTags_Public_20251013.json.gz', import.meta.url));

let doc: ServiceTagDocument;
let index: TagIndex;

beforeAll(async () => {
  doc = await loadServiceTagFile(PUBLIC);
  index = new TagIndex(doc);
});

const names = (selectors: string[]) => selectTags(index, selectors).tags.map((t) => t.name);

function selectionError(selectors: string[], idx = index): TagwallError {
  try {
    selectTags(idx, selectors);
  } catch (e) {
    if (isTagwallError(e)) return e;
    throw e;
  }
  throw new Error(`${JSON.stringify(selectors)} was accepted`);
}

/** The names after "close names: " in one message or detail line. */
function closeNames(line: string): string[] {
  const at = line.indexOf('close names: ');
  return at === -1 ? [] : line.slice(at + 'close names: '.length).split(', ');
}

describe('exact names', () => {
  it.each([
    ['AzureCloud.WestEurope', 'AzureCloud.westeurope'],
    ['azurecloud.westeurope', 'AzureCloud.westeurope'],
    ['logicapps', 'LogicApps'],
    ['STORAGE.FRANCECENTRAL', 'Storage.FranceCentral'],
    ['AzureFrontDoor.Backend', 'AzureFrontDoor.Backend'],
  ])('%s picks %s', (selector, name) => {
    expect(names([selector])).toEqual([name]);
  });

  it('picks a tag once however often it is named, in the order of the file', () => {
    const picked = names(['PowerBI', 'LogicApps', 'logicapps', 'Logic*']);
    const logicApps = doc.tags.filter((t) => /^logic.*$/i.test(t.name)).map((t) => t.name);
    expect(new Set(picked).size).toBe(picked.length);
    expect(picked).toEqual(doc.tags.filter((t) => t.name === 'PowerBI' || logicApps.includes(t.name)).map((t) => t.name));
  });
});

describe('wildcards', () => {
  it('Storage.* picks every regional Storage tag and not Storage itself', () => {
    const picked = names(['Storage.*']);
    expect(picked).toEqual(doc.tags.filter((t) => t.name.toLowerCase().startsWith('storage.')).map((t) => t.name));
    expect(picked.length).toBeGreaterThan(50);
    expect(picked).not.toContain('Storage');
    expect(picked).toContain('Storage.FranceCentral');
  });

  it('* picks every tag, in file order', () => {
    expect(names(['*'])).toEqual(doc.tags.map((t) => t.name));
  });

  it('*.westeurope matches both name spellings', () => {
    const picked = names(['*.westeurope']);
    expect(picked).toContain('AzureCloud.westeurope');
    expect(picked).toContain('Storage.WestEurope');
    expect(picked.every((n) => n.toLowerCase().endsWith('.westeurope'))).toBe(true);
  });

  it('treats regex characters in a selector literally', () => {
    const tiny = new TagIndex(tinyDocument([{ name: 'AxB', prefixes: ['52.0.0.0/24'] }, { name: 'A.B', prefixes: ['52.0.1.0/24'] }]));
    expect(selectTags(tiny, ['A.*']).tags.map((t) => t.name)).toEqual(['A.B']);
    expect(selectTags(tiny, ['A.B']).tags.map((t) => t.name)).toEqual(['A.B']);
  });
});

describe('service@region', () => {
  it('Storage@centralfrance and Storage@francecentral both pick Storage.FranceCentral', () => {
    expect(names(['Storage@centralfrance'])).toEqual(['Storage.FranceCentral']);
    expect(names(['Storage@francecentral'])).toEqual(['Storage.FranceCentral']);
    expect(names(['storage@FranceCentral'])).toEqual(['Storage.FranceCentral']);
  });

  it('LogicApps@westeurope picks the regional tag, not the global one', () => {
    expect(names(['LogicApps@westeurope'])).toEqual(['LogicApps.WestEurope']);
  });

  it('*@centralfrance picks every tag in that region', () => {
    const picked = names(['*@centralfrance']);
    expect(picked).toEqual(doc.tags.filter((t) => t.region === 'centralfrance').map((t) => t.name));
    expect(picked).toContain('Storage.FranceCentral');
    expect(picked).toContain('AzureCloud.centralfrance');
  });
});

describe('unknown selectors', () => {
  it('names up to five close tags that exist', () => {
    const e = selectionError(['AzureClod.westeurope']);
    expect(e.code).toBe('UNKNOWN_SELECTOR');
    expect(e.message).toContain('"AzureClod.westeurope"');
    const hints = closeNames(e.message);
    expect(hints[0]).toBe('AzureCloud.westeurope');
    expect(hints.length).toBeGreaterThan(0);
    expect(hints.length).toBeLessThanOrEqual(5);
    for (const h of hints) expect(doc.tags.some((t) => t.name === h)).toBe(true);
  });

  it('suggests service@region forms for an unknown region', () => {
    const hints = closeNames(selectionError(['Storage@narnia']).message);
    expect(hints.length).toBeGreaterThan(0);
    expect(hints.length).toBeLessThanOrEqual(5);
    for (const h of hints) {
      expect(h).toMatch(/^Storage@/);
      expect(names([h]).length).toBeGreaterThan(0);
    }
  });

  it('reports every unknown selector at once, with the file it looked in', () => {
    const e = selectionError(['Nope.One', 'LogicApps', 'Storag@westeurope', 'Zzz*']);
    expect(e.code).toBe('UNKNOWN_SELECTOR');
    expect(e.message).toContain('3 service tag selectors');
    expect(e.message).toContain(PUBLIC);
    expect(e.details).toHaveLength(3);
    expect(e.details[0]).toContain('"Nope.One"');
    expect(e.details[1]).toContain('"Storag@westeurope"');
    expect(closeNames(e.details[1]!)).toContain('Storage@westeurope');
    expect(e.details[2]).toContain('"Zzz*"');
  });

  it('refuses an empty selector', () => {
    expect(selectionError(['']).code).toBe('UNKNOWN_SELECTOR');
  });

  it('closest keeps to the count asked for', () => {
    const all = doc.tags.map((t) => t.name);
    expect(closest('Storage.WestEurop', all)).toHaveLength(5);
    expect(closest('Storage.WestEurop', all, 2)).toHaveLength(2);
    expect(closest('Storage.WestEurop', all)[0]).toBe('Storage.WestEurope');
    expect(closest('qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq', ['LogicApps'])).toEqual([]);
  });
});

describe('warnings', () => {
  it('warns when a selector adds no IPv4 prefix', () => {
    const sel = selectTags(index, ['AzureSignalR.FranceSouth', 'LogicApps']);
    expect(sel.tags.map((t) => t.name).sort()).toEqual(['AzureSignalR.FranceSouth', 'LogicApps']);
    expect(sel.warnings).toHaveLength(1);
    expect(sel.warnings[0]).toContain('"AzureSignalR.FranceSouth"');
    expect(sel.warnings[0]).toContain('no IPv4');
  });

  it('warns about the AzureCloud family, whoever names it', () => {
    for (const selector of ['AzureCloud.westeurope', 'AzureCloud', '*.westeurope']) {
      const w = selectTags(index, [selector]).warnings;
      expect(w.some((line) => line.includes('AzureCloud') && line.includes('shared by all Azure tenants')), selector).toBe(true);
    }
    const all = selectTags(index, ['*']).warnings.find((line) => line.includes('AzureCloud family'))!;
    const family = doc.tags.filter((t) => t.name.toLowerCase().startsWith('azurecloud')).length;
    expect(all).toContain(`and ${family - 3} more`);
  });

  it('stays quiet for an ordinary service', () => {
    expect(selectTags(index, ['LogicApps', 'PowerBI']).warnings).toEqual([]);
  });
});

describe('splitSelectors', () => {
  it('splits on commas and trims', () => {
    expect(splitSelectors(['LogicApps, PowerBI', ' Storage.* '])).toEqual(['LogicApps', 'PowerBI', 'Storage.*']);
  });

  it.each(['LogicApps,,PowerBI', 'LogicApps,', ' ', ''])('refuses an empty part in %j', (value) => {
    expect(() => splitSelectors([value])).toThrow(expect.objectContaining({ code: 'SELECTOR_EMPTY' }));
  });
});

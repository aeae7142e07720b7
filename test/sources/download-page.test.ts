import { describe, expect, it } from 'vitest';
import {
  embeddedDownloadDetails, fileDateOf, findLinksInPage, newestLink, probeCandidates, recentMondays,
} from '../../src/sources/download-page.js';
import { dlcDetailsPage, hrefPage, NO_LINK_PAGE } from './https-test-server.js';

const PAGE = 'https://www.microsoft.com/en-us/download/details.aspx?id=56519';
const DIR = 'https://download.microsoft.com/download/7/1/D/71D86715-5596-4529-9B13-DA13A5DE5B63';

describe('finding links in the download page', () => {
  it('reads the embedded __DLCDetails__ JSON and ignores other clouds and files', () => {
    const html = dlcDetailsPage([
      { name: 'ServiceTags_Public_20251006.json', url: `${DIR}/ServiceTags_Public_20251006.json` },
      { name: 'ServiceTags_China_20251013.json', url: `${DIR}/ServiceTags_China_20251013.json` },
      { name: 'readme.txt', url: `${DIR}/readme.txt` },
      { name: 'ServiceTags_Public_20251013.json', url: `${DIR}/ServiceTags_Public_20251013.json` },
    ]);
    const links = findLinksInPage(html, 'Public', PAGE);
    expect(links.map((l) => [l.date, l.origin])).toEqual([['20251006', 'page-data'], ['20251013', 'page-data']]);
    expect(newestLink(links)?.url).toBe(`${DIR}/ServiceTags_Public_20251013.json`);
  });

  it('takes the date from the name when the URL does not carry it', () => {
    const html = dlcDetailsPage([{ name: 'ServiceTags_AzureGovernment_20251013.json', url: 'https://download.microsoft.com/download/x/y/confirm?id=57063' }]);
    expect(findLinksInPage(html, 'AzureGovernment', PAGE)[0]?.date).toBe('20251013');
  });

  it('survives escaped slashes and a brace inside a string', () => {
    const html = `<script>window.__DLCDetails__ = {"x":"}{","dlcDetailsView":{"downloadFile":[{"url":"https:\\/\\/download.microsoft.com\\/download\\/a\\/ServiceTags_China_20251013.json"}]}};</script>`;
    expect(embeddedDownloadDetails(html)).toBeTypeOf('object');
    expect(findLinksInPage(html, 'China', PAGE)[0]?.url).toBe('https://download.microsoft.com/download/a/ServiceTags_China_20251013.json');
  });

  it('falls back to any matching URL in the text, case-insensitively, escaped or not', () => {
    expect(findLinksInPage(hrefPage(`${DIR}/ServiceTags_Public_20250414.json`), 'Public', PAGE)[0]).toMatchObject({ date: '20250414', origin: 'page-text' });
    const script = `<script>var u = "HTTPS:\\u002F\\u002Fdownload.microsoft.com\\u002Fdownload\\u002F7\\u002Fservicetags_public_20251013.json";</script>`;
    expect(findLinksInPage(script, 'Public', PAGE)[0]?.url).toBe('HTTPS://download.microsoft.com/download/7/servicetags_public_20251013.json');
    // Broken embedded data does not hide a link elsewhere in the page.
    const broken = `<script>window.__DLCDetails__={"dlcDetailsView":</script><a href="${DIR}/ServiceTags_Public_20251013.json">x</a>`;
    expect(findLinksInPage(broken, 'Public', PAGE)).toHaveLength(1);
  });

  it('finds nothing on a page without a link, or with impossible dates', () => {
    expect(findLinksInPage(NO_LINK_PAGE, 'Public', PAGE)).toEqual([]);
    expect(findLinksInPage(hrefPage(`${DIR}/ServiceTags_Public_20251332.json`), 'Public', PAGE)).toEqual([]);
    expect(findLinksInPage(hrefPage(`${DIR}/ServiceTags_Public_20251013.json.bak`), 'Public', PAGE)).toEqual([]);
    expect(fileDateOf(`${DIR}/ServiceTags_Public_20240230.json`, 'Public')).toBeUndefined();
    expect(fileDateOf(`${DIR}/ServiceTags_Public_20240229.json`, 'Public')).toBe('20240229');
  });
});

describe('probing recent Mondays', () => {
  it('lists the last five Mondays, today first when it is a Monday', () => {
    expect(recentMondays(new Date('2025-10-13T00:30:00Z'))).toEqual(['20251013', '20251006', '20250929', '20250922', '20250915']);
    expect(recentMondays(new Date('2025-10-19T23:59:00Z'))).toEqual(['20251013', '20251006', '20250929', '20250922', '20250915']);
    expect(recentMondays(new Date('2025-10-20T00:00:00Z'))[0]).toBe('20251020');
    expect(recentMondays(new Date('2025-03-05T12:00:00Z'))).toEqual(['20250303', '20250224', '20250217', '20250210', '20250203']);
  });

  it('builds the file URLs under the probe folder, with or without a trailing slash', () => {
    const a = probeCandidates(DIR, 'AzureGovernment', new Date('2025-10-16T00:00:00Z'));
    const b = probeCandidates(`${DIR}/`, 'AzureGovernment', new Date('2025-10-16T00:00:00Z'));
    expect(a).toEqual(b);
    expect(a[0]).toEqual({ url: `${DIR}/ServiceTags_AzureGovernment_20251013.json`, date: '20251013', origin: 'probe' });
  });
});

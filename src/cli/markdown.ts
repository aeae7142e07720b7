import type { TargetReport } from '../core/report.js';
import type { RunReport } from '../run/report.js';

/**
 * The run's report as Markdown for a pull-request comment (`--format markdown`): one table row
 * per target, the findings, and each target's lists folded in <details>. GitHub refuses a
 * comment over 65,536 characters, so what does not fit is left out, last first, with a note
 * saying what and where the whole report is.
 */

export const GITHUB_COMMENT_LIMIT = 65_536;

/** Problems first: when the comment is cut, what needs a person is what stays. */
const ORDER: Record<string, number> = { failed: 0, refused: 1, pending: 2, applied: 3, skipped: 4, 'in-sync': 5 };

/** Text safe in a table cell (and on one line). */
export function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function nameOf(id: string): string {
  return id.slice(id.lastIndexOf('/') + 1);
}

function codesOf(v: TargetReport): string[] {
  return [...new Set([...(v.error === undefined ? [] : [v.error.code]), ...v.reasons.map((r) => r.code)])];
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function heading(report: RunReport, vaults: readonly TargetReport[], command: string): string {
  const by = new Map<string, number>();
  for (const v of vaults) by.set(v.outcome, (by.get(v.outcome) ?? 0) + 1);
  const outcomes = [...by].map(([o, n]) => `${n} ${o}`).join(', ');
  return `### tagwall ${command}${report.dryRun ? ' (dry run: nothing was written)' : ''}: ${plural(report.vaults.length, 'target')}${outcomes === '' ? '' : `, ${outcomes}`}`;
}

function row(v: TargetReport): string {
  const used = v.rules.managed + v.rules.unmanaged + v.rules.shared;
  const codes = codesOf(v);
  return `| ${cell(v.kind ?? "-")} | \`${cell(nameOf(v.vault))}\` | ${v.outcome} | ${v.add.length} | ${v.remove.length} | ${used}/${v.rules.limit} | ${codes.length === 0 ? '-' : codes.map((c) => `\`${c}\``).join(' ')} |`;
}

function details(v: TargetReport): string | undefined {
  const lists: [string, readonly string[]][] = [
    [v.outcome === 'applied' ? 'added' : 'add', v.add],
    [v.outcome === 'applied' ? 'removed' : 'remove', v.remove],
    ['drift', v.drift.map((d) => d.detail)],
    ['unmanaged (kept)', v.unmanaged],
  ];
  const shown = lists.filter(([, items]) => items.length > 0);
  if (shown.length === 0 && v.error === undefined && v.reasons.length === 0) return undefined;
  const notes = [
    ...(v.error === undefined ? [] : [`- error \`${v.error.code}\`: ${cell(v.error.message)}`]),
    ...v.reasons.map((r) => `- ${v.outcome === 'refused' ? 'refused' : 'note'} \`${r.code}\`: ${cell(r.message)}`),
  ];
  // Blank lines between the parts: GitHub renders Markdown inside <details> only after one.
  return [
    `<details><summary><code>${nameOf(v.vault)}</code>: ${shown.map(([label, items]) => `${items.length} ${label}`).join(', ') || v.outcome}</summary>`,
    `\`${v.vault}\``,
    ...(notes.length === 0 ? [] : [notes.join('\n')]),
    ...shown.map(([label, items]) => [`${label}:`, '```', ...items, '```'].join('\n')),
    '</details>',
  ].join('\n\n');
}

export function renderRunMarkdown(report: RunReport, options: { readonly command?: string; readonly limit?: number } = {}): string {
  const limit = options.limit ?? GITHUB_COMMENT_LIMIT;
  const vaults = [...report.vaults].sort((a, b) => (ORDER[a.outcome] ?? 9) - (ORDER[b.outcome] ?? 9));
  const st = report.serviceTags;
  const head = [
    heading(report, vaults, options.command ?? 'sync'),
    '',
    `Service tags: ${st.cloud}, change ${st.changeNumber}${st.cacheUsed ? ' (last-known-good cache)' : ''}`,
    ...st.warnings.map((w) => `- warning: ${cell(w)}`),
    ...(report.errors ?? []).map((e) => `- error \`${e.code}\`: ${cell(e.message)}`),
    '',
  ];
  const rows = vaults.map(row);
  const findings = [
    ...(report.fleet?.findings ?? []).map((f) => `- **${f.severity}** \`${f.code}\`: ${cell(f.message)}`),
    ...vaults.flatMap((v) => {
      const said = new Set<string>(v.reasons.map((r) => r.code));
      return v.findings.filter((f) => !said.has(f.code)).map((f) => `- **${f.severity}** \`${f.code}\` on \`${cell(nameOf(v.vault))}\`: ${cell(f.message)}`);
    }),
  ];
  const blocks = vaults.flatMap((v) => details(v) ?? []);

  // Reserved for the note on what was left out.
  const budget = limit - 400;
  const out: string[] = [...head];
  let size = out.join('\n').length;
  const fits = (text: string): boolean => size + text.length + 1 <= budget;
  const add = (text: string): void => {
    out.push(text);
    size += text.length + 1;
  };
  const left = { rows: 0, findings: 0, details: 0 };
  if (rows.length > 0) {
    add('| kind | target | outcome | adds | removes | rules used/limit | codes |');
    add('| --- | --- | --- | ---: | ---: | ---: | --- |');
    for (const r of rows) if (left.rows === 0 && fits(r)) add(r); else left.rows++;
  }
  if (findings.length > 0 && fits('\n#### Findings\n')) {
    add('');
    add('#### Findings');
    add('');
    for (const f of findings) if (left.findings === 0 && fits(f)) add(f); else left.findings++;
  } else left.findings = findings.length;
  for (const b of blocks) if (left.details === 0 && fits(`\n${b}`)) add(`\n${b}`); else left.details++;
  if (left.rows + left.findings + left.details > 0) {
    const parts = [left.rows > 0 ? `${plural(left.rows, 'target')} of the table` : '', left.findings > 0 ? plural(left.findings, 'finding') : '', left.details > 0 ? `${left.details} target details` : ''].filter((p) => p !== '');
    add('');
    add(`> Truncated to fit a GitHub comment (${limit} characters): ${parts.join(', ')} not shown. The whole report: \`--json\`.`);
  }
  return out.join('\n');
}

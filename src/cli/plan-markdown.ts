import type { WideningReport } from '../core/explain.js';
import type { Finding } from '../core/plan/model.js';
import { count, plural } from '../core/text.js';
import { cell, GITHUB_COMMENT_LIMIT } from './markdown.js';

/**
 * One plan as Markdown for a pull-request comment (`plan --format markdown`), in the shape of
 * sync's (markdown.ts): a heading that says what sync would do, a table of the figures, every
 * guard's verdict, the findings (a configured target's: its temporary entries among them), and the
 * rule lists folded in <details>. What does not fit GitHub's 65,536 characters is left out, the
 * rule lists first, with a note.
 */

export interface PlanMarkdownInput {
  readonly serviceTags: string;
  readonly warnings: readonly string[];
  /** A configured target (`--config --target`): its resource ID, kind's title and last record, in words. */
  readonly target?: { readonly id: string; readonly title: string; readonly record: string };
  /** Label and value, in order. */
  readonly figures: readonly (readonly [string, string])[];
  readonly guards: readonly { readonly code: string; readonly verdict: string; readonly text: string }[];
  readonly findings: readonly Finding[];
  readonly widening?: WideningReport;
  readonly rules: readonly string[];
  readonly add?: readonly string[];
  readonly remove?: readonly string[];
}

/** How many widened rules the comment lists, as the text output does. */
const WIDENED_LIST = 20;

function heading(input: PlanMarkdownInput): string {
  const codes = (verdict: string) => input.guards.filter((g) => g.verdict === verdict).map((g) => `\`${g.code}\``);
  const refused = codes('refused');
  const forced = codes('forced');
  const verdict = refused.length > 0
    ? `sync would refuse this plan (${refused.join(', ')})`
    : forced.length > 0 ? `sync --force would write this plan, overriding ${forced.join(', ')}` : 'sync would write this plan';
  const target = input.target === undefined ? '' : ` for \`${cell(input.target.id.slice(input.target.id.lastIndexOf('/') + 1))}\` (${input.target.title})`;
  return `### tagwall plan${target}: ${verdict}`;
}

function folded(summary: string, items: readonly string[]): string {
  // Blank lines around the block: GitHub renders Markdown inside <details> only after one.
  return [`<details><summary>${summary}</summary>`, ['```', ...items, '```'].join('\n'), '</details>'].join('\n\n');
}

function widened(w: WideningReport): string[] {
  const t = w.totals;
  const lines = [`Widened: ${plural(t.widenedRules, 'rule')} admit ${count(t.excessAddresses)} addresses beyond the source: ${count(t.excessInAzure)} in Azure's own space, ${count(t.excessOutsideAzure)} outside it`];
  if (t.widenedRules === 0) return lines;
  lines.push('', '| rule | source | excess | in Azure | outside | tags |', '| --- | ---: | ---: | ---: | ---: | --- |');
  for (const r of w.rules.slice(0, WIDENED_LIST)) {
    lines.push(`| \`${r.rule}\` | ${count(r.sourceAddresses)} | ${count(r.excessAddresses)} | ${count(r.excessInAzure)} | ${count(r.excessOutsideAzure)} | ${cell(r.tags.join(', '))} |`);
  }
  if (w.rules.length > WIDENED_LIST) lines.push('', `... and ${plural(w.rules.length - WIDENED_LIST, 'narrower widened rule')}`);
  return lines;
}

export function renderPlanMarkdown(input: PlanMarkdownInput, limit = GITHUB_COMMENT_LIMIT): string {
  const head = [
    heading(input),
    '',
    `Service tags: ${cell(input.serviceTags)}`,
    ...(input.target === undefined ? [] : [`Target: \`${cell(input.target.id)}\``, `Last record: ${cell(input.target.record)}`]),
    ...input.warnings.map((w) => `- warning: ${cell(w)}`),
    '',
    '| | |',
    '| --- | --- |',
    ...input.figures.map(([label, value]) => `| ${cell(label)} | ${cell(value)} |`),
    '',
    '#### Guards',
    '',
    '| guard | verdict | detail |',
    '| --- | --- | --- |',
    ...input.guards.map((g) => `| \`${g.code}\` | ${g.verdict === 'refused' ? '**refused**' : g.verdict} | ${cell(g.text)} |`),
    ...(input.findings.length === 0 ? [] : ['', '#### Findings', '', ...input.findings.map((f) => `- **${f.severity}** \`${f.code}\`: ${cell(f.message)}`)]),
    ...(input.widening === undefined ? [] : ['', ...widened(input.widening)]),
  ];
  const lists: [string, readonly string[]][] = [
    ...(input.add === undefined ? [] : [[`${plural(input.add.length, 'rule')} to add`, input.add] as [string, readonly string[]]]),
    ...(input.remove === undefined ? [] : [[`${plural(input.remove.length, 'rule')} to remove`, input.remove] as [string, readonly string[]]]),
    [plural(input.rules.length, 'rule'), input.rules],
  ];
  const blocks = lists.filter(([, items]) => items.length > 0).map(([summary, items]) => folded(summary, items));

  // Reserved for the note on what was left out.
  const budget = limit - 400;
  const out = [...head];
  let size = out.join('\n').length;
  let left = 0;
  for (const b of blocks) {
    if (left === 0 && size + b.length + 2 <= budget) {
      out.push('', b);
      size += b.length + 2;
    } else left++;
  }
  if (left > 0) out.push('', `> Truncated to fit a GitHub comment (${limit} characters): ${plural(left, 'rule list')} not shown. The whole plan: \`--json\`.`);
  return out.join('\n');
}

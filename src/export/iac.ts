import { TagwallError } from '../core/errors.js';
import type { ResourceRef } from '../core/resource-id.js';
import type { FirewallFacts } from '../targets/kind.js';
import { namedRules, ruleObject, type NamedRule } from './named.js';

/**
 * A plan's rules as infrastructure as code takes them (`tagwall plan --format`, docs/IAC.md):
 * a Terraform variables file, a Bicep parameters file, an ARM deployment parameters file, or an
 * az CLI script. Each writes the rules in the form the firewall is written with (the kind's
 * single-address form, no /31 where the kind refuses one); the shape of one rule comes from the
 * kind's facts (`iac`), never from its name. A kind whose rules are named objects (`iac.named`:
 * start/end rules, a container app's restrictions) gets one object per rule, named, in every format.
 */

export const EXPORT_FORMATS = ['tfvars', 'bicepparam', 'arm', 'az'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export interface ExportInput {
  readonly kind: FirewallFacts;
  /** The firewall's whole IP rule list after the plan, in its written form. */
  readonly rules: readonly string[];
  /** What the plan adds and removes (the az script's commands); all of `rules` when planned without a firewall. */
  readonly add: readonly string[];
  readonly remove: readonly string[];
  /** The configured target, for the az script; absent: the script takes the names as arguments. */
  readonly resource?: ResourceRef;
  /** One line saying where the rules came from (tags, file, change number), for the header comment. */
  readonly origin: string;
}

/** The parameter's name in every format: one name, so a template can take any kind's export. */
export const RULES_PARAMETER = 'ipRules';
const TFVARS_VARIABLE = 'ip_rules';

export function renderExport(format: ExportFormat, input: ExportInput): string {
  switch (format) {
    case 'tfvars':
      return tfvars(input);
    case 'bicepparam':
      return bicepparam(input);
    case 'arm':
      return arm(input);
    case 'az':
      return azScript(input);
  }
}

function stringList(rules: readonly string[], indent: string): string {
  if (rules.length === 0) return '[]';
  return `[\n${rules.map((r) => `${indent}${JSON.stringify(r)},`).join('\n')}\n]`;
}

/** "A" or "An" before a title, for the comments. */
const article = (title: string): string => (/^[AEIOU]/.test(title) ? 'An' : 'A');

/** HCL objects on one line each: `{ name = "…", start_ip_address = "…" },`. */
function hclObjects(input: ExportInput, named: readonly NamedRule[]): string {
  if (named.length === 0) return '[]';
  const fields = input.kind.iac.named!.terraform;
  const line = (r: NamedRule) => `  { ${Object.entries(ruleObject(fields, r)).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(', ')} },`;
  return `[\n${named.map(line).join('\n')}\n]`;
}

function tfvars(input: ExportInput): string {
  const named = input.kind.iac.named === undefined ? undefined : namedRules(input.kind, input.rules);
  return [
    `# ${input.origin}`,
    `# ${article(input.kind.title)} ${input.kind.title}'s IP rules, for ${input.kind.iac.terraform} (docs/IAC.md).`,
    ...(named === undefined ? [] : ['# One object per rule, named: for_each = { for r in var.ip_rules : r.name => r }.']),
    `${TFVARS_VARIABLE} = ${named === undefined ? stringList(input.rules, '  ') : hclObjects(input, named)}`,
    '',
  ].join('\n');
}

function bicepparam(input: ExportInput): string {
  // Bicep arrays and objects are newline-separated, without commas; strings are single-quoted.
  const named = input.kind.iac.named;
  const items = named === undefined
    ? input.rules.map((r) => `  '${r}'`).join('\n')
    : namedRules(input.kind, input.rules)
        .map((r) => ['  {', ...Object.entries(ruleObject(named.arm, r)).map(([k, v]) => `    ${k}: '${v}'`), '  }'].join('\n'))
        .join('\n');
  return [
    `// ${input.origin}`,
    `// ${article(input.kind.title)} ${input.kind.title}'s IP rules (docs/IAC.md); main.bicep maps them onto the resource's rule ${named?.childType === undefined ? 'objects' : `child resources (${named.childType})`}.`,
    "using './main.bicep'",
    '',
    `param ${RULES_PARAMETER} = ${input.rules.length === 0 ? '[]' : `[\n${items}\n]`}`,
    '',
  ].join('\n');
}

function armRuleOf(kind: FirewallFacts, rule: string): unknown {
  const shape = kind.iac.armRule;
  return shape === undefined ? rule : { [shape.property]: rule, ...(shape.fixed ?? {}) };
}

function arm(input: ExportInput): string {
  const named = input.kind.iac.named;
  const value = named === undefined ? input.rules.map((r) => armRuleOf(input.kind, r)) : namedRules(input.kind, input.rules).map((r) => ruleObject(named.arm, r));
  const file = {
    $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#',
    contentVersion: '1.0.0.0',
    // A child type tells the template what to make of each object: one child resource per rule.
    metadata: { generator: 'tagwall', origin: input.origin, kind: input.kind.kind, ...(named?.childType === undefined ? {} : { resourceType: named.childType }) },
    parameters: { [RULES_PARAMETER]: { value } },
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** Single-quoted for POSIX shells: nothing inside is expanded. */
function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function azScript(input: ExportInput): string {
  const az = input.kind.iac.az;
  if (az === undefined) {
    throw new TagwallError(
      'USAGE',
      `--format az: a ${input.kind.title}'s az commands only replace the whole IP list, which would drop every rule that is not tagwall's; use --format arm, bicepparam or tfvars, or tagwall sync`,
    );
  }
  const r = input.resource;
  // A configured target names its group and resource; a plan without one takes them as arguments.
  const head = r === undefined
    ? ['group="${1:?usage: $0 <resource-group> <name>}"', 'name="${2:?usage: $0 <resource-group> <name>}"']
    : [`group=${shellQuote(r.resourceGroup)}`, `name=${shellQuote(r.name)}`];
  const named = input.kind.iac.named;
  const line = (template: readonly string[], rule: string, ruleName?: string) => {
    const one = named === undefined ? undefined : namedRules(input.kind, [rule])[0]!;
    return template
      .map((w) => {
        if (w === '{group}') return '"$group"';
        if (w === '{name}') return '"$name"';
        if (w === '{rule-name}' && ruleName !== undefined) return ruleName;
        return shellQuote(w.replace('{rule}', rule).replace('{rule-name}', one?.name ?? '').replace('{start}', one?.start ?? '').replace('{end}', one?.end ?? ''));
      })
      .join(' ');
  };
  const removal = (rule: string): string => {
    if (az.list === undefined) return line(az.remove, rule);
    // The rule's name in Azure is not in the plan: delete each rule named tagwall… holding exactly this range.
    const one = namedRules(input.kind, [rule])[0]!;
    const qualified = az.list.qualifiedNames === true;
    const owned = qualified ? "(starts_with(name, 'tagwall') || contains(name, '/tagwall'))" : "starts_with(name, 'tagwall')";
    const query = `[?${az.list.start}=='${one.start}' && ${az.list.end}=='${one.end}' && ${owned}].name`;
    return `for rule in $(${line(az.list.command, rule)} --query ${shellQuote(query)} --output tsv); do ${line(az.remove, rule, qualified ? '"${rule##*/}"' : '"$rule"')}; done`;
  };
  return [
    '#!/usr/bin/env bash',
    `# ${input.origin}`,
    `# Adds${input.remove.length > 0 ? ' and removes' : ''} ${article(input.kind.title).toLowerCase()} ${input.kind.title}'s IP rules, one az command each (docs/IAC.md).`,
    'set -euo pipefail',
    ...head,
    ...input.remove.map(removal),
    ...input.add.map((rule) => line(az.add, rule)),
    '',
  ].join('\n');
}

import { TagwallError } from '../core/errors.js';
import type { ResourceRef } from '../core/resource-id.js';
import type { FirewallFacts } from '../targets/kind.js';

/**
 * A plan's rules as infrastructure as code takes them (`tagwall plan --format`, docs/IAC.md):
 * a Terraform variables file, a Bicep parameters file, an ARM deployment parameters file, or an
 * az CLI script. Each writes the rules in the form the firewall is written with (the kind's
 * single-address form, no /31 where the kind refuses one); the shape of one rule comes from the
 * kind's facts (`iac`), never from its name.
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

function tfvars(input: ExportInput): string {
  return [
    `# ${input.origin}`,
    `# A ${input.kind.title}'s IP rules, for ${input.kind.iac.terraform} (docs/IAC.md).`,
    `${TFVARS_VARIABLE} = ${stringList(input.rules, '  ')}`,
    '',
  ].join('\n');
}

function bicepparam(input: ExportInput): string {
  // Bicep arrays are newline-separated, without commas; strings are single-quoted.
  const items = input.rules.map((r) => `  '${r}'`).join('\n');
  return [
    `// ${input.origin}`,
    `// A ${input.kind.title}'s IP rules (docs/IAC.md); main.bicep maps them onto the resource's rule objects.`,
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
  const file = {
    $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#',
    contentVersion: '1.0.0.0',
    metadata: { generator: 'tagwall', origin: input.origin, kind: input.kind.kind },
    parameters: { [RULES_PARAMETER]: { value: input.rules.map((r) => armRuleOf(input.kind, r)) } },
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
  const line = (template: readonly string[], rule: string) =>
    template
      .map((w) => {
        if (w === '{group}') return '"$group"';
        if (w === '{name}') return '"$name"';
        return shellQuote(w.replace('{rule}', rule));
      })
      .join(' ');
  return [
    '#!/usr/bin/env bash',
    `# ${input.origin}`,
    `# Adds${input.remove.length > 0 ? ' and removes' : ''} a ${input.kind.title}'s IP rules, one az command each (docs/IAC.md).`,
    'set -euo pipefail',
    ...head,
    ...input.remove.map((rule) => line(az.remove, rule)),
    ...input.add.map((rule) => line(az.add, rule)),
    '',
  ].join('\n');
}

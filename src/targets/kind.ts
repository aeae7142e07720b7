import type { ArmClientOptions } from '../arm/client-options.js';
import type { FirewallTarget } from './firewall.js';

/** What every adapter is made with: how to reach ARM, and who this installation is. */
export interface FirewallOptions extends ArmClientOptions {
  /**
   * This installation's owner ID, for kinds whose rules carry their owner in their names (a
   * perimeter profile's tagwall-<owner>-<n>); run/open.ts always gives it.
   */
  readonly ownerId?: string;
}

/**
 * Where a kind keeps its firewall in the resource body, as KQL property paths over Resource
 * Graph's `resources` table (the same body ARM's GET answers). A field the kind's API does not
 * have is absent: its column is then empty for the kind, and nothing is compared with it.
 */
export interface GraphPaths {
  /** The IP rules array, e.g. `properties.networkAcls.ipRules`. */
  readonly rules: string;
  /** The property of one rule that holds its address: `value`, or Cosmos DB's `ipAddressOrRange`; absent when the rules are bare strings (AKS). */
  readonly ruleValue?: string;
  readonly defaultAction?: string;
  readonly bypass?: string;
  readonly publicNetworkAccess?: string;
}

/**
 * How infrastructure as code writes a kind's IP rules, for `tagwall plan --format` (src/export/,
 * docs/IAC.md): data, so the exporters never ask which kind they are writing.
 */
export interface IacFacts {
  /** Where Terraform's azurerm provider keeps the list, e.g. `azurerm_key_vault.network_acls.ip_rules` (for the export's comment and docs). */
  readonly terraform: string;
  /** One rule in the ARM/Bicep resource body: the property holding the address and fixed properties beside it; absent: a list of plain strings. */
  readonly armRule?: { readonly property: string; readonly fixed?: Readonly<Record<string, string>> };
  /**
   * Set when every rule is a named object (start/end rules, a container app's restrictions): each
   * export then writes one object per rule with a `name`, in every format. Left unset, a kind's
   * rules are plain strings or `armRule` objects. A start/end kind (Redis, PostgreSQL, ...) gets
   * every export by setting this with its own field names.
   */
  readonly named?: NamedRuleFacts;
  /**
   * The az CLI commands that add and remove one rule, as argv templates with `{group}`, `{name}`,
   * `{parent}` (the parent resource's name, for a child) and `{rule}`; for a kind with `named`
   * rules also `{rule-name}`, and for start/end rules `{start}` and `{end}`. Absent when the kind's
   * az commands only replace the whole list (which would drop everyone else's rules): no az export.
   */
  readonly az?: {
    readonly add: readonly string[];
    readonly remove: readonly string[];
    /**
     * For named start/end rules, whose names in Azure the plan does not know (tagwall's adapter
     * names them tagwall-<owner>-<n>): the command listing the rules, and the fields of its JSON
     * output holding start and end. A removal then deletes each rule named tagwall… holding
     * exactly that range, found by this command with a JMESPath `--query`.
     */
    readonly list?: {
      readonly command: readonly string[];
      readonly start: string;
      readonly end: string;
      /**
       * Set when the list prints a rule's name as `<parent>/<rule>` (Redis: `cache1/rule1`, as the
       * spec's examples answer it): the query then also takes `…/tagwall…`, and the removal passes
       * the part after the last `/`.
       */
      readonly qualifiedNames?: boolean;
    };
  };
}

/** The fields of one rule object, in one tool's spelling (ARM/Bicep camelCase, Terraform snake_case). */
export interface RuleObjectFields {
  /** The field holding the whole rule (a CIDR), for kinds of `cidr` shape: `ipAddressRange`. */
  readonly address?: string;
  /** The fields holding the first and last address, for kinds of `range` shape: `startIpAddress`, `endIpAddress`. */
  readonly start?: string;
  readonly end?: string;
  /** Fields written the same on every rule: `{ action: 'Allow' }`. */
  readonly fixed?: Readonly<Record<string, string>>;
}

/** How the exports write a kind's named rules (`IacFacts.named`). */
export interface NamedRuleFacts {
  /** One rule in the ARM resource body, and so in the ARM parameters and Bicep exports. */
  readonly arm: RuleObjectFields;
  /** One rule as the azurerm resource or block takes it (`azurerm_mssql_firewall_rule`: start_ip_address, end_ip_address). */
  readonly terraform: RuleObjectFields;
  /**
   * The ARM type of one rule when the rules are child resources (`Microsoft.Sql/servers/firewallRules`):
   * the ARM export's `metadata.resourceType`, for a template that makes one child per rule.
   */
  readonly childType?: string;
  /**
   * The names Azure gives special entries, by normalised key (`0.0.0.0/32`: `AllowAllWindowsAzureIps`):
   * a whole list that holds one writes it under its own name. Every other rule is named from its
   * addresses (`tagwalliac_52_1_2_0_52_1_2_255`), so a rule keeps its name while its range stays.
   */
  readonly names?: Readonly<Record<string, string>>;
}

/**
 * What a kind of firewall is, as data: where its rules live, how many it takes, how it wants
 * addresses written, and which entries are never tagwall's. The core plans every kind the same
 * way from these facts; it never asks which kind it is planning.
 */
export interface FirewallFacts {
  /** The short name used in config, reports and state keys: `keyvault`, `storage`, ... */
  readonly kind: string;
  readonly title: string;
  /** The ARM resource type a target's ID names, e.g. `Microsoft.KeyVault/vaults`. */
  readonly resourceType: string;
  readonly apiVersion: string;
  /** Where the rules live in the resource, for people. */
  readonly rulesAt: string;
  /** The most IP rules the resource takes: the default, and the most a target may set. */
  readonly maxRules: number;
  /**
   * Where Microsoft's figures disagree, the most a target's `maxRules` may be raised to above the
   * default `maxRules` (Azure SQL: 128 by default, up to 255); absent: `maxRules` is the ceiling.
   */
  readonly maxRulesCeiling?: number;
  /** The most virtual-network rules it takes, for the VNET_RULES finding (Key Vault's 200 when absent). */
  readonly maxVirtualNetworkRules?: number;
  /**
   * The shape of the kind's rules: `cidr` blocks (absent: cidr), or `range`, start/end rules
   * (`Microsoft.Sql/servers/firewallRules` and its kin). It picks the collapse: the CIDR DP, or
   * the range optimum (docs/RANGES.md). A range rule is spelled `a.b.c.d-e.f.g.h` in ipRules (a
   * single address `a.b.c.d`), and keyed as one block `a.b.c.d/n` when it is exactly one.
   */
  readonly ruleShape?: 'cidr' | 'range';
  /** How a single address must be written: `bare` (`1.2.3.4`) or `cidr` (`1.2.3.4/32`). */
  readonly singleAddress: 'bare' | 'cidr';
  /** Whether a /31 is accepted as a rule; when not, a /31 is written as its two addresses. */
  readonly allows31: boolean;
  /** Normalised entries that mean something special to the kind: kept, never removed, never tagwall's. */
  readonly special: readonly string[];
  /**
   * Set when the firewall holds entries tagwall can never remove (a perimeter profile's other
   * access rules): `mode: "authoritative"` is then refused in the configuration.
   */
  readonly mergeOnly?: boolean;
  /**
   * The IP list is the switch (Cosmos DB, AI Search): no defaultAction in the API, the firewall is on
   * while the list is not empty (or another filter is), so the plan refuses a first rule without enforceDeny.
   */
  readonly ipListIsSwitch?: boolean;
  /**
   * Set when the rules carry their owner in their names: how tagwall names its own, for people
   * (`tagwall-<owner>-<n>`; Redis `tagwall_<owner>_<n>`). The read says which are tagwall's
   * (`ownedByName` in the firewall state), the record never adopts, and the state tools read the
   * target rather than trust the record (a container app's restrictions, the start/end kinds'
   * rules, a perimeter profile's access rules).
   */
  readonly ownedByName?: string;
  /** Whether the write is a long-running operation that must be polled to its end. */
  readonly longRunning: boolean;
  /**
   * What a write costs beyond its rules (how long AKS's whole-cluster update takes), for people:
   * an info finding (WRITE_NOTE) on every plan with changes, so a dry run says it too.
   */
  readonly writeNote?: string;
  /** What each posture field means for this kind, for people (docs/TARGETS.md). */
  readonly posture: Readonly<Record<string, string>>;
  /** Key Vault keeps the error codes it has always had (VAULT_*); every other kind's are TARGET_*. */
  readonly errorCodes?: 'VAULT' | 'TARGET';
  /**
   * How Resource Graph sees the kind, when discovery can find it: `rules` when the IP rules are
   * in the resource's own body (Resource Graph then reports them, or their digest); `tags` when
   * they live in a child resource Resource Graph does not describe, so every run reads them directly.
   */
  readonly graph?: 'rules' | 'tags';
  /** Where Resource Graph's row holds the firewall; set exactly when `graph` is `rules`. */
  readonly graphPaths?: GraphPaths;
  /** How IaC writes the rules (`tagwall plan --format`). */
  readonly iac: IacFacts;
  /** The SDK package the adapter uses. */
  readonly sdk: string;
  /** The adapter factory, loaded only when a target of the kind is configured (the SDKs are large). */
  readonly load: () => Promise<(options: FirewallOptions) => FirewallTarget>;
}

import sample from './sample-seed.json' with { type: 'json' };
import { parseEmulatorSeed, type EmulatorSeed } from './model.js';

/**
 * Two demo vaults in subscription 00000000-0000-0000-0000-000000000000, group
 * rg-tagwall-demo: kv-tagwall-office (firewall on, a hand-made office rule and a subnet
 * rule that tagwall must leave alone) and kv-tagwall-open (firewall off); beside them the
 * Storage account sttagwalldemo (firewall on, the same office address written bare, a subnet
 * rule and a bypass list), whose 400-rule limit the demo shows; and the perimeter
 * nsp-tagwall-demo, whose profile holds someone else's inbound rule for the office address.
 * Imported rather than read from disk, so it ships inside the build.
 */
export function sampleSeed(): EmulatorSeed {
  return parseEmulatorSeed(structuredClone(sample), 'the sample seed');
}

/**
 * Resource IDs copied from documentation with their placeholders still in (`<id>`,
 * `{subscription-id}`, `my-subscription`): without this check they pass the ID's shape and
 * fail only at Azure, as one target's 404 among the others, after requests went out.
 */

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PLACEHOLDER = /<[^<>/]*>|\{[^{}/]*\}|\.\.\.|…/;

/** What is wrong with an ID that still holds a placeholder, or undefined. */
export function placeholderProblem(id: string): string | undefined {
  const placeholder = PLACEHOLDER.exec(id);
  if (placeholder !== null) return `the resource ID still holds the placeholder ${JSON.stringify(placeholder[0])}; put the real value in`;
  const subscription = /^\/subscriptions\/([^/]+)\//i.exec(id.trim())?.[1];
  if (subscription !== undefined && !GUID.test(subscription)) {
    return `the subscription ID ${JSON.stringify(subscription)} is not a GUID (a subscription ID looks like 00000000-0000-0000-0000-000000000000; az account show --query id gives yours)`;
  }
  return undefined;
}

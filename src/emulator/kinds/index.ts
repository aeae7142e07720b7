import type { ResourceModel } from '../resources.js';
import { COGNITIVE_SERVICES_MODEL } from './cognitiveservices.js';
import { COSMOS_DB_MODEL } from './cosmosdb.js';
import { SEARCH_MODEL } from './search.js';

/** The emulator's models of the firewall kinds besides Key Vault, one line per kind. */
export const RESOURCE_MODELS: readonly ResourceModel[] = [
  COSMOS_DB_MODEL,
  COGNITIVE_SERVICES_MODEL,
  SEARCH_MODEL,
];

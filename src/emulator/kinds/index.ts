import type { ResourceModel } from '../resources.js';
import { EVENT_HUBS_MODEL } from './eventhub.js';
import { SERVICE_BUS_MODEL } from './servicebus.js';
import { CONTAINER_REGISTRY_MODEL } from './containerregistry.js';
import { STORAGE_MODEL } from './storage.js';
import { COGNITIVE_SERVICES_MODEL } from './cognitiveservices.js';
import { COSMOS_DB_MODEL } from './cosmosdb.js';
import { SEARCH_MODEL } from './search.js';
import { AKS_MODEL } from './aks.js';
import { CONTAINER_APP_MODEL } from './containerapps.js';
import { SQL_MODEL } from './sql.js';
import { POSTGRESQL_FLEXIBLE_MODEL } from './postgresql-flexible.js';
import { MYSQL_FLEXIBLE_MODEL } from './mysql-flexible.js';
import { SYNAPSE_MODEL } from './synapse.js';
import { REDIS_MODEL } from './redis.js';

/** The emulator's models of the firewall kinds besides Key Vault, one line per kind. */
export const RESOURCE_MODELS: readonly ResourceModel[] = [
  EVENT_HUBS_MODEL,
  SERVICE_BUS_MODEL,
  STORAGE_MODEL,
  CONTAINER_REGISTRY_MODEL,
  COSMOS_DB_MODEL,
  COGNITIVE_SERVICES_MODEL,
  SEARCH_MODEL,
  AKS_MODEL,
  CONTAINER_APP_MODEL,
  SQL_MODEL,
  POSTGRESQL_FLEXIBLE_MODEL,
  MYSQL_FLEXIBLE_MODEL,
  SYNAPSE_MODEL,
  REDIS_MODEL,
];

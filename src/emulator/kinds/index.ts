import type { ResourceModel } from '../resources.js';
import { EVENT_HUBS_MODEL } from './eventhub.js';
import { SERVICE_BUS_MODEL } from './servicebus.js';
import { CONTAINER_REGISTRY_MODEL } from './containerregistry.js';
import { STORAGE_MODEL } from './storage.js';

/** The emulator's models of the firewall kinds besides Key Vault, one line per kind. */
export const RESOURCE_MODELS: readonly ResourceModel[] = [
  EVENT_HUBS_MODEL,
  SERVICE_BUS_MODEL,
  STORAGE_MODEL,
  CONTAINER_REGISTRY_MODEL,
];

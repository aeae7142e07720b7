import { app } from '@azure/functions';
import { reconcileShardPoison } from '../src/handlers/fleet.js';

// The shards the host gave up on: recorded as failed (SHARD_FAILED) and alerted.
app.storageQueue('reconcileShardPoison', { queueName: 'tagwall-shards-poison', connection: 'AzureWebJobsStorage', handler: reconcileShardPoison });

import { app } from '@azure/functions';
import { reconcileShard } from '../src/handlers/fleet.js';

// One message is one shard of a fleet run. host.json's extensions.queues decides how the host
// feeds this trigger: messageEncoding base64 (what createShardQueue sends); at most batchSize 4 +
// newBatchThreshold 2 shards at once per instance, because each does ARM writes and the ARM
// pacing is per process; a failed shard is visible again after visibilityTimeout 30 s, and after
// maxDequeueCount 5 deliveries the host moves it to tagwall-shards-poison (reconcileShardPoison).
app.storageQueue('reconcileShard', { queueName: 'tagwall-shards', connection: 'AzureWebJobsStorage', handler: reconcileShard });

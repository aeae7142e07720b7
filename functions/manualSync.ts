import { app } from '@azure/functions';
import { manualSync } from '../src/handlers/fleet.js';

// Applying by hand needs the admin key and an explicit {"apply": true} (answered 202 once enqueued); anything else is a dry run.
app.http('manualSync', { methods: ['POST'], authLevel: 'admin', route: 'sync', handler: manualSync });

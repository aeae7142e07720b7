import { app } from '@azure/functions';
import { manualSync } from '../src/handlers/functions.js';

// Applying by hand needs the admin key and an explicit {"apply": true}; anything else is a dry run.
app.http('manualSync', { methods: ['POST'], authLevel: 'admin', route: 'sync', handler: manualSync });

import { app } from '@azure/functions';
import { runStatus } from '../src/handlers/fleet.js';

app.http('runStatus', { methods: ['GET'], authLevel: 'function', route: 'runs/{runId}', handler: runStatus });

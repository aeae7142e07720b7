import { app } from '@azure/functions';
import { planAllowlists } from '../src/azure/handlers.js';

app.http('planAllowlists', { methods: ['GET'], authLevel: 'function', route: 'plan', handler: planAllowlists });

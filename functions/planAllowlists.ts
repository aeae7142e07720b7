import { app } from '@azure/functions';
import { planAllowlists } from '../src/handlers/functions.js';

app.http('planAllowlists', { methods: ['GET'], authLevel: 'function', route: 'plan', handler: planAllowlists });

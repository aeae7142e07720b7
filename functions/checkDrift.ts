import { app } from '@azure/functions';
import { checkDrift } from '../src/azure/handlers.js';

// The schedule is an app setting (documented default: every fifteen minutes, `0 */15 * * * *`).
app.timer('checkDrift', { schedule: '%TAGWALL_DRIFT_SCHEDULE%', runOnStartup: false, handler: checkDrift });

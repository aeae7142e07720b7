import { app } from '@azure/functions';
import { checkDrift } from '../src/handlers/functions.js';

// The schedule is an app setting (documented default: every fifteen minutes at 7, 22, 37 and 52 past, `0 7-59/15 * * * *`, so it never coincides with the sync).
app.timer('checkDrift', { schedule: '%TAGWALL_DRIFT_SCHEDULE%', runOnStartup: false, handler: checkDrift });

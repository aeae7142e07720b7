import { app } from '@azure/functions';
import { syncAllowlists } from '../src/handlers/fleet.js';

// The schedule is an app setting (documented default: every six hours, `0 0 */6 * * *`).
app.timer('syncAllowlists', { schedule: '%TAGWALL_SCHEDULE%', runOnStartup: false, handler: syncAllowlists });

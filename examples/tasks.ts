/**
 * The example tasks: `npx warren worker -A ./dist/examples/tasks.js -Q for_task1` runs deal1,
 * `-Q for_task2` runs deal2.
 */
import { join } from 'node:path';
import { createApp } from '../src'; // in your project: from 'warren'

// The repository's definitions/, found from this file (compiled to dist/examples/), so the
// worker finds them from any working directory; --definitions or WARREN_DEFINITIONS override them.
export const app = createApp({ definitions: join(__dirname, '..', '..', 'definitions') });

app.task('app1.tasks1.deal1', async (text: string) => `${text}=======`);
app.task('app1.tasks2.deal2', async (text: string) => `${text}+++++++++`);

export default app;

/**
 * The example tasks: `warren worker -A ./dist/examples/tasks.js -Q for_task1` runs deal1,
 * `-Q for_task2` runs deal2.
 */
import { join } from 'node:path';
import { createApp } from '../src';

// Compiled to dist/examples/tasks.js, so the repository's definitions/ is two levels up.
export const app = createApp({ definitions: process.env.WARREN_DEFINITIONS ?? join(__dirname, '..', '..', 'definitions') });

app.task('app1.tasks1.deal1', async (text: string) => `${text}=======`);
app.task('app1.tasks2.deal2', async (text: string) => `${text}+++++++++`);

export default app;

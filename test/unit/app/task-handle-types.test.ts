import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');

test("typed task handles: send/apply arguments and results are checked at compile time (test/types/task-handle.ts's @ts-expect-error lines)", () => {
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  let output = '';
  try {
    output = execFileSync(process.execPath, [tsc, '--noEmit', '-p', join(ROOT, 'test', 'types', 'tsconfig.json')], { encoding: 'utf8' });
  } catch (err) {
    output = String((err as { stdout?: string }).stdout ?? err);
  }
  // An unused @ts-expect-error is an error too, so a clean compile means every line behaved.
  expect(output).toBe('');
}, 60_000);

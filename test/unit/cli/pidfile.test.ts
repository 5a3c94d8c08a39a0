import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { takePidfile } from '../../../src/cli/pidfile';

describe('--pidfile', () => {
  let dir: string;
  let path: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'warren-pidfile-'));
    path = join(dir, 'w.pid');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('writes the pid; releasing it (as the exit does) removes the file, and only while it holds our pid', () => {
    const release = takePidfile(path);
    expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
    release();
    expect(existsSync(path)).toBe(false);

    const again = takePidfile(path);
    writeFileSync(path, '12345\n'); // taken over by another process meanwhile
    again();
    expect(readFileSync(path, 'utf8')).toBe('12345\n');
  });

  test('a file naming a running process is refused, and left as it was', () => {
    writeFileSync(path, `${process.ppid}\n`);
    expect(() => takePidfile(path)).toThrow(`--pidfile ${path} names process ${process.ppid}, which is running: is this worker or beat already running? (nothing was started)`);
    expect(readFileSync(path, 'utf8')).toBe(`${process.ppid}\n`);
  });

  test('a file left by a process that is gone, or holding no pid, is replaced', () => {
    for (const stale of ['2147483646\n', 'garbage']) {
      writeFileSync(path, stale);
      const release = takePidfile(path);
      expect(readFileSync(path, 'utf8')).toBe(`${process.pid}\n`);
      release();
    }
  });

  test('a folder that does not exist: a usage error naming the file', () => {
    const missing = join(dir, 'missing', 'w.pid');
    expect(() => takePidfile(missing)).toThrow(`--pidfile ${missing}: cannot create it (ENOENT)`);
  });
});

import { BatchedOutput, LOG_BATCH_CHARS, LOG_BATCH_MS } from '../../../src/logging/batched-output';

describe('BatchedOutput (where log lines wait to share a write)', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const info = (n: number): string => `{"level":30,"msg":"line ${n}"}\n`;
  const warn = `{"level":40,"msg":"trouble"}\n`;

  test('lines below warn go out together in one write, within the batch time', () => {
    const writes: string[] = [];
    const output = new BatchedOutput((text) => writes.push(text));
    const destination = output.destination();
    destination.write(info(1));
    jest.advanceTimersByTime(LOG_BATCH_MS / 2);
    destination.write(info(2));
    expect(writes).toEqual([]);
    jest.advanceTimersByTime(LOG_BATCH_MS / 2);
    expect(writes).toEqual([info(1) + info(2)]);
    destination.write(info(3));
    jest.advanceTimersByTime(LOG_BATCH_MS);
    expect(writes).toEqual([info(1) + info(2), info(3)]);
  });

  test('a warn goes out at once, after the lines that waited, and nothing is written twice', () => {
    const writes: string[] = [];
    const destination = new BatchedOutput((text) => writes.push(text)).destination();
    destination.write(info(1));
    destination.write(warn);
    expect(writes).toEqual([info(1) + warn]);
    jest.advanceTimersByTime(LOG_BATCH_MS * 2);
    expect(writes).toEqual([info(1) + warn]);
  });

  test('much waiting text is written at once; flush() writes the rest now', () => {
    const writes: string[] = [];
    const output = new BatchedOutput((text) => writes.push(text));
    const destination = output.destination();
    const long = `{"level":30,"msg":"${'x'.repeat(LOG_BATCH_CHARS)}"}\n`;
    destination.write(long);
    expect(writes).toEqual([long]);
    destination.write(info(1));
    output.flush();
    expect(writes).toEqual([long, info(1)]);
    jest.advanceTimersByTime(LOG_BATCH_MS * 2);
    expect(writes).toHaveLength(2);
  });

  test('a line that is not pino JSON (the pretty format) counts as urgent', () => {
    const writes: string[] = [];
    new BatchedOutput((text) => writes.push(text)).destination().write('plain text\n');
    expect(writes).toEqual(['plain text\n']);
  });
});

import { ProgressView, renderBar, renderLine } from '../../../src/cli/progress-view';

describe("send --wait's progress view", () => {
  test('not a terminal: a plain line per update, with the other meta keys', () => {
    const written: string[] = [];
    const view = new ProgressView({ write: (text: string) => written.push(text), isTTY: false });
    view.update({ current: 3, total: 10, meta: { stage: 'copy' } });
    view.update({ current: 10, total: 10, meta: {} });
    view.finish();
    expect(written).toEqual(['progress 3/10 (30%) stage=copy\n', 'progress 10/10 (100%)\n']);
  });

  test('a terminal: one bar redrawn in place, with rate and time left, ended by a newline', () => {
    const written: string[] = [];
    let now = 0;
    const view = new ProgressView({ write: (text: string) => written.push(text), isTTY: true, columns: 80 }, () => now);
    view.update({ current: 0, total: 100, meta: {} });
    now = 2000;
    view.update({ current: 25, total: 100, meta: {} });
    view.finish();
    expect(written[1]).toBe(`\r[${'█'.repeat(10)}${'░'.repeat(30)}]  25/100   25%  12.5/s  ETA 6s\x1b[K`);
    expect(written.at(-1)).toBe('\n');
  });

  test('the bar fits a narrow terminal, and says ? for the time left before any rate is known', () => {
    expect(renderBar({ current: 1, total: 3, meta: {} }, { at: 0, current: 1 }, 0, 30)).toBe(`[███░░░░░░░]  1/3   33%  -/s  ETA ?`);
    expect(renderLine({ current: 1, total: 0, meta: {} })).toBe('progress 1/0 (0%)');
  });
});

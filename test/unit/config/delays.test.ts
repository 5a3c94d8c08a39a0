import { resolveDefinitions } from '../../../src/config';
import { example, FILE, problemsOf, resolveOne } from './problems';

describe('delays in the definitions', () => {
  test('keeps delays in classic levels unless the files or WARREN_DELAY_QUEUE_TYPE say quorum', () => {
    expect(resolveOne(example()).delays).toStrictEqual({ queueType: 'classic' });
    expect(resolveOne({ ...example(), delays: {} }).delays).toStrictEqual({ queueType: 'classic' });
    expect(resolveOne({ ...example(), delays: null }).delays).toStrictEqual({ queueType: 'classic' });
    expect(resolveOne({ ...example(), delays: { queueType: 'quorum' } }).delays).toStrictEqual({ queueType: 'quorum' });
  });

  test('lets WARREN_DELAY_QUEUE_TYPE beat the files; an empty one counts as unset', () => {
    const quorum = { ...example(), delays: { queueType: 'quorum' } };
    expect(resolveOne(example(), { env: { WARREN_DELAY_QUEUE_TYPE: 'quorum' } }).delays).toStrictEqual({ queueType: 'quorum' });
    expect(resolveOne(quorum, { env: { WARREN_DELAY_QUEUE_TYPE: 'classic' } }).delays).toStrictEqual({ queueType: 'classic' });
    expect(resolveOne(quorum, { env: { WARREN_DELAY_QUEUE_TYPE: '' } }).delays).toStrictEqual({ queueType: 'quorum' });
  });

  test('is frozen with the rest', () => {
    expect(Object.isFrozen(resolveOne({ ...example(), delays: { queueType: 'quorum' } }).delays)).toBe(true);
  });

  test('reports a misspelt queue type, an unknown key and a section that is not a mapping, naming the file and the path', () => {
    expect(problemsOf(() => resolveOne({ ...example(), delays: { queueType: 'quorom' } }))).toEqual([
      `${FILE}: delays.queueType: "quorom" is not a delay queue type (expected one of classic, quorum)`,
    ]);
    expect(problemsOf(() => resolveOne({ ...example(), delays: { type: 'quorum' } }))).toEqual([
      `${FILE}: delays.type: unknown key (expected one of queueType)`,
    ]);
    expect(problemsOf(() => resolveOne({ ...example(), delays: 'quorum' }))).toEqual([
      `${FILE}: delays: "quorum" is not a mapping (expected a mapping with queueType)`,
    ]);
  });

  test('reports a WARREN_DELAY_QUEUE_TYPE that is not a queue type, with the other problems', () => {
    expect(problemsOf(() => resolveOne({ ...example(), delays: { queueType: 1 } }, { env: { WARREN_DELAY_QUEUE_TYPE: 'Quorum' } }))).toEqual([
      `${FILE}: delays.queueType: 1 is not a delay queue type (expected one of classic, quorum)`,
      '(environment): WARREN_DELAY_QUEUE_TYPE: "Quorum" is not a delay queue type (expected one of classic, quorum)',
    ]);
  });

  test('takes delays from any one file of a folder; two files that disagree are a problem against the later one', () => {
    const a = 'definitions/a.yaml';
    const b = 'definitions/b.yaml';
    const merged = resolveDefinitions([
      { file: a, content: example() },
      { file: b, content: { delays: { queueType: 'quorum' } } },
    ]);
    expect(merged.delays).toStrictEqual({ queueType: 'quorum' });
    expect(
      problemsOf(() =>
        resolveDefinitions([
          { file: a, content: { ...example(), delays: { queueType: 'classic' } } },
          { file: b, content: { delays: { queueType: 'quorum' } } },
        ]),
      ),
    ).toEqual([`${b}: delays: queueType quorum differs from queueType classic in ${a} (expected the same value in every file that sets it)`]);
  });
});

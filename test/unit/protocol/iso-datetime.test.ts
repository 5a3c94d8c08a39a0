import { formatIsoDatetime, parseIsoDatetime } from '../../../src/protocol';

describe('ISO dates', () => {
  it('formats like Python isoformat for an aware UTC datetime, six fraction digits', () => {
    expect(formatIsoDatetime(new Date('2026-11-23T12:52:21.358Z'))).toBe('2026-11-23T12:52:21.358000+00:00');
    expect(formatIsoDatetime(new Date('0099-02-03T04:05:06Z'))).toBe('0099-02-03T04:05:06.000000+00:00');
  });

  it.each<[string, string]>([
    ['2026-11-23T12:52:21.358605+00:00', '2026-11-23T12:52:21.358Z'],
    ['2026-11-23T14:52:21.358605+02:00', '2026-11-23T12:52:21.358Z'],
    ['2026-11-23T12:52:21.358605-05:30', '2026-11-23T18:22:21.358Z'],
    ['2026-11-23T12:52:21Z', '2026-11-23T12:52:21.000Z'],
    ['2026-11-23 12:52', '2026-11-23T12:52:00.000Z'],
    ['2026-11-23T12:52:21.358605', '2026-11-23T12:52:21.358Z'],
    ['2026-11-23', '2026-11-23T00:00:00.000Z'],
    ['2024-02-29T00:00:00+00:00', '2024-02-29T00:00:00.000Z'],
  ])('reads %s (no offset = UTC)', (text, iso) => {
    expect(parseIsoDatetime(text)?.toISOString()).toBe(iso);
  });

  it('reads years below 100 as such, not as 19xx', () => {
    expect(parseIsoDatetime('0099-01-01T00:00:00+00:00')?.getUTCFullYear()).toBe(99);
  });

  it.each(['tomorrow', '2026-13-01', '2026-02-29', '2026-11-23T24:00:00', '2026-11-23T12:60', '1700000000', '2026-11-23T12:52:21+25:00'])(
    'refuses %s',
    (text) => {
      expect(parseIsoDatetime(text)).toBeNull();
    },
  );
});

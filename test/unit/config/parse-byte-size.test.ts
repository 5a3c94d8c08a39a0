import { parseByteSize } from '../../../src/config';
import { formatBytes } from '../../../src/util/format-bytes';

describe('parseByteSize', () => {
  test.each([
    ['1048576', 1_048_576],
    [' 512KiB ', 524_288],
    ['1MiB', 1_048_576],
    ['1m', 1_048_576],
    ['1.5 MiB', 1_572_864],
    ['2MB', 2_000_000],
    ['64kb', 64_000],
    ['1GiB', 1_073_741_824],
    ['300b', 300],
    [4096, 4096],
  ] as Array<[string | number, number]>)('reads %p as %p bytes', (input, bytes) => {
    expect(parseByteSize(input)).toBe(bytes);
  });

  test.each([
    ['lots', '"lots" is not a size in bytes (expected a whole number of bytes of at least 1 or a string like 1048576, 512KiB, 1MiB, 2MB)'],
    ['0', '"0" is not a size in bytes (expected a whole number of bytes of at least 1 or a string like 1048576, 512KiB, 1MiB, 2MB)'],
    ['-1MiB', '"-1MiB" is not a size in bytes (expected a whole number of bytes of at least 1 or a string like 1048576, 512KiB, 1MiB, 2MB)'],
    ['1TiB', '"1TiB" is not a size in bytes (expected a whole number of bytes of at least 1 or a string like 1048576, 512KiB, 1MiB, 2MB)'],
    [1.5, '1.5 is not a size in bytes (expected a whole number of bytes of at least 1 or a string like 1048576, 512KiB, 1MiB, 2MB)'],
  ] as Array<[string | number, string]>)('refuses %p with a message saying what it expected', (input, message) => {
    expect(() => parseByteSize(input)).toThrow(new Error(message));
  });
});

describe('formatBytes', () => {
  test.each([
    [1, '1 byte'],
    [300, '300 bytes'],
    [524_288, '512 KiB'],
    [1_048_576, '1 MiB'],
    [1_572_864, '1.5 MiB'],
    [2_147_483_648, '2 GiB'],
  ])('writes %p as %p', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

const UNIT_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  kib: 1024, k: 1024,
  mib: 1024 ** 2, m: 1024 ** 2,
  gib: 1024 ** 3, g: 1024 ** 3,
  kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3,
};
const BYTE_SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

/** The examples every size message shows. */
export const BYTE_SIZE_EXAMPLES = '1048576, 512KiB, 1MiB, 2MB';

/**
 * Bytes in a size: a whole number of bytes, or a number with a unit: `KiB`/`MiB`/`GiB` (also
 * `K`/`M`/`G`) are powers of 1024, `kB`/`MB`/`GB` powers of 1000, any case. The result is a
 * whole number of bytes of at least 1.
 *
 * @throws Error `"lots" is not a size in bytes (expected a whole number of bytes or a string like 1048576, 512KiB, 1MiB, 2MB)`
 */
export function parseByteSize(text: string | number): number {
  const bytes = byteSize(text);
  if (bytes === undefined || bytes < 1) {
    const shown = typeof text === 'string' ? JSON.stringify(text) : String(text);
    throw new Error(`${shown} is not a size in bytes (expected a whole number of bytes of at least 1 or a string like ${BYTE_SIZE_EXAMPLES})`);
  }
  return bytes;
}

function byteSize(text: string | number): number | undefined {
  if (typeof text === 'number') return Number.isSafeInteger(text) ? text : undefined;
  const match = BYTE_SIZE.exec(text.trim());
  if (!match) return undefined;
  const unit = UNIT_BYTES[match[2].toLowerCase() || 'b'];
  if (unit === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

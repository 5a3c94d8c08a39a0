const UNITS = ['KiB', 'MiB', 'GiB'] as const;

/** A size as a person reads it: `300 bytes`, `512 KiB`, `1.5 MiB` (binary units, one decimal at most). */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} byte${bytes === 1 ? '' : 's'}`;
  let value = bytes;
  let unit = 'bytes';
  for (const next of UNITS) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  return `${Math.round(value * 10) / 10} ${unit}`;
}

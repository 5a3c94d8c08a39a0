/** An error as one line for a log field: `TypeError: bad input`, or the thrown value as a string. */
export function errorSummary(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

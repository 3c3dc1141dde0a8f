/** The text of whatever a library threw (the OCI SDK sometimes throws bare strings). */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

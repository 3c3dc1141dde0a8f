/** Parses a duration such as `500ms`, `20s`, `2m` or `1h` into milliseconds. */
export function parseDuration(value: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value.trim());
  if (match === null) return undefined;
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as "ms" | "s" | "m" | "h"];
  const ms = Number(match[1]) * scale;
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/**
 * Order statistics of timings. Benchmarks report medians and the 90th percentile, never a
 * mean: one garbage collection pause would move a mean and says nothing about a typical call.
 */

/** A set of timings in milliseconds, summarized. */
export interface Summary {
  n: number;
  min: number;
  median: number;
  p90: number;
  max: number;
}

/** The q-quantile (0..1) of ascending `sorted` by the nearest-rank method. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error("quantile of no samples");
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1] ?? Number.NaN;
}

/** Summarizes timings in milliseconds. */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    n: sorted.length,
    min: quantile(sorted, 0),
    median: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    max: quantile(sorted, 1),
  };
}

/** Milliseconds for a table: three significant digits, at least one decimal. */
export function ms(value: number): string {
  const digits = value >= 100 ? 1 : value >= 10 ? 2 : 3;
  return `${value.toFixed(digits)} ms`;
}

/** A ratio for a table, e.g. `2.41x`. */
export function times(ratio: number): string {
  return `${ratio.toFixed(2)}x`;
}

/** Milliseconds elapsed while `step` runs. */
export async function timed(step: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await step();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

import { KubeletClient } from "../lab/kubelet-client";
import { type LabWorld, startLabWorld } from "../lab/world";
import { startBenchPullgate } from "./bench-pullgate";
import { ms, summarize, type Summary, timed, times } from "./stats";

/**
 * What pullgate costs a call it only forwards: ImageStatus (the kubelet makes one before
 * every container start) and ListImages, each made through pullgate and directly to
 * containerd by the same kind of client, interleaved in one run so both see the same
 * machine. The order of the pair alternates so neither side always goes first.
 */

/** One method's direct and proxied timings. */
export interface PassThroughLatency {
  method: "ImageStatus" | "ListImages";
  direct: Summary;
  through: Summary;
  /** Median through pullgate / median direct. */
  ratio: number;
}

/** The calls measured, each made on one client. */
type Call = (client: KubeletClient) => Promise<unknown>;

/** Measures ImageStatus and ListImages, `iterations` pairs each (after a warm-up). */
export async function measurePassThrough(
  world: LabWorld,
  iterations = 2000,
): Promise<PassThroughLatency[]> {
  const image = await world.pushImage("bench/status");
  world.sign(image);
  const policy = world.writePolicy({ name: "bench-status.yaml" });
  const pullgate = await startBenchPullgate(world, policy, "bench-status.sock");
  const direct = new KubeletClient({ socket: world.containerd.socket, timeoutMs: 60_000 });
  try {
    const pulled = await pullgate.kubelet.pullImage(image.byDigest);
    if (!pulled.ok) throw new Error(`could not pull ${image.byDigest}: ${pulled.details}`);
    const calls: [PassThroughLatency["method"], Call][] = [
      ["ImageStatus", (client) => expectOk(client.imageStatus(image.byDigest))],
      ["ListImages", (client) => expectOk(client.listImages())],
    ];
    const results: PassThroughLatency[] = [];
    for (const [method, call] of calls) {
      results.push(await interleaved(method, call, direct, pullgate.kubelet, iterations));
    }
    return results;
  } finally {
    direct.close();
    await pullgate.stop();
  }
}

async function interleaved(
  method: PassThroughLatency["method"],
  call: Call,
  direct: KubeletClient,
  through: KubeletClient,
  iterations: number,
): Promise<PassThroughLatency> {
  // Connections are open and code paths compiled before anything is counted.
  for (let i = 0; i < Math.min(200, iterations); i++) {
    await call(direct);
    await call(through);
  }
  const directMs: number[] = [];
  const throughMs: number[] = [];
  for (let i = 0; i < iterations; i++) {
    if (i % 2 === 0) {
      directMs.push(await timed(() => call(direct)));
      throughMs.push(await timed(() => call(through)));
    } else {
      throughMs.push(await timed(() => call(through)));
      directMs.push(await timed(() => call(direct)));
    }
  }
  const directSummary = summarize(directMs);
  const throughSummary = summarize(throughMs);
  return {
    method,
    direct: directSummary,
    through: throughSummary,
    ratio: throughSummary.median / directSummary.median,
  };
}

async function expectOk(answer: Promise<{ ok: boolean }>): Promise<void> {
  const settled = await answer;
  if (!settled.ok) throw new Error(`call failed: ${JSON.stringify(settled)}`);
}

/** The report lines for a result. */
export function describePassThrough(results: readonly PassThroughLatency[]): string[] {
  const lines: string[] = [];
  for (const result of results) {
    const row = (label: string, summary: Summary): string =>
      `  ${label.padEnd(30)} median ${ms(summary.median).padStart(10)}` +
      `   p90 ${ms(summary.p90).padStart(10)}`;
    lines.push(
      `${result.method}: ${result.direct.n} interleaved pairs`,
      row("direct to containerd", result.direct),
      row("through pullgate", result.through),
      `  ${"through / direct (medians)".padEnd(30)} ${times(result.ratio)}`,
    );
  }
  return lines;
}

async function main(): Promise<void> {
  const world = await startLabWorld();
  try {
    for (const line of describePassThrough(await measurePassThrough(world))) console.log(line);
  } finally {
    await world.stop();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}

import type { FakeRoute } from "../lab/fake-oci/faults";
import type { KubeletClient } from "../lab/kubelet-client";
import { type LabImage, type LabWorld, startLabWorld } from "../lab/world";
import { startBenchPullgate } from "./bench-pullgate";
import { ms, summarize, type Summary, times } from "./stats";

/**
 * How long one PullImage decision takes against the local fake OCI APIs, with a cold cache
 * (a fresh pullgate: the Vault key version is fetched and the signatures listed) and with a
 * warm key cache (the same pullgate judging another image signed by the same key: only the
 * signatures are listed). The time is pullgate's own, from decoding the request to the
 * verdict, as it logs it; the pull that follows an allow is not part of it.
 */

/** Timings of cold and warm decisions and the OCI calls each one made. */
export interface DecisionLatency {
  runs: number;
  cold: Summary;
  warm: Summary;
  /** Median cold / median warm. */
  ratio: number;
  /** Fake OCI requests per decision, by route, from the last run. */
  coldCalls: Partial<Record<FakeRoute, number>>;
  warmCalls: Partial<Record<FakeRoute, number>>;
}

const ROUTES: readonly FakeRoute[] = ["getKeyVersion", "listContainerImageSignatures"];

/** Measures `runs` cold and warm decisions (after one discarded warm-up run). */
export async function measureDecisionLatency(
  world: LabWorld,
  runs = 40,
): Promise<DecisionLatency> {
  // Two images signed by the one policy key: the second shares only the key with the first,
  // so nothing but the key cache can help it.
  const first = await world.pushImage("bench/first");
  const second = await world.pushImage("bench/second");
  world.sign(first);
  world.sign(second);
  const policy = world.writePolicy({ name: "bench-decision.yaml" });

  const cold: number[] = [];
  const warm: number[] = [];
  let coldCalls: Partial<Record<FakeRoute, number>> = {};
  let warmCalls: Partial<Record<FakeRoute, number>> = {};
  for (let run = 0; run <= runs; run++) {
    const pullgate = await startBenchPullgate(world, policy, `bench-decision-${run}.sock`);
    try {
      world.oci.resetCounts();
      const coldMs = await decide(pullgate.kubelet, first, pullgate.decisions);
      coldCalls = callCounts(world);
      world.oci.resetCounts();
      const warmMs = await decide(pullgate.kubelet, second, pullgate.decisions);
      warmCalls = callCounts(world);
      // Run 0 pays for loading and compiling the SDK's code paths; it is not a decision's cost.
      if (run > 0) {
        cold.push(coldMs);
        warm.push(warmMs);
      }
    } finally {
      await pullgate.stop();
    }
  }
  const coldSummary = summarize(cold);
  const warmSummary = summarize(warm);
  return {
    runs,
    cold: coldSummary,
    warm: warmSummary,
    ratio: coldSummary.median / warmSummary.median,
    coldCalls,
    warmCalls,
  };
}

/** Pulls `image` by digest and returns the decision time pullgate logged for it. */
async function decide(
  kubelet: KubeletClient,
  image: LabImage,
  decisions: () => Record<string, unknown>[],
): Promise<number> {
  const seen = decisions().length;
  const pulled = await kubelet.pullImage(image.byDigest);
  const logged = decisions().slice(seen);
  const line = logged[0];
  if (!pulled.ok || line === undefined || line.reason !== "signed") {
    throw new Error(`expected a signed allow for ${image.byDigest}: ${JSON.stringify(logged)}`);
  }
  return Number(line.decisionMs);
}

function callCounts(world: LabWorld): Partial<Record<FakeRoute, number>> {
  return Object.fromEntries(ROUTES.map((route) => [route, world.oci.requestCount(route)]));
}

/** The report lines for a result. */
export function describeDecisionLatency(result: DecisionLatency): string[] {
  const calls = (counts: Partial<Record<FakeRoute, number>>): string =>
    ROUTES.map((route) => `${counts[route] ?? 0} ${route}`).join(", ");
  const row = (label: string, summary: Summary): string =>
    `  ${label.padEnd(40)} median ${ms(summary.median).padStart(10)}` +
    `   p90 ${ms(summary.p90).padStart(10)}`;
  return [
    `decision latency against the local fake OCI (${result.runs} fresh pullgates)`,
    `${row("cold cache (key fetch + signature list)", result.cold)}   OCI: ${
      calls(result.coldCalls)}`,
    `${row("warm key cache (signature list)", result.warm)}   OCI: ${calls(result.warmCalls)}`,
    `  ${"cold / warm (medians)".padEnd(40)} ${times(result.ratio)}`,
  ];
}

async function main(): Promise<void> {
  const world = await startLabWorld();
  try {
    for (const line of describeDecisionLatency(await measureDecisionLatency(world))) {
      console.log(line);
    }
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

import { cpus } from "node:os";
import { startLabWorld } from "../lab/world";
import { describeDecisionLatency, measureDecisionLatency } from "./decision-latency";
import { describePassThrough, measurePassThrough } from "./image-status";
import { describeRequestSigning, measureRequestSigning } from "./request-signing";
import { times } from "./stats";

/**
 * `npm run bench`: every benchmark in one lab world (real containerd and registry, fake
 * OCI APIs, pullgate in-process), each compared with a baseline measured in the same run.
 * Numbers are printed, never asserted.
 */

/** Runs the benchmarks and prints their tables and a summary. */
async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("the benchmarks run containerd: run as root");
  const processor = cpus()[0]?.model ?? "unknown cpu";
  console.log(`node ${process.version}, ${cpus().length} x ${processor}`);
  console.log("starting containerd, a registry and the OCI stand-in...\n");
  const world = await startLabWorld();
  try {
    const decisions = await measureDecisionLatency(world);
    for (const line of describeDecisionLatency(decisions)) console.log(line);
    console.log("");
    const passThrough = await measurePassThrough(world);
    for (const line of describePassThrough(passThrough)) console.log(line);

    console.log("");
    const signing = await measureRequestSigning();
    for (const line of describeRequestSigning(signing)) console.log(line);

    console.log("\nsummary");
    console.log(`  ${"decision, cold / warm key cache:".padEnd(40)} ${times(decisions.ratio)}` +
      ` (${decisions.cold.median.toFixed(2)} ms / ${decisions.warm.median.toFixed(2)} ms)`);
    console.log(`  ${"request signing, SDK / pullgate:".padEnd(40)} ${times(signing.ratio)}` +
      ` (${signing.sdk.median.toFixed(2)} ms / ${signing.ours.median.toFixed(2)} ms)`);
    for (const result of passThrough) {
      console.log(`  ${`${result.method}, through pullgate / direct:`.padEnd(40)} ` +
        `${times(result.ratio)} (${result.through.median.toFixed(3)} ms / ` +
        `${result.direct.median.toFixed(3)} ms)`);
    }
  } finally {
    await world.stop();
  }
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exitCode = 1;
});

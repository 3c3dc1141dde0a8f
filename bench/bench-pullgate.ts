import { join } from "node:path";
import { Writable } from "node:stream";
import { KubeletClient } from "../lab/kubelet-client";
import type { LabWorld } from "../lab/world";
import { parseServeOptions } from "../src/config/options";
import { createLogger } from "../src/observability/logger";
import { type RunningPullgate, serve } from "../src/serve";

/**
 * A pullgate for benchmarks: started in-process with the CLI's options against a lab
 * world, logging at info as a node does, into memory so a benchmark can read the
 * decision lines.
 */

/** A running benchmark pullgate and a kubelet talking to it. */
export interface BenchPullgate {
  running: RunningPullgate;
  kubelet: KubeletClient;
  /** The `pull-decision` log records so far. */
  decisions(): Record<string, unknown>[];
  stop(): Promise<void>;
}

/** Starts a fresh pullgate (fresh caches) listening on `socketName` in the world's dir. */
export async function startBenchPullgate(
  world: LabWorld,
  policy: string,
  socketName: string,
): Promise<BenchPullgate> {
  const socket = join(world.dir, socketName);
  const options = parseServeOptions([
    "--listen", socket,
    "--upstream", world.containerd.socket,
    "--policy", policy,
    "--oci-config", world.ociConfigFile,
    "--artifacts-endpoint", world.oci.url,
    "--vault-endpoint", world.oci.url,
    "--metrics-listen", "127.0.0.1:0",
  ]);
  const records: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line !== "") records.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const running = await serve(options, { logger: createLogger("info", sink) });
  const kubelet = new KubeletClient({ socket, timeoutMs: 60_000 });
  return {
    running,
    kubelet,
    decisions: () => records.filter((record) => record.event === "pull-decision"),
    async stop() {
      kubelet.close();
      await running.close(1000);
    },
  };
}

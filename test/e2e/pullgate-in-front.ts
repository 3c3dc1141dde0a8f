import { Writable } from "node:stream";
import { join } from "node:path";
import { KubeletClient } from "../../lab/kubelet-client";
import type { LabWorld } from "../../lab/world";
import { parseServeOptions } from "../../src/config/options";
import { createLogger } from "../../src/observability/logger";
import { routeConsoleToLog } from "../../src/observability/sdk-console";
import { type RunningPullgate, serve } from "../../src/serve";

/**
 * A real pullgate, started in-process with `serve()` exactly as the CLI starts it, in front
 * of a lab world's containerd: config-file credentials, every OCI endpoint at the world's
 * fake OCI, metrics on a free local port, and its log kept in memory at trace level.
 */

/** What a test needs from one pullgate in front of the lab's containerd. */
export interface PullgateInFront {
  running: RunningPullgate;
  /** The socket pullgate listens on. */
  socket: string;
  /** A kubelet talking to pullgate. */
  kubelet: KubeletClient;
  /** Every log record so far, parsed. */
  records(): Record<string, unknown>[];
  /** The raw log text so far, exactly as pullgate wrote it. */
  logText(): string;
  /** The `pull-decision` records so far. */
  decisions(): Record<string, unknown>[];
  /** GETs a path on the metrics server. */
  http(path: string): Promise<{ status: number; body: string }>;
  stop(): Promise<void>;
}

/** Settings of one pullgate. */
export interface PullgateSettings {
  /** Policy file path (from `world.writePolicy`). */
  policy: string;
  /** Socket file name inside the world's directory. */
  socketName: string;
  /** Extra command-line flags, e.g. `["--mode", "audit"]`. */
  extraArgs?: string[];
}

/** Starts pullgate against the world; the caller stops it (before the world). */
export async function startPullgateInFront(
  world: LabWorld,
  settings: PullgateSettings,
): Promise<PullgateInFront> {
  const socket = join(world.dir, settings.socketName);
  const options = parseServeOptions([
    "--listen", socket,
    "--upstream", world.containerd.socket,
    "--policy", settings.policy,
    "--auth", "config-file",
    "--oci-config", world.ociConfigFile,
    "--artifacts-endpoint", world.oci.url,
    "--vault-endpoint", world.oci.url,
    "--metrics-listen", "127.0.0.1:0",
    "--decision-timeout", "5s",
    "--log-level", "trace",
    ...(settings.extraArgs ?? []),
  ]);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString("utf8").split("\n").filter((line) => line !== ""));
      done();
    },
  });
  const logger = createLogger("trace", sink);
  // As the CLI does: the OCI SDK's console chatter goes into the log, so the log is all of
  // pullgate's output. The console is given back when this pullgate stops.
  const saved = { log: console.log, info: console.info, warn: console.warn, debug: console.debug };
  routeConsoleToLog(logger);
  const running = await serve(options, { logger }).catch((error: unknown) => {
    Object.assign(console, saved);
    throw error;
  });
  const kubelet = new KubeletClient({ socket, timeoutMs: 60_000 });
  const records = (): Record<string, unknown>[] =>
    lines.map((line) => JSON.parse(line) as Record<string, unknown>);

  return {
    running,
    socket,
    kubelet,
    records,
    logText: () => lines.join("\n"),
    decisions: () => records().filter((record) => record.event === "pull-decision"),
    async http(path) {
      const response = await fetch(`http://${running.metricsAddress}${path}`);
      return { status: response.status, body: await response.text() };
    },
    async stop() {
      kubelet.close();
      await running.close(1000);
      Object.assign(console, saved);
    },
  };
}

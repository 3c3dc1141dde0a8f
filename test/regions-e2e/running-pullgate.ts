import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import type { AuthenticationDetailsProvider } from "oci-common";

import { KubeletClient } from "../../lab/kubelet-client";
import { parseServeOptions } from "../../src/config/options";
import { type RunningPullgate, serve } from "../../src/serve";
import { FakeRuntime } from "../cri/fixtures/fake-runtime";
import { captureLogs } from "../cri/fixtures/log-capture";

/**
 * The real `serve()` in this process, with its CRI socket and the runtime's (a recording
 * fake) in a temp dir, its log captured, its metrics on a loopback port, and a
 * kubelet-shaped client. The decision of each pull is read back from pullgate's own
 * `pull-decision` log line.
 */

/** What pullgate decided for one pull, as its log line says. */
export interface ObservedDecision {
  verdict: string;
  reason: string;
  detail: string;
  region?: string;
  /** Whether the runtime received the pull. */
  forwarded: boolean;
}

/** A running pullgate under test. */
export interface PullgateUnderTest {
  dir: string;
  pullgate: RunningPullgate;
  runtime: FakeRuntime;
  /** Parsed log records, oldest first. */
  logs(): Record<string, unknown>[];
  /** Pulls `image` as the kubelet would and returns pullgate's decision. */
  pull(image: string): Promise<ObservedDecision>;
  /** Pulls until the decision has `reason`; resolves with the milliseconds that took. */
  pullUntil(image: string, reason: string, sinceMs: number, limitMs?: number): Promise<number>;
  /** The text of `/metrics`. */
  metrics(): Promise<string>;
  /** `/readyz`'s status code. */
  readiness(): Promise<number>;
  close(): Promise<void>;
}

/** Starts pullgate with `args` (serve's flags, without socket and metrics flags). */
export async function startPullgate(
  args: readonly string[],
  auth: AuthenticationDetailsProvider,
): Promise<PullgateUnderTest> {
  const dir = mkdtempSync(join(tmpdir(), "pullgate-e2e-"));
  const runtime = await FakeRuntime.start(dir);
  const capture = captureLogs();
  const socket = join(dir, "pullgate.sock");
  let pullgate: RunningPullgate;
  try {
    const options = parseServeOptions([
      ...args,
      "--upstream",
      runtime.socket,
      "--metrics-listen",
      "127.0.0.1:0",
    ]);
    pullgate = await serve(options, {
      logger: capture.logger,
      auth,
      listen: { kind: "path", path: socket },
    });
  } catch (error) {
    await runtime.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const client = new KubeletClient({ socket, timeoutMs: 30_000 });
  const pod = { name: "web-0", namespace: "shop", uid: "5f1c0e5e-uid" };

  const pull = async (image: string): Promise<ObservedDecision> => {
    const before = capture.records.length;
    const pullsBefore = runtime.calls("PullImage").length;
    const answer = await client.pullImage(image, { pod });
    const line = capture.records
      .slice(before)
      .find((record) => record.event === "pull-decision");
    if (line === undefined) {
      const said = JSON.stringify({ answer, logs: capture.records.slice(before) });
      throw new Error(`no pull-decision line for ${image}: ${said}`);
    }
    const observed: ObservedDecision = {
      verdict: String(line.verdict),
      reason: String(line.reason),
      detail: String(line.detail),
      forwarded: runtime.calls("PullImage").length > pullsBefore,
    };
    if (typeof line.region === "string") observed.region = line.region;
    return observed;
  };

  return {
    dir,
    pullgate,
    runtime,
    logs: () => capture.records,
    pull,
    async pullUntil(image, reason, sinceMs, limitMs = 20_000) {
      for (;;) {
        const made = await pull(image);
        const elapsed = Date.now() - sinceMs;
        if (made.reason === reason) return elapsed;
        if (elapsed > limitMs) {
          throw new Error(`still ${made.reason} after ${elapsed} ms, expected ${reason}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async metrics() {
      const response = await fetch(`http://${pullgate.metricsAddress}/metrics`);
      return response.text();
    },
    async readiness() {
      const response = await fetch(`http://${pullgate.metricsAddress}/readyz`);
      await response.text();
      return response.status;
    },
    async close() {
      await pullgate.close(0);
      await runtime.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The value of one sample in Prometheus text, or undefined when it is absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}) {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== " " && rest[0] !== "{") continue;
    if (!wanted.every((pair) => rest.includes(pair))) continue;
    return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

/** Resolves once `check` holds, polling; fails after `limitMs`. */
export async function eventually(check: () => Promise<boolean> | boolean, limitMs = 15_000) {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > limitMs) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

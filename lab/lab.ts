import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { BREAK_GLASS_ANNOTATION } from "../src/config/defaults";
import { KubeletClient, type PodContext } from "./kubelet-client";
import { startLabWorld } from "./world";

/**
 * `npm run lab`: pullgate's main job on a self-contained node. It starts a real containerd
 * and registry, builds and pushes images, starts the fake OCI APIs holding a Vault key and
 * CLI-made signatures, runs the real `pullgate serve` in front of containerd, and makes the
 * pulls a kubelet makes. One line per pull, then the decision metrics.
 */

const CLI = join(__dirname, "..", "src", "cli.js");

interface Pull {
  label: string;
  image: string;
  pod: PodContext;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("the lab runs containerd: run it as root");
  console.log("starting containerd, a registry and the OCI stand-in...");
  const world = await startLabWorld();
  let pullgate: ReturnType<typeof spawn> | undefined;
  try {
    const signed = await world.pushImage("project01/hello", "v1");
    const unsigned = await world.pushImage("project01/unsigned", "v1");
    const later = await world.pushImage("project01/later", "v1");
    world.sign(signed);
    world.sign(later);
    const policy = world.writePolicy();
    const socket = join(world.dir, "pullgate.sock");

    pullgate = spawn(process.execPath, [
      CLI, "serve",
      "--listen", socket,
      "--upstream", world.containerd.socket,
      "--policy", policy,
      "--auth", "config-file",
      "--oci-config", world.ociConfigFile,
      "--artifacts-endpoint", world.oci.url,
      "--vault-endpoint", world.oci.url,
      "--metrics-listen", "127.0.0.1:0",
      "--decision-timeout", "5s",
    ], { stdio: ["ignore", "pipe", "inherit"] });
    const logLines: Record<string, unknown>[] = [];
    const metricsAddress = await startedAddress(pullgate, logLines);
    console.log(`pullgate serves ${socket}, metrics on http://${metricsAddress}/metrics\n`);

    const kubelet = new KubeletClient({ socket });
    const pod = (name: string, annotations: Record<string, string> = {}): PodContext => ({
      name, namespace: "shop", uid: `uid-${name}`, annotations,
    });
    const breakGlass = { [BREAK_GLASS_ANNOTATION]: "true" };
    const pulls: Pull[] = [
      { label: "signed, by digest", image: signed.byDigest, pod: pod("web") },
      { label: "unsigned, by digest", image: unsigned.byDigest, pod: pod("batch") },
      { label: "signed, by tag", image: signed.byTag, pod: pod("web-tag") },
      { label: "unsigned tag, break-glass pod", image: unsigned.byTag,
        pod: pod("hotfix", breakGlass) },
      { label: "not OCIR", image: `${world.registry.host}/library/tool:v1`, pod: pod("tool") },
    ];
    await pushPlain(world);

    for (const pull of pulls) await report(kubelet, pull, logLines);
    console.log("\nstopping the OCI stand-in: pullgate must fail closed");
    await world.oci.stop();
    await report(kubelet, { label: "signed, OCI unreachable", image: later.byDigest,
      pod: pod("web-2") }, logLines);

    const direct = new KubeletClient({ socket: world.containerd.socket });
    const landed = await direct.imageStatus(signed.byDigest);
    const present = landed.ok && landed.value !== undefined;
    console.log(`\ncontainerd has ${signed.byDigest}: ${present ? "yes" : "NO"}`);

    const metrics = await (await fetch(`http://${metricsAddress}/metrics`)).text();
    console.log("\ndecision metrics:");
    for (const line of metrics.split("\n")) {
      if (/^pullgate_decisions_total\{.*\} [1-9]/.test(line)) console.log(`  ${line}`);
    }
    kubelet.close();
    direct.close();
    if (!present) process.exitCode = 1;
  } finally {
    if (pullgate !== undefined && pullgate.exitCode === null) {
      pullgate.kill("SIGTERM");
      await once(pullgate, "exit");
    }
    await world.stop();
  }
}

/** Pushes a plain image to the local registry under its own (non-OCIR) name. */
async function pushPlain(world: Awaited<ReturnType<typeof startLabWorld>>): Promise<void> {
  const { buildAndPushImage } = await import("./image-builder");
  await buildAndPushImage(world.registry.url, "library/tool", "v1");
}

async function report(
  kubelet: KubeletClient,
  pull: Pull,
  logLines: readonly Record<string, unknown>[],
): Promise<void> {
  const seen = logLines.length;
  const result = await kubelet.pullImage(pull.image, { pod: pull.pod });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const decided = logLines.slice(seen).find((line) => line.event === "pull-decision");
  const reason = String(decided?.reason ?? "?");
  const verdict = result.ok ? "allowed" : "denied";
  console.log(`${verdict.padEnd(8)} ${reason.padEnd(18)} ${pull.label.padEnd(30)} ${pull.image}`);
  if (!result.ok) console.log(`         kubelet sees: ${result.details}`);
}

/** Waits for pullgate's "started" log line; collects its later JSON lines. */
async function startedAddress(
  child: ReturnType<typeof spawn>,
  lines: Record<string, unknown>[],
): Promise<string> {
  if (child.stdout === null) throw new Error("pullgate's stdout is not piped");
  const reader = createInterface({ input: child.stdout });
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`pullgate exited with ${code} at start-up`)));
    reader.on("line", (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return;
      }
      lines.push(line);
      if (line.event === "started") resolve(String(line.metrics));
    });
  });
}

main().catch((error: unknown) => {
  console.error(`lab failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exitCode = 1;
});

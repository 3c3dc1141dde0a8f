import { chmod, lstat, mkdir, readlink, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CRIO_UPSTREAM, DEFAULT_LISTEN } from "../../src/config/defaults";
import { createFakeHost, OKE_KUBELET_CONFIG, type FakeHost } from "./fake-host";
import { startFakeCriServer, type FakeCriServer } from "./fake-cri-server";
import { runScript } from "./run-script";

const script = join(__dirname, "../../deploy/host/pullgate-host.sh");
const configPath = "/etc/kubernetes/kubelet-config.json";
const units = [
  "pullgate.socket",
  "pullgate.service",
  "pullgate-fallback.service",
  "pullgate-guard.service",
  "pullgate-guard.timer",
];

let host: FakeHost;
let server: FakeCriServer | undefined;

beforeEach(async () => {
  host = await createFakeHost();
  await host.write(configPath, OKE_KUBELET_CONFIG);
  await host.write("/fake-systemctl", `#!/bin/sh\necho "$*" >> '${host.path("/systemctl.log")}'\n`);
  await chmod(host.path("/fake-systemctl"), 0o755);
});

afterEach(async () => {
  await server?.stop();
  server = undefined;
  await host.remove();
});

const hostScript = (args: string[], extra: Record<string, string> = {}) =>
  runScript(
    script,
    args,
    host.env({
      PULLGATE_SYSTEMCTL: host.path("/fake-systemctl"),
      PULLGATE_PREFLIGHT: "true",
      PULLGATE_HEALTH_WAIT: "5",
      ...extra,
    }),
  );

/** Copies a release to the node, as the DaemonSet's installer does, then installs it. */
const install = async (release: string, extra: Record<string, string> = {}) => {
  await mkdir(host.path(`/opt/pullgate/releases/${release}/rootfs/app`), { recursive: true });
  return hostScript(["install", "--release", `/opt/pullgate/releases/${release}`], extra);
};

const systemctlCalls = async (): Promise<string[]> =>
  (await readFile(host.path("/systemctl.log"), "utf8").catch(() => "")).split("\n").filter(Boolean);

const kubeletEndpoint = async (): Promise<unknown> =>
  (JSON.parse(await host.read(configPath)) as Record<string, unknown>).imageServiceEndpoint;

/** Healthy exactly when release A is current: release B stands for a broken build. */
const onlyReleaseAWorks = (): Record<string, string> => {
  const current = host.path("/opt/pullgate/current");
  return { PULLGATE_PROBE_CMD: `test "$(readlink '${current}')" = /opt/pullgate/releases/A` };
};

describe("pullgate-host.sh install", () => {
  it("installs the units, starts pullgate and switches the kubelet once it answers", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));

    const result = await install("A");

    expect(result.code, result.stderr).toBe(0);
    for (const unit of units) {
      const installed = await host.read(`/etc/systemd/system/${unit}`);
      const shipped = await readFile(join(__dirname, "../../deploy/host/systemd", unit), "utf8");
      expect(installed).toBe(shipped);
    }
    expect(await readlink(host.path("/opt/pullgate/current"))).toBe("/opt/pullgate/releases/A");
    expect(await systemctlCalls()).toEqual([
      "daemon-reload",
      "enable pullgate.socket pullgate.service pullgate-guard.timer",
      "start pullgate.socket",
      "restart pullgate.service",
      "start pullgate-guard.timer",
    ]);
    expect(await kubeletEndpoint()).toBe(`unix://${DEFAULT_LISTEN}`);
    expect(await host.restarts()).toBe(1);
  });

  it("forwards to the runtime the kubelet uses (CRI-O on OKE)", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));

    await install("A");

    const env = await host.read("/etc/pullgate/pullgate.env");
    expect(env).toContain(`PULLGATE_SERVE_ARGS="--upstream ${CRIO_UPSTREAM}"`);
    expect(env).toContain("PULLGATE_FALLBACK=direct");
  });

  it("keeps an --upstream the DaemonSet passes", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));

    await mkdir(host.path("/opt/pullgate/releases/A/rootfs/app"), { recursive: true });
    await hostScript([
      "install",
      "--release",
      "/opt/pullgate/releases/A",
      "--serve-args",
      "--upstream /run/other.sock --mode audit",
    ]);

    const env = await host.read("/etc/pullgate/pullgate.env");
    expect(env).toContain('PULLGATE_SERVE_ARGS="--upstream /run/other.sock --mode audit"');
  });

  it("neither restarts pullgate nor the kubelet when run again unchanged", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));
    await install("A");

    const again = await install("A");

    expect(again.code, again.stderr).toBe(0);
    const calls = await systemctlCalls();
    expect(calls.filter((c) => c === "restart pullgate.service")).toHaveLength(1);
    expect(calls).toContain("start pullgate.service");
    expect(await host.restarts()).toBe(1);
  });

  it("upgrades by moving current and keeping the old release as previous", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));
    await install("A");

    const result = await install("B");

    expect(result.code, result.stderr).toBe(0);
    expect(await readlink(host.path("/opt/pullgate/current"))).toBe("/opt/pullgate/releases/B");
    expect(await readlink(host.path("/opt/pullgate/previous"))).toBe("/opt/pullgate/releases/A");
    // The kubelet was already switched: an upgrade does not restart it.
    expect(await host.restarts()).toBe(1);
  });

  it("rolls back to the previous release when the new one does not answer", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));
    await install("A", onlyReleaseAWorks());

    const result = await install("B", onlyReleaseAWorks());

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("rolled back to A");
    expect(await readlink(host.path("/opt/pullgate/current"))).toBe("/opt/pullgate/releases/A");
    expect(await kubeletEndpoint()).toBe(`unix://${DEFAULT_LISTEN}`);
  });

  it("does not switch the kubelet when the first release never answers", async () => {
    const result = await install("A", { PULLGATE_PROBE_CMD: "false", PULLGATE_HEALTH_WAIT: "1" });

    expect(result.code).toBe(1);
    expect(await kubeletEndpoint()).toBeUndefined();
    expect(await host.restarts()).toBe(0);
  });

  it("changes nothing when the release fails its preflight", async () => {
    const result = await install("A", { PULLGATE_PREFLIGHT: "false" });

    expect(result.code).toBe(1);
    expect(await systemctlCalls()).toEqual([]);
    await expect(lstat(host.path("/opt/pullgate/current"))).rejects.toThrow();
  });

  it("keeps only the current and the previous release on disk", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));
    await install("A");
    await install("B");

    await install("C");

    await expect(lstat(host.path("/opt/pullgate/releases/A"))).rejects.toThrow();
    expect((await lstat(host.path("/opt/pullgate/releases/B"))).isDirectory()).toBe(true);
  });
});

describe("pullgate-host.sh guard", () => {
  it("falls back to the runtime after repeated failures, and back to pullgate after", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));
    await install("A");
    await server.stop();
    server = undefined;
    const guardEnv = { PULLGATE_GUARD_FAILURES: "3" };

    for (let i = 0; i < 2; i += 1) await hostScript(["guard"], guardEnv);
    expect(await kubeletEndpoint()).toBe(`unix://${DEFAULT_LISTEN}`);
    await hostScript(["guard"], guardEnv);

    expect(await host.read(configPath)).toBe(OKE_KUBELET_CONFIG);
    expect(await host.read("/var/lib/pullgate/fallback-active")).toMatch(/^since=/);

    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));
    const recovered = await hostScript(["guard"], guardEnv);

    expect(recovered.code, recovered.stderr).toBe(0);
    expect(await kubeletEndpoint()).toBe(`unix://${DEFAULT_LISTEN}`);
    await expect(lstat(host.path("/var/lib/pullgate/fallback-active"))).rejects.toThrow();
  });

  it("never falls back when the operator chose PULLGATE_FALLBACK=none", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));
    await install("A");
    await server.stop();
    server = undefined;

    for (let i = 0; i < 3; i += 1) {
      await hostScript(["guard"], { PULLGATE_GUARD_FAILURES: "1", PULLGATE_FALLBACK: "none" });
    }

    expect(await kubeletEndpoint()).toBe(`unix://${DEFAULT_LISTEN}`);
  });
});

describe("pullgate-host.sh uninstall", () => {
  it("gives the kubelet back its file, then removes the service and its files", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));
    await install("A");

    const result = await hostScript(["uninstall"]);

    expect(result.code, result.stderr).toBe(0);
    expect(await host.read(configPath)).toBe(OKE_KUBELET_CONFIG);
    expect(await host.restarts()).toBe(2);
    expect(await systemctlCalls()).toContain(
      "disable --now pullgate-guard.timer pullgate.service pullgate.socket",
    );
    for (const gone of ["/opt/pullgate", "/etc/pullgate", "/etc/systemd/system/pullgate.service"]) {
      await expect(lstat(host.path(gone))).rejects.toThrow();
    }
  });
});

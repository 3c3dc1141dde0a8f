import { stat } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_LISTEN } from "../../src/config/defaults";
import { createFakeHost, OKE_KUBELET_CONFIG, type FakeHost } from "./fake-host";
import { startFakeCriServer, type FakeCriServer } from "./fake-cri-server";
import { runScript } from "./run-script";

const script = join(__dirname, "../../deploy/host/kubelet-switch.sh");
const configPath = "/etc/kubernetes/kubelet-config.json";
const pullgateEndpoint = `unix://${DEFAULT_LISTEN}`;

let host: FakeHost;
let server: FakeCriServer | undefined;

beforeEach(async () => {
  host = await createFakeHost();
  await host.write(configPath, OKE_KUBELET_CONFIG);
});

afterEach(async () => {
  await server?.stop();
  server = undefined;
  await host.remove();
});

const switchKubelet = (args: string[], extra: Record<string, string> = {}) =>
  runScript(script, args, host.env(extra));

const parsedConfig = async (): Promise<Record<string, unknown>> =>
  JSON.parse(await host.read(configPath)) as Record<string, unknown>;

describe("kubelet-switch.sh enable", () => {
  it("points the kubelet at pullgate once pullgate answers a real CRI call", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));

    const result = await switchKubelet(["enable", "--wait", "10"]);

    expect(result.code, result.stderr).toBe(0);
    expect(server.calls()).toBeGreaterThan(0);
    expect(await parsedConfig()).toEqual({
      ...(JSON.parse(OKE_KUBELET_CONFIG) as object),
      imageServiceEndpoint: pullgateEndpoint,
    });
    expect(await host.restarts()).toBe(1);
  });

  it("backs up the kubelet's own file before editing it", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));

    await switchKubelet(["enable", "--wait", "10"]);

    const backup = await host.read("/var/lib/pullgate/kubelet-switch/kubelet-config.orig");
    expect(backup).toBe(OKE_KUBELET_CONFIG);
  });

  it("keeps the file's mode when it edits it", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));
    const { chmod } = await import("node:fs/promises");
    await chmod(host.path(configPath), 0o600);

    await switchKubelet(["enable", "--wait", "10"]);

    expect((await stat(host.path(configPath))).mode & 0o777).toBe(0o600);
  });

  it("changes nothing and restarts nothing when run a second time", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));
    await switchKubelet(["enable", "--wait", "10"]);
    const once = await host.read(configPath);

    const again = await switchKubelet(["enable", "--wait", "10"]);

    expect(again.code, again.stderr).toBe(0);
    expect(await host.read(configPath)).toBe(once);
    expect(await host.restarts()).toBe(1);
  });

  it("waits for pullgate's socket to appear before switching", async () => {
    const pending = switchKubelet(["enable", "--wait", "60"]);
    // The script polls; the socket shows up while it waits.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await host.restarts()).toBe(0);
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));

    const result = await pending;

    expect(result.code, result.stderr).toBe(0);
    expect((await parsedConfig()).imageServiceEndpoint).toBe(pullgateEndpoint);
  });

  it("leaves the kubelet alone when pullgate answers with an error", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN), false);

    const result = await switchKubelet(["enable", "--wait", "2"]);

    expect(result.code).toBe(3);
    expect(result.stderr).toContain("does not answer");
    expect(await host.read(configPath)).toBe(OKE_KUBELET_CONFIG);
    expect(await host.restarts()).toBe(0);
  });

  it("leaves the kubelet alone when nothing listens on the socket", async () => {
    const result = await switchKubelet(["enable", "--wait", "1"]);

    expect(result.code).toBe(3);
    expect(await host.read(configPath)).toBe(OKE_KUBELET_CONFIG);
    expect(await host.restarts()).toBe(0);
  });

  it("edits the file the running kubelet names with --config", async () => {
    const yaml = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";
    await host.write("/var/lib/kubelet/config.yaml", yaml);
    await host.addKubelet(["--config", "/var/lib/kubelet/config.yaml", "--v=2"]);
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));

    const result = await switchKubelet(["enable", "--wait", "10"]);

    expect(result.code, result.stderr).toBe(0);
    expect(await host.read("/var/lib/kubelet/config.yaml")).toBe(
      `${yaml}imageServiceEndpoint: ${pullgateEndpoint}\n`,
    );
    expect(await host.read(configPath)).toBe(OKE_KUBELET_CONFIG);
  });

  it("refuses when a kubelet flag would override the config file", async () => {
    await host.addKubelet([
      `--config=${configPath}`,
      "--image-service-endpoint=unix:///var/run/crio/crio.sock",
    ]);
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));

    const result = await switchKubelet(["enable", "--wait", "10"]);

    expect(result.code).toBe(4);
    expect(result.stderr).toContain("--image-service-endpoint");
    expect(await host.read(configPath)).toBe(OKE_KUBELET_CONFIG);
  });
});

describe("kubelet-switch.sh disable", () => {
  it("restores the kubelet's file byte for byte and restarts the kubelet", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));
    await switchKubelet(["enable", "--wait", "10"]);

    const result = await switchKubelet(["disable"]);

    expect(result.code, result.stderr).toBe(0);
    expect(await host.read(configPath)).toBe(OKE_KUBELET_CONFIG);
    expect(await host.restarts()).toBe(2);
  });

  it("does nothing when the kubelet does not use pullgate", async () => {
    const result = await switchKubelet(["disable"]);

    expect(result.code, result.stderr).toBe(0);
    expect(await host.read(configPath)).toBe(OKE_KUBELET_CONFIG);
    expect(await host.restarts()).toBe(0);
  });

  it("keeps changes others made after the switch and takes out only its own", async () => {
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));
    await switchKubelet(["enable", "--wait", "10"]);
    const edited = (await host.read(configPath)).replace('"maxPods": 110', '"maxPods": 64');
    await host.write(configPath, edited);

    await switchKubelet(["disable"]);

    const config = await parsedConfig();
    expect(config.maxPods).toBe(64);
    expect(config).not.toHaveProperty("imageServiceEndpoint");
  });

  it("gives back an image service endpoint the kubelet had before", async () => {
    const own = OKE_KUBELET_CONFIG.replace(
      '"cgroupDriver"',
      '"imageServiceEndpoint": "unix:///var/run/crio/crio.sock",\n  "cgroupDriver"',
    );
    await host.write(configPath, own);
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));
    await switchKubelet(["enable", "--wait", "10"]);
    expect((await parsedConfig()).imageServiceEndpoint).toBe(pullgateEndpoint);

    await switchKubelet(["disable"]);

    expect(await host.read(configPath)).toBe(own);
  });
});

describe("kubelet-switch.sh status and runtime-endpoint", () => {
  it("reports which image service the kubelet uses", async () => {
    expect((await switchKubelet(["status"])).stdout.trim()).toBe("runtime");
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));
    await switchKubelet(["enable", "--wait", "10"]);
    expect((await switchKubelet(["status"])).stdout.trim()).toBe("pullgate");
  });

  it("reads the runtime socket the kubelet uses for containers", async () => {
    const result = await switchKubelet(["runtime-endpoint"]);
    expect(result.stdout.trim()).toBe("unix:///var/run/crio/crio.sock");
  });
});

import { lstat, readlink, rm, stat, symlink } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
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

const yamlPath = "/var/lib/kubelet/config.yaml";
const statePath = "/var/lib/pullgate/kubelet-switch/state";
const OKE_YAML = [
  "apiVersion: kubelet.config.k8s.io/v1beta1",
  "kind: KubeletConfiguration",
  "containerRuntimeEndpoint: unix:///var/run/crio/crio.sock",
  "maxPods: 110",
  "",
].join("\n");

/** The image service endpoint the kubelet would read from a config file's text. */
const kubeletReads = (text: string): unknown =>
  (parse(text) as Record<string, unknown>).imageServiceEndpoint;

const exists = (hostPath: string) =>
  stat(host.path(hostPath)).then(
    () => true,
    () => false,
  );

describe("kubelet-switch.sh disable after the file was rewritten", () => {
  const cases: {
    name: string;
    path: string;
    own: string;
    rewrite: (switched: string) => string;
    restored: unknown;
  }[] = [
    {
      name: "JSON pretty-printed again after the switch",
      path: configPath,
      own: OKE_KUBELET_CONFIG,
      rewrite: (text) => JSON.stringify(JSON.parse(text), null, 4),
      restored: undefined,
    },
    {
      name: "JSON that held an empty imageServiceEndpoint before the switch",
      path: configPath,
      own: OKE_KUBELET_CONFIG.replace('"maxPods"', '"imageServiceEndpoint": "",\n  "maxPods"'),
      rewrite: (text) => text.replace('"maxPods": 110', '"maxPods": 64'),
      restored: "",
    },
    {
      name: "JSON with CRLF line endings and escaped slashes",
      path: configPath,
      own: OKE_KUBELET_CONFIG,
      rewrite: (text) => text.replaceAll("/", "\\/").replaceAll("\n", "\r\n"),
      restored: undefined,
    },
    {
      name: "YAML whose value was quoted after the switch",
      path: yamlPath,
      own: OKE_YAML,
      rewrite: (text) =>
        text.replace(`: ${pullgateEndpoint}`, `: "${pullgateEndpoint}"`).replace("110", "64"),
      restored: undefined,
    },
    {
      name: "YAML rewritten with CRLF line endings",
      path: yamlPath,
      own: OKE_YAML,
      rewrite: (text) => text.replaceAll("\n", "\r\n"),
      restored: undefined,
    },
    {
      name: "YAML with a comment after the value",
      path: yamlPath,
      own: OKE_YAML,
      rewrite: (text) => text.replace(pullgateEndpoint, `${pullgateEndpoint}  # via pullgate`),
      restored: undefined,
    },
    {
      name: "YAML with the value moved to the next line",
      path: yamlPath,
      own: OKE_YAML,
      rewrite: (text) => text.replace(`: ${pullgateEndpoint}`, `:\n  ${pullgateEndpoint}`),
      restored: undefined,
    },
  ];

  it.each(cases)("takes pullgate out of $name", async ({ path, own, rewrite, restored }) => {
    await host.write(path, own);
    const env = { PULLGATE_KUBELET_CONFIG: path };
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));
    const enabled = await switchKubelet(["enable", "--wait", "10"], env);
    expect(enabled.code, enabled.stderr).toBe(0);
    await host.write(path, rewrite(await host.read(path)));
    expect(kubeletReads(await host.read(path))).toBe(pullgateEndpoint);
    expect((await switchKubelet(["status"], env)).stdout.trim()).toBe("pullgate");

    const result = await switchKubelet(["disable"], env);

    expect(result.code, result.stderr).toBe(0);
    const text = await host.read(path);
    expect(kubeletReads(text)).toBe(restored);
    expect(text).not.toContain("pullgate");
    expect((await switchKubelet(["status"], env)).stdout.trim()).toBe("runtime");
    expect(await exists(statePath)).toBe(false);
    expect(await host.restarts()).toBe(2);
  });

  it("fails, keeps its state and restarts nothing when it cannot take pullgate out", async () => {
    // An explicit YAML key names the same top-level setting in a form no line edit can undo.
    const own = `${OKE_YAML}? imageServiceEndpoint\n: ${pullgateEndpoint}\n`;
    await host.write(yamlPath, own);
    const env = { PULLGATE_KUBELET_CONFIG: yamlPath };
    expect(kubeletReads(own)).toBe(pullgateEndpoint);
    expect((await switchKubelet(["status"], env)).stdout.trim()).toBe("pullgate");
    await host.write(statePath, `config=${yamlPath}\nformat=yaml\nadded=1\nprevious=\n`);

    const result = await switchKubelet(["disable"], env);

    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("still uses pullgate");
    expect(result.stderr).not.toContain("restored");
    expect(await host.read(yamlPath)).toBe(own);
    expect(await exists(statePath)).toBe(true);
    expect(await host.restarts()).toBe(0);
  });
});

describe("kubelet-switch.sh enable on files of every shape", () => {
  const cases: { name: string; path: string; own: string; written: string }[] = [
    {
      name: "a .yaml file that holds JSON",
      path: yamlPath,
      own: OKE_KUBELET_CONFIG,
      written: `{"imageServiceEndpoint": "${pullgateEndpoint}", ${OKE_KUBELET_CONFIG.slice(1)}`,
    },
    {
      name: "an empty JSON object",
      path: configPath,
      own: "{}\n",
      written: `{"imageServiceEndpoint": "${pullgateEndpoint}"}\n`,
    },
    {
      name: "YAML that ends with a document-end marker",
      path: yamlPath,
      own: `${OKE_YAML}...\n`,
      written: `${OKE_YAML}imageServiceEndpoint: ${pullgateEndpoint}\n...\n`,
    },
    {
      name: "YAML with CRLF line endings",
      path: yamlPath,
      own: OKE_YAML.replaceAll("\n", "\r\n"),
      written: `${OKE_YAML}imageServiceEndpoint: ${pullgateEndpoint}\n`.replaceAll("\n", "\r\n"),
    },
  ];

  it.each(cases)("writes a valid switch into $name and undoes it", async (example) => {
    await host.write(example.path, example.own);
    const env = { PULLGATE_KUBELET_CONFIG: example.path };
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));

    const result = await switchKubelet(["enable", "--wait", "10"], env);

    expect(result.code, result.stderr).toBe(0);
    const text = await host.read(example.path);
    expect(text).toBe(example.written);
    expect(kubeletReads(text)).toBe(pullgateEndpoint);
    expect((await switchKubelet(["disable"], env)).code).toBe(0);
    expect(await host.read(example.path)).toBe(example.own);
  });

  it("leaves the file alone and fails when the value it wrote does not read back", async () => {
    const own = OKE_KUBELET_CONFIG.replace('"maxPods"', '"imageServiceEndpoint": 7,\n  "maxPods"');
    await host.write(configPath, own);
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));

    const result = await switchKubelet(["enable", "--wait", "10"]);

    expect(result.code).toBe(5);
    expect(result.stderr).toContain("unchanged");
    expect(await host.read(configPath)).toBe(own);
    expect(await exists(statePath)).toBe(false);
    expect(await host.restarts()).toBe(0);
  });
});

describe("kubelet-switch.sh on a symlinked config file", () => {
  it("edits the file the link names and keeps the link", async () => {
    const target = "/opt/kubelet-conf-target/kubelet-config.json";
    await host.write(target, OKE_KUBELET_CONFIG);
    await rm(host.path(configPath));
    // An absolute link target is a host path: it resolves inside the host root.
    await symlink(target, host.path(configPath));
    server = await startFakeCriServer(host.path(DEFAULT_LISTEN));

    const enabled = await switchKubelet(["enable", "--wait", "10"]);

    expect(enabled.code, enabled.stderr).toBe(0);
    expect((await lstat(host.path(configPath))).isSymbolicLink()).toBe(true);
    expect(kubeletReads(await host.read(target))).toBe(pullgateEndpoint);

    const disabled = await switchKubelet(["disable"]);

    expect(disabled.code, disabled.stderr).toBe(0);
    expect(await readlink(host.path(configPath))).toBe(target);
    expect(await host.read(target)).toBe(OKE_KUBELET_CONFIG);
  });
});

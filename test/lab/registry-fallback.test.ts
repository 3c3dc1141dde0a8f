/**
 * Why the lab's hosts.toml sets `server`: a stand-in on 127.0.0.1 plays the real OCIR host,
 * and counts whether containerd ever tried to reach it.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTAINERD_BINARY, imageServiceAnswers, startContainerd } from "../../lab/containerd";
import type { LabContainerd } from "../../lab/containerd";
import { containerdConfig } from "../../lab/containerd-config";
import { buildAndPushImage, type PushedImage } from "../../lab/image-builder";
import { startLabProcess, type LabProcess } from "../../lab/processes";
import { hostsToml } from "../../lab/registry-hosts";
import { startRegistry, type LocalRegistry } from "../../lab/registry";
import { waitUntilReady } from "../../lab/wait-until-ready";
import { KubeletClient } from "../../lab/kubelet-client";
import { startCountingTcpServer, type CountingTcpServer } from "./counting-tcp-server";
import { labSkipReason, labSuiteTitle } from "./lab-requirements";

const REPOSITORY = "axaxnpcrorw5/project01/hello";
const title = labSuiteTitle("containerd's registry host configuration");

describe.skipIf(labSkipReason() !== null)(title, () => {
  let registry: LocalRegistry;
  let containerd: LabContainerd;
  let cri: KubeletClient;
  let image: PushedImage;
  const standIns: CountingTcpServer[] = [];

  const standIn = async (): Promise<CountingTcpServer> => {
    const server = await startCountingTcpServer();
    standIns.push(server);
    return server;
  };

  beforeAll(async () => {
    registry = await startRegistry();
    containerd = await startContainerd({ registryHost: registry.host, ocirHosts: [] });
    cri = new KubeletClient({ socket: containerd.socket });
    image = await buildAndPushImage(registry.url, REPOSITORY, "v1");
  });

  afterAll(async () => {
    cri?.close();
    await containerd?.stop();
    await registry?.stop();
    for (const server of standIns) await server.close();
  });

  it("with server set, serves the image and never contacts the real host", async () => {
    const realHost = await standIn();
    const host = `127.0.0.1:${realHost.port}`;
    await writeHostsToml(containerd.certsDir, host, hostsToml(registry.host));

    const pulled = await cri.pullImage(`${host}/${REPOSITORY}@${image.digest}`);
    const missing = await cri.pullImage(`${host}/${REPOSITORY}:no-such-tag`);

    expect(pulled).toEqual({ ok: true, value: image.configDigest });
    expect(missing.ok).toBe(false);
    expect(realHost.connections()).toBe(0);
  });

  it("with only a mirror entry, falls back to the real host when the mirror fails", async () => {
    const realHost = await standIn();
    const host = `127.0.0.1:${realHost.port}`;
    const mirrorOnly = `[host."http://${registry.host}"]\n  capabilities = ["pull", "resolve"]\n`;
    await writeHostsToml(containerd.certsDir, host, mirrorOnly);

    const missing = await cri.pullImage(`${host}/${REPOSITORY}:no-such-tag`);

    expect(missing.ok).toBe(false);
    expect(realHost.connections()).toBeGreaterThan(0);
  });

  it("with the older registry.mirrors setting, falls back to the real host", async () => {
    const realHost = await standIn();
    const host = `127.0.0.1:${realHost.port}`;
    const legacy = await startLegacyMirrorContainerd(host, registry.host);
    const legacyCri = new KubeletClient({ socket: legacy.socket });
    try {
      const pulled = await legacyCri.pullImage(`${host}/${REPOSITORY}@${image.digest}`);
      expect(pulled.ok).toBe(true);
      expect(realHost.connections()).toBe(0);

      const missing = await legacyCri.pullImage(`${host}/${REPOSITORY}:no-such-tag`);

      expect(missing.ok).toBe(false);
      expect(realHost.connections()).toBeGreaterThan(0);
    } finally {
      legacyCri.close();
      await legacy.stop();
    }
  });
});

async function writeHostsToml(certsDir: string, host: string, toml: string): Promise<void> {
  await mkdir(join(certsDir, host), { recursive: true });
  await writeFile(join(certsDir, host, "hosts.toml"), toml);
}

/** The lab's containerd, but with a `registry.mirrors` table instead of `config_path`. */
async function startLegacyMirrorContainerd(
  mirroredHost: string,
  registryHost: string,
): Promise<{ socket: string; stop(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "pullgate-containerd-legacy-"));
  const layout = {
    dir,
    socket: join(dir, "containerd.sock"),
    rootDir: join(dir, "root"),
    stateDir: join(dir, "state"),
    certsDir: join(dir, "certs.d"),
  };
  const registrySection = `[plugins."io.containerd.grpc.v1.cri".registry]`;
  const config = containerdConfig(layout).replace(
    /^ {2}config_path = .*$/m,
    `  [${registrySection.slice(1, -1)}.mirrors."${mirroredHost}"]\n` +
      `    endpoint = ["http://${registryHost}"]`,
  );
  expect(config).toContain(`endpoint = ["http://${registryHost}"]`);
  for (const sub of ["tmp", "opt", "cni/bin", "cni/net.d"]) {
    await mkdir(join(dir, sub), { recursive: true });
  }
  await writeFile(join(dir, "config.toml"), config);

  const child: LabProcess = await startLabProcess(
    CONTAINERD_BINARY,
    ["--config", join(dir, "config.toml")],
    join(dir, "containerd.log"),
  );
  const stop = async (): Promise<void> => {
    await child.stop();
    await rm(dir, { recursive: true, force: true });
  };
  await waitUntilReady("containerd", child, () => imageServiceAnswers(layout.socket), 60_000)
    .catch(async (err: unknown) => {
      await stop();
      throw err;
    });
  return { socket: layout.socket, stop };
}

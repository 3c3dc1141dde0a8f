import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startContainerd, type LabContainerd } from "../../lab/containerd";
import { buildAndPushImage, hostArchitecture, sha256Digest } from "../../lab/image-builder";
import type { PushedImage } from "../../lab/image-builder";
import { startRegistry, type LocalRegistry } from "../../lab/registry";
import { KubeletClient } from "../../lab/kubelet-client";
import { labSkipReason, labSuiteTitle } from "./lab-requirements";
import { listeningTcpAddresses } from "./listening-sockets";

const NAMESPACE = "axaxnpcrorw5";
const HELLO = `${NAMESPACE}/project01/hello`;
const NGINX = `${NAMESPACE}/project01/ngnix-lb`;
const MISSING_DIGEST = `sha256:${createHash("sha256").update("missing").digest("hex")}`;

interface ImageConfig {
  architecture: string;
  os: string;
  rootfs: { diff_ids: string[] };
}

describe.skipIf(labSkipReason() !== null)(labSuiteTitle("the lab environment"), () => {
  let registry: LocalRegistry;
  let containerd: LabContainerd;
  let cri: KubeletClient;
  let hello: PushedImage;
  let nginx: PushedImage;
  const timings: Record<string, number> = {};

  const timed = async <T>(name: string, step: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    const result = await step();
    timings[name] = Math.round(performance.now() - started);
    return result;
  };

  beforeAll(async () => {
    registry = await timed("registry start ms", () => startRegistry());
    containerd = await timed("containerd start ms", () =>
      startContainerd({ registryHost: registry.host }),
    );
    cri = new KubeletClient({ socket: containerd.socket });
    hello = await timed("build+push ms", () => buildAndPushImage(registry.url, HELLO, "v1"));
    nginx = await buildAndPushImage(registry.url, NGINX, "v2", { format: "docker" });
  });

  afterAll(async () => {
    cri?.close();
    await containerd?.stop();
    await registry?.stop();
    console.info(`lab timings: ${JSON.stringify(timings)}`);
  });

  it("serves the CRI v1 image service on containerd's own socket", async () => {
    expect(containerd.socket).toMatch(/\/pullgate-containerd-\w+\/containerd\.sock$/);
    expect(containerd.socket.startsWith(tmpdir())).toBe(true);
    const listed = await cri.listImages();
    expect(listed).toEqual({ ok: true, value: [] });
  });

  it("gives images of different content different digests", () => {
    expect(hello.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(nginx.digest).not.toBe(hello.digest);
    expect(nginx.layerDigests).not.toEqual(hello.layerDigests);
  });

  it("pushes a gzipped layer tar can list and a config for this machine", async () => {
    const blobUrl = (digest: string): string => `${registry.url}/v2/${HELLO}/blobs/${digest}`;
    const layerDigest = hello.layerDigests[0] ?? "";
    const layer = Buffer.from(await (await fetch(blobUrl(layerDigest))).arrayBuffer());
    const config = (await (await fetch(blobUrl(hello.configDigest))).json()) as ImageConfig;

    const listing = execFileSync("tar", ["-tzf", "-"], { input: layer }).toString();

    expect(listing.split("\n")).toEqual(expect.arrayContaining(["etc/", "hello.txt"]));
    expect(config.architecture).toBe(hostArchitecture());
    expect(config.os).toBe("linux");
    expect(config.rootfs.diff_ids).toEqual([sha256Digest(gunzipSync(layer))]);
  });

  it("pulls an OCIR image by digest from the local registry", async () => {
    const image = `phx.ocir.io/${HELLO}@${hello.digest}`;

    const pulled = await timed("CRI pull ms", () => cri.pullImage(image));

    expect(pulled).toEqual({ ok: true, value: hello.configDigest });
    const status = await cri.imageStatus(image);
    expect(status.ok && status.value?.id).toBe(hello.configDigest);
    expect(status.ok && status.value?.repoDigests).toContain(image);
  });

  it("pulls an OCIR image by tag from another OCIR host", async () => {
    const image = `fra.ocir.io/${NGINX}:v2`;

    const pulled = await cri.pullImage(image, { pod: { name: "web-0", namespace: "shop", uid: "lab" } });

    expect(pulled).toEqual({ ok: true, value: nginx.configDigest });
    const status = await cri.imageStatus(image);
    expect(status.ok && status.value?.repoTags).toContain(image);
    expect(status.ok && status.value?.repoDigests).toContain(
      `fra.ocir.io/${NGINX}@${nginx.digest}`,
    );
  });

  it("served both pulls from the local registry", async () => {
    const byContainerd = (await registry.requests()).filter((request) =>
      request.userAgent.startsWith("containerd/"),
    );
    const served = byContainerd.map(({ method, status, path }) => `${method} ${status} ${path}`);

    expect(served).toContainEqual(
      `GET 200 /v2/${HELLO}/manifests/${hello.digest}?ns=phx.ocir.io`,
    );
    expect(served).toContainEqual(`HEAD 200 /v2/${NGINX}/manifests/v2?ns=fra.ocir.io`);
    for (const layer of [...hello.layerDigests, ...nginx.layerDigests]) {
      expect(served.some((line) => line.startsWith("GET 200 ") && line.includes(layer))).toBe(
        true,
      );
    }
  });

  it("fails a pull the registry cannot serve without trying the real OCIR host", async () => {
    const image = `iad.ocir.io/${HELLO}@${MISSING_DIGEST}`;
    // A failed pull is exactly when a wrong hosts.toml would reach for the real host, so
    // make sure of the configuration before asking for it.
    const hostsFile = join(containerd.certsDir, "iad.ocir.io", "hosts.toml");
    expect(await readFile(hostsFile, "utf8")).toMatch(
      new RegExp(`^server = "http://${registry.host}"$`, "m"),
    );

    const pulled = await cri.pullImage(image);

    expect(pulled.ok).toBe(false);
    const paths = (await registry.requests()).map((request) => request.path);
    expect(paths).toContain(`/v2/${HELLO}/manifests/${MISSING_DIGEST}?ns=iad.ocir.io`);
  });

  it("sent every registry request to the local registry and none to an OCIR host", async () => {
    expect(await containerd.contactedRegistryHosts()).toEqual([registry.host]);
  });

  it("listens on TCP only on the loopback interface", async () => {
    const addresses = [
      ...(await listeningTcpAddresses(containerd.pid)),
      ...(await listeningTcpAddresses(registry.pid)),
    ];

    expect(addresses).toContain(registry.host);
    for (const address of addresses) expect(address).toMatch(/^127\.0\.0\.1:\d+$/);
  });
});

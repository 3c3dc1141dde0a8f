import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { KubeletClient, type PodContext } from "../../lab/kubelet-client";
import { startLabWorld, type LabImage, type LabWorld } from "../../lab/world";
import { parseServeOptions } from "../../src/config/options";
import { serve, type RunningPullgate } from "../../src/serve";
import { captureLogs } from "../cri/fixtures/log-capture";
import { labSkipReason, labSuiteTitle } from "../lab/lab-requirements";
import { BREAK_GLASS } from "./gated-node";

/**
 * The whole path on a real containerd: pullgate serving in-process in front of it, the
 * lab's registry standing in for OCIR and the fake OCI APIs holding a Vault key and
 * CLI-made signatures. The kubelet's calls are made the way the kubelet makes them.
 */

const pod = (name: string, extra: Partial<PodContext> = {}): PodContext => ({
  name,
  namespace: "shop",
  uid: `uid-${name}`,
  ...extra,
});

describe.skipIf(labSkipReason() !== null)(labSuiteTitle("enforcement on containerd"), () => {
  let world: LabWorld;
  let pullgate: RunningPullgate;
  let kubelet: KubeletClient;
  let direct: KubeletClient;
  let unsigned: LabImage;
  let signed: LabImage;
  const logs = captureLogs();

  beforeAll(async () => {
    world = await startLabWorld();
    unsigned = await world.pushImage("project01/unsigned", "v1");
    signed = await world.pushImage("project01/hello", "v1");
    world.sign(signed);
    const socket = join(world.dir, "pullgate.sock");
    const options = parseServeOptions([
      "--listen", socket,
      "--upstream", world.containerd.socket,
      "--policy", world.writePolicy(),
      "--auth", "config-file",
      "--oci-config", world.ociConfigFile,
      "--artifacts-endpoint", world.oci.url,
      "--vault-endpoint", world.oci.url,
      "--metrics-listen", "127.0.0.1:0",
      "--decision-timeout", "10s",
    ]);
    const listen = { kind: "path", path: socket } as const;
    pullgate = await serve(options, { logger: logs.logger, listen });
    kubelet = new KubeletClient({ socket, timeoutMs: 60_000 });
    direct = new KubeletClient({ socket: world.containerd.socket, timeoutMs: 60_000 });
  });

  afterAll(async () => {
    kubelet?.close();
    direct?.close();
    await pullgate?.close(1000);
    await world?.stop();
  });

  it("denies a pod without break-glass an unsigned image a break-glass pod pulled moments before",
    async () => {
      const hotfix = pod("hotfix", { annotations: BREAK_GLASS });
      const first = await kubelet.ensureImage(unsigned.byDigest, { pod: hotfix });
      expect(first).toMatchObject({ ok: true, value: { pulled: true } });
      const onNode = await direct.imageStatus(unsigned.byDigest);
      expect(onNode.ok && onNode.value?.repoDigests).toContain(unsigned.byDigest);

      // IfNotPresent: ImageStatus first; the image is hidden, so the pull is judged.
      for (const annotateImage of [false, true]) {
        const web = pod(`web-${annotateImage}`, { annotations: { team: "a" }, annotateImage });
        const later = await kubelet.ensureImage(unsigned.byDigest, { pod: web });
        expect(later.ok).toBe(false);
        expect(later.ok ? "" : later.details).toMatch(/^SignatureValidationFailed: .*unsigned/);
      }
      // Always: straight to PullImage.
      const always = await kubelet.pullImage(unsigned.byDigest, { pod: pod("web-always") });
      expect(always.ok ? "" : always.details).toMatch(/^SignatureValidationFailed: .*unsigned/);

      const warned = logs.records.find((r) => r.reason === "break-glass");
      expect(warned).toMatchObject({ level: 40, pod: "hotfix", namespace: "shop" });
      expect(await pullgate.metrics.registry.metrics()).toMatch(
        /pullgate_decisions_total\{reason="break-glass",verdict="allow",mode="enforce"\} 1/,
      );
    });

  it("hides the unsigned image when asked by image ID, tag or ID prefix", async () => {
    const onNode = await direct.imageStatus(unsigned.byDigest);
    const id = onNode.ok ? (onNode.value?.id ?? "") : "";
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    await kubelet.pullImage(unsigned.byTag, { pod: pod("tagger", { annotations: BREAK_GLASS }) });

    for (const asked of [id, id.slice(0, 19), unsigned.byTag]) {
      const direct_ = await direct.imageStatus(asked);
      expect(direct_.ok && direct_.value?.id, `containerd finds ${asked}`).toBe(id);
      expect(await kubelet.imageStatus(asked), asked).toEqual({ ok: true, value: undefined });
    }
    const tagged = await kubelet.pullImage(unsigned.byTag, { pod: pod("web-tag") });
    expect(tagged.ok ? "" : tagged.details).toMatch(/tag-reference/);
  });

  it("lets a break-glass pod see the present image when its annotations reach ImageStatus",
    async () => {
      const seen = await kubelet.imageStatus(unsigned.byDigest, { annotations: BREAK_GLASS });
      expect(seen.ok && seen.value?.repoDigests).toContain(unsigned.byDigest);
      expect(await kubelet.imageStatus(unsigned.byDigest)).toEqual({ ok: true, value: undefined });
    });

  it("shows a signed image, by digest and by ID, once a verdict allows it", async () => {
    const ensured = await kubelet.ensureImage(signed.byDigest, { pod: pod("web") });
    expect(ensured).toMatchObject({ ok: true, value: { pulled: true } });

    const byDigest = await kubelet.imageStatus(signed.byDigest);
    expect(byDigest.ok && byDigest.value?.repoDigests).toContain(signed.byDigest);
    const id = byDigest.ok ? (byDigest.value?.id ?? "") : "";
    expect(await kubelet.imageStatus(id)).toMatchObject({ ok: true, value: { id } });
    // A second pod with IfNotPresent finds it present and pulls nothing.
    const again = await kubelet.ensureImage(signed.byDigest, { pod: pod("web-2") });
    expect(again).toMatchObject({ ok: true, value: { pulled: false, imageRef: id } });
  });

  it("lists every image for garbage collection, hidden ones included", async () => {
    const listed = await kubelet.listImages();
    const digests = listed.ok ? listed.value.flatMap((image) => image.repoDigests) : [];
    expect(digests).toEqual(expect.arrayContaining([unsigned.byDigest, signed.byDigest]));
  });

  it("decides on the content containerd pulls, however the reference is spelled", async () => {
    const [name] = unsigned.byDigest.split("@");
    const spellings = [
      `${name}:v1@${unsigned.digest}`,
      `PHX.OCIR.IO/${name?.slice("phx.ocir.io/".length)}@${unsigned.digest}`,
      `phx.ocir.io:443/${name?.slice("phx.ocir.io/".length)}@${unsigned.digest}`,
    ];
    for (const image of spellings) {
      const pulled = await kubelet.pullImage(image, { pod: pod("spelling") });
      expect(pulled.ok ? "" : pulled.details, image).toMatch(/^SignatureValidationFailed: /);
    }
    // The signed digest under a stale tag pulls the signed content, and is allowed.
    const [signedName] = signed.byDigest.split("@");
    const stale = await kubelet.pullImage(`${signedName}:moved@${signed.digest}`,
      { pod: pod("stale") });
    expect(stale.ok).toBe(true);
  });
});

import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAndPushImage } from "../../lab/image-builder";
import { KubeletClient, type PodContext } from "../../lab/kubelet-client";
import { regionalOcid } from "../../lab/fake-oci/ocids";
import { createVaultKey, signImage } from "../../lab/oci-cli-signer";
import { type LabImage, type LabWorld, startLabWorld } from "../../lab/world";
import { labSkipReason, labSuiteTitle } from "../lab/lab-requirements";
import { type PullgateInFront, startPullgateInFront } from "./pullgate-in-front";

/**
 * Every decision-table row that can occur on a node, end to end: a kubelet-shaped client
 * calls a real pullgate in front of a real containerd whose OCIR hosts are served by a real
 * local registry, with signatures and keys from the fake OCI APIs. An allowed pull must be
 * in containerd afterwards; a denied one must never have reached it.
 */

const BREAK_GLASS = { "oracle.image-policy.k8s.io/break-glass": "true" };

const pod = (name: string, annotations: Record<string, string> = {}): PodContext => ({
  name,
  namespace: "shop",
  uid: `uid-${name}`,
  annotations,
});

describe.skipIf(labSkipReason() !== null)(labSuiteTitle("PullImage through pullgate"), () => {
  let world: LabWorld;
  let gate: PullgateInFront;
  /** A kubelet talking to containerd directly: the truth about what is on the node. */
  let containerd: KubeletClient;
  const images: Record<string, LabImage> = {};
  let plainImage = "";

  beforeAll(async () => {
    world = await startLabWorld();
    const names = ["signed", "unsigned", "tagged", "foreign", "forged", "replayed",
      "hotfix", "later", "relaxed", "mixed", "unkeyed"];
    for (const name of names) images[name] = await world.pushImage(`project01/${name}`);
    const image = (name: string): LabImage => images[name] as LabImage;

    world.sign(image("signed"));
    world.sign(image("tagged"));
    world.sign(image("later"));
    // Signed, but by a Vault key the policy does not name.
    const outsider = createVaultKey();
    world.oci.addKeyVersion({ ...outsider, compartmentId: world.tenancyId });
    world.sign(image("foreign"), outsider);
    // Claims the policy key, but made with another private key.
    world.sign(image("forged"), { ...world.vaultKey, privateKey: createVaultKey().privateKey });
    // A genuine signature of "signed" replayed onto "replayed": verifies, but names another
    // image in its message.
    world.oci.addSignature({
      ...signImage(world.vaultKey, {
        imageId: regionalOcid("containerimage"),
        compartmentId: world.tenancyId,
        repositoryName: image("signed").repository,
        imageDigest: image("signed").digest,
      }),
      repositoryName: image("replayed").repository,
      imageDigest: image("replayed").digest,
    });
    // One untrusted signature next to a good one: the good one decides.
    world.sign(image("mixed"), outsider);
    world.sign(image("mixed"));

    const plain = await buildAndPushImage(world.registry.url, "library/tool", "v1");
    plainImage = `${world.registry.host}/library/tool@${plain.digest}`;

    gate = await startPullgateInFront(world, {
      policy: world.writePolicy(),
      socketName: "pullgate.sock",
    });
    containerd = new KubeletClient({ socket: world.containerd.socket, timeoutMs: 60_000 });
  });

  afterAll(async () => {
    containerd?.close();
    await gate?.stop();
    await world?.stop();
  });

  const image = (name: string): LabImage => {
    const found = images[name];
    if (found === undefined) throw new Error(`no lab image ${name}`);
    return found;
  };

  /** Whether containerd itself has the image, asked on its own socket. */
  const inContainerd = async (reference: string): Promise<boolean> => {
    const answer = await containerd.imageStatus(reference);
    if (!answer.ok) throw new Error(`containerd ImageStatus failed: ${answer.details}`);
    return answer.value !== undefined;
  };

  /** The decision pullgate logged for a pod's pull. */
  const decisionFor = (podName: string): Record<string, unknown> => {
    const found = gate.decisions().filter((record) => record.pod === podName);
    expect(found).toHaveLength(1);
    return found[0] as Record<string, unknown>;
  };

  it("allows a signed image referenced by digest, and containerd really has it", async () => {
    const signed = image("signed");
    expect(await inContainerd(signed.byDigest)).toBe(false);

    const pulled = await gate.kubelet.pullImage(signed.byDigest, { pod: pod("web") });

    expect(pulled.ok).toBe(true);
    const status = await containerd.imageStatus(signed.byDigest);
    expect(status.ok && status.value?.repoDigests).toContain(signed.byDigest);
    expect(pulled.ok && status.ok && pulled.value === status.value?.id).toBe(true);
    expect(decisionFor("web")).toMatchObject({
      level: "info",
      namespace: "shop",
      image: signed.byDigest,
      digest: signed.digest,
      reason: "signed",
      verdict: "allow",
    });
  });

  it("allows an image with an untrusted signature beside a trusted one", async () => {
    const pulled = await gate.kubelet.pullImage(image("mixed").byDigest, { pod: pod("mixed") });

    expect(pulled.ok).toBe(true);
    expect(await inContainerd(image("mixed").byDigest)).toBe(true);
    expect(decisionFor("mixed").reason).toBe("signed");
  });

  const denials = [
    { row: "an unsigned image", name: "unsigned", reason: "unsigned" },
    { row: "an image signed only by a key the policy does not name", name: "foreign",
      reason: "untrusted-key" },
    { row: "an image whose policy-key signature does not verify", name: "forged",
      reason: "bad-signature" },
    { row: "an image carrying another image's signature", name: "replayed",
      reason: "bad-signature" },
  ] as const;

  for (const { row, name, reason } of denials) {
    it(`denies ${row} (${reason}), and containerd never sees the pull`, async () => {
      const target = image(name);
      const pulled = await gate.kubelet.pullImage(target.byDigest, { pod: pod(`pod-${name}`) });

      expect(pulled.ok).toBe(false);
      if (pulled.ok) return;
      expect(pulled.code).toBe(status.UNKNOWN);
      expect(pulled.details).toMatch(/^SignatureValidationFailed: /);
      expect(pulled.details).toContain(target.byDigest);
      expect(pulled.details).toContain(`(${reason})`);
      expect(await inContainerd(target.byDigest)).toBe(false);
      expect(decisionFor(`pod-${name}`)).toMatchObject({
        level: "warn",
        pod: `pod-${name}`,
        namespace: "shop",
        image: target.byDigest,
        digest: target.digest,
        reason,
        verdict: "deny",
      });
    });
  }

  it("denies a tag reference to a signed OCIR image and says to use the digest", async () => {
    const tagged = image("tagged");
    const pulled = await gate.kubelet.pullImage(tagged.byTag, { pod: pod("by-tag") });

    expect(pulled).toMatchObject({ ok: false, code: status.UNKNOWN });
    expect(!pulled.ok && pulled.details).toMatch(/^SignatureValidationFailed: /);
    expect(!pulled.ok && pulled.details).toContain("(tag-reference)");
    expect(!pulled.ok && pulled.details).toContain("@sha256:");
    expect(await inContainerd(tagged.byTag)).toBe(false);
    expect(await inContainerd(tagged.byDigest)).toBe(false);
    expect(decisionFor("by-tag")).toMatchObject({ level: "warn", reason: "tag-reference" });
  });

  it("lets a break-glass pod pull an unsigned image by tag, logged at warn", async () => {
    const hotfix = image("hotfix");
    const pulled = await gate.kubelet.pullImage(hotfix.byTag, {
      pod: pod("hotfix", BREAK_GLASS),
    });

    expect(pulled.ok).toBe(true);
    expect(await inContainerd(hotfix.byTag)).toBe(true);
    expect(decisionFor("hotfix")).toMatchObject({
      level: "warn",
      pod: "hotfix",
      reason: "break-glass",
      verdict: "allow",
    });
  });

  it("forwards an image from a registry that is not OCIR", async () => {
    const pulled = await gate.kubelet.pullImage(plainImage, { pod: pod("tool") });

    expect(pulled.ok).toBe(true);
    expect(await inContainerd(plainImage)).toBe(true);
    expect(decisionFor("tool")).toMatchObject({ reason: "not-ocir", verdict: "allow" });
  });

  const unusable = [
    { row: "a reference containerd could not parse", reason: "invalid-reference",
      reference: (digest: string) => `phx.ocir.io/axaxnpcrorw5/Project01/Signed@${digest}` },
    { row: "an OCIR host of no known region", reason: "unknown-ocir-region",
      reference: (digest: string) => `zzz.ocir.io/axaxnpcrorw5/project01/signed@${digest}` },
  ] as const;

  for (const { row, reason, reference } of unusable) {
    it(`denies ${row} (${reason})`, async () => {
      const target = reference(image("unsigned").digest);
      const pulled = await gate.kubelet.pullImage(target, { pod: pod(`pod-${reason}`) });

      expect(pulled).toMatchObject({ ok: false, code: status.UNKNOWN });
      expect(!pulled.ok && pulled.details).toMatch(/^SignatureValidationFailed: /);
      expect(!pulled.ok && pulled.details).toContain(`(${reason})`);
      expect(await inContainerd(image("unsigned").byDigest)).toBe(false);
      expect(decisionFor(`pod-${reason}`)).toMatchObject({ reason, verdict: "deny" });
    });
  }

  it("fails closed while the OCI APIs are down, and allows once they are back", async () => {
    const later = image("later");
    await world.oci.stop();
    try {
      const down = await gate.kubelet.pullImage(later.byDigest, { pod: pod("while-down") });

      expect(down).toMatchObject({ ok: false, code: status.UNKNOWN });
      expect(!down.ok && down.details).toMatch(/^RegistryUnavailable: /);
      expect(!down.ok && down.details).toContain("(ocir-unreachable)");
      expect(await inContainerd(later.byDigest)).toBe(false);
      expect(decisionFor("while-down")).toMatchObject({
        level: "warn",
        reason: "ocir-unreachable",
        verdict: "deny",
      });
    } finally {
      await world.oci.restart();
    }

    const back = await gate.kubelet.pullImage(later.byDigest, { pod: pod("after-outage") });

    expect(back.ok).toBe(true);
    expect(await inContainerd(later.byDigest)).toBe(true);
    expect(decisionFor("after-outage").reason).toBe("signed");
  });

  it("counts every decision by reason on /metrics", async () => {
    const metrics = await gate.http("/metrics");

    expect(metrics.status).toBe(200);
    const count = (reason: string, verdict: string): number => {
      const line = metrics.body
        .split("\n")
        .find((text) => text.startsWith(
          `pullgate_decisions_total{reason="${reason}",verdict="${verdict}",mode="enforce"}`,
        ));
      return Number(line?.split(" ")[1]);
    };
    expect(count("signed", "allow")).toBe(gate.decisions().filter((d) => d.reason === "signed")
      .length);
    expect(count("bad-signature", "deny")).toBe(2);
    expect(count("unsigned", "deny")).toBe(1);
    expect(count("untrusted-key", "deny")).toBe(1);
    expect(count("tag-reference", "deny")).toBe(1);
    expect(count("break-glass", "allow")).toBe(1);
    expect(count("not-ocir", "allow")).toBe(1);
    expect(count("ocir-unreachable", "deny")).toBe(1);
    expect(count("invalid-reference", "deny")).toBe(1);
    expect(count("unknown-ocir-region", "deny")).toBe(1);
  });

  describe("with a policy that names no keys", () => {
    let keyless: PullgateInFront;

    beforeAll(async () => {
      keyless = await startPullgateInFront(world, {
        policy: world.writePolicy({ keys: [], name: "no-keys.yaml" }),
        socketName: "keyless.sock",
      });
    });

    afterAll(async () => {
      await keyless?.stop();
    });

    it("forwards an unsigned OCIR image referenced by digest", async () => {
      const target = image("unkeyed");
      const pulled = await keyless.kubelet.pullImage(target.byDigest, { pod: pod("unkeyed") });

      expect(pulled.ok).toBe(true);
      expect(await inContainerd(target.byDigest)).toBe(true);
      expect(keyless.decisions()).toEqual([
        expect.objectContaining({ pod: "unkeyed", reason: "no-keys", verdict: "allow" }),
      ]);
    });
  });

  describe("with the policy disabled", () => {
    let relaxed: PullgateInFront;

    beforeAll(async () => {
      relaxed = await startPullgateInFront(world, {
        policy: world.writePolicy({ enabled: false, name: "disabled.yaml" }),
        socketName: "relaxed.sock",
      });
    });

    afterAll(async () => {
      await relaxed?.stop();
    });

    it("forwards an unsigned OCIR image referenced by tag", async () => {
      const target = image("relaxed");
      const pulled = await relaxed.kubelet.pullImage(target.byTag, { pod: pod("relaxed") });

      expect(pulled.ok).toBe(true);
      expect(await inContainerd(target.byTag)).toBe(true);
      expect(relaxed.decisions()).toEqual([
        expect.objectContaining({ pod: "relaxed", reason: "policy-disabled", verdict: "allow" }),
      ]);
    });
  });
});

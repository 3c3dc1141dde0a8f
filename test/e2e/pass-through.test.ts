import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildAndPushImage } from "../../lab/image-builder";
import { type CriResult, KubeletClient, type PodContext } from "../../lab/kubelet-client";
import { type LabImage, type LabWorld, startLabWorld } from "../../lab/world";
import { labSkipReason, labSuiteTitle } from "../lab/lab-requirements";
import { type PullgateInFront, startPullgateInFront } from "./pullgate-in-front";

/**
 * The calls pullgate does not judge reach containerd and come back as containerd answered
 * them; registry credentials in a PullImage never show up in pullgate's output; and the
 * operator endpoints answer. Real containerd, real registry, real pullgate.
 */

const pod = (name: string): PodContext => ({ name, namespace: "ci", uid: `uid-${name}` });

/** Sorts a listing so two listings of the same images compare equal. */
const byId = <T extends { id: string }>(images: T[]): T[] =>
  [...images].sort((a, b) => a.id.localeCompare(b.id));

describe.skipIf(labSkipReason() !== null)(labSuiteTitle("calls pullgate passes through"), () => {
  let world: LabWorld;
  let gate: PullgateInFront;
  let containerd: KubeletClient;
  let signed: LabImage;
  let unsigned: LabImage;
  /** Signed, but never pulled before the OCI APIs go down: no remembered verdict helps it. */
  let outage: LabImage;
  let plainImage = "";

  beforeAll(async () => {
    world = await startLabWorld();
    signed = await world.pushImage("project02/api");
    unsigned = await world.pushImage("project02/unsigned");
    outage = await world.pushImage("project02/outage");
    world.sign(signed);
    world.sign(outage);
    const plain = await buildAndPushImage(world.registry.url, "library/busy", "v1");
    plainImage = `${world.registry.host}/library/busy@${plain.digest}`;
    gate = await startPullgateInFront(world, {
      policy: world.writePolicy(),
      socketName: "pullgate.sock",
    });
    containerd = new KubeletClient({ socket: world.containerd.socket, timeoutMs: 60_000 });
    for (const image of [signed.byDigest, plainImage]) {
      const pulled = await gate.kubelet.pullImage(image, { pod: pod("setup") });
      if (!pulled.ok) throw new Error(`setup pull of ${image} failed: ${pulled.details}`);
    }
  });

  afterAll(async () => {
    containerd?.close();
    await gate?.stop();
    await world?.stop();
  });

  /** The same raw call made through pullgate and directly to containerd. */
  const both = async <T>(method: string, request: object)
    : Promise<{ through: CriResult<T>; direct: CriResult<T> }> => ({
    through: await gate.kubelet.call<T>(method, request),
    direct: await containerd.call<T>(method, request),
  });

  describe("ListImages, ImageStatus, ImageFsInfo and RemoveImage", () => {
    it("lists exactly the images containerd lists", async () => {
      const through = await gate.kubelet.listImages();
      const direct = await containerd.listImages();

      expect(through.ok && direct.ok).toBe(true);
      if (!through.ok || !direct.ok) return;
      expect(byId(through.value)).toEqual(byId(direct.value));
      const digests = through.value.flatMap((image) => image.repoDigests);
      expect(digests).toEqual(expect.arrayContaining([signed.byDigest, plainImage]));
    });

    it("answers ImageStatus as containerd does, verbose info included", async () => {
      const request = { image: { image: signed.byDigest }, verbose: true };
      const { through, direct } = await both<{ image: { id: string } | null }>(
        "ImageStatus",
        request,
      );

      expect(through).toEqual(direct);
      expect(through.ok && through.value.image?.id).toMatch(/^sha256:[0-9a-f]{64}$/);
    });

    it("answers ImageStatus for an image that is not there as containerd does", async () => {
      const { through, direct } = await both<{ image: object | null }>("ImageStatus", {
        image: { image: unsigned.byDigest },
      });

      expect(through).toEqual(direct);
      expect(through).toMatchObject({ ok: true, value: { image: null } });
    });

    it("reports the same image filesystem as containerd", async () => {
      const before = await containerd.imageFsInfo();
      const through = await gate.kubelet.imageFsInfo();
      const after = await containerd.imageFsInfo();

      expect(through.ok).toBe(true);
      // Usage is sampled by containerd in the background; it may move between two calls.
      expect([before, after]).toContainEqual(through);
      expect(through.ok && through.value[0]?.mountpoint).toContain(world.containerd.rootDir);
    });

    it("gets the same answer to StreamImages as containerd gives", async () => {
      const through = await gate.kubelet.streamImages();
      const direct = await containerd.streamImages();

      if (through.ok && direct.ok) expect(byId(through.value)).toEqual(byId(direct.value));
      else expect(through).toEqual(direct);
    });

    it("removes an image from containerd with RemoveImage", async () => {
      expect((await containerd.imageStatus(plainImage)).ok).toBe(true);

      const removed = await gate.kubelet.removeImage(plainImage);

      expect(removed).toEqual({ ok: true, value: undefined });
      expect(await containerd.imageStatus(plainImage)).toEqual({ ok: true, value: undefined });
      const again = await both<object>("RemoveImage", { image: { image: plainImage } });
      expect(again.through).toEqual(again.direct);
    });

    it("counts each forwarded call by method and status code", async () => {
      const metrics = (await gate.http("/metrics")).body;

      for (const method of ["ListImages", "ImageStatus", "ImageFsInfo", "RemoveImage"]) {
        const line = metrics
          .split("\n")
          .find((text) =>
            text.startsWith(`pullgate_upstream_requests_total{method="${method}",code="0"}`));
        expect(Number(line?.split(" ")[1])).toBeGreaterThanOrEqual(1);
      }
    });
  });

  describe("registry credentials", () => {
    const password = `pw-${randomBytes(12).toString("hex")}`;
    const username = "robot$pull";
    const auth = { username, password, serverAddress: "phx.ocir.io" };
    const basic = Buffer.from(`${username}:${password}`).toString("base64");

    it("never appear in the log or the metrics, whatever the decision", async () => {
      const allowed = await gate.kubelet.pullImage(signed.byDigest, { pod: pod("a"), auth });
      const denied = await gate.kubelet.pullImage(unsigned.byDigest, { pod: pod("b"), auth });
      const byTag = await gate.kubelet.pullImage(signed.byTag, { pod: pod("c"), auth });
      await world.oci.stop();
      const failed = await gate.kubelet.pullImage(outage.byDigest, { pod: pod("d"), auth })
        .finally(() => world.oci.restart());

      expect([allowed.ok, denied.ok, byTag.ok, failed.ok]).toEqual([true, false, false, false]);
      const log = gate.logText();
      const decided = gate.decisions().filter((line) => ["a", "b", "c", "d"].includes(
        String(line.pod)));
      expect(decided.map((line) => line.reason))
        .toEqual(["signed", "unsigned", "tag-reference", "ocir-unreachable"]);
      // The capture holds trace-level detail, so a leak would have been seen.
      expect(gate.records().some((line) => line.level === "trace" || line.level === "debug"))
        .toBe(true);
      const metrics = (await gate.http("/metrics")).body;
      for (const output of [log, metrics]) {
        expect(output).not.toContain(password);
        expect(output).not.toContain(basic);
      }
      for (const answer of [denied, byTag, failed]) {
        expect(!answer.ok && answer.details).not.toContain(password);
      }
    });
  });

  describe("operator endpoints", () => {
    it("answers /healthz", async () => {
      expect(await gate.http("/healthz")).toEqual({ status: 200, body: "ok\n" });
    });

    it("answers /readyz once a policy is loaded", async () => {
      expect(await gate.http("/readyz")).toEqual({ status: 200, body: "ready\n" });
    });

    it("serves Prometheus metrics with decisions, latency and OCI calls", async () => {
      const metrics = await gate.http("/metrics");

      expect(metrics.status).toBe(200);
      expect(metrics.body).toMatch(
        /^pullgate_decisions_total\{reason="signed",verdict="allow",mode="enforce"\} [1-9]/m,
      );
      expect(metrics.body)
        .toMatch(/^pullgate_decision_duration_seconds_count\{verdict="allow"\} [1-9]/m);
      expect(metrics.body)
        .toMatch(/^pullgate_oci_requests_total\{api="[^"]+",outcome="ok"\} [1-9]/m);
    });

    it("answers 404 for any other path", async () => {
      expect((await gate.http("/no-such-page")).status).toBe(404);
    });
  });
});

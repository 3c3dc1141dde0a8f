import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeletClient } from "../../lab/kubelet-client";
import { FakeRuntime } from "../cri/fixtures/fake-runtime";
import { startOciWorld, type OciWorld } from "../oci/oci-world";
import { writePolicyFile } from "../regions-e2e/oci-fixtures";
import { startPullgate, type PullgateUnderTest } from "../regions-e2e/running-pullgate";

/**
 * /readyz tells the installer and the DaemonSet whether pullgate can do its job: a policy
 * in force, and a runtime that answers the calls pullgate forwards to it.
 */
describe("readiness", () => {
  let world: OciWorld;
  let gate: PullgateUnderTest;
  let kubelet: KubeletClient;
  let dir: string;
  let policy: string;

  beforeAll(async () => {
    world = await startOciWorld();
    dir = mkdtempSync(join(tmpdir(), "pullgate-ready-"));
    policy = join(dir, "policy.yaml");
    gate = await startPullgate(["--policy", policy], world.auth);
    kubelet = new KubeletClient({ socket: join(gate.dir, "pullgate.sock"), timeoutMs: 5000 });
  });

  afterAll(async () => {
    kubelet?.close();
    await gate?.close();
    await world?.fake.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  async function readyz(): Promise<{ code: number; text: string }> {
    const response = await fetch(`http://${gate.pullgate.metricsAddress}/readyz`);
    return { code: response.status, text: await response.text() };
  }

  it("is not ready while no policy is in force", async () => {
    expect(await readyz()).toEqual({
      code: 503,
      text: "not ready: no image verification policy loaded\n",
    });
  });

  it("is ready once a policy loads and the runtime answers", async () => {
    writePolicyFile(policy, { tenancy: world.tenancyId, keys: [world.vaultKey.keyId] });
    for (let tries = 0; gate.pullgate.policy.current() === undefined && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect((await kubelet.listImages()).ok).toBe(true);
    expect((await readyz()).code).toBe(200);
  });

  it("is not ready while the runtime stops answering, and ready when it is back", async () => {
    await gate.runtime.close();
    const failed = await kubelet.listImages();
    expect(failed).toMatchObject({ ok: false, code: status.UNAVAILABLE });
    const down = await readyz();
    expect(down.code).toBe(503);
    expect(down.text).toContain(`the runtime at ${gate.runtime.socket} is not answering`);

    const again = await FakeRuntime.start(gate.dir);
    try {
      // pullgate reconnects within about a second; the kubelet polls again meanwhile.
      let answered = false;
      for (let tries = 0; !answered && tries < 60; tries++) {
        answered = (await kubelet.listImages()).ok;
        if (!answered) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(answered).toBe(true);
      expect((await readyz()).code).toBe(200);
    } finally {
      await again.close();
    }
  });
});

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { startOciWorld, type OciWorld } from "../oci/oci-world";
import {
  addSecondKey,
  phxImage,
  REPOSITORY,
  spareKeyIds,
  writePolicyFile,
} from "./oci-fixtures";
import { eventually, sample, startPullgate, type PullgateUnderTest } from "./running-pullgate";

/**
 * A policy file (a ConfigMap on a node) edited while pullgate runs: the next decision
 * follows it, a broken edit is rejected loudly while the last good policy stays, and a
 * node whose file is not there yet serves but denies OCIR pulls until it is.
 */

const FAILURES = "pullgate_policy_refresh_failures_total";

describe("a policy file edited while pullgate runs", () => {
  let world: OciWorld;
  let gate: PullgateUnderTest;
  let dir: string;
  let policyPath: string;
  const signedByA = phxImage("file-signed-by-a");
  let keyA: string;
  let keyB: string;

  beforeAll(async () => {
    world = await startOciWorld();
    keyA = world.vaultKey.keyId;
    keyB = addSecondKey(world).keyId;
    world.sign(REPOSITORY, signedByA.digest);
    dir = mkdtempSync(join(tmpdir(), "pullgate-policy-file-"));
    // The file is not there yet when pullgate starts, as on a freshly installed node.
    policyPath = join(dir, "policy.yaml");
    gate = await startPullgate(
      ["--policy", policyPath, "--vault-endpoint", world.fake.url,
        "--artifacts-endpoint", world.fake.url],
      world.auth,
    );
  });

  afterAll(async () => {
    await gate?.close();
    await world?.fake.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it("serves without a policy file but denies OCIR pulls policy-unavailable", async () => {
    const made = await gate.pull(signedByA.image);
    expect(made).toMatchObject({ verdict: "deny", reason: "policy-unavailable" });
    expect(made.forwarded).toBe(false);
    expect(await gate.readiness()).toBe(503);
    const other = await gate.pull("docker.io/library/busybox:1.36");
    expect(other).toMatchObject({ verdict: "allow", reason: "not-ocir", forwarded: true });
    const failed = gate.logs().find((line) => line.event === "policy-refresh-failed");
    expect(failed).toMatchObject({ level: 50, source: policyPath });
    expect(String(failed?.msg)).toContain("OCIR pulls are denied until one loads");
  });

  it("loads the file once it appears", async () => {
    const written = Date.now();
    writePolicyFile(policyPath, { tenancy: world.tenancyId, keys: [keyA] });
    const ms = await gate.pullUntil(signedByA.image, "signed", written);
    console.info(`policy file appeared -> first signed decision: ${ms} ms`);
    expect(await gate.readiness()).toBe(200);
  });

  it("applies an edit to the next decision, never reusing the old verdict", async () => {
    expect((await gate.pull(signedByA.image)).reason).toBe("signed");

    const edited = Date.now();
    writePolicyFile(policyPath, { tenancy: world.tenancyId, keys: [keyB] });
    const ms = await gate.pullUntil(signedByA.image, "untrusted-key", edited);
    console.info(`policy file edit -> next decision under the new policy: ${ms} ms`);
    expect(ms).toBeLessThan(20_000);
    const changed = gate.logs().filter((line) => line.event === "policy-changed");
    expect(changed.at(-1)).toMatchObject({ keys: [keyB], source: policyPath });

    writePolicyFile(policyPath, { tenancy: world.tenancyId, keys: [keyA] });
    await gate.pullUntil(signedByA.image, "signed", Date.now());
  });

  it.each([
    ["six keys", () => [keyA, ...spareKeyIds(5)], "names 6 keys; at most 5 are allowed"],
    ["a malformed key OCID", () => [keyA, "ocid1.key.oc1.phx.broken"], "keys[1]"],
  ])("rejects a policy with %s loudly and keeps the last good one", async (_, keys, problem) => {
    const failuresBefore = sample(await gate.metrics(), FAILURES) ?? 0;
    const logsBefore = gate.logs().length;
    writePolicyFile(policyPath, { tenancy: world.tenancyId, keys: keys() });
    await eventually(async () => (sample(await gate.metrics(), FAILURES) ?? 0) > failuresBefore);

    const rejected = gate.logs().slice(logsBefore)
      .find((line) => line.event === "policy-refresh-failed");
    expect(rejected).toMatchObject({ level: 50, source: policyPath });
    expect(String(rejected?.msg)).toContain("invalid image verification policy rejected");
    expect(JSON.stringify(rejected?.problems)).toContain(problem);
    expect(await gate.pull(signedByA.image)).toMatchObject({ reason: "signed", forwarded: true });
    expect(gate.pullgate.policy.current()?.keys).toEqual([keyA]);

    writePolicyFile(policyPath, { tenancy: world.tenancyId, keys: [keyA] });
    await eventually(() =>
      gate.logs().slice(logsBefore).some((line) => line.event === "policy-source-recovered"),
    );
  });

  it("shows a broken file in the policy age and the failure count", async () => {
    writePolicyFile(policyPath, { tenancy: world.tenancyId, keys: [keyA, keyA] });
    const first = await gate.metrics();
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const later = await gate.metrics();
    expect(sample(later, "pullgate_policy_age_seconds")).toBeGreaterThan(
      sample(first, "pullgate_policy_age_seconds") ?? Infinity,
    );
    expect(sample(later, FAILURES)).toBeGreaterThan(sample(first, FAILURES) ?? Infinity);
    expect(sample(later, "pullgate_policy_loaded")).toBe(1);
    writePolicyFile(policyPath, { tenancy: world.tenancyId, keys: [keyA] });
  });
});

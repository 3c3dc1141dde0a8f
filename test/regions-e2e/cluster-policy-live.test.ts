import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { regionalOcid } from "../../lab/fake-oci/ocids";
import { startOciWorld, type OciWorld } from "../oci/oci-world";
import { addSecondKey, phxImage, REPOSITORY, spareKeyIds } from "./oci-fixtures";
import { eventually, sample, startPullgate, type PullgateUnderTest } from "./running-pullgate";

/**
 * The policy an operator sets on the OKE cluster (Image Verification), read with
 * GetCluster from the fake Container Engine API every second: changes reach the next
 * decision, an outage keeps the last good policy and shows in metrics, a broken policy is
 * rejected, and nothing OCIR is pulled before a first policy has loaded.
 */

const FAILURES = "pullgate_policy_refresh_failures_total";
const AGE = "pullgate_policy_age_seconds";
const OCI = "pullgate_oci_requests_total";

describe("the cluster's policy, refreshed while pullgate runs", () => {
  let world: OciWorld;
  let gate: PullgateUnderTest;
  const clusterId = regionalOcid("cluster");
  const signedByA = phxImage("cluster-signed-by-a");
  let keyA: string;
  let keyB: string;
  const setPolicy = (kmsKeyIds: string[], isPolicyEnabled = true) =>
    world.fake.setClusterPolicy(clusterId, world.tenancyId, { isPolicyEnabled, kmsKeyIds });

  beforeAll(async () => {
    world = await startOciWorld();
    keyA = world.vaultKey.keyId;
    keyB = addSecondKey(world).keyId;
    world.sign(REPOSITORY, signedByA.digest);
    setPolicy([keyA]);
    // The Container Engine API is down when pullgate starts.
    await world.fake.stop();
    gate = await startPullgate(
      [
        "--cluster-id", clusterId,
        "--tenancy", world.tenancyId,
        "--policy-refresh", "1s",
        "--containerengine-endpoint", world.fake.url,
        "--artifacts-endpoint", world.fake.url,
        "--vault-endpoint", world.fake.url,
      ],
      world.auth,
    );
  });

  afterAll(async () => {
    await gate?.close();
    await world?.fake.stop();
  });

  it("denies OCIR pulls policy-unavailable until the cluster's policy first loads", async () => {
    const made = await gate.pull(signedByA.image);
    expect(made).toMatchObject({ verdict: "deny", reason: "policy-unavailable", forwarded: false });
    expect(await gate.readiness()).toBe(503);
    const metrics = await gate.metrics();
    expect(sample(metrics, "pullgate_policy_loaded")).toBe(0);
    expect(sample(metrics, OCI, { api: "containerengine", outcome: "oci-unreachable" }))
      .toBeGreaterThanOrEqual(1);

    const back = Date.now();
    await world.fake.restart();
    const ms = await gate.pullUntil(signedByA.image, "signed", back);
    console.info(`cluster API back -> first signed decision: ${ms} ms`);
    expect(await gate.readiness()).toBe(200);
  });

  it("applies a policy edited on the cluster to the next decision", async () => {
    const edited = Date.now();
    setPolicy([keyB]);
    const ms = await gate.pullUntil(signedByA.image, "untrusted-key", edited);
    console.info(`cluster policy edit -> next decision under the new policy: ${ms} ms`);
    expect(ms).toBeLessThan(20_000);

    setPolicy([keyB], false);
    await gate.pullUntil(signedByA.image, "policy-disabled", Date.now());
    setPolicy([keyA]);
    await gate.pullUntil(signedByA.image, "signed", Date.now());
  });

  it("keeps the last good policy through an outage and shows it in metrics", async () => {
    const before = await gate.metrics();
    const logsBefore = gate.logs().length;
    world.fake.injectFault({ kind: "status", status: 500, route: "getCluster", times: Infinity });
    // The policy changes on the cluster, but no node can read it during the outage.
    setPolicy([keyB]);
    await eventually(async () => (sample(await gate.metrics(), FAILURES) ?? 0) >=
      (sample(before, FAILURES) ?? 0) + 3);

    const during = await gate.metrics();
    expect(sample(during, AGE)).toBeGreaterThan(2);
    expect(sample(during, AGE)).toBeGreaterThan(sample(before, AGE) ?? Infinity);
    expect(sample(during, OCI, { api: "containerengine", outcome: "oci-service-error" }))
      .toBeGreaterThanOrEqual(6);
    expect(await gate.pull(signedByA.image)).toMatchObject({ reason: "signed", forwarded: true });

    // One error line for the outage, not one per refresh.
    const failures = gate.logs().slice(logsBefore)
      .filter((line) => line.event === "policy-refresh-failed");
    expect(failures.filter((line) => line.level === 50)).toHaveLength(1);
    expect(failures[0]).toMatchObject({ source: `cluster ${clusterId}` });
    expect(String(failures[0]?.msg)).toContain("keeping the last good policy");

    world.fake.clearFaults();
    await gate.pullUntil(signedByA.image, "untrusted-key", Date.now());
    expect(sample(await gate.metrics(), AGE)).toBeLessThan(2);
    setPolicy([keyA]);
    await gate.pullUntil(signedByA.image, "signed", Date.now());
  });

  it.each([
    ["six keys", () => [keyA, ...spareKeyIds(5)], "names 6 keys; at most 5 are allowed"],
    ["a malformed key OCID", () => [keyA, "ocid1.key.oc1.phx.broken"], "keys[1]"],
    ["a key without an OCID", () => [keyA, ""], "keys[1]"],
  ])("rejects a cluster policy with %s loudly and keeps the last good one", async (
    _,
    keys,
    problem,
  ) => {
    const failuresBefore = sample(await gate.metrics(), FAILURES) ?? 0;
    const logsBefore = gate.logs().length;
    setPolicy(keys());
    await eventually(async () => (sample(await gate.metrics(), FAILURES) ?? 0) > failuresBefore);

    const rejected = gate.logs().slice(logsBefore)
      .find((line) => line.event === "policy-refresh-failed");
    expect(rejected).toMatchObject({ level: 50 });
    expect(String(rejected?.msg)).toContain("invalid image verification policy rejected");
    expect(JSON.stringify(rejected?.problems)).toContain(problem);
    expect(await gate.pull(signedByA.image)).toMatchObject({ reason: "signed", forwarded: true });
    expect(gate.pullgate.policy.current()?.keys).toEqual([keyA]);

    setPolicy([keyA]);
    await eventually(() =>
      gate.logs().slice(logsBefore).some((line) => line.event === "policy-source-recovered"),
    );
  });

  it("counts every OCI request by API and outcome", async () => {
    const metrics = await gate.metrics();
    for (const api of ["containerengine", "artifacts", "vault"]) {
      expect(sample(metrics, OCI, { api, outcome: "ok" }), api).toBeGreaterThanOrEqual(1);
    }
    // Pulls are over, so every request the fake saw has been answered and counted.
    const fake = world.fake;
    expect(sample(metrics, OCI, { api: "artifacts", outcome: "ok" }))
      .toBe(fake.requestCount("listContainerImageSignatures"));
    expect(sample(metrics, OCI, { api: "vault", outcome: "ok" }))
      .toBe(fake.requestCount("getKeyVersion") + fake.requestCount("getVault"));
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { regionalOcid } from "../../lab/fake-oci/ocids";
import { ContainerEngineClusterPolicy } from "../../src/oci/cluster-policy";
import { type OciAttempt, OciCallError, observeOciCalls } from "../../src/oci/sdk-setup";
import { startOciWorld, type OciWorld } from "../oci/oci-world";

/**
 * GetCluster against the fake Container Engine API: the image policy as the console sets
 * it, and every attempt told to the OCI call observer that feeds
 * `pullgate_oci_requests_total`.
 */

describe("reading the cluster's image policy", () => {
  let world: OciWorld;
  const clusterId = regionalOcid("cluster");
  const signal = () => AbortSignal.timeout(5000);

  beforeAll(async () => {
    world = await startOciWorld();
  });
  afterAll(async () => {
    await world?.fake.stop();
  });

  it("reads isPolicyEnabled and the key OCIDs of imagePolicyConfig", async () => {
    const keys = [world.vaultKey.keyId, regionalOcid("key")];
    world.fake.setClusterPolicy(clusterId, world.tenancyId, {
      isPolicyEnabled: true,
      kmsKeyIds: keys,
    });
    const reader = new ContainerEngineClusterPolicy(world.auth, world.fake.url, clusterId);
    await expect(reader.read(signal())).resolves.toEqual({ enabled: true, keys });
  });

  it("fails with a coded error for a cluster it may not read", async () => {
    const reader = new ContainerEngineClusterPolicy(
      world.auth,
      world.fake.url,
      regionalOcid("cluster"),
    );
    const failure = await reader.read(signal()).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OciCallError);
    expect(failure).toMatchObject({ code: "oci-not-found", api: "containerengine" });
  });

  it("tells the observer about each attempt, a retried 5xx included", async () => {
    world.fake.setClusterPolicy(clusterId, world.tenancyId, {
      isPolicyEnabled: false,
      kmsKeyIds: [],
    });
    const seen: OciAttempt[] = [];
    const stop = observeOciCalls((attempt) => seen.push(attempt));
    world.fake.injectFault({ kind: "status", status: 500, route: "getCluster" });
    const reader = new ContainerEngineClusterPolicy(world.auth, world.fake.url, clusterId);

    await expect(reader.read(signal())).resolves.toEqual({ enabled: false, keys: [] });
    expect(seen).toEqual([
      { api: "containerengine", operation: "getCluster", outcome: "oci-service-error" },
      { api: "containerengine", operation: "getCluster", outcome: "ok" },
    ]);

    stop();
    await reader.read(signal());
    expect(seen).toHaveLength(2);
  });

  it("keeps calling OCI when an observer throws", async () => {
    const stop = observeOciCalls(() => {
      throw new Error("observer fault");
    });
    const reader = new ContainerEngineClusterPolicy(world.auth, world.fake.url, clusterId);
    await expect(reader.read(signal())).resolves.toEqual({ enabled: false, keys: [] });
    stop();
  });
});

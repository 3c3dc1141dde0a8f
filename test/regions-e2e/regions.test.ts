import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { regionalOcid } from "../../lab/fake-oci/ocids";
import { FakeOci } from "../../lab/fake-oci/server";
import { signImage } from "../../lab/oci-cli-signer";
import { digestOf, startOciWorld, type OciWorld } from "../oci/oci-world";
import { NAMESPACE, otherTenancy, phxImage, REPOSITORY } from "./oci-fixtures";
import { startRecordingProxy, type RecordingProxy } from "./recording-proxy";
import { startPullgate, type PullgateUnderTest } from "./running-pullgate";

/**
 * Signatures live in the region of the registry an image comes from: a Frankfurt image is
 * checked against Frankfurt's Artifacts API (here a second fake), whatever the node's
 * region. A host that looks like OCIR but names no region is denied, and a namespace of
 * another tenancy is looked up in that tenancy.
 */

const LISTING = "listContainerImageSignatures";

describe("images from every region, in the tenancy that owns them", () => {
  let phx: OciWorld;
  let fra: FakeOci;
  let phxArtifacts: RecordingProxy;
  let gate: PullgateUnderTest;
  const otherNamespace = "othertenancyns";
  const secondTenancy = otherTenancy();
  const inPhoenix = phxImage("signed-in-phoenix");
  const fraDigest = digestOf("signed-in-frankfurt");
  // Each pull that must reach an API asks about a digest not judged before: a verdict
  // cache may answer a repeated one without a request.
  const signInFrankfurt = (label: string): string => {
    const imageDigest = digestOf(label);
    const image = {
      imageId: regionalOcid("containerimage", "fra"),
      compartmentId: phx.tenancyId,
      repositoryName: REPOSITORY,
      imageDigest,
    };
    // Uploaded in Frankfurt with the same Vault key, as `oci` configured for Frankfurt does.
    fra.addSignature(signImage(phx.vaultKey, image, { region: "eu-frankfurt-1" }));
    return imageDigest;
  };

  beforeAll(async () => {
    phx = await startOciWorld();
    fra = await FakeOci.start();
    fra.addApiKey(phx.apiKey);
    phx.sign(REPOSITORY, inPhoenix.digest);
    phxArtifacts = await startRecordingProxy(phx.fake.url);

    const clusterId = regionalOcid("cluster");
    phx.fake.setClusterPolicy(clusterId, phx.tenancyId, {
      isPolicyEnabled: true,
      kmsKeyIds: [phx.vaultKey.keyId],
    });
    gate = await startPullgate(
      [
        "--cluster-id", clusterId,
        "--tenancy", phx.tenancyId,
        "--namespace-tenancy", `${otherNamespace}=${secondTenancy}`,
        "--containerengine-endpoint", phx.fake.url,
        "--artifacts-endpoint", `us-phoenix-1=${phxArtifacts.url}`,
        "--artifacts-endpoint", `eu-frankfurt-1=${fra.url}`,
        "--vault-endpoint", phx.fake.url,
      ],
      phx.auth,
    );
    await gate.pullUntil(inPhoenix.image, "signed", Date.now());
  });

  afterAll(async () => {
    await gate?.close();
    await phxArtifacts?.close();
    await fra?.stop();
    await phx?.fake.stop();
  });

  const resetCounts = (): void => {
    phx.fake.resetCounts();
    fra.resetCounts();
  };

  it.each([
    ["region key", "fra.ocir.io"],
    ["region id", "eu-frankfurt-1.ocir.io"],
    ["realm domain", "ocir.eu-frankfurt-1.oci.oraclecloud.com"],
    ["upper case and a port", "FRA.OCIR.IO:443"],
  ])("checks a Frankfurt image (%s) against Frankfurt's Artifacts API", async (_, host) => {
    const digest = signInFrankfurt(`frankfurt ${host}`);
    resetCounts();
    const made = await gate.pull(`${host}/${NAMESPACE}/${REPOSITORY}@${digest}`);

    expect(made).toMatchObject({ reason: "signed", region: "eu-frankfurt-1", forwarded: true });
    expect(fra.requestCount(LISTING)).toBeGreaterThanOrEqual(1);
    expect(phx.fake.requestCount(LISTING)).toBe(0);
    // The key's Vault is not the image's region: key versions still come from phx's Vault.
    expect(fra.requestCount("getKeyVersion")).toBe(0);
  });

  it("checks a Phoenix image against Phoenix's Artifacts API only", async () => {
    const fresh = phxImage("another phoenix image");
    phx.sign(REPOSITORY, fresh.digest);
    resetCounts();
    const made = await gate.pull(fresh.image);

    expect(made).toMatchObject({ reason: "signed", region: "us-phoenix-1", forwarded: true });
    expect(phx.fake.requestCount(LISTING)).toBeGreaterThanOrEqual(1);
    expect(fra.requestCount(LISTING)).toBe(0);
  });

  it("finds no signature in Frankfurt for an image signed only in Phoenix", async () => {
    const made = await gate.pull(`fra.ocir.io/${NAMESPACE}/${REPOSITORY}@${inPhoenix.digest}`);
    expect(made).toMatchObject({ verdict: "deny", reason: "unsigned", forwarded: false });
  });

  it.each([
    "xyz.ocir.io",
    "us-mars-1.ocir.io",
    "ocir.us-mars-1.oci.oraclecloud.com",
    "phx.ocir.io.example.com",
  ])("denies %s unknown-ocir-region without asking any OCI API", async (host) => {
    resetCounts();
    const made = await gate.pull(`${host}/${NAMESPACE}/${REPOSITORY}@${fraDigest}`);

    expect(made).toMatchObject({ verdict: "deny", reason: "unknown-ocir-region" });
    expect(made.forwarded).toBe(false);
    expect(phx.fake.requestCount(LISTING) + fra.requestCount(LISTING)).toBe(0);
  });

  it("looks up a mapped namespace's signatures in its own tenancy", async () => {
    const seen = phxArtifacts.requests.length;
    const fresh = phxImage("in two tenancies");
    await gate.pull(`phx.ocir.io/${otherNamespace}/${REPOSITORY}@${fresh.digest}`);
    await gate.pull(fresh.image);

    const compartments = phxArtifacts.requests
      .slice(seen)
      .filter((url) => url.pathname.endsWith("/container/imageSignatures"))
      .map((url) => url.searchParams.get("compartmentId"));
    expect(compartments[0]).toBe(secondTenancy);
    expect(compartments.at(-1)).toBe(phx.tenancyId);
    expect(new Set(compartments)).toEqual(new Set([secondTenancy, phx.tenancyId]));
  });
});

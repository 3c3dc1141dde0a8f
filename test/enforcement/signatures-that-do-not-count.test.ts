import { constants, sign } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { regionalOcid } from "../../lab/fake-oci/ocids";
import type { SignatureInput } from "../../lab/fake-oci/store";
import { createVaultKey, signImage, type SignOptions } from "../../lab/oci-cli-signer";
import { decidePull } from "../../src/decision/decide";
import { ArtifactsSignatureSource } from "../../src/oci/artifacts-signatures";
import { VaultKeySource } from "../../src/oci/vault-keys";
import { classifyRegistryHost } from "../../src/ocir/regions";
import { makePolicy } from "../../src/policy/policy";
import { MAX_KEY_VERSION_LOOKUPS } from "../../src/signatures/judge";
import { startOciWorld, type OciWorld } from "../oci/oci-world";
import { digestOf, NAMESPACE } from "./gated-node";

/**
 * Signatures that look right but must not let an image through, judged end to end through
 * the real OCI SDK adapters against the faithful fake OCI APIs (paging, request signing).
 */

const A = digestOf("image-a");
const B = digestOf("image-b");
const image = (repository: string, digest: string) =>
  `phx.ocir.io/${NAMESPACE}/${repository}@${digest}`;

let world: OciWorld;

beforeAll(async () => {
  world = await startOciWorld({ defaultPageSize: 2 });
});

afterAll(async () => {
  await world.fake.stop();
});

beforeEach(() => {
  world.fake.clearSignatures();
  world.fake.resetCounts();
  world.fake.setKeyVersionState(world.vaultKey.keyVersionId, "ENABLED");
});

/** Decides one pull with fresh SDK sources (so no key is cached between cases). */
async function decide(reference: string, options: { pageSize?: number } = {}) {
  const policy = makePolicy(
    { enabled: true, keys: [world.vaultKey.keyId], tenancy: world.tenancyId },
    "test",
  );
  const signatures = new ArtifactsSignatureSource({
    auth: world.auth,
    artifactsEndpoint: () => world.fake.url,
    ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
  });
  const keys = new VaultKeySource({ auth: world.auth, managementEndpoint: () => world.fake.url });
  const judged = await decidePull(
    { image: reference, podAnnotations: {} },
    { policy, classifyHost: classifyRegistryHost, signatures, keys,
      signal: AbortSignal.timeout(15_000) },
  );
  return judged.decision;
}

/** A CLI-made signature of `repository@digest`, not yet uploaded. */
function signed(repository: string, digest: string, options: SignOptions = {}): SignatureInput {
  return signImage(
    world.vaultKey,
    { imageId: regionalOcid("containerimage"), compartmentId: world.tenancyId,
      repositoryName: repository, imageDigest: digest },
    options,
  );
}

describe("signatures that must not count", () => {
  it("counts a genuine signature (the baseline every case below departs from)", async () => {
    world.fake.addSignature(signed("app", A));
    expect(await decide(image("app", A))).toMatchObject({ verdict: "allow", reason: "signed" });
  });

  it("refuses one image's signature replayed on another digest, without asking Vault",
    async () => {
      world.fake.addSignature({ ...signed("app", A), imageDigest: B });
      const made = await decide(image("app", B));
      expect(made).toMatchObject({ verdict: "deny", reason: "bad-signature" });
      expect(made.detail).toContain("imageDigest");
      expect(world.fake.requestCount("getKeyVersion")).toBe(0);
    });

  it("refuses one repository's signature replayed on another repository", async () => {
    world.fake.addSignature({ ...signed("app", A), repositoryName: "other" });
    const made = await decide(image("other", A));
    expect(made).toMatchObject({ verdict: "deny", reason: "bad-signature" });
    expect(made.detail).toContain("repositoryName");
  });

  it("refuses a record whose kmsKeyId differs from the one its message names", async () => {
    const untrusted = createVaultKey();
    world.fake.addSignature(signed("app", A, { override: { kmsKeyId: untrusted.keyId } }));
    const made = await decide(image("app", A));
    expect(made).toMatchObject({ verdict: "deny", reason: "bad-signature" });
    expect(made.detail).toContain("kmsKeyId");
  });

  it.each([
    "SHA_256_RSA_PKCS1_V1_5",
    "SHA_256_RSA_PKCS_PSS ",
    "sha_256_rsa_pkcs_pss",
    "ECDSA_SHA_256",
  ])(
    "refuses the algorithm %j, which is not one of the four RSASSA-PSS values",
    async (algorithm) => {
      const genuine = signed("app", A, { override: { signingAlgorithm: algorithm } });
      world.fake.addSignature({ ...genuine, signingAlgorithm: algorithm });
      const made = await decide(image("app", A));
      expect(made).toMatchObject({ verdict: "deny", reason: "bad-signature" });
    },
  );

  it("refuses a PKCS#1 v1.5 signature labelled as PSS", async () => {
    const genuine = signed("app", A);
    const v15 = sign("sha256", Buffer.from(genuine.message, "base64"), {
      key: world.vaultKey.privateKey,
      padding: constants.RSA_PKCS1_PADDING,
    });
    world.fake.addSignature({ ...genuine, signature: v15.toString("base64") });
    const made = await decide(image("app", A));
    expect(made).toMatchObject({ verdict: "deny", reason: "bad-signature" });
    expect(made.detail).toContain("does not verify");
  });

  it.each(["DELETED", "PENDING_DELETION", "SCHEDULING_DELETION", "DELETING", "DISABLED",
    "DISABLING", "CREATING"])(
    "refuses a signature by a key version that is %s",
    async (state) => {
      world.fake.addSignature(signed("app", A));
      world.fake.setKeyVersionState(world.vaultKey.keyVersionId, state);
      const made = await decide(image("app", A));
      expect(made).toMatchObject({ verdict: "deny", reason: "bad-signature" });
      expect(made.detail).toContain(state);
    },
  );

  it("finds the one valid signature on a later page of the listing", async () => {
    for (let i = 0; i < 5; i++) {
      const forged = signed("app", A, { description: `forged ${i}` });
      forged.signature = signed("app", B).signature;
      world.fake.addSignature({ ...forged, timeCreated: new Date(Date.UTC(2024, 0, 1, 0, i)) });
    }
    world.fake.addSignature({ ...signed("app", A), timeCreated: new Date(Date.UTC(2024, 5, 1)) });

    expect(await decide(image("app", A))).toMatchObject({ verdict: "allow", reason: "signed" });
    expect(world.fake.requestCount("listContainerImageSignatures")).toBeGreaterThanOrEqual(3);
  });

  it("makes one Vault request for hundreds of copies of one signature", async () => {
    const genuine = signed("app", A);
    for (let i = 0; i < 300; i++) world.fake.addSignature(genuine);

    expect(await decide(image("app", A), { pageSize: 100 })).toMatchObject({ reason: "signed" });
    expect(world.fake.requestCount("getKeyVersion")).toBe(1);
  });

  it("bounds the Vault requests of hundreds of distinct bad signatures by trusted keys",
    async () => {
      const versions = Array.from({ length: 300 }, () => regionalOcid("keyversion"));
      for (const keyVersionId of versions) {
        world.fake.addKeyVersion({
          keyId: world.vaultKey.keyId,
          keyVersionId,
          vaultId: world.vaultKey.vaultId,
          compartmentId: world.tenancyId,
          publicKeyPem: world.vaultKey.publicKeyPem,
        });
        const record = signed("app", A, { override: { kmsKeyVersionId: keyVersionId } });
        // Bound to the image and to its own record, but the signature is over other bytes.
        record.signature = signed("app", B).signature;
        world.fake.addSignature({ ...record, kmsKeyVersionId: keyVersionId });
      }

      const made = await decide(image("app", A), { pageSize: 100 });

      expect(made).toMatchObject({ verdict: "deny", reason: "bad-signature" });
      expect(world.fake.requestCount("getKeyVersion")).toBeLessThanOrEqual(
        MAX_KEY_VERSION_LOOKUPS,
      );
      expect(world.fake.requestCount("getKeyVersion")).toBeGreaterThan(0);
    });

  it("finds the valid signature behind dozens of newer junk records by the same key version",
    async () => {
      world.fake.addSignature({ ...signed("app", A), timeCreated: new Date(Date.now() - 60_000) });
      for (let i = 0; i < 60; i++) {
        const junk = signed("app", A, { description: `junk ${i}` });
        junk.signature = signed("app", B).signature;
        world.fake.addSignature(junk);
      }

      expect(await decide(image("app", A), { pageSize: 100 })).toMatchObject({ reason: "signed" });
      expect(world.fake.requestCount("getKeyVersion")).toBe(1);
    });

  it("tries a key version it already holds before made-up versions use up the lookups",
    async () => {
      const keys = new VaultKeySource({
        auth: world.auth,
        managementEndpoint: () => world.fake.url,
      });
      await keys.getKeyVersion(world.vaultKey.keyId, world.vaultKey.keyVersionId,
        AbortSignal.timeout(5000));
      world.fake.addSignature({ ...signed("app", A), timeCreated: new Date(Date.now() - 60_000) });
      for (let i = 0; i < MAX_KEY_VERSION_LOOKUPS * 3; i++) {
        const keyVersionId = regionalOcid("keyversion");
        const made = signed("app", A, { override: { kmsKeyVersionId: keyVersionId } });
        world.fake.addSignature({ ...made, kmsKeyVersionId: keyVersionId });
      }
      world.fake.resetCounts();

      const judged = await decidePull(
        { image: image("app", A), podAnnotations: {} },
        {
          policy: makePolicy(
            { enabled: true, keys: [world.vaultKey.keyId], tenancy: world.tenancyId }, "test"),
          classifyHost: classifyRegistryHost,
          signatures: new ArtifactsSignatureSource({
            auth: world.auth, artifactsEndpoint: () => world.fake.url, pageSize: 100 }),
          keys,
          signal: AbortSignal.timeout(15_000),
        },
      );
      expect(judged.decision).toMatchObject({ reason: "signed" });
      expect(world.fake.requestCount("getKeyVersion")).toBe(0);
    });

  it("remembers a key version Vault does not have, so retries do not ask again", async () => {
    const keyVersionId = regionalOcid("keyversion");
    const made = signed("app", A, { override: { kmsKeyVersionId: keyVersionId } });
    world.fake.addSignature({ ...made, kmsKeyVersionId: keyVersionId });
    const keys = new VaultKeySource({ auth: world.auth, managementEndpoint: () => world.fake.url });
    const inputs = {
      policy: makePolicy(
        { enabled: true, keys: [world.vaultKey.keyId], tenancy: world.tenancyId }, "test"),
      classifyHost: classifyRegistryHost,
      signatures: new ArtifactsSignatureSource({
        auth: world.auth, artifactsEndpoint: () => world.fake.url }),
      keys,
    };

    for (let attempt = 0; attempt < 3; attempt++) {
      const judged = await decidePull({ image: image("app", A), podAnnotations: {} },
        { ...inputs, signal: AbortSignal.timeout(15_000) });
      expect(judged.decision).toMatchObject({ verdict: "deny", reason: "ocir-unreachable" });
    }
    expect(world.fake.requestCount("getKeyVersion")).toBe(1);
  });
});

import { describe, expect, it } from "vitest";
import { createVaultKey, signImage } from "../../lab/oci-cli-signer";
import { decidePull, type PullFacts } from "../../src/decision/decide";
import { REASONS } from "../../src/decision/decision";
import { classifyRegistryHost } from "../../src/ocir/regions";
import { makePolicy, type Policy } from "../../src/policy/policy";
import { MemoryKeys, MemorySignatures } from "../support/memory-sources";

const TENANCY = "ocid1.tenancy.oc1..aaaaaaaatenancyexample0000000000000000000000000000000000";
const NAMESPACE = "axaxnpcrorw5";
const REPOSITORY = "project01/ngnix-lb";
const DIGEST = `sha256:${"ee44b399d".padEnd(64, "0")}`;
const OTHER_DIGEST = `sha256:${"ab".repeat(32)}`;
const IMAGE = `phx.ocir.io/${NAMESPACE}/${REPOSITORY}@${DIGEST}`;

const trustedKey = createVaultKey();
const otherKey = createVaultKey();
const signedImage = {
  imageId: "ocid1.containerimage.oc1.phx.0.tenancy.aaaaaaaaimage",
  compartmentId: TENANCY,
  repositoryName: REPOSITORY,
  imageDigest: DIGEST,
};

function policy(overrides: Partial<{ enabled: boolean; keys: string[] }> = {}): Policy {
  return makePolicy(
    { enabled: true, keys: [trustedKey.keyId], tenancy: TENANCY, ...overrides },
    "test",
  );
}

function world() {
  const signatures = new MemorySignatures();
  const keys = new MemoryKeys();
  keys.add(trustedKey);
  keys.add(otherKey);
  return { signatures, keys };
}

async function decide(
  image: string,
  options: {
    policy?: Policy | undefined;
    annotations?: Record<string, string>;
    world?: ReturnType<typeof world>;
  } = {},
) {
  const { signatures, keys } = options.world ?? world();
  const facts: PullFacts = { image, podAnnotations: options.annotations ?? {} };
  const judged = await decidePull(facts, {
    policy: "policy" in options ? options.policy : policy(),
    classifyHost: classifyRegistryHost,
    signatures,
    keys,
    signal: new AbortController().signal,
  });
  return judged.decision;
}

describe("the decision table, row by row", () => {
  it("1: denies a reference that cannot be parsed", async () => {
    const made = await decide("phx.ocir.io/Upper/Case@sha256:zz");
    expect(made).toMatchObject({ verdict: "deny", reason: "invalid-reference" });
  });

  it("2: forwards an image from a registry that is not OCIR, whatever the policy", async () => {
    const made = await decide("docker.io/library/nginx:latest", { policy: undefined });
    expect(made).toMatchObject({ verdict: "allow", reason: "not-ocir" });
  });

  it("denies an OCIR-looking host that names no known region", async () => {
    const made = await decide(`xyz.ocir.io/${NAMESPACE}/${REPOSITORY}@${DIGEST}`);
    expect(made).toMatchObject({ verdict: "deny", reason: "unknown-ocir-region" });
  });

  it("3: denies OCIR pulls while no policy has loaded", async () => {
    const made = await decide(IMAGE, { policy: undefined });
    expect(made).toMatchObject({ verdict: "deny", reason: "policy-unavailable" });
  });

  it("4: forwards OCIR pulls when the policy is disabled", async () => {
    const made = await decide(`phx.ocir.io/${NAMESPACE}/${REPOSITORY}:latest`, {
      policy: policy({ enabled: false }),
    });
    expect(made).toMatchObject({ verdict: "allow", reason: "policy-disabled" });
  });

  it("5: forwards a break-glass pod's pull, even of an unsigned tag", async () => {
    const made = await decide(`phx.ocir.io/${NAMESPACE}/${REPOSITORY}:latest`, {
      annotations: { "oracle.image-policy.k8s.io/break-glass": "true" },
    });
    expect(made).toMatchObject({ verdict: "allow", reason: "break-glass" });
  });

  it.each(["True", "TRUE", "yes", "1", " true", "true "])(
    "does not honour the break-glass value %j, and says so",
    async (value) => {
      const made = await decide(`phx.ocir.io/${NAMESPACE}/${REPOSITORY}:latest`, {
        annotations: { "oracle.image-policy.k8s.io/break-glass": value },
      });
      expect(made).toMatchObject({ verdict: "deny", reason: "tag-reference" });
      expect(made.detail).toContain('only "true" lets a pod through');
    },
  );

  it("6: denies a tag reference to an OCIR image", async () => {
    const made = await decide(`phx.ocir.io/${NAMESPACE}/${REPOSITORY}:latest`);
    expect(made).toMatchObject({ verdict: "deny", reason: "tag-reference" });
    expect(made.detail).toContain("@sha256:");
  });

  it("7: forwards any OCIR image when the policy names no keys", async () => {
    const made = await decide(IMAGE, { policy: policy({ keys: [] }) });
    expect(made).toMatchObject({ verdict: "allow", reason: "no-keys", digest: DIGEST });
  });

  it("8: forwards an image signed by a policy key and bound to it", async () => {
    const w = world();
    w.signatures.add(signImage(trustedKey, signedImage));
    const made = await decide(IMAGE, { world: w });
    expect(made).toMatchObject({ verdict: "allow", reason: "signed", digest: DIGEST });
    expect(w.signatures.queries).toEqual([
      {
        region: "us-phoenix-1",
        compartmentId: TENANCY,
        repositoryName: REPOSITORY,
        imageDigest: DIGEST,
      },
    ]);
  });

  it("8: accepts each of the four PSS algorithms and any salt length", async () => {
    for (const signingAlgorithm of [
      "SHA_224_RSA_PKCS_PSS",
      "SHA_256_RSA_PKCS_PSS",
      "SHA_384_RSA_PKCS_PSS",
      "SHA_512_RSA_PKCS_PSS",
    ] as const) {
      for (const saltLength of ["digest", "max"] as const) {
        const w = world();
        w.signatures.add(signImage(trustedKey, signedImage, { signingAlgorithm, saltLength }));
        const made = await decide(IMAGE, { world: w });
        expect(made.reason, `${signingAlgorithm} salt ${saltLength}`).toBe("signed");
      }
    }
  });

  it("9: denies (fails closed) when signatures cannot be listed", async () => {
    const w = world();
    w.signatures.failure = new Error("connect ECONNREFUSED");
    const made = await decide(IMAGE, { world: w });
    expect(made).toMatchObject({ verdict: "deny", reason: "ocir-unreachable" });
  });

  it("9: denies (fails closed) when Vault cannot give the key", async () => {
    const w = world();
    w.signatures.add(signImage(trustedKey, signedImage));
    w.keys.failure = Object.assign(new Error("Too many requests"), { code: "TooManyRequests" });
    const made = await decide(IMAGE, { world: w });
    expect(made).toMatchObject({ verdict: "deny", reason: "ocir-unreachable" });
    expect(made.detail).toContain("TooManyRequests");
  });

  it("10: denies an image signed only by keys the policy does not trust", async () => {
    const w = world();
    w.signatures.add(signImage(otherKey, signedImage));
    const made = await decide(IMAGE, { world: w });
    expect(made).toMatchObject({ verdict: "deny", reason: "untrusted-key" });
  });

  it("11: denies when a policy key's signature does not verify", async () => {
    const w = world();
    const forged = signImage(trustedKey, signedImage);
    forged.signature = signImage(otherKey, signedImage).signature;
    w.signatures.add(forged);
    const made = await decide(IMAGE, { world: w });
    expect(made).toMatchObject({ verdict: "deny", reason: "bad-signature" });
  });

  it("11: denies another image's signature replayed on this digest (binding)", async () => {
    const w = world();
    const replayed = signImage(trustedKey, { ...signedImage, imageDigest: OTHER_DIGEST });
    w.signatures.add({ ...replayed, imageDigest: DIGEST });
    const made = await decide(IMAGE, { world: w });
    expect(made).toMatchObject({ verdict: "deny", reason: "bad-signature" });
    expect(made.detail).toContain("imageDigest");
    expect(w.keys.lookups).toEqual([]);
  });

  it("12: denies an image with no signatures at all", async () => {
    const made = await decide(IMAGE);
    expect(made).toMatchObject({ verdict: "deny", reason: "unsigned", digest: DIGEST });
  });

  it("rows are tried in order: an unparsable reference is denied before anything else", async () => {
    const made = await decide("PHX.ocir.io/ns/UPPER", { policy: undefined });
    expect(made.reason).toBe("invalid-reference");
  });

  it("has a reason code for every row and nothing more", () => {
    expect(REASONS).toHaveLength(13);
  });
});

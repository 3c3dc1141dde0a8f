import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { createApiSigningKey } from "../../lab/fake-oci/api-key";
import { createVaultKey } from "../../lab/oci-cli-signer";
import { ArtifactsSignatureSource } from "../../src/oci/artifacts-signatures";
import { OciCallError } from "../../src/oci/sdk-setup";
import type { SignatureQuery } from "../../src/signatures/sources";
import { digestOf, startOciWorld, type OciWorld } from "./oci-world";

let world: OciWorld;
let source: ArtifactsSignatureSource;

function query(repositoryName: string, imageDigest: string): SignatureQuery {
  return { region: "us-phoenix-1", compartmentId: world.tenancyId, repositoryName, imageDigest };
}

function listWithin(ms: number, q: SignatureQuery, from = source) {
  return from.listSignatures(q, AbortSignal.timeout(ms));
}

async function failure(promise: Promise<unknown>): Promise<OciCallError> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(OciCallError);
  return error as OciCallError;
}

beforeAll(async () => {
  // Page size 2: any listing of more than two signatures spans several pages.
  world = await startOciWorld({ defaultPageSize: 2 });
  source = new ArtifactsSignatureSource({
    auth: world.auth,
    artifactsEndpoint: () => world.fake.url,
  });
});

afterAll(async () => {
  await world.fake.stop();
});

beforeEach(() => {
  world.fake.clearSignatures();
  world.fake.clearFaults();
  world.fake.resetCounts();
});

describe("ArtifactsSignatureSource", () => {
  it("finds a signature that only appears on a later page", async () => {
    const digest = digestOf("paged");
    const other = createVaultKey();
    for (let i = 0; i < 5; i++) world.sign("project01/web", digest, { key: other });
    // Listed newest first: the policy key's signature, made first, comes last.
    const wanted = world.sign("project01/web", digest, { timeCreated: new Date(0) });

    const records = await listWithin(5000, query("project01/web", digest));

    expect(records).toHaveLength(6);
    expect(records.at(-1)?.id).toBe(wanted);
    expect(records.at(-1)?.kmsKeyId).toBe(world.vaultKey.keyId);
    expect(world.fake.requestCount("listContainerImageSignatures")).toBe(3);
  });

  it("returns the listed fields the verifier needs, byte for byte", async () => {
    const digest = digestOf("fields");
    const id = world.sign("app", digest);
    const stored = world.fake.store.signatures.get(id);

    const [record] = await listWithin(5000, query("app", digest));

    expect(record).toEqual({
      id,
      imageId: stored?.imageId,
      kmsKeyId: world.vaultKey.keyId,
      kmsKeyVersionId: world.vaultKey.keyVersionId,
      signingAlgorithm: "SHA_256_RSA_PKCS_PSS",
      message: stored?.message,
      signature: stored?.signature,
    });
  });

  it("lists only the image's repository and digest", async () => {
    const digest = digestOf("filtered");
    world.sign("team/app", digest);
    world.sign("team/app", digestOf("another image"));
    world.sign("team/app-two", digest);
    world.sign("team", digest);

    const records = await listWithin(5000, query("team/app", digest));

    expect(records).toHaveLength(1);
    const message = JSON.parse(Buffer.from(records[0]?.message ?? "", "base64").toString());
    expect(message).toMatchObject({ repositoryName: "team/app", imageDigest: digest });
  });

  it("sees signatures in compartments below the tenancy", async () => {
    const digest = digestOf("nested");
    const child = world.fake.addCompartment(world.tenancyId);
    const grandchild = world.fake.addCompartment(child);
    world.sign("deep/app", digest, { compartmentId: grandchild });

    expect(await listWithin(5000, query("deep/app", digest))).toHaveLength(1);
  });

  it("does not see signatures in another tenancy", async () => {
    const digest = digestOf("foreign");
    const stranger = createApiSigningKey();
    world.fake.addApiKey(stranger);
    world.sign("shared/name", digest, { compartmentId: stranger.tenancyId });

    expect(await listWithin(5000, query("shared/name", digest))).toEqual([]);
  });

  it("sends every filter the decision relies on", async () => {
    const seen: URLSearchParams[] = [];
    const digest = digestOf("query");
    const spy = new ArtifactsSignatureSource({
      auth: world.auth,
      artifactsEndpoint: () => world.fake.url,
    });
    // The SDK builds the URL; look at what actually reached the wire.
    const original = globalThis.fetch;
    globalThis.fetch = ((input: string | URL | Request, init?: RequestInit) => {
      seen.push(new URL(String(input)).searchParams);
      return original(input, init);
    }) as typeof fetch;
    try {
      await listWithin(5000, query("a/b", digest), spy);
    } finally {
      globalThis.fetch = original;
    }
    expect(Object.fromEntries(seen[0] ?? [])).toEqual({
      compartmentId: world.tenancyId,
      compartmentIdInSubtree: "true",
      repositoryName: "a/b",
      imageDigest: digest,
    });
  });

  it("refuses a listing longer than its page bound", async () => {
    const digest = digestOf("long");
    for (let i = 0; i < 7; i++) world.sign("big", digest);
    const bounded = new ArtifactsSignatureSource({
      auth: world.auth,
      artifactsEndpoint: () => world.fake.url,
      maxPages: 3,
    });

    const error = await failure(listWithin(5000, query("big", digest), bounded));

    expect(error.code).toBe("oci-too-many-results");
    expect(world.fake.requestCount("listContainerImageSignatures")).toBe(3);
  });

  it("refuses a listing longer than its record bound", async () => {
    const digest = digestOf("many");
    for (let i = 0; i < 5; i++) world.sign("many", digest);
    const bounded = new ArtifactsSignatureSource({
      auth: world.auth,
      artifactsEndpoint: () => world.fake.url,
      maxRecords: 4,
    });

    expect((await failure(listWithin(5000, query("many", digest), bounded))).code).toBe(
      "oci-too-many-results",
    );
  });

  it.each([
    [404, "oci-not-found"],
    [401, "oci-not-authenticated"],
    [400, "oci-rejected"],
    [429, "oci-throttled"],
    [500, "oci-service-error"],
    [503, "oci-service-error"],
  ] as const)("reports HTTP %i as %s", async (status, code) => {
    world.fake.injectFault({ kind: "status", status, times: Infinity });

    const error = await failure(listWithin(5000, query("x", digestOf("x"))));

    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
    expect(error.opcRequestId).toMatch(/^[0-9A-F]{32}$/);
  });

  it("does not retry a throttled request", async () => {
    world.fake.injectFault({ kind: "status", status: 429, times: Infinity });

    await failure(listWithin(5000, query("x", digestOf("x"))));

    expect(world.fake.requestCount("listContainerImageSignatures")).toBe(1);
  });

  it("retries a server error once and takes the second answer", async () => {
    const digest = digestOf("blip");
    world.sign("blip", digest);
    world.fake.injectFault({ kind: "status", status: 500, times: 1 });

    expect(await listWithin(5000, query("blip", digest))).toHaveLength(1);
    expect(world.fake.requestCount("listContainerImageSignatures")).toBe(2);
  });

  it("gives up on a server error that persists after one retry", async () => {
    world.fake.injectFault({ kind: "status", status: 502, times: Infinity });

    await failure(listWithin(5000, query("x", digestOf("x"))));

    expect(world.fake.requestCount("listContainerImageSignatures")).toBe(2);
  });

  it("gives up at the deadline when the service hangs", async () => {
    world.fake.injectFault({ kind: "hang", times: Infinity });

    const error = await failure(listWithin(1000, query("x", digestOf("x"))));

    expect(error.code).toBe("oci-deadline");
  }, 10_000);

  it("closes the connection of a request it gave up on", async () => {
    world.fake.injectFault({ kind: "hang", times: Infinity });

    await failure(listWithin(1000, query("x", digestOf("x"))));

    // A request left running would stay pending here until the fake stops.
    await vi.waitFor(() => expect(world.fake.pendingRequests).toBe(0));
  }, 10_000);

  it("gives up at the deadline when a later page never comes", async () => {
    const digest = digestOf("stalls");
    for (let i = 0; i < 3; i++) world.sign("stalls", digest);
    world.fake.injectFault({ kind: "delay", ms: 0 }); // page one passes untouched
    world.fake.injectFault({ kind: "hang", times: Infinity });

    const error = await failure(listWithin(1000, query("stalls", digest)));

    expect(error.code).toBe("oci-deadline");
    expect(world.fake.requestCount("listContainerImageSignatures")).toBe(2);
  }, 10_000);

  it("reports a stopped service as unreachable, and works again after a restart", async () => {
    const digest = digestOf("restart");
    world.sign("restart", digest);
    await world.fake.stop();
    try {
      const error = await failure(listWithin(5000, query("restart", digest)));
      expect(error.code).toBe("oci-unreachable");
      expect(error.message).toContain("ECONNREFUSED");
    } finally {
      await world.fake.restart();
    }
    expect(await listWithin(5000, query("restart", digest))).toHaveLength(1);
  });

  it("is refused when its API key is not the one registered", async () => {
    const impostor = createApiSigningKey(world.tenancyId);
    const { SimpleAuthenticationDetailsProvider } = await import("oci-common");
    const wrongKey = new ArtifactsSignatureSource({
      auth: new SimpleAuthenticationDetailsProvider(
        world.tenancyId,
        world.apiKey.userId,
        world.apiKey.fingerprint,
        impostor.privateKeyPem,
        null,
      ),
      artifactsEndpoint: () => world.fake.url,
    });

    const error = await failure(listWithin(5000, query("x", digestOf("x")), wrongKey));

    expect(error.code).toBe("oci-not-authenticated");
    expect(world.fake.authFailures.at(-1)).toBe("signature does not verify");
  });
});

import { request, type IncomingHttpHeaders } from "node:http";

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as common from "oci-common";
import { ContainerEngineClient } from "oci-containerengine";
import { KmsVaultClient } from "oci-keymanagement";

import { createApiSigningKey } from "../../lab/fake-oci/api-key";
import { globalOcid } from "../../lab/fake-oci/ocids";
import { callOci, clientConfiguration, clientParams } from "../../src/oci/sdk-setup";
import { digestOf, startOciWorld, type OciWorld } from "./oci-world";

let world: OciWorld;
let signer: common.DefaultRequestSigner;

interface RawReply {
  status: number;
  body: Record<string, unknown>;
  headers: IncomingHttpHeaders;
}

/** A GET on a fresh connection, with exactly the headers given (Host included). */
function rawGet(path: string, headers: Headers): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const sent = request(
      `${world.fake.url}${path}`,
      { headers: Object.fromEntries(headers), agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>;
          resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
        });
      },
    );
    sent.on("error", reject);
    sent.end();
  });
}

/** Signs a GET for `path` as the SDK would, lets the test tamper, then sends it. */
async function signedGet(
  path: string,
  tamper: (headers: Headers) => { path?: string } | void = () => undefined,
  headers = new Headers(),
): Promise<RawReply> {
  await signer.signHttpRequest({ method: "GET", headers, uri: `${world.fake.url}${path}` });
  const sentPath = tamper(headers)?.path ?? path;
  return rawGet(sentPath, headers);
}

const clusterId = globalOcid("cluster");

beforeAll(async () => {
  world = await startOciWorld({ defaultPageSize: 2 });
  signer = new common.DefaultRequestSigner(world.auth);
  world.fake.setClusterPolicy(clusterId, world.tenancyId, {
    isPolicyEnabled: true,
    kmsKeyIds: [world.vaultKey.keyId],
  });
});

afterAll(async () => {
  await world.fake.stop();
});

beforeEach(() => {
  world.fake.clearFaults();
  world.fake.clearSignatures();
});

describe("the fake OCI's request signature check", () => {
  it("accepts a request signed by the SDK's signer", async () => {
    const reply = await signedGet(`/20180222/clusters/${clusterId}`);

    expect(reply.status).toBe(200);
  });

  it("refuses an unsigned request with 401 NotAuthenticated and a request id", async () => {
    const reply = await rawGet(`/20180222/clusters/${clusterId}`, new Headers());

    expect(reply.status).toBe(401);
    expect(reply.body).toEqual({ code: "NotAuthenticated", message: expect.any(String) });
    expect(reply.headers["opc-request-id"]).toMatch(/^[0-9A-F]{32}$/);
  });

  it.each([
    ["a different path", () => ({ path: `/20180222/clusters/${globalOcid("cluster")}` })],
    ["a different query", () => ({ path: `/20180222/clusters/${clusterId}?x=1` })],
    ["a different date", (h: Headers) => void h.set("x-date", new Date(0).toUTCString())],
    ["a different host", (h: Headers) => void h.set("host", "artifacts.example.com")],
  ])("refuses a signed request sent with %s", async (_what, tamper) => {
    const reply = await signedGet(`/20180222/clusters/${clusterId}`, tamper);

    expect(reply.status).toBe(401);
    expect(reply.body.code).toBe("NotAuthenticated");
  });

  it("refuses a request signed with a key it does not know", async () => {
    const stranger = createApiSigningKey(world.tenancyId);
    const strangerSigner = new common.DefaultRequestSigner(
      new common.SimpleAuthenticationDetailsProvider(
        stranger.tenancyId,
        stranger.userId,
        stranger.fingerprint,
        stranger.privateKeyPem,
        null,
      ),
    );
    const headers = new Headers();
    const path = `/20180222/clusters/${clusterId}`;
    const uri = `${world.fake.url}${path}`;
    await strangerSigner.signHttpRequest({ method: "GET", headers, uri });

    expect((await rawGet(path, headers)).status).toBe(401);
    expect(world.fake.authFailures.at(-1)).toBe("unknown keyId");
  });

  it("refuses a correctly signed request older than five minutes", async () => {
    const headers = new Headers({ "x-date": new Date(Date.now() - 6 * 60_000).toUTCString() });

    const reply = await signedGet(`/20180222/clusters/${clusterId}`, () => undefined, headers);

    expect(reply.status).toBe(401);
    expect(world.fake.authFailures.at(-1)).toContain("clock skew");
  });

  it("refuses a signature that does not cover the host", async () => {
    const reply = await signedGet(`/20180222/clusters/${clusterId}`, (h) => {
      const auth = h.get("authorization") ?? "";
      h.set("authorization", auth.replace(/headers="[^"]*"/, 'headers="x-date (request-target)"'));
    });

    expect(reply.status).toBe(401);
    expect(world.fake.authFailures.at(-1)).toBe("signed headers lack host");
  });
});

describe("the fake OCI's answers", () => {
  const signatures = "/20160918/container/imageSignatures";

  it("lists summaries without createdBy, and gets the full signature with it", async () => {
    const digest = digestOf("shape");
    const id = world.sign("shape", digest);
    const query = `compartmentId=${world.tenancyId}&imageDigest=${digest}`;

    const listed = await signedGet(`${signatures}?${query}`);
    const full = await signedGet(`${signatures}/${id}`);

    const [summary] = listed.body.items as Record<string, unknown>[];
    expect(Object.keys(summary ?? {}).sort()).toEqual(
      [
        "compartmentId", "definedTags", "displayName", "freeformTags", "id", "imageId",
        "kmsKeyId", "kmsKeyVersionId", "lifecycleState", "message", "signature",
        "signingAlgorithm", "systemTags", "timeCreated",
      ].sort(),
    );
    expect(listed.body.remainingItemsCount).toBe(0);
    expect(full.body).toEqual({ ...summary, createdBy: expect.any(String) });
  });

  it("pages with opc-next-page and refuses a forged page token", async () => {
    const digest = digestOf("pages");
    for (let i = 0; i < 3; i++) world.sign("pages", digest);
    const query = `compartmentId=${world.tenancyId}&imageDigest=${digest}`;

    const first = await signedGet(`${signatures}?${query}`);
    const next = String(first.headers["opc-next-page"]);
    const second = await signedGet(`${signatures}?${query}&page=${encodeURIComponent(next)}`);
    const forged = await signedGet(`${signatures}?${query}&page=bm90LWEtdG9rZW4`);

    expect(first.body).toMatchObject({ remainingItemsCount: 1 });
    expect((first.body.items as unknown[]).length).toBe(2);
    expect((second.body.items as unknown[]).length).toBe(1);
    expect(second.headers["opc-next-page"]).toBeUndefined();
    expect(forged).toMatchObject({ status: 400, body: { code: "InvalidParameter" } });
  });

  it("keeps child compartments out of a listing without compartmentIdInSubtree", async () => {
    const digest = digestOf("scoped");
    const child = world.fake.addCompartment(world.tenancyId);
    world.sign("scoped", digest, { compartmentId: child });
    const base = `${signatures}?compartmentId=${world.tenancyId}&imageDigest=${digest}`;

    const flat = await signedGet(base);
    const deep = await signedGet(`${base}&compartmentIdInSubtree=true`);

    expect(flat.body.items).toEqual([]);
    expect((deep.body.items as unknown[]).length).toBe(1);
  });

  it("answers for a compartment outside the caller's tenancy with 404", async () => {
    const reply = await signedGet(`${signatures}?compartmentId=${globalOcid("tenancy")}`);

    expect(reply).toMatchObject({ status: 404, body: { code: "NotAuthorizedOrNotFound" } });
  });

  it("serves OKE's GetCluster with the image verification policy to the SDK", async () => {
    const client = new ContainerEngineClient(clientParams(world.auth), clientConfiguration());
    client.endpoint = world.fake.url;

    const response = await callOci(
      { api: "containerengine", operation: "getCluster" },
      AbortSignal.timeout(5000),
      () => client.getCluster({ clusterId }),
    );

    expect(response.cluster.imagePolicyConfig).toEqual({
      isPolicyEnabled: true,
      keyDetails: [{ kmsKeyId: world.vaultKey.keyId }],
    });
  });

  it("serves Vault's GetVault with the vault's endpoints to the SDK", async () => {
    const client = new KmsVaultClient(clientParams(world.auth), clientConfiguration());
    client.endpoint = world.fake.url;

    const response = await callOci(
      { api: "vault", operation: "getVault" },
      AbortSignal.timeout(5000),
      () => client.getVault({ vaultId: world.vaultKey.vaultId }),
    );

    expect(response.vault).toMatchObject({
      id: world.vaultKey.vaultId,
      managementEndpoint: world.fake.url,
      cryptoEndpoint: world.fake.url,
    });
  });

  it("comes back on the same port after a restart", async () => {
    const port = world.fake.port;
    await world.fake.stop();
    await world.fake.restart();

    expect(world.fake.port).toBe(port);
    expect((await signedGet(`/20180222/clusters/${clusterId}`)).status).toBe(200);
  });
});

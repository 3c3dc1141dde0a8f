import { createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as common from "oci-common";
import { ContainerEngineClient } from "oci-containerengine";

import {
  apiKeyFingerprint,
  apiKeyId,
  createApiSigningKey,
  type ApiSigningKey,
} from "../../lab/fake-oci/api-key";
import { globalOcid } from "../../lab/fake-oci/ocids";
import {
  parseSignatureHeader,
  verifyRequest,
  type AuthResult,
} from "../../lab/fake-oci/request-auth";
import {
  OciRequestSigner,
  PrivateKeyCache,
  type SignableRequest,
} from "../../src/oci/request-signer";
import { callOci, clientConfiguration, clientParams, OciCallError } from "../../src/oci/sdk-setup";
import { startOciWorld, type OciWorld } from "./oci-world";

/**
 * A server on 127.0.0.1 that checks each request exactly as the fake OCI's front door does
 * (lab/fake-oci/request-auth.ts) against the keys registered here, and records the result.
 */
interface Checkpoint {
  url: string;
  register(key: ApiSigningKey): void;
  /** Sends a signed request with fetch; answers what the check made of it on arrival. */
  send(request: SignableRequest): Promise<AuthResult>;
  close(): Promise<void>;
}

async function startCheckpoint(): Promise<Checkpoint> {
  const keys = new Map<string, string>();
  const results: AuthResult[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      results.push(verifyRequest(req, Buffer.concat(chunks), (id) => keys.get(id)));
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    register: (key) => void keys.set(apiKeyId(key), key.publicKeyPem),
    async send(request) {
      const { method, uri, headers, body } = request;
      await (await fetch(uri, { method, headers, body })).arrayBuffer();
      const result = results.pop();
      if (result === undefined) throw new Error("the checkpoint saw no request");
      return result;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A provider whose key can be swapped, as session-token providers swap theirs. */
class SwappableProvider implements common.AuthenticationDetailsProvider {
  keyIdReads = 0;

  constructor(
    public key: ApiSigningKey,
    public pem = key.privateKeyPem,
    public passphrase: string | null = null,
  ) {}

  async getKeyId(): Promise<string> {
    this.keyIdReads += 1;
    await Promise.resolve();
    return apiKeyId(this.key);
  }

  getPrivateKey(): string {
    return this.pem;
  }

  getPassphrase(): string | null {
    return this.passphrase;
  }
}

function simpleAuth(key: ApiSigningKey, pem = key.privateKeyPem, passphrase: string | null = null) {
  return new common.SimpleAuthenticationDetailsProvider(
    key.tenancyId,
    key.userId,
    key.fingerprint,
    pem,
    passphrase,
  );
}

function get(uri: string): SignableRequest {
  return { method: "GET", uri, headers: new Headers() };
}

function post(uri: string, body?: string): SignableRequest {
  return body === undefined
    ? { method: "POST", uri, headers: new Headers() }
    : { method: "POST", uri, headers: new Headers(), body };
}

function signatureParams(headers: Headers): Map<string, string> {
  const params = parseSignatureHeader(headers.get("authorization") ?? "");
  if (params === undefined) throw new Error("authorization is not an HTTP signature");
  return params;
}

async function signed(signer: OciRequestSigner, request: SignableRequest) {
  const outcome = await signer.sign(request);
  expect(outcome).toEqual({ ok: true });
  return request;
}

let checkpoint: Checkpoint;
let world: OciWorld;
const alice = createApiSigningKey();
const bob = createApiSigningKey(alice.tenancyId);
const clusterId = globalOcid("cluster");

beforeAll(async () => {
  checkpoint = await startCheckpoint();
  checkpoint.register(alice);
  world = await startOciWorld();
  world.fake.setClusterPolicy(clusterId, world.tenancyId, {
    isPolicyEnabled: true,
    kmsKeyIds: [world.vaultKey.keyId],
  });
});

afterAll(async () => {
  await checkpoint.close();
  await world.fake.stop();
});

describe("OciRequestSigner on the wire", () => {
  it("signs a GET that OCI's signature check accepts", async () => {
    const signer = new OciRequestSigner(simpleAuth(alice), new PrivateKeyCache());
    const request = await signed(signer, get(`${checkpoint.url}/20180222/clusters/x?a=1&b=%2F`));

    expect(await checkpoint.send(request)).toMatchObject({ ok: true });
    expect(signatureParams(request.headers)).toEqual(
      new Map([
        ["version", "1"],
        ["keyId", apiKeyId(alice)],
        ["algorithm", "rsa-sha256"],
        ["headers", "x-date (request-target) host"],
        ["signature", expect.stringMatching(/^[A-Za-z0-9+/]+=*$/)],
      ]),
    );
  });

  it("signs a POST with its body, which OCI's signature check accepts", async () => {
    const signer = new OciRequestSigner(simpleAuth(alice), new PrivateKeyCache());
    const body = JSON.stringify({ name: "naïve €", list: [1, 2] });
    const request = await signed(signer, post(`${checkpoint.url}/20180222/things`, body));

    expect(await checkpoint.send(request)).toMatchObject({ ok: true });
    expect(signatureParams(request.headers).get("headers")).toBe(
      "x-date (request-target) host content-type content-length x-content-sha256",
    );
    expect(request.headers.get("content-length")).toBe(String(Buffer.byteLength(body)));
    expect(request.headers.get("content-type")).toBe("application/json");
  });

  it("signs a POST without a body as an empty one", async () => {
    const signer = new OciRequestSigner(simpleAuth(alice), new PrivateKeyCache());
    const request = await signed(signer, post(`${checkpoint.url}/20180222/actions/poke`));

    expect(await checkpoint.send(request)).toMatchObject({ ok: true });
    expect(request.headers.get("x-content-sha256")).toBe(
      "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    );
    expect(request.headers.get("content-length")).toBe("0");
  });

  it("produces a signature OCI refuses once the body is changed after signing", async () => {
    const signer = new OciRequestSigner(simpleAuth(alice), new PrivateKeyCache());
    const request = await signed(signer, post(`${checkpoint.url}/20180222/things`, '{"a":1}'));

    const tampered = await checkpoint.send({ ...request, body: '{"a":2}' });

    expect(tampered).toEqual({ ok: false, reason: "x-content-sha256 does not match the body" });
  });

  it("leaves the body out of the signature when the SDK excludes it", async () => {
    const signer = new OciRequestSigner(simpleAuth(alice), new PrivateKeyCache());
    const request = put(`${checkpoint.url}/n/ns/b/bucket/o/object`, "streamed bytes");

    expect(await signer.sign(request, { excludeBody: true })).toEqual({ ok: true });

    const params = signatureParams(request.headers);
    expect(params.get("headers")).toBe("x-date (request-target) host");
    expect(request.headers.has("x-content-sha256")).toBe(false);
    const signingString = [
      `x-date: ${request.headers.get("x-date") ?? ""}`,
      "(request-target): put /n/ns/b/bucket/o/object",
      `host: ${new URL(checkpoint.url).host}`,
    ].join("\n");
    const signature = Buffer.from(params.get("signature") ?? "", "base64");
    const publicKey = createPublicKey(alice.publicKeyPem);
    expect(verify("sha256", Buffer.from(signingString), publicKey, signature)).toBe(true);
  });
});

function put(uri: string, body: string): SignableRequest {
  return { method: "PUT", uri, headers: new Headers(), body };
}

describe("OciRequestSigner compared with the SDK's signer", () => {
  it.each([
    ["a GET", () => get(`${checkpoint.url}/20180222/clusters/c?limit=5`)],
    ["a POST", () => post(`${checkpoint.url}/20180222/things`, '{"x":"ÿ"}')],
  ])("signs %s with exactly the SDK's signature for the same date", async (_what, make) => {
    const ours = await signed(new OciRequestSigner(simpleAuth(alice)), make());
    const theirs = make();
    // The SDK keeps an x-date already set; give it the one our signer used.
    theirs.headers.set("x-date", ours.headers.get("x-date") ?? "");
    await new common.DefaultRequestSigner(simpleAuth(alice)).signHttpRequest({
      method: theirs.method as common.Method,
      uri: theirs.uri,
      headers: theirs.headers,
      body: theirs.body,
    });

    const sdk = signatureParams(theirs.headers);
    const ourParams = signatureParams(ours.headers);
    expect(ourParams.get("signature")).toBe(sdk.get("signature"));
    expect(ourParams.get("keyId")).toBe(sdk.get("keyId"));
    expect(ourParams.get("headers")).toBe(sdk.get("headers")?.toLowerCase());
    for (const name of ["host", "x-content-sha256", "content-length", "content-type"]) {
      expect(ours.headers.get(name)).toBe(theirs.headers.get(name));
    }
  });
});

describe("OciRequestSigner and changing credentials", () => {
  it("signs with the new key on the very next request after a rotation", async () => {
    const cache = new PrivateKeyCache();
    const provider = new SwappableProvider(alice);
    const signer = new OciRequestSigner(provider, cache);
    const uri = `${checkpoint.url}/20180222/clusters/x`;

    expect(await checkpoint.send(await signed(signer, get(uri)))).toMatchObject({ ok: true });
    provider.key = bob;
    provider.pem = bob.privateKeyPem;
    const afterRotation = await signed(signer, get(uri));

    expect(signatureParams(afterRotation.headers).get("keyId")).toBe(apiKeyId(bob));
    // Bob is not registered yet: a refusal for an unknown key, not a bad signature.
    expect(await checkpoint.send(afterRotation)).toEqual({ ok: false, reason: "unknown keyId" });
    checkpoint.register(bob);
    expect(await checkpoint.send(await signed(signer, get(uri)))).toMatchObject({ ok: true });
  });

  it("reads the private key after the key id, which may have renewed the session", async () => {
    // Like the session-token providers: getKeyId() renews, and the key changes with it.
    const renewing = new SwappableProvider(alice);
    renewing.getKeyId = async () => {
      renewing.key = bob;
      renewing.pem = bob.privateKeyPem;
      return apiKeyId(bob);
    };
    checkpoint.register(bob);
    const signer = new OciRequestSigner(renewing, new PrivateKeyCache());

    const request = await signed(signer, get(`${checkpoint.url}/20180222/clusters/x`));

    expect(await checkpoint.send(request)).toMatchObject({ ok: true });
  });

  it("asks the provider for the key id on every request", async () => {
    const provider = new SwappableProvider(alice);
    const signer = new OciRequestSigner(provider, new PrivateKeyCache());

    for (let i = 0; i < 3; i++) await signed(signer, get(`${checkpoint.url}/x`));

    expect(provider.keyIdReads).toBe(3);
  });

  it("parses each private key once, however many requests it signs", async () => {
    const cache = new PrivateKeyCache();
    const provider = new SwappableProvider(alice);
    const signer = new OciRequestSigner(provider, cache);
    const sign = () => signed(signer, get(`${checkpoint.url}/x`));

    for (let i = 0; i < 5; i++) await sign();
    expect(cache.parseCount).toBe(1);

    provider.key = bob;
    provider.pem = bob.privateKeyPem;
    await sign();
    await sign();
    expect(cache.parseCount).toBe(2);

    provider.key = alice;
    provider.pem = alice.privateKeyPem;
    await sign();
    expect(cache.parseCount).toBe(2);
  });

  it("parses a key again once more recent keys have pushed it out", async () => {
    const cache = new PrivateKeyCache(1);
    const provider = new SwappableProvider(alice);
    const signer = new OciRequestSigner(provider, cache);

    await signed(signer, get(`${checkpoint.url}/x`));
    provider.pem = bob.privateKeyPem;
    await signed(signer, get(`${checkpoint.url}/x`));
    provider.pem = alice.privateKeyPem;
    await signed(signer, get(`${checkpoint.url}/x`));

    expect(cache.parseCount).toBe(3);
  });
});

/** An API key whose private half is encrypted, in the two PEM forms OpenSSL writes. */
function encryptedApiKey(tenancyId: string, passphrase: string) {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const encrypt = (type: "pkcs8" | "pkcs1", cipher: string) =>
    privateKey.export({ type, format: "pem", cipher, passphrase }).toString();
  const key: ApiSigningKey = {
    tenancyId,
    userId: globalOcid("user"),
    fingerprint: apiKeyFingerprint(publicKeyPem),
    privateKeyPem: encrypt("pkcs8", "aes-256-cbc"),
    publicKeyPem,
  };
  return { key, pkcs1Pem: encrypt("pkcs1", "aes-128-cbc") };
}

describe("OciRequestSigner with encrypted keys", () => {
  const passphrase = "correct horse battery staple";
  const { key, pkcs1Pem } = encryptedApiKey(alice.tenancyId, passphrase);
  const formats = [
    ["PKCS#8", key.privateKeyPem],
    ["PKCS#1 (openssl genrsa -aes128)", pkcs1Pem],
  ];

  it.each(formats)("opens an encrypted %s key with its passphrase", async (_format, pem) => {
    checkpoint.register(key);
    const signer = new OciRequestSigner(simpleAuth(key, pem, passphrase));

    const request = await signed(signer, post(`${checkpoint.url}/x`, "{}"));

    expect(await checkpoint.send(request)).toMatchObject({ ok: true });
  });

  it("refuses to sign with a wrong passphrase and does not quote the key", async () => {
    const signer = new OciRequestSigner(
      simpleAuth(key, key.privateKeyPem, "wrong"),
      new PrivateKeyCache(),
    );
    const request = get(`${checkpoint.url}/x`);

    const outcome = await signer.sign(request);

    expect(outcome).toEqual({
      ok: false,
      error: "the private key is not a PEM private key, or the passphrase does not open it",
    });
    expect(request.headers.has("authorization")).toBe(false);
  });
});

describe("OciRequestSigner refusals", () => {
  it("refuses a key that is not RSA", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const signer = new OciRequestSigner(simpleAuth(alice, pem), new PrivateKeyCache());

    expect(await signer.sign(get(`${checkpoint.url}/x`))).toEqual({
      ok: false,
      error: "the private key is ec, OCI signs with RSA",
    });
  });

  it("passes on why the provider could not give a key id", async () => {
    const provider = new SwappableProvider(alice);
    provider.getKeyId = () => Promise.reject(new Error("proxymux unreachable"));
    const signer = new OciRequestSigner(provider, new PrivateKeyCache());

    expect(await signer.sign(get(`${checkpoint.url}/x`))).toEqual({
      ok: false,
      error: "no OCI key id: proxymux unreachable",
    });
  });

  it("refuses a config file's authentication_type rather than build a provider", async () => {
    const delegated = new common.SimpleAuthenticationDetailsProvider(
      alice.tenancyId,
      "",
      "",
      "",
      "",
      undefined,
      "instance_principal",
      "token",
    );
    const signer = new OciRequestSigner(delegated, new PrivateKeyCache());

    expect(await signer.sign(get(`${checkpoint.url}/x`))).toEqual({
      ok: false,
      error: "OCI config authentication_type is not supported",
    });
  });
});

describe("SDK calls through pullgate's HTTP client", () => {
  function containerEngine(auth: common.AuthenticationDetailsProvider): ContainerEngineClient {
    const client = new ContainerEngineClient(clientParams(auth), clientConfiguration());
    client.endpoint = world.fake.url;
    return client;
  }

  it("gets a cluster from the fake OCI with a signed GET", async () => {
    const response = await callOci(
      { api: "containerengine", operation: "getCluster" },
      AbortSignal.timeout(5000),
      () => containerEngine(world.auth).getCluster({ clusterId }),
    );

    expect(response.cluster.id).toBe(clusterId);
  });

  it("gets past the fake OCI's signature check with a signed PUT and its body", async () => {
    const failures = world.fake.authFailures.length;
    const call = callOci(
      { api: "containerengine", operation: "updateCluster" },
      AbortSignal.timeout(5000),
      () =>
        containerEngine(world.auth).updateCluster({
          clusterId,
          updateClusterDetails: { name: "renamed", freeformTags: { team: "ünïcode" } },
        }),
      { retries: 0, pauseMs: 0 },
    );

    // The fake serves only GETs: a 405 means the signature was accepted, a 401 would not.
    await expect(call).rejects.toMatchObject({ status: 405, serviceCode: "NotAllowed" });
    expect(world.fake.authFailures.length).toBe(failures);
  });

  it("uses a rotated key from the next SDK call on", async () => {
    const provider = new SwappableProvider(world.apiKey);
    const client = containerEngine(provider);
    const getCluster = () =>
      callOci(
        { api: "containerengine", operation: "getCluster" },
        AbortSignal.timeout(5000),
        () => client.getCluster({ clusterId }),
        { retries: 0, pauseMs: 0 },
      );
    await getCluster();

    const next = createApiSigningKey(world.tenancyId);
    provider.key = next;
    provider.pem = next.privateKeyPem;
    const refused = await getCluster().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(OciCallError);
    expect(refused).toMatchObject({ code: "oci-not-authenticated" });
    expect(world.fake.authFailures.at(-1)).toBe("unknown keyId");

    world.fake.addApiKey(next);
    expect((await getCluster()).cluster.id).toBe(clusterId);
  });

  it("gets a cluster from the fake OCI with an encrypted key and its passphrase", async () => {
    const passphrase = "s3cret";
    const { key } = encryptedApiKey(world.tenancyId, passphrase);
    world.fake.addApiKey(key);

    const client = containerEngine(simpleAuth(key, key.privateKeyPem, passphrase));

    const response = await callOci(
      { api: "containerengine", operation: "getCluster" },
      AbortSignal.timeout(5000),
      () => client.getCluster({ clusterId }),
    );

    expect(response.cluster.id).toBe(clusterId);
  });

  it("reports a signing failure as an OCI call that got no answer, naming why", async () => {
    const provider = new SwappableProvider(world.apiKey, "not a key");

    const call = callOci(
      { api: "containerengine", operation: "getCluster" },
      AbortSignal.timeout(5000),
      () => containerEngine(provider).getCluster({ clusterId }),
      { retries: 0, pauseMs: 0 },
    );

    await expect(call).rejects.toMatchObject({
      code: "oci-unreachable",
      message: expect.stringContaining("request signing failed: the private key is not a PEM"),
    });
  });
});

import { createPublicKey, generateKeyPairSync, createSign } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { ArtifactsClient } from "oci-artifacts";
import { DefaultRequestSigner, NoRetryConfigurationDetails, type HttpRequest } from "oci-common";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import {
  WorkloadIdentityProvider,
  workloadIdentityOptionsFromEnv,
  type WorkloadIdentityOptions,
} from "../../src/oci/auth-workload-identity";
import { signatureKeyId, verifiesWith } from "./http-signature-check";
import { makeTestTls, type TestTls } from "./test-ca";

const issuerKey = generateKeyPairSync("rsa", { modulusLength: 2048 });

/** A session token shaped like OCI's: an RS256 JWT with tenancy claims. */
function sessionJwt(expiresInSeconds: number): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const unsigned = `${part({ alg: "RS256", typ: "JWT" })}.${part({
    sub: "ocid1.serviceaccount.oc1..aaaa",
    res_tenant: "ocid1.tenancy.oc1..aaaaaaaatenancy",
    iat: now,
    exp: now + expiresInSeconds,
    jti: Math.random().toString(36),
  })}`;
  const signature = createSign("RSA-SHA256").update(unsigned).sign(issuerKey.privateKey);
  return `${unsigned}.${signature.toString("base64url")}`;
}

interface Exchange {
  method: string;
  path: string;
  authorization: string;
  contentType: string;
  podKey: string;
  issued: string;
}

/** Plays the API server's proxymux port: checks the request and issues a session token. */
class FakeProxymux {
  readonly exchanges: Exchange[] = [];
  answer: "token" | "refuse" | "empty" = "token";
  lifetimeSeconds = 3600;
  server: Server;

  constructor(tls: TestTls) {
    this.server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        const authorization = req.headers.authorization ?? "";
        if (this.answer === "refuse") {
          res.writeHead(401).end(`unauthorized: ${authorization}`);
          return;
        }
        const podKey = String((JSON.parse(body) as { podKey?: unknown }).podKey);
        const issued = this.answer === "empty" ? "" : sessionJwt(this.lifetimeSeconds);
        this.exchanges.push({
          method: req.method ?? "",
          path: req.url ?? "",
          authorization,
          contentType: req.headers["content-type"] ?? "",
          podKey,
          issued,
        });
        const answer = JSON.stringify({ token: `ST$${issued}` });
        res.writeHead(200).end(Buffer.from(answer).toString("base64"));
      });
    });
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  last(): Exchange {
    const last = this.exchanges.at(-1);
    if (last === undefined) throw new Error("no exchange happened");
    return last;
  }
}

function podKeyPem(podKey: string): string {
  const key = createPublicKey({ key: Buffer.from(podKey, "base64"), format: "der", type: "spki" });
  return key.export({ type: "spki", format: "pem" }).toString();
}

let dir: string;
let tls: TestTls;
let otherTls: TestTls;
let proxymux: FakeProxymux;
let tokenPath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pullgate-wi-"));
  tls = makeTestTls(dir, "cluster");
  otherTls = makeTestTls(dir, "other");
  tokenPath = join(dir, "token");
  proxymux = new FakeProxymux(tls);
  await new Promise<void>((resolve) => proxymux.server.listen(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  await new Promise((resolve) => proxymux.server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  proxymux.exchanges.length = 0;
  proxymux.answer = "token";
  proxymux.lifetimeSeconds = 3600;
  writeFileSync(tokenPath, "service-account-token-1\n");
});

function options(overrides: Partial<WorkloadIdentityOptions> = {}): WorkloadIdentityOptions {
  return { host: "127.0.0.1", port: proxymux.port, tokenPath, caPath: tls.caPath, ...overrides };
}

describe("OKE workload identity", () => {
  it("trades the service account token for a session token, trusting the cluster CA", async () => {
    const provider = new WorkloadIdentityProvider(options());

    const keyId = await provider.getKeyId();

    const exchange = proxymux.last();
    expect(exchange.method).toBe("POST");
    expect(exchange.path).toBe("/resourcePrincipalSessionTokens");
    expect(exchange.authorization).toBe("Bearer service-account-token-1");
    expect(exchange.contentType).toBe("application/json");
    expect(keyId).toBe(`ST$${exchange.issued}`);
  });

  it("signs requests with the session key whose public half it sent to proxymux", async () => {
    const provider = new WorkloadIdentityProvider(options());
    const signer = new DefaultRequestSigner(provider);
    const target = "/20160918/container/imageSignatures?compartmentId=ocid1.tenancy.oc1..aaaa";
    const request: HttpRequest = {
      method: "GET",
      uri: `https://artifacts.eu-frankfurt-1.oci.oraclecloud.com${target}`,
      headers: new Headers(),
    };

    await signer.signHttpRequest(request);

    const sessionKey = podKeyPem(proxymux.last().podKey);
    const signed = { method: "GET", target, headers: request.headers };
    expect(signatureKeyId(request.headers)).toBe(`ST$${proxymux.last().issued}`);
    expect(verifiesWith(signed, sessionKey)).toBe(true);
    const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
    expect(verifiesWith(signed, stranger.export({ type: "spki", format: "pem" }).toString()))
      .toBe(false);
  });

  it("re-reads the rotated service account token and uses a new key at each exchange", async () => {
    const provider = new WorkloadIdentityProvider(options());
    await provider.getKeyId();
    writeFileSync(tokenPath, "service-account-token-2\n");

    await provider.refresh();

    expect(proxymux.exchanges.map((e) => e.authorization)).toEqual([
      "Bearer service-account-token-1",
      "Bearer service-account-token-2",
    ]);
    expect(proxymux.exchanges[0]?.podKey).not.toBe(proxymux.exchanges[1]?.podKey);
    expect(await provider.getKeyId()).toBe(`ST$${proxymux.last().issued}`);
  });

  it("reuses a session token until it is due for renewal", async () => {
    const provider = new WorkloadIdentityProvider(options());
    await provider.getKeyId();
    await provider.getKeyId();
    expect(proxymux.exchanges).toHaveLength(1);
  });

  it("renews a session token that has expired", async () => {
    proxymux.lifetimeSeconds = -1;
    const provider = new WorkloadIdentityProvider(options());
    await provider.getKeyId();
    await provider.getKeyId();
    expect(proxymux.exchanges).toHaveLength(2);
  });

  it("shares one exchange among concurrent callers", async () => {
    const provider = new WorkloadIdentityProvider(options());
    const keyIds = await Promise.all([1, 2, 3, 4, 5].map(() => provider.getKeyId()));
    expect(proxymux.exchanges).toHaveLength(1);
    expect(new Set(keyIds).size).toBe(1);
  });

  it("trusts no server whose certificate another CA signed", async () => {
    const provider = new WorkloadIdentityProvider(options({ caPath: otherTls.caPath }));
    await expect(provider.getKeyId()).rejects.toThrow(/proxymux unreachable/);
    expect(proxymux.exchanges).toHaveLength(0);
  });

  it("reports a refusal by status, without the service account token", async () => {
    proxymux.answer = "refuse";
    const provider = new WorkloadIdentityProvider(options());
    const failure = await provider.getKeyId().then(
      () => new Error("expected a failure"),
      (error: Error) => error,
    );
    expect(failure.message).toMatch(/HTTP 401/);
    expect(failure.message).not.toContain("service-account-token");
  });

  it("refuses an answer that holds no session token", async () => {
    proxymux.answer = "empty";
    const provider = new WorkloadIdentityProvider(options());
    await expect(provider.getKeyId()).rejects.toThrow(/no session token/);
  });

  it("lets an SDK client call an OCI API with requests the session key verifies", async () => {
    const seen: { target: string; headers: Headers }[] = [];
    const api: HttpServer = createHttpServer((req, res) => {
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === "string") headers.set(name, value);
      }
      seen.push({ target: req.url ?? "", headers });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ items: [], remainingItemsCount: 0 }));
    });
    await new Promise<void>((resolve) => api.listen(0, "127.0.0.1", resolve));
    try {
      const provider = new WorkloadIdentityProvider(options());
      const client = new ArtifactsClient(
        { authenticationDetailsProvider: provider },
        { retryConfiguration: NoRetryConfigurationDetails },
      );
      client.endpoint = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;

      const answer = await client.listContainerImageSignatures({
        compartmentId: "ocid1.tenancy.oc1..aaaaaaaatenancy",
        imageDigest: "sha256:" + "a".repeat(64),
      });

      expect(answer.containerImageSignatureCollection.items).toEqual([]);
      const call = seen[0];
      expect(call).toBeDefined();
      if (call === undefined) return;
      const sessionKey = podKeyPem(proxymux.last().podKey);
      expect(verifiesWith({ method: "GET", ...call }, sessionKey)).toBe(true);
      expect(signatureKeyId(call.headers)).toBe(`ST$${proxymux.last().issued}`);
    } finally {
      await new Promise((resolve) => api.close(resolve));
    }
  });
});

describe("workload identity options from the pod environment", () => {
  it("takes the API server host, proxymux port and region, with the OKE defaults", () => {
    const parsed = workloadIdentityOptionsFromEnv({
      KUBERNETES_SERVICE_HOST: "10.96.0.1",
      OCI_RESOURCE_PRINCIPAL_REGION: "eu-frankfurt-1",
    });
    expect(parsed).toEqual({
      ok: true,
      options: {
        host: "10.96.0.1",
        port: 12250,
        tokenPath: "/var/run/secrets/kubernetes.io/serviceaccount/token",
        caPath: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
        regionId: "eu-frankfurt-1",
      },
    });
  });

  it("names what is missing or wrong", () => {
    expect(workloadIdentityOptionsFromEnv({})).toMatchObject({
      ok: false,
      error: expect.stringMatching(/KUBERNETES_SERVICE_HOST/),
    });
    expect(
      workloadIdentityOptionsFromEnv({
        KUBERNETES_SERVICE_HOST: "10.96.0.1",
        KUBERNETES_SERVICE_PORT_PROXYMUX: "proxymux",
      }),
    ).toMatchObject({ ok: false, error: expect.stringMatching(/"proxymux" is not a port/) });
  });
});

import { createPublicKey, createVerify, createHash, generateKeyPairSync } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { DefaultRequestSigner, type HttpRequest } from "oci-common";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  instancePrincipalAuth,
  type InstancePrincipalBuilder,
} from "../../src/oci/auth-instance-principal";
import { signatureKeyId, verifiesWith } from "./http-signature-check";

const TENANCY = "ocid1.tenancy.oc1..aaaaaaaatenancy";

interface Identity {
  certPem: string;
  keyPem: string;
  intermediatePem: string;
}

/** An instance identity like the one the metadata service hands out, made with openssl. */
function makeIdentity(dir: string): Identity {
  const run = (args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  run(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test CA",
    "-keyout", "ca.key", "-out", "ca.pem"]);
  run(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
    "-subj", `/CN=ocid1.instance.oc1.phx.aaaa/OU=opc-certtype:instance/OU=opc-tenant:${TENANCY}`]);
  run(["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
    "-CAcreateserial", "-days", "2", "-out", "leaf.pem"]);
  const read = (file: string) => readFileSync(join(dir, file), "utf8");
  return { certPem: read("leaf.pem"), keyPem: read("leaf.key"), intermediatePem: read("ca.pem") };
}

function pemBody(pem: string): string {
  return pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s/g, "");
}

function sessionJwt(): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const exp = Math.floor(Date.now() / 1000) + 3600;
  return `${part({ alg: "RS256" })}.${part({ res_tenant: TENANCY, exp })}.c2lnbmF0dXJl`;
}

function headersOf(req: { headers: Record<string, string | string[] | undefined> }): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (typeof value === "string") headers.set(name, value);
  }
  return headers;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let dir: string;
let identity: Identity;
const metadataCalls: { path: string; authorization: string }[] = [];
const federationCalls: { verified: boolean; keyId: string; body: Record<string, unknown> }[] = [];
let issued = "";
let metadata: Server;
let federation: Server;
let metadataUrl: string;
let federationUrl: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pullgate-ip-"));
  identity = makeIdentity(dir);
  const files: Record<string, string> = {
    "/opc/v2/identity/cert.pem": identity.certPem,
    "/opc/v2/identity/key.pem": identity.keyPem,
    "/opc/v2/identity/intermediate.pem": identity.intermediatePem,
  };
  metadata = createServer((req, res) => {
    metadataCalls.push({ path: req.url ?? "", authorization: req.headers.authorization ?? "" });
    const file = files[req.url ?? ""];
    if (file === undefined || req.headers.authorization !== "Bearer Oracle") {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/plain" }).end(file);
  });
  // Plays the OCI auth service: checks the request is signed by the instance certificate's
  // key and issues a session token for the public key in the body.
  federation = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const headers = headersOf(req);
      const leafKey = createPublicKey(identity.certPem).export({ type: "spki", format: "pem" });
      const sha = createHash("sha256").update(body).digest("base64");
      const verified =
        req.url === "/v1/x509" &&
        headers.get("x-content-sha256") === sha &&
        verifiesWith({ method: req.method ?? "", target: req.url, headers }, leafKey.toString());
      federationCalls.push({ verified, keyId: signatureKeyId(headers), body: JSON.parse(body) });
      issued = sessionJwt();
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ token: issued }));
    });
  });
  metadataUrl = `${await listen(metadata)}/opc/v2/`;
  federationUrl = await listen(federation);
});

afterAll(async () => {
  await new Promise((resolve) => metadata.close(resolve));
  await new Promise((resolve) => federation.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe("instance principals", () => {
  it("gets a session token for the instance certificate, signs with its key", async () => {
    const built = await instancePrincipalAuth({
      metadataBaseUrl: metadataUrl,
      federationEndpoint: federationUrl,
    });
    if (!built.ok) throw new Error(built.error);

    const target = "/20180222/clusters/ocid1.cluster.oc1.phx.aaaa";
    const request: HttpRequest = {
      method: "GET",
      uri: `https://containerengine.us-phoenix-1.oci.oraclecloud.com${target}`,
      headers: new Headers(),
    };
    await new DefaultRequestSigner(built.provider).signHttpRequest(request);

    expect(metadataCalls.map((c) => c.path)).toEqual(
      expect.arrayContaining(["/opc/v2/identity/cert.pem", "/opc/v2/identity/key.pem"]),
    );
    expect(metadataCalls.every((c) => c.authorization === "Bearer Oracle")).toBe(true);
    const call = federationCalls.at(-1);
    expect(call?.verified).toBe(true);
    expect(call?.keyId).toMatch(new RegExp(`^${TENANCY}/fed-x509`));
    expect(call?.body.certificate).toBe(pemBody(identity.certPem));
    const sessionKey = createPublicKey({
      key: Buffer.from(String(call?.body.publicKey), "base64"),
      format: "der",
      type: "spki",
    }).export({ type: "spki", format: "pem" });
    const signed = { method: "GET", target, headers: request.headers };
    expect(signatureKeyId(request.headers)).toBe(`ST$${issued}`);
    expect(verifiesWith(signed, sessionKey.toString())).toBe(true);
    const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey;
    expect(verifiesWith(signed, stranger.export({ type: "spki", format: "pem" }).toString()))
      .toBe(false);
  });

  it("reports a metadata service that withholds the certificate as a value", async () => {
    const built = await instancePrincipalAuth({
      metadataBaseUrl: `${metadataUrl}missing/`,
      federationEndpoint: federationUrl,
    });
    expect(built).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^instance principals: /),
    });
  });

  it("hands the configured addresses to the builder before building", async () => {
    const seen: string[] = [];
    const fake: InstancePrincipalBuilder = {
      metadataBaseUrl: "unset",
      federationEndpoint: "unset",
      build: async () => {
        seen.push(fake.metadataBaseUrl, fake.federationEndpoint);
        return { getKeyId: async () => "k", getPrivateKey: () => "p", getPassphrase: () => null };
      },
    };
    const built = await instancePrincipalAuth(
      { metadataBaseUrl: "http://127.0.0.1:9/opc/v2/", federationEndpoint: "http://127.0.0.1:9" },
      () => fake,
    );
    expect(built.ok).toBe(true);
    expect(seen).toEqual(["http://127.0.0.1:9/opc/v2/", "http://127.0.0.1:9"]);
  });
});

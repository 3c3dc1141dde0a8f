import { generateKeyPair, generateKeyPairSync, type KeyObject } from "node:crypto";
import { readFile } from "node:fs/promises";
import { request } from "node:https";
import { promisify } from "node:util";

import type { AuthenticationDetailsProvider } from "oci-common";

/**
 * OKE workload identity: the pod's Kubernetes service account token is exchanged at the API
 * server's proxymux port for an OCI resource principal session token bound to a key pair
 * made here; requests are then signed with that key and `ST$<token>` as the key id.
 *
 * pullgate does the exchange itself rather than through the SDK's
 * `OkeWorkloadIdentityAuthenticationDetailsProvider` for two reasons. That provider hands its
 * CA to an `https.Agent` that Node's built-in `fetch` (which the SDK uses on Node 18 and later)
 * ignores, so the cluster CA is never trusted; and it reads the service account token once,
 * while the kubelet rotates projected tokens under a long-running agent.
 */

/** Where the exchange happens and with what; see `workloadIdentityOptionsFromEnv`. */
export interface WorkloadIdentityOptions {
  /** Kubernetes API server address (`KUBERNETES_SERVICE_HOST`). */
  host: string;
  /** Proxymux port (`KUBERNETES_SERVICE_PORT_PROXYMUX`, 12250 on OKE). */
  port: number;
  /** Projected service account token, re-read at every exchange. */
  tokenPath: string;
  /** The cluster CA that signs the API server's certificate; the only CA trusted. */
  caPath: string;
  /** Region of the node's cluster (`OCI_RESOURCE_PRINCIPAL_REGION`), when known. */
  regionId?: string;
  /** Renew a session token this long before it expires. Default 300 s. */
  renewBeforeSeconds?: number;
  /** Give up on one exchange after this long. Default 10 s. */
  timeoutMs?: number;
}

/** Proxymux's port on OKE when the environment does not say. */
export const DEFAULT_PROXYMUX_PORT = 12250;
/** Where Kubernetes mounts the pod's service account token. */
export const DEFAULT_SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/** Where Kubernetes mounts the cluster CA certificate. */
export const DEFAULT_SERVICE_ACCOUNT_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";

/** Options from a pod's environment, or a sentence naming what is missing. */
export function workloadIdentityOptionsFromEnv(
  env: NodeJS.ProcessEnv,
): { ok: true; options: WorkloadIdentityOptions } | { ok: false; error: string } {
  const host = env.KUBERNETES_SERVICE_HOST;
  if (host === undefined || host === "") {
    return { ok: false, error: "KUBERNETES_SERVICE_HOST is not set: not running in a pod" };
  }
  const portText = env.KUBERNETES_SERVICE_PORT_PROXYMUX ?? String(DEFAULT_PROXYMUX_PORT);
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return { ok: false, error: `KUBERNETES_SERVICE_PORT_PROXYMUX="${portText}" is not a port` };
  }
  const options: WorkloadIdentityOptions = {
    host,
    port,
    tokenPath: DEFAULT_SERVICE_ACCOUNT_TOKEN,
    caPath: DEFAULT_SERVICE_ACCOUNT_CA,
  };
  const region = env.OCI_RESOURCE_PRINCIPAL_REGION;
  if (region !== undefined && region !== "") options.regionId = region;
  return { ok: true, options };
}

interface Session {
  token: string;
  privateKeyPem: string;
  /** Seconds since the epoch after which the session is renewed. */
  renewAt: number;
}

/** An OCI request-signing identity backed by OKE workload identity. */
export class WorkloadIdentityProvider implements AuthenticationDetailsProvider {
  private session: Session | undefined;
  private pending: Promise<Session> | undefined;
  // The SDK's request signer reads (and parses) a private key when a client is constructed,
  // before any session exists; this key is never paired with a token.
  private unboundKeyPem: string | undefined;

  /** Makes no request until the first signature is needed. */
  constructor(private readonly options: WorkloadIdentityOptions) {}

  /** Region of the node's cluster, when the environment named it. */
  get regionId(): string | undefined {
    return this.options.regionId;
  }

  /** The key id the SDK signs with: `ST$` and the session token, renewed when due. */
  async getKeyId(): Promise<string> {
    const session = await this.currentSession();
    return `ST$${session.token}`;
  }

  /** The session's private key; the SDK reads it right after `getKeyId`, which renewed it. */
  getPrivateKey(): string {
    if (this.session !== undefined) return this.session.privateKeyPem;
    this.unboundKeyPem ??= exportPrivate(generateKeyPairSync("rsa", { modulusLength: 2048 }));
    return this.unboundKeyPem;
  }

  /** Session keys are not encrypted. */
  getPassphrase(): string | null {
    return null;
  }

  /** Forces a new exchange (the SDK calls this after a 401); returns the new token. */
  async refresh(): Promise<string> {
    const session = await this.exchangeOnce();
    return session.token;
  }

  private async currentSession(): Promise<Session> {
    const now = Date.now() / 1000;
    if (this.session !== undefined && now < this.session.renewAt) return this.session;
    return this.exchangeOnce();
  }

  // Concurrent callers share one exchange; the session (token and key) is replaced as a
  // whole, so a signature never pairs a token with another session's key.
  private exchangeOnce(): Promise<Session> {
    if (this.pending === undefined) {
      this.pending = exchange(this.options).then(
        (session) => {
          this.session = session;
          this.pending = undefined;
          return session;
        },
        (error: unknown) => {
          this.pending = undefined;
          throw error;
        },
      );
    }
    return this.pending;
  }
}

async function exchange(options: WorkloadIdentityOptions): Promise<Session> {
  const [serviceAccountToken, ca] = await Promise.all([
    readFile(options.tokenPath, "utf8"),
    readFile(options.caPath, "utf8"),
  ]);
  // A fresh key per session, as the SDK's own providers do.
  const { privateKeyPem, publicKeyDer } = await newKeyPair();
  const body = JSON.stringify({ podKey: publicKeyDer.toString("base64") });

  const answer = await post(options, ca, serviceAccountToken.trim(), body);
  const token = sessionTokenFrom(answer);
  return { token, privateKeyPem, renewAt: renewalTime(token, options.renewBeforeSeconds ?? 300) };
}

const generateRsa = promisify(generateKeyPair);

// Off the event loop: RSA key generation takes long enough to stall CRI calls.
async function newKeyPair(): Promise<{ privateKeyPem: string; publicKeyDer: Buffer }> {
  const keys = await generateRsa("rsa", { modulusLength: 2048 });
  return {
    privateKeyPem: exportPrivate(keys),
    publicKeyDer: keys.publicKey.export({ type: "spki", format: "der" }),
  };
}

function exportPrivate(keys: { privateKey: KeyObject }): string {
  return keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
}

function post(
  options: WorkloadIdentityOptions,
  ca: string,
  serviceAccountToken: string,
  body: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: options.host,
        port: options.port,
        method: "POST",
        path: "/resourcePrincipalSessionTokens",
        ca,
        timeout: options.timeoutMs ?? 10_000,
        headers: {
          authorization: `Bearer ${serviceAccountToken}`,
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", reject);
        res.on("end", () => {
          // The answer body is not quoted: a refusal may echo request details.
          if (res.statusCode !== 200) {
            reject(new Error(`workload identity: proxymux answered HTTP ${res.statusCode}`));
            return;
          }
          resolve(Buffer.concat(chunks).toString("utf8"));
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error("workload identity: proxymux timed out")));
    req.on("error", (error) =>
      reject(new Error(`workload identity: proxymux unreachable: ${error.message}`)),
    );
    req.end(body);
  });
}

/** Proxymux answers base64 of `{"token":"ST$<jwt>"}`. */
function sessionTokenFrom(answer: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(answer.trim(), "base64").toString("utf8"));
  } catch {
    throw new Error("workload identity: proxymux answer is not base64 JSON");
  }
  const token =
    typeof parsed === "object" && parsed !== null && "token" in parsed ? parsed.token : undefined;
  if (typeof token !== "string" || !token.startsWith("ST$") || token.length <= 3) {
    throw new Error("workload identity: proxymux answer holds no session token");
  }
  return token.slice(3);
}

/** When to renew: `renewBefore` seconds before `exp`, or halfway for short-lived tokens. */
function renewalTime(token: string, renewBefore: number): number {
  const claims = jwtClaims(token);
  const exp = typeof claims.exp === "number" ? claims.exp : undefined;
  if (exp === undefined) throw new Error("workload identity: session token has no expiry");
  const now = Date.now() / 1000;
  const lifetime = Math.max(0, exp - now);
  return exp - Math.min(renewBefore, lifetime / 2);
}

function jwtClaims(token: string): Record<string, unknown> {
  const payload = token.split(".")[1];
  if (payload === undefined) throw new Error("workload identity: session token is not a JWT");
  try {
    const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    if (typeof claims === "object" && claims !== null) return claims as Record<string, unknown>;
  } catch {
    // fall through to the error below
  }
  throw new Error("workload identity: session token claims are not JSON");
}

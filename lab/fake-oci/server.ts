import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

import { apiKeyId, type ApiSigningKey } from "./api-key";
import { FaultQueue, type Fault, type FakeRoute, type FaultKind } from "./faults";
import { errorCodeForStatus, newRequestId, sendJson, sendOciError } from "./oci-error";
import { verifyRequest } from "./request-auth";
import { answer, matchRoute } from "./routes";
import { FakeOciStore, type ClusterPolicy, type SignatureInput } from "./store";

/**
 * A local stand-in for the three OCI APIs pullgate calls (Artifacts image signatures, Vault
 * key versions, OKE clusters), on 127.0.0.1. It checks request signatures, scopes reads to the
 * caller's tenancy, pages listings, and lets tests break it on purpose.
 */

/** Start-up settings. */
export interface FakeOciOptions {
  /** Page size when a listing names no `limit`; small so paging is exercised. Default 2. */
  defaultPageSize?: number;
  /** Port to listen on; 0 (any free port) by default. */
  port?: number;
}

/** A key version to load into the fake Vault. */
export interface FakeKeyVersion {
  keyId: string;
  keyVersionId: string;
  vaultId: string;
  compartmentId: string;
  publicKeyPem: string;
  lifecycleState?: string;
}

/** The fake OCI server and its control API. */
export class FakeOci {
  /** The fake's data; tests may read it directly. */
  readonly store = new FakeOciStore();
  /** Why recent requests were refused with 401, newest last (bounded). */
  readonly authFailures: string[] = [];
  private readonly apiKeys = new Map<string, string>();
  private readonly faults = new FaultQueue();
  private readonly counts = new Map<FakeRoute | "unknown", number>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private unanswered = 0;
  private server: Server | undefined;
  private boundPort = 0;
  private readonly defaultPageSize: number;

  private constructor(options: FakeOciOptions) {
    this.defaultPageSize = options.defaultPageSize ?? 2;
    this.boundPort = options.port ?? 0;
  }

  /** Starts a fake on 127.0.0.1. */
  static async start(options: FakeOciOptions = {}): Promise<FakeOci> {
    const fake = new FakeOci(options);
    await fake.listen();
    return fake;
  }

  /** `http://127.0.0.1:<port>`, the endpoint every SDK client is pointed at. */
  get url(): string {
    return `http://127.0.0.1:${this.boundPort}`;
  }

  /** The port, kept across stop and restart. */
  get port(): number {
    return this.boundPort;
  }

  /** Stops listening and drops every open connection, hung requests included. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** Listens again on the same port, with the same data. */
  async restart(): Promise<void> {
    if (this.server) return;
    await this.listen();
  }

  /** Registers a user's API signing key; its tenancy becomes a known root compartment. */
  addApiKey(key: Pick<ApiSigningKey, "tenancyId" | "userId" | "fingerprint" | "publicKeyPem">) {
    this.store.addTenancy(key.tenancyId);
    this.apiKeys.set(apiKeyId(key), key.publicKeyPem);
  }

  /** Adds a compartment below `parentId` (a tenancy or compartment) and returns its OCID. */
  addCompartment(parentId: string, compartmentId?: string): string {
    return this.store.addCompartment(parentId, compartmentId);
  }

  /** Uploads a signature; returns its OCID. */
  addSignature(input: SignatureInput): string {
    return this.store.addSignature(input);
  }

  /** Deletes a signature; false when there was none. */
  removeSignature(signatureId: string): boolean {
    return this.store.signatures.delete(signatureId);
  }

  /** Deletes every signature. */
  clearSignatures(): void {
    this.store.signatures.clear();
  }

  /** Loads a Vault key version (ENABLED unless stated). */
  addKeyVersion(version: FakeKeyVersion): void {
    this.store.addKeyVersion(version);
  }

  /** Changes a key version's lifecycle state, e.g. to `DISABLED`. */
  setKeyVersionState(keyVersionId: string, lifecycleState: string): void {
    const found = this.store.keyVersions.get(keyVersionId);
    if (!found) throw new Error(`fake OCI: no key version ${keyVersionId}`);
    found.lifecycleState = lifecycleState;
  }

  /** Deletes every version of a key. */
  removeKey(keyId: string): void {
    for (const [id, version] of this.store.keyVersions) {
      if (version.keyId === keyId) this.store.keyVersions.delete(id);
    }
  }

  /** Creates or changes an OKE cluster and its image verification policy. */
  setClusterPolicy(clusterId: string, compartmentId: string, policy: ClusterPolicy): void {
    this.store.setCluster({ clusterId, compartmentId, policy });
  }

  /** Arms a fault for upcoming requests. */
  injectFault(fault: Fault): void {
    this.faults.add(fault);
  }

  /** Disarms all faults. */
  clearFaults(): void {
    this.faults.clear();
  }

  /** Requests received for a route (all routes when absent), faulted and refused ones too. */
  requestCount(route?: FakeRoute): number {
    if (route !== undefined) return this.counts.get(route) ?? 0;
    let total = 0;
    for (const n of this.counts.values()) total += n;
    return total;
  }

  /** Requests received and neither answered nor abandoned by the client yet (hung ones). */
  get pendingRequests(): number {
    return this.unanswered;
  }

  /** Sets every request count back to zero. */
  resetCounts(): void {
    this.counts.clear();
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => this.onRequest(req, res));
    server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.boundPort, "127.0.0.1", () => resolve());
    });
    const address = server.address();
    if (address && typeof address === "object") this.boundPort = address.port;
    this.server = server;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    this.unanswered += 1;
    // "close" fires once, when the reply is sent or the client drops the connection.
    res.once("close", () => (this.unanswered -= 1));
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => this.handle(req, res, Buffer.concat(chunks)));
  }

  private handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const requestId = newRequestId();
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const match = matchRoute(url.pathname);
    const counted = match?.route ?? "unknown";
    this.counts.set(counted, (this.counts.get(counted) ?? 0) + 1);

    const fault = this.faults.take(match?.route);
    if (fault) {
      this.applyFault(fault, res, requestId, () => this.serve(req, res, body, requestId));
      return;
    }
    this.serve(req, res, body, requestId);
  }

  private applyFault(fault: FaultKind, res: ServerResponse, requestId: string, go: () => void) {
    switch (fault.kind) {
      case "hang":
        return; // the socket stays open until the client gives up or the fake stops
      case "delay": {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          go();
        }, fault.ms);
        this.timers.add(timer);
        return;
      }
      case "status": {
        const code = fault.code ?? errorCodeForStatus(fault.status);
        const headers = fault.status === 429 ? { "retry-after": "1" } : undefined;
        sendJson(res, requestId, fault.status, { code, message: fault.message ?? code }, headers);
        return;
      }
    }
  }

  private serve(req: IncomingMessage, res: ServerResponse, body: Buffer, requestId: string) {
    const auth = verifyRequest(req, body, (keyId) => this.apiKeys.get(keyId));
    if (!auth.ok) {
      this.authFailures.push(auth.reason);
      if (this.authFailures.length > 50) this.authFailures.shift();
      sendOciError(res, requestId, "NotAuthenticated");
      return;
    }
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const match = matchRoute(url.pathname);
    if (!match) {
      sendOciError(res, requestId, "NotAuthorizedOrNotFound");
      return;
    }
    if (req.method !== "GET") {
      sendOciError(res, requestId, "NotAllowed", `${req.method ?? ""} is not allowed here`);
      return;
    }
    const reply = answer(match, url.searchParams, {
      store: this.store,
      principal: auth.principal,
      baseUrl: this.url,
      defaultPageSize: this.defaultPageSize,
    });
    if (!reply.ok) {
      sendOciError(res, requestId, reply.code, reply.message);
      return;
    }
    sendJson(res, requestId, 200, reply.body, reply.headers);
  }
}

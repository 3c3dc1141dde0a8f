import type { FakeRoute } from "./faults";
import type { OciErrorCode } from "./oci-error";
import type { Principal } from "./request-auth";
import type { FakeOciStore } from "./store";
import { listSignatures, signatureDetails, signatureSummary } from "./signature-listing";

/**
 * The fake's routes: the paths the SDK clients call (Artifacts `/20160918`, Vault KMS
 * management `/20180608`, Container Engine `/20180222`) and the bodies the real APIs return.
 */

/** A matched route and its decoded path parameters. */
export interface RouteMatch {
  route: FakeRoute;
  params: string[];
}

/** What a route answers. */
export type RouteReply =
  | { ok: true; body: unknown; headers?: Record<string, string> }
  | { ok: false; code: OciErrorCode; message?: string };

const PATTERNS: [FakeRoute, RegExp][] = [
  ["listContainerImageSignatures", /^\/20160918\/container\/imageSignatures$/],
  ["getContainerImageSignature", /^\/20160918\/container\/imageSignatures\/([^/]+)$/],
  ["getKeyVersion", /^\/20180608\/keys\/([^/]+)\/keyVersions\/([^/]+)$/],
  ["getVault", /^\/20180608\/vaults\/([^/]+)$/],
  ["getCluster", /^\/20180222\/clusters\/([^/]+)$/],
];

/** Finds the route for a path; undefined when no API has it. */
export function matchRoute(pathname: string): RouteMatch | undefined {
  for (const [route, pattern] of PATTERNS) {
    const found = pattern.exec(pathname);
    if (found) return { route, params: found.slice(1).map((p) => decodeURIComponent(p)) };
  }
  return undefined;
}

/** Settings the replies depend on. */
export interface RouteContext {
  store: FakeOciStore;
  principal: Principal;
  /** The fake's own base URL, reported as the vault endpoints. */
  baseUrl: string;
  defaultPageSize: number;
}

const notFound = (what: string): RouteReply => ({
  ok: false,
  code: "NotAuthorizedOrNotFound",
  message: `Authorization failed or requested resource not found: ${what}`,
});

function visible(ctx: RouteContext, compartmentId: string): boolean {
  return ctx.store.tenancyOf(compartmentId) === ctx.principal.tenancyId;
}

function etag(id: string, time: Date): Record<string, string> {
  return { etag: Buffer.from(`${id}:${time.getTime()}`).toString("base64url").slice(-32) };
}

/** Answers a matched GET. */
export function answer(match: RouteMatch, query: URLSearchParams, ctx: RouteContext): RouteReply {
  const [first = "", second = ""] = match.params;
  switch (match.route) {
    case "listContainerImageSignatures": {
      const page = listSignatures(ctx.store, query, ctx.principal.tenancyId, ctx.defaultPageSize);
      if (!page.ok) return page;
      const body = {
        items: page.items.map(signatureSummary),
        remainingItemsCount: page.remainingItemsCount,
      };
      return page.nextPage === undefined
        ? { ok: true, body }
        : { ok: true, body, headers: { "opc-next-page": page.nextPage } };
    }
    case "getContainerImageSignature": {
      const found = ctx.store.signatures.get(first);
      if (!found || !visible(ctx, found.compartmentId)) return notFound(first);
      const headers = etag(found.id, found.timeCreated);
      return { ok: true, body: signatureDetails(found), headers };
    }
    case "getKeyVersion":
      return keyVersionReply(ctx, first, second);
    case "getVault":
      return vaultReply(ctx, first);
    case "getCluster":
      return clusterReply(ctx, first);
  }
}

function keyVersionReply(ctx: RouteContext, keyId: string, keyVersionId: string): RouteReply {
  const found = ctx.store.keyVersions.get(keyVersionId);
  if (!found || found.keyId !== keyId || !visible(ctx, found.compartmentId)) {
    return notFound(keyVersionId);
  }
  const body = {
    compartmentId: found.compartmentId,
    id: found.keyVersionId,
    keyId: found.keyId,
    publicKey: found.publicKeyPem,
    lifecycleState: found.lifecycleState,
    origin: "INTERNAL",
    timeCreated: found.timeCreated.toISOString(),
    vaultId: found.vaultId,
    isPrimary: true,
    isAutoRotated: false,
  };
  return { ok: true, body, headers: etag(found.keyVersionId, found.timeCreated) };
}

function vaultReply(ctx: RouteContext, vaultId: string): RouteReply {
  const version = [...ctx.store.keyVersions.values()].find((k) => k.vaultId === vaultId);
  if (!version || !visible(ctx, version.compartmentId)) return notFound(vaultId);
  const body = {
    compartmentId: version.compartmentId,
    cryptoEndpoint: ctx.baseUrl,
    displayName: "vault",
    id: vaultId,
    lifecycleState: "ACTIVE",
    managementEndpoint: ctx.baseUrl,
    timeCreated: version.timeCreated.toISOString(),
    vaultType: "DEFAULT",
    wrappingkeyId: `${vaultId}.wrapping`,
    isPrimary: true,
    isVaultReplicable: false,
  };
  return { ok: true, body, headers: etag(vaultId, version.timeCreated) };
}

function clusterReply(ctx: RouteContext, clusterId: string): RouteReply {
  const found = ctx.store.clusters.get(clusterId);
  if (!found || !visible(ctx, found.compartmentId)) return notFound(clusterId);
  const body = {
    id: found.clusterId,
    name: "cluster",
    compartmentId: found.compartmentId,
    kubernetesVersion: "v1.31.1",
    lifecycleState: "ACTIVE",
    type: "ENHANCED_CLUSTER",
    imagePolicyConfig: {
      isPolicyEnabled: found.policy.isPolicyEnabled,
      keyDetails: found.policy.kmsKeyIds.map((kmsKeyId) => ({ kmsKeyId })),
    },
  };
  return { ok: true, body, headers: { etag: found.clusterId.slice(-16) } };
}

import type { FakeOciStore, StoredSignature } from "./store";
import type { OciErrorCode } from "./oci-error";

/**
 * ListContainerImageSignatures: the query parameters the real API takes, its filters, its
 * sort orders, and page tokens handed back in `opc-next-page`.
 */

const SIGNING_ALGORITHMS = new Set([
  "SHA_224_RSA_PKCS_PSS",
  "SHA_256_RSA_PKCS_PSS",
  "SHA_384_RSA_PKCS_PSS",
  "SHA_512_RSA_PKCS_PSS",
]);
const MAX_LIMIT = 1000;

/** One page of a listing, or the error the service answers with. */
export type ListingOutcome =
  | { ok: true; items: StoredSignature[]; remainingItemsCount: number; nextPage?: string }
  | { ok: false; code: OciErrorCode; message: string };

const EXACT_FILTERS = [
  "imageId",
  "repositoryId",
  "imageDigest",
  "displayName",
  "kmsKeyId",
  "kmsKeyVersionId",
  "signingAlgorithm",
] as const;

function invalid(message: string): ListingOutcome {
  return { ok: false, code: "InvalidParameter", message };
}

/** `foo` matches exactly; `foo*` matches any name starting with `foo` (the API's wildcard). */
function repositoryNameMatches(pattern: string, name: string): boolean {
  return pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

function compare(a: StoredSignature, b: StoredSignature, sortBy: string): number {
  const primary =
    sortBy === "DISPLAYNAME"
      ? a.displayName.localeCompare(b.displayName)
      : a.timeCreated.getTime() - b.timeCreated.getTime();
  return primary !== 0 ? primary : a.id.localeCompare(b.id);
}

/** A page token ties an offset to the query it belongs to, as opaque tokens do in OCI. */
function pageToken(offset: number, fingerprint: string): string {
  return Buffer.from(JSON.stringify({ o: offset, q: fingerprint })).toString("base64url");
}

function readPageToken(token: string, fingerprint: string): number | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const { o, q } = parsed as { o?: unknown; q?: unknown };
    return typeof o === "number" && Number.isInteger(o) && o >= 0 && q === fingerprint
      ? o
      : undefined;
  } catch {
    return undefined;
  }
}

function queryFingerprint(params: URLSearchParams): string {
  const kept = [...params.entries()].filter(([k]) => k !== "page" && k !== "limit");
  return kept.sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join("&");
}

function parseLimit(raw: string | null, defaultPageSize: number): number | undefined {
  if (raw === null) return defaultPageSize;
  const n = Number(raw);
  return Number.isInteger(n) && n >= 1 && n <= MAX_LIMIT ? n : undefined;
}

/** Answers one ListContainerImageSignatures request for a caller in `callerTenancyId`. */
export function listSignatures(
  store: FakeOciStore,
  params: URLSearchParams,
  callerTenancyId: string,
  defaultPageSize: number,
): ListingOutcome {
  const compartmentId = params.get("compartmentId");
  if (!compartmentId) {
    return { ok: false, code: "MissingParameter", message: "compartmentId is required" };
  }
  const subtree = params.get("compartmentIdInSubtree");
  if (subtree !== null && subtree !== "true" && subtree !== "false") {
    return invalid("compartmentIdInSubtree must be true or false");
  }
  const limit = parseLimit(params.get("limit"), defaultPageSize);
  if (limit === undefined) return invalid(`limit must be an integer from 1 to ${MAX_LIMIT}`);
  const sortBy = params.get("sortBy") ?? "TIMECREATED";
  if (sortBy !== "TIMECREATED" && sortBy !== "DISPLAYNAME") return invalid("invalid sortBy");
  const sortOrder = params.get("sortOrder") ?? (sortBy === "TIMECREATED" ? "DESC" : "ASC");
  if (sortOrder !== "ASC" && sortOrder !== "DESC") return invalid("invalid sortOrder");
  const algorithm = params.get("signingAlgorithm");
  if (algorithm !== null && !SIGNING_ALGORITHMS.has(algorithm)) {
    return invalid("invalid signingAlgorithm");
  }
  if (store.tenancyOf(compartmentId) !== callerTenancyId) {
    return {
      ok: false,
      code: "NotAuthorizedOrNotFound",
      message: `Authorization failed or requested resource not found: ${compartmentId}`,
    };
  }
  const fingerprint = queryFingerprint(params);
  const page = params.get("page");
  const offset = page === null ? 0 : readPageToken(page, fingerprint);
  if (offset === undefined) return invalid("invalid page token");

  const repositoryName = params.get("repositoryName");
  const matching = [...store.signatures.values()].filter((s) => {
    const inScope =
      subtree === "true"
        ? store.isWithin(s.compartmentId, compartmentId)
        : s.compartmentId === compartmentId;
    if (!inScope) return false;
    if (repositoryName !== null && !repositoryNameMatches(repositoryName, s.repositoryName)) {
      return false;
    }
    return EXACT_FILTERS.every((f) => params.get(f) === null || params.get(f) === s[f]);
  });
  matching.sort((a, b) => (sortOrder === "ASC" ? 1 : -1) * compare(a, b, sortBy));

  const items = matching.slice(offset, offset + limit);
  const next = offset + items.length;
  const remainingItemsCount = Math.max(0, matching.length - next);
  return remainingItemsCount > 0
    ? { ok: true, items, remainingItemsCount, nextPage: pageToken(next, fingerprint) }
    : { ok: true, items, remainingItemsCount };
}

/** The ContainerImageSignatureSummary fields of a stored signature. */
export function signatureSummary(s: StoredSignature): Record<string, unknown> {
  return {
    compartmentId: s.compartmentId,
    displayName: s.displayName,
    id: s.id,
    imageId: s.imageId,
    kmsKeyId: s.kmsKeyId,
    kmsKeyVersionId: s.kmsKeyVersionId,
    message: s.message,
    signature: s.signature,
    signingAlgorithm: s.signingAlgorithm,
    timeCreated: s.timeCreated.toISOString(),
    lifecycleState: s.lifecycleState,
    freeformTags: {},
    definedTags: {},
    systemTags: {},
  };
}

/** The full ContainerImageSignature: the summary plus `createdBy`. */
export function signatureDetails(s: StoredSignature): Record<string, unknown> {
  return { ...signatureSummary(s), createdBy: s.createdBy };
}

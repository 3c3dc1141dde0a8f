import type { AuthenticationDetailsProvider } from "oci-common";
import { ArtifactsClient, type requests } from "oci-artifacts";

import type { SignatureQuery, SignatureRecord, SignatureSource } from "../signatures/sources";
import {
  callOci,
  clientConfiguration,
  clientParams,
  OciCallError,
  type OciCall,
  type RetryBudget,
} from "./sdk-setup";

/**
 * Image signatures from the OCI Artifacts API (`ListContainerImageSignatures`), for the
 * repository and digest being pulled, anywhere in the tenancy's compartment tree. The list
 * summaries already carry `message` and `signature`, so no per-signature GET is needed.
 */

/** How the source reaches the API and how much it reads per decision. */
export interface ArtifactsSignatureSourceOptions {
  auth: AuthenticationDetailsProvider;
  /** The Artifacts endpoint for a region id; see `artifactsEndpoint` in src/ocir/regions.ts. */
  artifactsEndpoint: (regionId: string) => string;
  /** At most this many pages per listing. Default 10. */
  maxPages?: number;
  /** At most this many signatures per listing. Default 1000. */
  maxRecords?: number;
  /** `limit` sent per page; the service's default page size when absent. */
  pageSize?: number;
  /** Retry budget per page request (tests only). */
  retryBudget?: RetryBudget;
}

const LIST: OciCall = { api: "artifacts", operation: "listContainerImageSignatures" };
// Region ids are host labels; anything else would let a caller steer the endpoint.
const REGION_ID = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/** A SignatureSource on the SDK's ArtifactsClient, one client per region. */
export class ArtifactsSignatureSource implements SignatureSource {
  private readonly clients = new Map<string, ArtifactsClient>();
  private readonly maxPages: number;
  private readonly maxRecords: number;

  constructor(private readonly options: ArtifactsSignatureSourceOptions) {
    this.maxPages = options.maxPages ?? 10;
    this.maxRecords = options.maxRecords ?? 1000;
  }

  /** Every signature of the image in the tenancy's subtree, all pages. */
  async listSignatures(query: SignatureQuery, signal: AbortSignal): Promise<SignatureRecord[]> {
    // A `*` would turn the exact repository filter into the API's prefix wildcard.
    if (query.repositoryName.includes("*")) {
      throw new Error(`repository name "${query.repositoryName}" contains "*"`);
    }
    const client = this.clientFor(query.region);
    const records: SignatureRecord[] = [];
    let page: string | undefined;
    for (let pages = 0; ; ) {
      if (pages === this.maxPages) throw this.tooMany(`more than ${this.maxPages} pages`);
      const request: requests.ListContainerImageSignaturesRequest = {
        compartmentId: query.compartmentId,
        compartmentIdInSubtree: true,
        repositoryName: query.repositoryName,
        imageDigest: query.imageDigest,
      };
      if (page !== undefined) request.page = page;
      if (this.options.pageSize !== undefined) request.limit = this.options.pageSize;

      const response = await callOci(
        LIST,
        signal,
        () => client.listContainerImageSignatures(request),
        this.options.retryBudget,
      );
      pages += 1;
      for (const item of itemsOf(response.containerImageSignatureCollection)) {
        records.push(toRecord(item));
      }
      if (records.length > this.maxRecords) {
        throw this.tooMany(`more than ${this.maxRecords} signatures`);
      }
      page = response.opcNextPage ?? undefined;
      if (page === undefined || page === "") return records;
    }
  }

  private tooMany(what: string): OciCallError {
    return new OciCallError("oci-too-many-results", LIST, `${what} for one image`, {});
  }

  private clientFor(regionId: string): ArtifactsClient {
    const known = this.clients.get(regionId);
    if (known) return known;
    if (!REGION_ID.test(regionId)) throw new Error(`"${regionId}" is not a region identifier`);
    const client = new ArtifactsClient(clientParams(this.options.auth), clientConfiguration());
    client.endpoint = this.options.artifactsEndpoint(regionId);
    this.clients.set(regionId, client);
    return client;
  }
}

function itemsOf(collection: unknown): unknown[] {
  const items = (collection as { items?: unknown } | undefined)?.items;
  if (!Array.isArray(items)) {
    throw new OciCallError("oci-bad-response", LIST, "the listing has no items array", {});
  }
  return items;
}

const REQUIRED = ["id", "kmsKeyId", "kmsKeyVersionId", "signingAlgorithm", "message", "signature"];

function toRecord(item: unknown): SignatureRecord {
  const fields = item as Record<string, unknown>;
  const missing = REQUIRED.find((name) => typeof fields[name] !== "string");
  if (missing !== undefined) {
    throw new OciCallError("oci-bad-response", LIST, `a signature lacks "${missing}"`, {});
  }
  const record: SignatureRecord = {
    id: String(fields.id),
    kmsKeyId: String(fields.kmsKeyId),
    kmsKeyVersionId: String(fields.kmsKeyVersionId),
    signingAlgorithm: String(fields.signingAlgorithm),
    message: String(fields.message),
    signature: String(fields.signature),
  };
  if (typeof fields.imageId === "string") record.imageId = fields.imageId;
  return record;
}

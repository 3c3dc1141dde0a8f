import { globalOcid, regionalOcid } from "./ocids";

/**
 * What the fake OCI knows: the compartment tree, images' signatures, Vault key versions and
 * OKE clusters. Everything lives in a compartment, and a caller sees only what lies in its
 * own tenancy's tree, the way IAM scopes a user's reads.
 */

/** A signature as the signing tools upload it, plus the image facts OCIR derives from it. */
export interface SignatureInput {
  compartmentId: string;
  imageId: string;
  repositoryName: string;
  imageDigest: string;
  repositoryId?: string;
  kmsKeyId: string;
  kmsKeyVersionId: string;
  signingAlgorithm: string;
  /** Base64 of the signed JSON message. */
  message: string;
  /** Base64 of the signature over the decoded message. */
  signature: string;
  /** When it was uploaded; defaults to now (listing sorts on it). */
  timeCreated?: Date;
}

/** A stored signature, with the fields the Artifacts API reports. */
export interface StoredSignature extends Required<SignatureInput> {
  id: string;
  displayName: string;
  createdBy: string;
  lifecycleState: "AVAILABLE";
}

/** A Vault key version as the fake holds it. */
export interface StoredKeyVersion {
  keyId: string;
  keyVersionId: string;
  vaultId: string;
  compartmentId: string;
  publicKeyPem: string;
  /** `ENABLED`, `DISABLED`, `PENDING_DELETION`, ... as Vault reports it. */
  lifecycleState: string;
  timeCreated: Date;
}

/** An OKE cluster's image verification policy. */
export interface ClusterPolicy {
  isPolicyEnabled: boolean;
  kmsKeyIds: string[];
}

/** A stored cluster. */
export interface StoredCluster {
  clusterId: string;
  compartmentId: string;
  policy: ClusterPolicy;
}

/** Short tail of an OCID, as OCIR uses in a signature's display name. */
function tail(ocid: string): string {
  return ocid.slice(-10);
}

/** The fake's state; plain data, no I/O. */
export class FakeOciStore {
  /** compartment OCID -> parent OCID (null for a tenancy). */
  private readonly parents = new Map<string, string | null>();
  readonly signatures = new Map<string, StoredSignature>();
  readonly keyVersions = new Map<string, StoredKeyVersion>();
  readonly clusters = new Map<string, StoredCluster>();

  /** Registers a tenancy (a root compartment); harmless if it is known already. */
  addTenancy(tenancyId: string): void {
    if (!this.parents.has(tenancyId)) this.parents.set(tenancyId, null);
  }

  /** Adds a compartment under `parentId` and returns its OCID. */
  addCompartment(parentId: string, compartmentId = globalOcid("compartment")): string {
    this.requireCompartment(parentId);
    this.parents.set(compartmentId, parentId);
    return compartmentId;
  }

  /** Whether `compartmentId` is known. */
  hasCompartment(compartmentId: string): boolean {
    return this.parents.has(compartmentId);
  }

  /** The tenancy at the root of a compartment's tree. */
  tenancyOf(compartmentId: string): string | undefined {
    let current: string | null | undefined = compartmentId;
    let last: string | undefined;
    while (current !== null && current !== undefined) {
      last = current;
      current = this.parents.get(current);
      if (current === undefined) return undefined;
    }
    return last;
  }

  /** Whether `compartmentId` is `ancestorId` or lies below it. */
  isWithin(compartmentId: string, ancestorId: string): boolean {
    let current: string | null | undefined = compartmentId;
    while (current !== null && current !== undefined) {
      if (current === ancestorId) return true;
      current = this.parents.get(current);
    }
    return false;
  }

  /** Stores a signature and returns its OCID. */
  addSignature(input: SignatureInput): string {
    this.requireCompartment(input.compartmentId);
    const id = regionalOcid("containerimagesignature");
    this.signatures.set(id, {
      ...input,
      repositoryId: input.repositoryId ?? `repo:${input.compartmentId}:${input.repositoryName}`,
      timeCreated: input.timeCreated ?? new Date(),
      id,
      displayName: [
        tail(input.kmsKeyId),
        tail(input.kmsKeyVersionId),
        input.signingAlgorithm,
        tail(input.imageId),
      ].join("::"),
      createdBy: "ocid1.user.oc1..signer",
      lifecycleState: "AVAILABLE",
    });
    return id;
  }

  /** Stores a key version (replacing one with the same OCID). */
  addKeyVersion(input: Omit<StoredKeyVersion, "timeCreated" | "lifecycleState"> & {
    lifecycleState?: string;
  }): void {
    this.requireCompartment(input.compartmentId);
    this.keyVersions.set(input.keyVersionId, {
      lifecycleState: "ENABLED",
      timeCreated: new Date(),
      ...input,
    });
  }

  /** Sets or replaces a cluster's image verification policy. */
  setCluster(cluster: StoredCluster): void {
    this.requireCompartment(cluster.compartmentId);
    this.clusters.set(cluster.clusterId, cluster);
  }

  private requireCompartment(compartmentId: string): void {
    if (!this.parents.has(compartmentId)) {
      throw new Error(`fake OCI: unknown compartment ${compartmentId}; add it first`);
    }
  }
}

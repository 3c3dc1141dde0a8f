import type {
  KeySource,
  KeyVersionInfo,
  SignatureQuery,
  SignatureRecord,
  SignatureSource,
} from "../../src/signatures/sources";
import type { LocalVaultKey } from "../../lab/oci-cli-signer";
import type { SignatureInput } from "../../lab/fake-oci/store";

/**
 * In-memory stand-ins for the two OCI sources, behind the same interfaces the product uses.
 * They filter like the Artifacts API and answer like Vault, and count what they were asked.
 */
export class MemorySignatures implements SignatureSource {
  readonly queries: SignatureQuery[] = [];
  failure: Error | undefined;
  private readonly stored: (SignatureInput & { id: string })[] = [];

  add(...inputs: SignatureInput[]): void {
    for (const input of inputs) this.stored.push({ ...input, id: `sig-${this.stored.length}` });
  }

  async listSignatures(query: SignatureQuery, signal: AbortSignal): Promise<SignatureRecord[]> {
    this.queries.push(query);
    signal.throwIfAborted();
    if (this.failure !== undefined) throw this.failure;
    return this.stored
      .filter((s) => s.repositoryName === query.repositoryName)
      .filter((s) => s.imageDigest === query.imageDigest)
      .filter((s) => s.compartmentId === query.compartmentId)
      .map((s) => ({
        id: s.id,
        imageId: s.imageId,
        kmsKeyId: s.kmsKeyId,
        kmsKeyVersionId: s.kmsKeyVersionId,
        signingAlgorithm: s.signingAlgorithm,
        message: s.message,
        signature: s.signature,
      }));
  }
}

/** Vault's key versions, by key version OCID. */
export class MemoryKeys implements KeySource {
  readonly lookups: string[] = [];
  failure: Error | undefined;
  private readonly versions = new Map<string, KeyVersionInfo>();

  add(key: LocalVaultKey, lifecycleState = "ENABLED"): void {
    this.versions.set(key.keyVersionId, {
      keyId: key.keyId,
      keyVersionId: key.keyVersionId,
      publicKeyPem: key.publicKeyPem,
      lifecycleState,
    });
  }

  async getKeyVersion(keyId: string, keyVersionId: string, signal: AbortSignal) {
    this.lookups.push(keyVersionId);
    signal.throwIfAborted();
    if (this.failure !== undefined) throw this.failure;
    const version = this.versions.get(keyVersionId);
    if (version === undefined || version.keyId !== keyId) {
      throw Object.assign(new Error("key version not found"), { code: "NotAuthorizedOrNotFound" });
    }
    return version;
  }
}

/**
 * The two things a signature check needs from OCI, behind interfaces so the decision logic
 * takes plain values and tests can substitute any implementation. The OCI SDK
 * implementations live in `src/oci/`.
 */

/** The RSASSA-PSS algorithms OCIR image signatures may name. */
export const SIGNING_ALGORITHMS = [
  "SHA_224_RSA_PKCS_PSS",
  "SHA_256_RSA_PKCS_PSS",
  "SHA_384_RSA_PKCS_PSS",
  "SHA_512_RSA_PKCS_PSS",
] as const;

/** One of the four signing algorithms. */
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/** One image signature record as the Artifacts API lists it. */
export interface SignatureRecord {
  /** OCID of the signature record itself. */
  id: string;
  imageId?: string;
  kmsKeyId: string;
  kmsKeyVersionId: string;
  /** As listed; may be any string, checked by the verifier. */
  signingAlgorithm: string;
  /** Base64 of the signed JSON message. */
  message: string;
  /** Base64 of the RSASSA-PSS signature. */
  signature: string;
}

/** Which signatures to list: the image's repository and digest inside a tenancy's subtree. */
export interface SignatureQuery {
  /** Region identifier of the registry the image comes from, e.g. `us-phoenix-1`. */
  region: string;
  /** Tenancy OCID whose subtree holds the repository. */
  compartmentId: string;
  /** Repository name without the tenancy namespace, e.g. `project01/ngnix-lb`. */
  repositoryName: string;
  /** `sha256:<hex>`. */
  imageDigest: string;
}

/** Lists image signatures (every page). Throws only when it cannot get an answer. */
export interface SignatureSource {
  listSignatures(query: SignatureQuery, signal: AbortSignal): Promise<SignatureRecord[]>;
}

/** The state of a Vault key version, as `GetKeyVersion.lifecycleState` reports it. */
export interface KeyVersionInfo {
  keyId: string;
  keyVersionId: string;
  /** PEM SubjectPublicKeyInfo. */
  publicKeyPem: string;
  lifecycleState: string;
}

/** Fetches a key version's public key from Vault. Throws only when it cannot get an answer. */
export interface KeySource {
  getKeyVersion(keyId: string, keyVersionId: string, signal: AbortSignal): Promise<KeyVersionInfo>;
  /** A key version this source already holds, without asking Vault; optional. */
  cached?(keyId: string, keyVersionId: string): KeyVersionInfo | undefined;
}

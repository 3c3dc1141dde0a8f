import { constants, generateKeyPairSync, sign, type KeyObject } from "node:crypto";

import { vaultKeyOcids } from "./fake-oci/ocids";
import type { SignatureInput } from "./fake-oci/store";

/**
 * Makes OCIR image signatures the way `oci artifacts container image-signature sign-upload`
 * does, with a local RSA key standing in for the Vault key:
 *
 * 1. The message is a JSON object with the keys `description, imageDigest, kmsKeyId,
 *    kmsKeyVersionId, metadata, region, repositoryName, signingAlgorithm` in that order,
 *    serialized by Python's `json.dumps(..., separators=(",", ":"))`: no spaces, and
 *    (`ensure_ascii`) every character outside printable ASCII written as a lower-case
 *    `\uXXXX` escape. `description` and `metadata` are strings ("" when not given; `metadata`
 *    is the user's JSON text, embedded as a string). `region` is the CLI's configured region
 *    id, or null when none is configured.
 * 2. The message goes to Vault base64-encoded; Vault's Sign with messageType RAW signs the
 *    decoded bytes, i.e. the JSON text, with RSASSA-PSS, MGF1 with the same hash.
 * 3. The upload carries that same base64 text as `message` and Vault's base64 signature.
 *
 * Vault does not document its PSS salt length. The usual HSM choice (and RFC 4055's
 * recommendation) is the hash length, so that is the default here; verifiers must accept
 * any salt length (RSA_PSS_SALTLEN_AUTO), and `saltLength` lets tests prove they do.
 */

/** The hash each OCIR signing algorithm names. */
export const ALGORITHM_HASH = {
  SHA_224_RSA_PKCS_PSS: "sha224",
  SHA_256_RSA_PKCS_PSS: "sha256",
  SHA_384_RSA_PKCS_PSS: "sha384",
  SHA_512_RSA_PKCS_PSS: "sha512",
} as const;

/** One of the four algorithms OCIR accepts for image signatures. */
export type OcirSigningAlgorithm = keyof typeof ALGORITHM_HASH;

/** A Vault key version made locally: its OCIDs, its private key and its public key PEM. */
export interface LocalVaultKey {
  vaultId: string;
  /** The key OCID's fifth field, from which the CLI derives the vault's endpoints. */
  vaultPart: string;
  keyId: string;
  keyVersionId: string;
  privateKey: KeyObject;
  publicKeyPem: string;
}

/** The image being signed, as OCIR describes it. */
export interface ImageToSign {
  imageId: string;
  /** Compartment holding the repository. */
  compartmentId: string;
  /** Repository name without the namespace, e.g. `project01/ngnix-lb`. */
  repositoryName: string;
  /** `sha256:<hex>`. */
  imageDigest: string;
}

/** The fields of the signed message, in the CLI's order. */
export interface SignatureMessageFields {
  description: string;
  imageDigest: string;
  kmsKeyId: string;
  kmsKeyVersionId: string;
  metadata: string;
  region: string | null;
  repositoryName: string;
  signingAlgorithm: string;
}

/** Options for one signature. */
export interface SignOptions {
  signingAlgorithm?: OcirSigningAlgorithm;
  /** The CLI's configured region id, e.g. `us-phoenix-1`; null when unset. */
  region?: string | null;
  description?: string;
  /** JSON text, e.g. `{"buildNumber":"123"}`. */
  metadata?: string;
  /** PSS salt length: the hash length by default, or `max` for the longest the key allows. */
  saltLength?: "digest" | "max";
  /** Replaces message fields after they are filled in, to make deliberately wrong messages. */
  override?: Partial<SignatureMessageFields>;
}

/** Creates an RSA 2048 key version with realistic Vault OCIDs (`ocid1.key.oc1.phx.<vault>...`). */
export function createVaultKey(regionKey = "phx", realm = "oc1"): LocalVaultKey {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  return {
    ...vaultKeyOcids(regionKey, realm),
    privateKey,
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

/** A JSON string literal as Python's `json.dumps` writes it with `ensure_ascii` on. */
export function pythonJsonString(value: string): string {
  let out = '"';
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    const ch = value[i] ?? "";
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (unit >= 0x20 && unit <= 0x7e) out += ch;
    // Everything else, DEL and each UTF-16 unit of a non-ASCII character included.
    else out += `\\u${unit.toString(16).padStart(4, "0")}`;
  }
  return `${out}"`;
}

/** The message JSON exactly as the CLI builds it (field order, separators, escaping). */
export function signatureMessageJson(fields: SignatureMessageFields): string {
  const order: (keyof SignatureMessageFields)[] = [
    "description",
    "imageDigest",
    "kmsKeyId",
    "kmsKeyVersionId",
    "metadata",
    "region",
    "repositoryName",
    "signingAlgorithm",
  ];
  const parts = order.map((key) => {
    const value = fields[key];
    return `${pythonJsonString(key)}:${value === null ? "null" : pythonJsonString(value)}`;
  });
  return `{${parts.join(",")}}`;
}

/** Signs bytes as Vault's Sign does for an RSASSA-PSS algorithm with messageType RAW. */
export function vaultSignRaw(
  key: KeyObject,
  algorithm: OcirSigningAlgorithm,
  message: Buffer,
  saltLength: "digest" | "max" = "digest",
): Buffer {
  const salt =
    saltLength === "digest" ? constants.RSA_PSS_SALTLEN_DIGEST : constants.RSA_PSS_SALTLEN_MAX_SIGN;
  return sign(ALGORITHM_HASH[algorithm], message, {
    key,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: salt,
  });
}

/** Signs an image as `image-signature sign-upload` would; the result loads into the fake. */
export function signImage(
  key: LocalVaultKey,
  image: ImageToSign,
  options: SignOptions = {},
): SignatureInput {
  const signingAlgorithm = options.signingAlgorithm ?? "SHA_256_RSA_PKCS_PSS";
  const fields: SignatureMessageFields = {
    description: options.description ?? "",
    imageDigest: image.imageDigest,
    kmsKeyId: key.keyId,
    kmsKeyVersionId: key.keyVersionId,
    metadata: options.metadata ?? "",
    region: options.region === undefined ? "us-phoenix-1" : options.region,
    repositoryName: image.repositoryName,
    signingAlgorithm,
    ...options.override,
  };
  const json = Buffer.from(signatureMessageJson(fields), "utf8");
  const message = json.toString("base64");
  // Vault receives the base64 text and signs what it decodes to.
  const signed = Buffer.from(message, "base64");
  return {
    compartmentId: image.compartmentId,
    imageId: image.imageId,
    repositoryName: image.repositoryName,
    imageDigest: image.imageDigest,
    kmsKeyId: key.keyId,
    kmsKeyVersionId: key.keyVersionId,
    signingAlgorithm,
    message,
    signature: vaultSignRaw(key.privateKey, signingAlgorithm, signed, options.saltLength)
      .toString("base64"),
  };
}

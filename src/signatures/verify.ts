import { constants, createPublicKey, type KeyObject, verify } from "node:crypto";
import { clip } from "../text/clip";
import { SIGNING_ALGORITHMS, type SignatureRecord, type SigningAlgorithm } from "./sources";

/**
 * What makes one OCIR image signature count. The record must name a trusted key, its
 * RSASSA-PSS signature must verify over the exact message bytes, and the message must be
 * bound to the image being pulled and to the record that carries it. Oracle's own
 * verification trusts the listing filter for the binding; checking it here is what stops
 * one image's signature from being replayed on another.
 */

/** The image a signature must be bound to. */
export interface SignedSubject {
  /** Repository name below the tenancy namespace, e.g. `project01/ngnix-lb`. */
  repositoryName: string;
  /** `sha256:<hex>`. */
  imageDigest: string;
}

/** Why a signature by a trusted key does not count. */
export type SignatureFault =
  | "unknown-algorithm"
  | "malformed-message"
  | "binding-mismatch"
  | "malformed-signature"
  | "key-not-usable"
  | "does-not-verify";

/** The judgement on one signature record. */
export type SignatureCheck = { valid: true } | { valid: false; fault: SignatureFault; why: string };

/** The fields of the signed JSON message that bind it to an image. */
export interface SignedMessage {
  imageDigest: string;
  repositoryName: string;
  kmsKeyId: string;
  kmsKeyVersionId: string;
  signingAlgorithm: string;
}

const HASH_OF: Record<SigningAlgorithm, string> = {
  SHA_224_RSA_PKCS_PSS: "sha224",
  SHA_256_RSA_PKCS_PSS: "sha256",
  SHA_384_RSA_PKCS_PSS: "sha384",
  SHA_512_RSA_PKCS_PSS: "sha512",
};

/** Signed messages are small JSON objects; anything far larger is not one. */
const MAX_MESSAGE_BYTES = 64 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Whether a record's algorithm is one of the four RSASSA-PSS values OCIR signatures use. */
function isSigningAlgorithm(value: string): value is SigningAlgorithm {
  return (SIGNING_ALGORITHMS as readonly string[]).includes(value);
}

/**
 * Checks everything about a record that needs no key: algorithm, message shape and binding.
 * Done before any Vault request, so a replayed or malformed record costs no key lookup.
 */
export function checkBinding(record: SignatureRecord, subject: SignedSubject): SignatureCheck {
  if (!isSigningAlgorithm(record.signingAlgorithm)) {
    return fault("unknown-algorithm", `algorithm "${shown(record.signingAlgorithm)}" is not PSS`);
  }
  const message = decodeMessage(record.message);
  if (message === undefined) {
    return fault("malformed-message", "the signed message is not base64 of a JSON object");
  }

  const expected: SignedMessage = {
    imageDigest: subject.imageDigest,
    repositoryName: subject.repositoryName,
    kmsKeyId: record.kmsKeyId,
    kmsKeyVersionId: record.kmsKeyVersionId,
    signingAlgorithm: record.signingAlgorithm,
  };
  for (const field of Object.keys(expected) as (keyof SignedMessage)[]) {
    if (message[field] !== expected[field]) {
      return fault(
        "binding-mismatch",
        `the signed message names ${field} "${shown(String(message[field]))}", ` +
          `expected "${shown(expected[field])}"`,
      );
    }
  }
  return { valid: true };
}

/**
 * Verifies the RSASSA-PSS signature over the exact decoded message bytes. The salt length
 * is not documented for Vault, so the verifier accepts whatever length the signer used.
 */
export function verifySignature(
  record: SignatureRecord,
  publicKey: KeyObject | undefined,
): SignatureCheck {
  if (!isSigningAlgorithm(record.signingAlgorithm)) {
    return fault("unknown-algorithm", `algorithm "${shown(record.signingAlgorithm)}" is not PSS`);
  }
  if (!BASE64.test(record.message) || !BASE64.test(record.signature)) {
    return fault("malformed-signature", "the message or signature is not base64");
  }
  if (publicKey === undefined || publicKey.asymmetricKeyType !== "rsa") {
    return fault("key-not-usable", "the key version's public key is not an RSA public key");
  }

  const verified = verify(
    HASH_OF[record.signingAlgorithm],
    Buffer.from(record.message, "base64"),
    {
      key: publicKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_AUTO,
    },
    Buffer.from(record.signature, "base64"),
  );
  return verified ? { valid: true } : fault("does-not-verify", "the signature does not verify");
}

/** Decodes the base64 JSON message, or undefined when it is not a JSON object. */
function decodeMessage(encoded: string): Partial<SignedMessage> | undefined {
  if (encoded.length > (MAX_MESSAGE_BYTES * 4) / 3 + 4 || !BASE64.test(encoded)) {
    return undefined;
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.from(encoded, "base64").toString("utf8"));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
    return parsed as Partial<SignedMessage>;
  } catch {
    return undefined;
  }
}

/** Parses a PEM public key, or undefined when it is not one. */
export function publicKeyFrom(pem: string): KeyObject | undefined {
  try {
    return createPublicKey(pem);
  } catch {
    return undefined;
  }
}

function fault(kind: SignatureFault, why: string): SignatureCheck {
  return { valid: false, fault: kind, why };
}

/** Keeps attacker-supplied text in messages short and on one printable line. */
function shown(text: string): string {
  return clip(text.replace(/[^\x20-\x7e]/g, "?"), 80);
}

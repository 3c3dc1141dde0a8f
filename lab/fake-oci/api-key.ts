import { createHash, createPublicKey, generateKeyPairSync } from "node:crypto";

import { globalOcid } from "./ocids";

/** An OCI API signing key: what a user uploads to IAM plus the private half they keep. */
export interface ApiSigningKey {
  tenancyId: string;
  userId: string;
  /** MD5 of the DER public key, colon-separated hex, as the Console shows it. */
  fingerprint: string;
  /** PKCS#8 PEM; only ever written to temp files and handed to the SDK. */
  privateKeyPem: string;
  /** SubjectPublicKeyInfo PEM, what IAM stores. */
  publicKeyPem: string;
}

/** The `keyId` an OCI request signature names: `<tenancy>/<user>/<fingerprint>`. */
export function apiKeyId(key: Pick<ApiSigningKey, "tenancyId" | "userId" | "fingerprint">): string {
  return `${key.tenancyId}/${key.userId}/${key.fingerprint}`;
}

/** The IAM fingerprint of a public key. */
export function apiKeyFingerprint(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: "spki", format: "der" });
  const hex = createHash("md5").update(der).digest("hex");
  return hex.match(/../g)?.join(":") ?? hex;
}

/** Makes a fresh RSA 2048 API signing key for a user of `tenancyId` (a new tenancy if absent). */
export function createApiSigningKey(tenancyId = globalOcid("tenancy")): ApiSigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  return {
    tenancyId,
    userId: globalOcid("user"),
    fingerprint: apiKeyFingerprint(publicKeyPem),
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKeyPem,
  };
}

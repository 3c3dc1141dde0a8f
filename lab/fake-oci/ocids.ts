import { randomBytes } from "node:crypto";

/**
 * OCIDs shaped like the real ones: `ocid1.<type>.<realm>.<region-key>.<unique>`. Tests and the
 * lab only need them to look right and be unique; nothing parses them except the code under
 * test, which is why the shapes follow what the OCI CLI's own parsing expects.
 */

const ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

/** `length` random lower-case base32 characters, the alphabet OCIDs use. */
export function ocidPart(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const byte of bytes) out += ALPHABET[byte % ALPHABET.length];
  return out;
}

/** A regional OCID such as `ocid1.containerimage.oc1.phx.<60 chars>`. */
export function regionalOcid(type: string, regionKey = "phx", realm = "oc1"): string {
  return `ocid1.${type}.${realm}.${regionKey}.${ocidPart(60)}`;
}

/** A tenancy or compartment OCID; these have no region part (`ocid1.tenancy.oc1..<unique>`). */
export function globalOcid(type: "tenancy" | "compartment" | "user" | "cluster"): string {
  return `ocid1.${type}.oc1..${ocidPart(60)}`;
}

/**
 * Vault OCIDs for a vault and one of its keys. The key OCID carries the vault's endpoint part
 * as its fifth dot-separated field (the CLI builds `https://<part>-crypto.kms...` from it) and
 * exactly 60 unique characters after it, which is what the CLI's key-OCID pattern requires.
 */
export function vaultKeyOcids(
  regionKey = "phx",
  realm = "oc1",
): { vaultPart: string; vaultId: string; keyId: string; keyVersionId: string } {
  const vaultPart = ocidPart(13);
  return {
    vaultPart,
    vaultId: `ocid1.vault.${realm}.${regionKey}.${vaultPart}.${ocidPart(60)}`,
    keyId: `ocid1.key.${realm}.${regionKey}.${vaultPart}.${ocidPart(60)}`,
    keyVersionId: `ocid1.keyversion.${realm}.${regionKey}.${vaultPart}.${ocidPart(60)}`,
  };
}

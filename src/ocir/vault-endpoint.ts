import { REALM_DOMAINS, type OciRegion, type RealmKey } from "./oci-regions";
import { findRegion } from "./regions";

/**
 * A Vault key's service endpoints, derived from its OCID the way the OCI CLI derives them
 * for `image-signature sign-upload`: the fifth part of `ocid1.key.<realm>.<region>.<vault>.
 * <unique>` names the vault, and its endpoints are `https://<vault>-management.kms.<region-id>.
 * <realm-domain>` and `https://<vault>-crypto.kms...`. The SDK's KMS template
 * (`https://kms.{region}.{secondLevelDomain}`) has no `oci.` label either, so none is added.
 * `GetVault` returns both endpoints for certain; a vault on a private endpoint needs them from
 * configuration instead.
 */

/** The parts of a Vault key OCID that locate its vault. */
export interface KeyLocation {
  realm: RealmKey;
  /** Region identifier, also when the OCID names the region by its key (`iad`). */
  regionId: string;
  /** The vault's endpoint prefix, the fifth part of the OCID. */
  vaultPart: string;
}

/** A derived endpoint, or why the key OCID could not yield one. */
export type VaultEndpointResult =
  | { ok: true; endpoint: string; location: KeyLocation }
  | { ok: false; error: string };

/** Parses a key OCID into where its vault lives, or says what is wrong with it. */
export function parseKeyOcid(
  keyOcid: string,
): { ok: true; location: KeyLocation } | { ok: false; error: string } {
  const parts = keyOcid.split(".");
  const [prefix, type, realm, regionPart, vaultPart, unique] = parts;
  const bad = (why: string) => ({ ok: false as const, error: `key OCID "${keyOcid}" ${why}` });

  if (parts.length !== 6 || prefix !== "ocid1" || type !== "key") {
    return bad("is not of the form ocid1.key.<realm>.<region>.<vault>.<unique>");
  }
  if (!isRealm(realm)) return bad(`names realm "${realm}", which is not a known realm`);
  const region = findRegionIn(regionPart ?? "");
  if (region === undefined) return bad(`names region "${regionPart}", which is not known`);
  if (region.realm !== realm) {
    return bad(`names region ${region.id} of realm ${region.realm} under realm ${realm}`);
  }
  // The vault part becomes a host label with "-management" appended: at most 63 characters.
  if (vaultPart === undefined || !/^[a-z0-9]{1,52}$/.test(vaultPart)) {
    return bad("has no vault part usable in a host name");
  }
  if (unique === undefined || !/^[a-z0-9]+$/.test(unique)) {
    return bad("has a malformed unique part");
  }

  return { ok: true, location: { realm, regionId: region.id, vaultPart } };
}

/** The Vault management endpoint (GetKeyVersion lives there) for a key OCID. */
export function vaultManagementEndpoint(keyOcid: string): VaultEndpointResult {
  return vaultEndpoint(keyOcid, "management");
}

/** The Vault crypto endpoint (sign, verify) for a key OCID. */
export function vaultCryptoEndpoint(keyOcid: string): VaultEndpointResult {
  return vaultEndpoint(keyOcid, "crypto");
}

function vaultEndpoint(keyOcid: string, kind: "management" | "crypto"): VaultEndpointResult {
  const parsed = parseKeyOcid(keyOcid);
  if (!parsed.ok) return parsed;
  const { vaultPart, regionId, realm } = parsed.location;
  const endpoint = `https://${vaultPart}-${kind}.kms.${regionId}.${REALM_DOMAINS[realm]}`;
  return { ok: true, endpoint, location: parsed.location };
}

function isRealm(realm: string | undefined): realm is RealmKey {
  return realm !== undefined && Object.hasOwn(REALM_DOMAINS, realm);
}

// OCIDs are lower case; a region part in any other case is malformed, not looked up.
function findRegionIn(regionPart: string): OciRegion | undefined {
  return regionPart === regionPart.toLowerCase() ? findRegion(regionPart) : undefined;
}

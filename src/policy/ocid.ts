/**
 * Oracle Cloud identifiers: `ocid1.<type>.<realm>.[region][.future-use].<unique>`. pullgate
 * checks their shape at start-up so a typo is reported against the option that holds it,
 * not discovered as a denial at the first pull.
 */

const OCID = new RegExp(
  // ocid1 . type . realm . region (may be empty) [. extra] . unique
  String.raw`^ocid1\.([a-z][a-z0-9]*)\.([a-z][a-z0-9]*)\.([a-z0-9-]*)` +
    String.raw`(?:\.([a-z0-9-]+))?\.([a-z0-9]{10,})$`,
);

/** The parts of an OCID pullgate uses. */
export interface Ocid {
  resourceType: string;
  realm: string;
  /** Region key or id; empty for global resources such as tenancies. */
  region: string;
  /** The optional fourth part; for a Vault key, the vault's endpoint prefix. */
  extra?: string;
  unique: string;
}

/** Parses an OCID, or returns undefined when the string is not one. */
export function parseOcid(value: string): Ocid | undefined {
  if (value.length > 255) return undefined;
  const match = OCID.exec(value);
  if (match === null) return undefined;
  const [, resourceType = "", realm = "", region = "", extra, unique = ""] = match;
  const ocid: Ocid = { resourceType, realm, region, unique };
  if (extra !== undefined) ocid.extra = extra;
  return ocid;
}

/**
 * Explains why `value` is not an OCID of `resourceType`, or returns undefined when it is.
 * A Vault key OCID must carry its region and vault part: pullgate derives the key's Vault
 * endpoint from them.
 */
export function ocidProblem(value: string, resourceType: "key" | "tenancy" | "cluster"):
  | string
  | undefined {
  const ocid = parseOcid(value);
  if (ocid === undefined) return `"${value}" is not an OCID (ocid1.<type>.<realm>...)`;
  if (ocid.resourceType !== resourceType) {
    return `"${value}" is a ${ocid.resourceType} OCID, expected a ${resourceType} OCID`;
  }
  if (resourceType === "key" && (ocid.region === "" || ocid.extra === undefined)) {
    return `"${value}" lacks the region or vault part of a Vault key OCID`;
  }
  return undefined;
}

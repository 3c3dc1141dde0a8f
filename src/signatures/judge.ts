import type { KeySource, KeyVersionInfo, SignatureRecord } from "./sources";
import { checkBinding, publicKeyFrom, type SignedSubject, verifySignature } from "./verify";

/**
 * Judges the signatures listed for one image against the policy's keys: the last four rows
 * of the decision table. Every record by a trusted key is examined (verifying is cheap, so
 * a flood of junk records cannot hide a valid one), but Vault requests are bounded:
 * duplicates are examined once, binding is checked before any key is fetched, each key
 * version is fetched at most once, versions this node already holds are tried first, and
 * at most MAX_KEY_VERSION_LOOKUPS versions are fetched per decision.
 */

/** Key versions fetched from Vault for one decision; real keys rotate rarely. */
export const MAX_KEY_VERSION_LOOKUPS = 8;

/** Key version states in which a key's signatures count. */
const USABLE_KEY_STATES = new Set(["ENABLED", "UPDATING", "BACKUP_IN_PROGRESS", "RESTORING"]);

/** The outcome of judging an image's signatures. */
export type SignatureJudgement =
  | { outcome: "signed"; record: SignatureRecord }
  | { outcome: "unsigned" }
  | { outcome: "untrusted-key"; keyIds: string[] }
  | { outcome: "bad-signature"; why: string }
  | { outcome: "unreachable"; error: unknown };

/** The records that name one key version. */
interface VersionGroup {
  keyId: string;
  keyVersionId: string;
  records: SignatureRecord[];
}

/** Decides which of the signature rows applies to `records`. */
export async function judgeSignatures(
  records: readonly SignatureRecord[],
  trustedKeys: readonly string[],
  subject: SignedSubject,
  keys: KeySource,
  signal: AbortSignal,
): Promise<SignatureJudgement> {
  if (records.length === 0) return { outcome: "unsigned" };
  const trusted = distinct(records.filter((record) => trustedKeys.includes(record.kmsKeyId)));
  if (trusted.length === 0) {
    return { outcome: "untrusted-key", keyIds: [...new Set(records.map((r) => r.kmsKeyId))] };
  }

  const faults: string[] = [];
  const bound = trusted.filter((record) => {
    const check = checkBinding(record, subject);
    if (!check.valid) faults.push(check.why);
    return check.valid;
  });

  let lookups = 0;
  let unreachable: unknown;
  for (const group of knownFirst(byKeyVersion(bound), keys)) {
    let version = keys.cached?.(group.keyId, group.keyVersionId);
    if (version === undefined) {
      if (lookups === MAX_KEY_VERSION_LOOKUPS) {
        faults.push(`signatures naming more than ${MAX_KEY_VERSION_LOOKUPS} key versions`);
        break;
      }
      lookups += 1;
      try {
        version = await keys.getKeyVersion(group.keyId, group.keyVersionId, signal);
      } catch (error) {
        unreachable ??= error;
        continue;
      }
    }
    const usable = usableKey(version, group);
    if (usable !== undefined) {
      faults.push(usable);
      continue;
    }
    const publicKey = publicKeyFrom(version.publicKeyPem);
    for (const record of group.records) {
      const check = verifySignature(record, publicKey);
      if (check.valid) return { outcome: "signed", record };
      faults.push(check.why);
    }
  }

  if (unreachable !== undefined) return { outcome: "unreachable", error: unreachable };
  return { outcome: "bad-signature", why: [...new Set(faults)].join("; ") };
}

/** Why a key version's signatures cannot count, or undefined when they can. */
function usableKey(version: KeyVersionInfo, group: VersionGroup): string | undefined {
  if (version.keyId !== group.keyId || version.keyVersionId !== group.keyVersionId) {
    return "Vault answered for another key version than the signature names";
  }
  if (!USABLE_KEY_STATES.has(version.lifecycleState)) {
    return `key version ${group.keyVersionId} is ${version.lifecycleState}`;
  }
  return undefined;
}

function byKeyVersion(records: readonly SignatureRecord[]): VersionGroup[] {
  const groups = new Map<string, VersionGroup>();
  for (const record of records) {
    const id = `${record.kmsKeyId}\n${record.kmsKeyVersionId}`;
    let group = groups.get(id);
    if (group === undefined) {
      group = { keyId: record.kmsKeyId, keyVersionId: record.kmsKeyVersionId, records: [] };
      groups.set(id, group);
    }
    group.records.push(record);
  }
  return [...groups.values()];
}

/**
 * Versions the source already holds go first: they cost no request, and records naming
 * made-up versions cannot use up the lookup budget before a real version is tried.
 */
function knownFirst(groups: VersionGroup[], keys: KeySource): VersionGroup[] {
  const known = (group: VersionGroup): number =>
    keys.cached?.(group.keyId, group.keyVersionId) === undefined ? 1 : 0;
  return groups.sort((a, b) => known(a) - known(b));
}

/** The same record listed twice (or copied under another id) is examined once. */
function distinct(records: readonly SignatureRecord[]): SignatureRecord[] {
  const seen = new Set<string>();
  return records.filter((record) => {
    const identity = [record.kmsKeyVersionId, record.signingAlgorithm, record.message,
      record.signature].join("\n");
    if (seen.has(identity)) return false;
    seen.add(identity);
    return true;
  });
}

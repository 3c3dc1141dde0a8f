import type { KeySource, KeyVersionInfo, SignatureRecord } from "./sources";
import { checkBinding, type SignedSubject, verifySignature } from "./verify";

/**
 * Judges the signatures listed for one image against the policy's keys: the last four rows
 * of the decision table. Work is bounded: duplicates are checked once, binding is checked
 * before any key is fetched, each key version is fetched once, and at most
 * MAX_TRUSTED_RECORDS records by trusted keys are examined.
 */

/** Records by trusted keys examined per decision; more than this is not an honest image. */
export const MAX_TRUSTED_RECORDS = 32;

/** Key version states in which a key's signatures count. */
const USABLE_KEY_STATES = new Set(["ENABLED", "UPDATING", "BACKUP_IN_PROGRESS", "RESTORING"]);

/** The outcome of judging an image's signatures. */
export type SignatureJudgement =
  | { outcome: "signed"; record: SignatureRecord }
  | { outcome: "unsigned" }
  | { outcome: "untrusted-key"; keyIds: string[] }
  | { outcome: "bad-signature"; why: string }
  | { outcome: "unreachable"; error: unknown };

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
  if (trusted.length > MAX_TRUSTED_RECORDS) {
    faults.push(`only the first ${MAX_TRUSTED_RECORDS} of ${trusted.length} were examined`);
  }

  const versions = new Map<string, Promise<KeyVersionInfo>>();
  let unreachable: unknown;
  for (const record of bound.slice(0, MAX_TRUSTED_RECORDS)) {
    const cacheKey = `${record.kmsKeyId}\n${record.kmsKeyVersionId}`;
    let lookup = versions.get(cacheKey);
    if (lookup === undefined) {
      lookup = keys.getKeyVersion(record.kmsKeyId, record.kmsKeyVersionId, signal);
      versions.set(cacheKey, lookup);
    }

    let version: KeyVersionInfo;
    try {
      version = await lookup;
    } catch (error) {
      unreachable ??= error;
      continue;
    }
    if (version.keyId !== record.kmsKeyId || version.keyVersionId !== record.kmsKeyVersionId) {
      faults.push("Vault answered for another key version than the signature names");
      continue;
    }
    if (!USABLE_KEY_STATES.has(version.lifecycleState)) {
      faults.push(`key version ${record.kmsKeyVersionId} is ${version.lifecycleState}`);
      continue;
    }
    const check = verifySignature(record, version.publicKeyPem);
    if (check.valid) return { outcome: "signed", record };
    faults.push(check.why);
  }

  if (unreachable !== undefined) return { outcome: "unreachable", error: unreachable };
  return { outcome: "bad-signature", why: [...new Set(faults)].join("; ") };
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

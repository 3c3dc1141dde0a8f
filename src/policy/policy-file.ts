import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { parse } from "yaml";
import { makePolicy, type Policy, PolicyError, policyProblems } from "./policy";

/**
 * The policy file, typically mounted from a ConfigMap:
 *
 *     enabled: true
 *     tenancy: ocid1.tenancy.oc1..aaaa...
 *     keys:
 *       - ocid1.key.oc1.phx.bbqe....aaaa...
 *     namespaces:            # optional: OCIR namespaces owned by other tenancies
 *       othernamespace: ocid1.tenancy.oc1..bbbb...
 *
 * Unknown fields are errors, and `keys` must be present as a list (`keys: []` for none): a
 * misspelt, missing or truncated `keys` must never silently mean "no keys", which lets
 * every OCIR image through.
 */

const FIELDS = new Set(["enabled", "tenancy", "keys", "namespaces"]);

/** A policy file is a few hundred bytes; anything this large is not one. */
const MAX_POLICY_BYTES = 64 * 1024;

/** Reads and validates a policy file; throws PolicyError naming every problem. */
export async function loadPolicyFile(path: string): Promise<Policy> {
  return parsePolicyText(await readPolicyText(path), path);
}

/**
 * Reads the file's text, refusing anything but a regular file of bounded size. Opening
 * without blocking and checking the opened descriptor means a FIFO or a device put at the
 * path can neither hang the reader (which would freeze every later policy update) nor
 * exhaust memory.
 */
export async function readPolicyText(path: string): Promise<string> {
  let file: FileHandle | undefined;
  try {
    file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const info = await file.stat();
    if (!info.isFile()) throw new Error("not a regular file");
    if (info.size > MAX_POLICY_BYTES) throw new Error(`larger than ${MAX_POLICY_BYTES} bytes`);
    const buffer = Buffer.alloc(MAX_POLICY_BYTES + 1);
    const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
    if (bytesRead > MAX_POLICY_BYTES) throw new Error(`larger than ${MAX_POLICY_BYTES} bytes`);
    return buffer.subarray(0, bytesRead).toString("utf8");
  } catch (err) {
    throw new PolicyError(path, [`cannot read the file: ${(err as Error).message}`]);
  } finally {
    await file?.close();
  }
}

/** Parses policy YAML text; `source` names it in errors. */
export function parsePolicyText(text: string, source: string): Policy {
  let document: unknown;
  try {
    document = parse(text, { uniqueKeys: true });
  } catch (err) {
    throw new PolicyError(source, [`not valid YAML: ${(err as Error).message}`]);
  }
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new PolicyError(source, ["expected a mapping with enabled, tenancy and keys"]);
  }

  const fields = document as Record<string, unknown>;
  const problems = Object.keys(fields)
    .filter((name) => !FIELDS.has(name))
    .map((name) => `unknown field "${name}" (known: ${[...FIELDS].join(", ")})`);
  const { enabled, tenancy, keys } = fields;
  const namespaces = fields.namespaces ?? {};
  if (typeof enabled !== "boolean") problems.push("enabled: must be true or false");
  if (typeof tenancy !== "string") problems.push("tenancy: must be a tenancy OCID");
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === "string")) {
    problems.push("keys: must be a list of Vault key OCIDs (write `keys: []` for none)");
  }
  if (!isStringMap(namespaces)) {
    problems.push("namespaces: must map OCIR namespaces to tenancy OCIDs");
  }
  if (Array.isArray(keys) && isStringMap(namespaces)) {
    // Shape checks on the parts that are well typed, so every problem is named at once.
    const content = {
      enabled: true,
      tenancy: typeof tenancy === "string" ? tenancy : "",
      keys: keys.filter((key): key is string => typeof key === "string"),
      namespaceTenancies: namespaces,
    };
    const more = policyProblems(content);
    problems.push(...(typeof tenancy === "string" ? more : more.filter(notTenancy)));
  }
  if (problems.length > 0) throw new PolicyError(source, problems);

  return makePolicy(
    {
      enabled: enabled as boolean,
      tenancy: tenancy as string,
      keys: keys as string[],
      namespaceTenancies: namespaces as Record<string, string>,
    },
    source,
  );
}

function notTenancy(problem: string): boolean {
  return !problem.startsWith("tenancy:");
}

function isStringMap(value: unknown): value is Record<string, string> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  return Object.values(value).every((entry) => typeof entry === "string");
}

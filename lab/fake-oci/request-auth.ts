import type { IncomingMessage } from "node:http";
import { createHash, createVerify } from "node:crypto";

/**
 * Checks an OCI request signature the way OCI's front door does: the draft-cavage HTTP
 * signature in `authorization`, made with the user's API key over `(request-target)`, `host`
 * and `date`/`x-date` (plus `content-type`, `content-length` and `x-content-sha256` when a
 * body is sent), verified with the public key registered for the named `keyId`.
 */

/** Who a verified request comes from. */
export interface Principal {
  tenancyId: string;
  userId: string;
}

/** The outcome of checking one request; `reason` explains a rejection to whoever reads it. */
export type AuthResult = { ok: true; principal: Principal } | { ok: false; reason: string };

/** Looks up the public key registered under a `keyId` (`tenancy/user/fingerprint`). */
export type ApiKeyLookup = (keyId: string) => string | undefined;

const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
const BODY_METHODS = new Set(["POST", "PUT", "PATCH"]);

/** Parses `Signature k1="v1",k2="v2"` into its parameters; undefined if it is not that shape. */
export function parseSignatureHeader(header: string): Map<string, string> | undefined {
  const match = /^Signature\s+(.*)$/.exec(header);
  if (!match?.[1]) return undefined;
  const params = new Map<string, string>();
  const pair = /([a-zA-Z]+)="([^"]*)"\s*(,\s*|$)/y;
  let rest = match[1];
  while (rest.length > 0) {
    pair.lastIndex = 0;
    const found = pair.exec(rest);
    if (!found?.[1] || found[2] === undefined) return undefined;
    params.set(found[1], found[2]);
    rest = rest.slice(found[0].length);
  }
  return params;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

function signingString(req: IncomingMessage, names: string[]): string | { missing: string } {
  const lines: string[] = [];
  for (const name of names) {
    if (name === "(request-target)") {
      lines.push(`(request-target): ${(req.method ?? "").toLowerCase()} ${req.url ?? ""}`);
      continue;
    }
    const value = headerValue(req, name);
    if (value === undefined || value === "") return { missing: name };
    lines.push(`${name}: ${value}`);
  }
  return lines.join("\n");
}

function requiredHeadersMissing(method: string, names: Set<string>): string | undefined {
  if (!names.has("(request-target)")) return "(request-target)";
  if (!names.has("host")) return "host";
  if (!names.has("date") && !names.has("x-date")) return "date or x-date";
  if (!BODY_METHODS.has(method)) return undefined;
  return ["content-type", "content-length", "x-content-sha256"].find((h) => !names.has(h));
}

/** Checks the signature of a request whose body (possibly empty) has been read. */
export function verifyRequest(
  req: IncomingMessage,
  body: Buffer,
  lookup: ApiKeyLookup,
  now = Date.now(),
): AuthResult {
  const authorization = headerValue(req, "authorization");
  if (!authorization) return { ok: false, reason: "no authorization header" };
  const params = parseSignatureHeader(authorization);
  if (!params) return { ok: false, reason: "authorization is not an HTTP signature" };

  const keyId = params.get("keyId");
  const signature = params.get("signature");
  const names = (params.get("headers") ?? "date").toLowerCase().split(/\s+/);
  if (params.get("version") !== "1") return { ok: false, reason: "signature version is not 1" };
  if (params.get("algorithm") !== "rsa-sha256") return { ok: false, reason: "algorithm" };
  if (!keyId || !signature) return { ok: false, reason: "keyId or signature missing" };

  const method = (req.method ?? "").toUpperCase();
  const missing = requiredHeadersMissing(method, new Set(names));
  if (missing) return { ok: false, reason: `signed headers lack ${missing}` };

  const dated = headerValue(req, "x-date") ?? headerValue(req, "date");
  const sent = dated ? Date.parse(dated) : NaN;
  if (!Number.isFinite(sent) || Math.abs(now - sent) > MAX_CLOCK_SKEW_MS) {
    return { ok: false, reason: "request date missing or outside the allowed clock skew" };
  }
  if (BODY_METHODS.has(method)) {
    const sha = createHash("sha256").update(body).digest("base64");
    if (headerValue(req, "x-content-sha256") !== sha) {
      return { ok: false, reason: "x-content-sha256 does not match the body" };
    }
  }

  const publicKeyPem = lookup(keyId);
  if (!publicKeyPem) return { ok: false, reason: "unknown keyId" };
  const text = signingString(req, names);
  if (typeof text !== "string") return { ok: false, reason: `header ${text.missing} not sent` };
  const verifier = createVerify("RSA-SHA256").update(text);
  if (!verifier.verify(publicKeyPem, signature, "base64")) {
    return { ok: false, reason: "signature does not verify" };
  }

  const [tenancyId = "", userId = ""] = keyId.split("/");
  return { ok: true, principal: { tenancyId, userId } };
}

import { createPublicKey, createVerify } from "node:crypto";

/** What an OCI-signed request carries, as a test checks it. */
export interface SignedRequest {
  method: string;
  /** Path and query, as in `(request-target)`. */
  target: string;
  headers: Headers;
}

/** The `keyId` of a `Signature` authorization header. */
export function signatureKeyId(headers: Headers): string {
  return signatureParams(headers).get("keyId") ?? "";
}

/**
 * Checks an HTTP signature (draft-cavage, rsa-sha256) as OCI's services do: rebuilds the
 * signing string from the listed headers and verifies it with `publicKey`.
 */
export function verifiesWith(request: SignedRequest, publicKey: string): boolean {
  const params = signatureParams(request.headers);
  const names = (params.get("headers") ?? "").split(" ");
  const lines = names.map((name) =>
    name === "(request-target)"
      ? `(request-target): ${request.method.toLowerCase()} ${request.target}`
      : `${name}: ${request.headers.get(name) ?? ""}`,
  );
  const verify = createVerify("RSA-SHA256");
  verify.update(lines.join("\n"));
  const key = createPublicKey(publicKey);
  return params.get("algorithm") === "rsa-sha256" &&
    verify.verify(key, params.get("signature") ?? "", "base64");
}

function signatureParams(headers: Headers): Map<string, string> {
  const header = headers.get("authorization") ?? "";
  const params = new Map<string, string>();
  for (const match of header.matchAll(/(\w+)="([^"]*)"/g)) {
    params.set(match[1] ?? "", match[2] ?? "");
  }
  return params;
}

import type { ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";

/**
 * OCI's error replies: a JSON body `{ code, message }` and an `opc-request-id` header, with the
 * service codes the SDK and CLI know (`NotAuthorizedOrNotFound` and friends).
 */

/** The service error codes the fake answers with, and the HTTP status each goes with. */
export const OCI_ERROR_STATUS = {
  InvalidParameter: 400,
  MissingParameter: 400,
  NotAuthenticated: 401,
  NotAuthorizedOrNotFound: 404,
  NotAllowed: 405,
  TooManyRequests: 429,
  InternalServerError: 500,
  ServiceUnavailable: 503,
} as const;

/** One of the service error codes above. */
export type OciErrorCode = keyof typeof OCI_ERROR_STATUS;

const DEFAULT_MESSAGES: Record<OciErrorCode, string> = {
  InvalidParameter: "Invalid parameter.",
  MissingParameter: "Missing parameter.",
  NotAuthenticated:
    "The required information to complete authentication was not provided or was incorrect.",
  NotAuthorizedOrNotFound: "Authorization failed or requested resource not found.",
  NotAllowed: "Method not allowed.",
  TooManyRequests: "Too many requests for the tenancy.",
  InternalServerError: "Internal server error.",
  ServiceUnavailable: "Service unavailable.",
};

/** The code OCI uses for a bare status, for injected faults that name only a status. */
export function errorCodeForStatus(status: number): OciErrorCode {
  const match = Object.entries(OCI_ERROR_STATUS).find(([, s]) => s === status);
  if (match) return match[0] as OciErrorCode;
  return status >= 500 ? "InternalServerError" : "InvalidParameter";
}

/** A fresh request id in OCI's upper-case hex style. */
export function newRequestId(): string {
  return randomUUID().replace(/-/g, "").toUpperCase();
}

/** Writes an OCI error reply. */
export function sendOciError(
  res: ServerResponse,
  requestId: string,
  code: OciErrorCode,
  message = DEFAULT_MESSAGES[code],
  status: number = OCI_ERROR_STATUS[code],
): void {
  sendJson(res, requestId, status, { code, message });
}

/** Writes a JSON reply with OCI's standard headers. */
export function sendJson(
  res: ServerResponse,
  requestId: string,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "opc-request-id": requestId,
    ...headers,
  });
  res.end(text);
}

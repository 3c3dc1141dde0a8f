import { createHash, createPrivateKey, sign, type KeyObject } from "node:crypto";

import type { AuthenticationDetailsProvider } from "oci-common";

import { errorText } from "./error-text";

/**
 * Signs OCI API requests the way OCI's front door checks them (draft-cavage HTTP signatures,
 * `version="1"`, rsa-sha256), on `node:crypto`.
 *
 * The SDK's own `DefaultRequestSigner` parses the private key PEM in JavaScript on every
 * request, which costs milliseconds of CPU per OCI call on the path of every pull decision.
 * Here a PEM is parsed once into a `KeyObject` and kept while it is in use.
 *
 * The provider is asked for the key id, the private key and the passphrase on every request:
 * session-token providers (workload identity, instance principals) renew the token and the
 * key together, and `getKeyId()` is what renews them, so it is read first.
 *
 * Signed headers, as the SDK signs them:
 * - every request: `x-date`, `(request-target)`, `host`;
 * - POST, PUT and PATCH also `content-type`, `content-length`, `x-content-sha256`, unless the
 *   caller excludes the body (the SDK does so for Object Storage uploads, whose bodies are
 *   streamed and not hashed).
 */

/** A request as the SDK's HttpClient receives it; `headers` is filled in place. */
export interface SignableRequest {
  method: string;
  uri: string;
  headers: Headers;
  /** The body that will be sent; only strings are signed. */
  body?: string;
}

/** How one request is signed. */
export interface SignOptions {
  /** Sign only the basic headers, leaving the body out (the SDK's `forceExcludeBody`). */
  excludeBody?: boolean;
}

/** The request now carries `authorization`, or the reason it could not be signed. */
export type SignOutcome = { ok: true } | { ok: false; error: string };

/** Methods whose body is covered by the signature. */
export const SIGNED_BODY_METHODS: ReadonlySet<string> = new Set(["POST", "PUT", "PATCH"]);

/** Headers signed on every request, in the order they are signed. */
export const BASIC_SIGNED_HEADERS = ["x-date", "(request-target)", "host"] as const;

/** Headers signed in addition when the body is signed. */
export const BODY_SIGNED_HEADERS = ["content-type", "content-length", "x-content-sha256"] as const;

interface CachedKey {
  pem: string;
  passphrase: string | null;
  key: KeyObject;
}

/**
 * Parsed private keys by PEM text and passphrase. A handful of entries is enough: a session
 * provider has at most the old and the new key in use while it renews.
 */
export class PrivateKeyCache {
  private readonly entries: CachedKey[] = [];
  private parsed = 0;

  /** Keeps at most `capacity` keys, dropping the least recently used. */
  constructor(private readonly capacity = 4) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`PrivateKeyCache capacity must be a positive integer: ${capacity}`);
    }
  }

  /** How many PEMs have been parsed since construction (cache misses). */
  get parseCount(): number {
    return this.parsed;
  }

  /** The RSA key for `pem` opened with `passphrase`, or why it cannot be used. */
  get(pem: string, passphrase: string | null): KeyObject | { error: string } {
    const index = this.entries.findIndex((e) => e.pem === pem && e.passphrase === passphrase);
    const hit = index >= 0 ? this.entries[index] : undefined;
    if (hit !== undefined) {
      if (index > 0) this.entries.unshift(...this.entries.splice(index, 1));
      return hit.key;
    }
    const key = parseRsaKey(pem, passphrase);
    this.parsed += 1;
    if ("error" in key) return key;
    this.entries.unshift({ pem, passphrase, key });
    this.entries.length = Math.min(this.entries.length, this.capacity);
    return key;
  }
}

const UNREADABLE_KEY =
  "the private key is not a PEM private key, or the passphrase does not open it";

function parseRsaKey(pem: string, passphrase: string | null): KeyObject | { error: string } {
  let key: KeyObject;
  try {
    key = createPrivateKey(
      passphrase === null ? { key: pem, format: "pem" } : { key: pem, format: "pem", passphrase },
    );
  } catch {
    // OpenSSL's message can quote the input; say only what is wrong.
    return { error: UNREADABLE_KEY };
  }
  if (key.asymmetricKeyType !== "rsa") {
    const type = key.asymmetricKeyType ?? "unknown";
    return { error: `the private key is ${type}, OCI signs with RSA` };
  }
  return key;
}

/** One cache for the process: every SDK client signs with the same credentials. */
const sharedKeys = new PrivateKeyCache();

/** Signs OCI requests with the credentials `provider` holds at the moment of each request. */
export class OciRequestSigner {
  /** Asks nothing of `provider` until the first request. */
  constructor(
    private readonly provider: AuthenticationDetailsProvider,
    private readonly keys: PrivateKeyCache = sharedKeys,
  ) {}

  /** Sets the date, host and body headers and `authorization` on `request.headers`. */
  async sign(request: SignableRequest, options: SignOptions = {}): Promise<SignOutcome> {
    // A config file's `authentication_type` makes the SDK build instance principals on the
    // fly from the metadata service; pullgate has `--auth instance-principal` for that.
    if (this.provider.getAuthType?.()) {
      return { ok: false, error: "OCI config authentication_type is not supported" };
    }
    const target = requestTarget(request.uri);
    if ("error" in target) return target;

    let keyId: string;
    try {
      keyId = await this.provider.getKeyId();
    } catch (error) {
      return { ok: false, error: `no OCI key id: ${errorText(error)}` };
    }
    // Read after getKeyId(), which may just have renewed the session and its key.
    const key = this.keys.get(this.provider.getPrivateKey(), this.provider.getPassphrase());
    if ("error" in key) return { ok: false, error: key.error };

    const headers = request.headers;
    // Always the time of signing: a date left from an earlier attempt could be stale.
    headers.set("x-date", new Date().toUTCString());
    // fetch sends the URL's host whatever the headers say, so that is the host to sign.
    headers.set("host", target.host);
    const names: string[] = [...BASIC_SIGNED_HEADERS];
    const method = request.method.toUpperCase();
    if (SIGNED_BODY_METHODS.has(method) && options.excludeBody !== true) {
      addBodyHeaders(headers, request.body ?? "");
      names.push(...BODY_SIGNED_HEADERS);
    }

    const lines = names.map((name) =>
      name === "(request-target)"
        ? `${name}: ${method.toLowerCase()} ${target.path}`
        : `${name}: ${headers.get(name) ?? ""}`,
    );
    const signature = sign("sha256", Buffer.from(lines.join("\n"), "utf8"), key);
    headers.set(
      "authorization",
      `Signature version="1",keyId="${keyId}",algorithm="rsa-sha256",` +
        `headers="${names.join(" ")}",signature="${signature.toString("base64")}"`,
    );
    return { ok: true };
  }
}

function addBodyHeaders(headers: Headers, body: string): void {
  if (!headers.has("content-type")) headers.set("content-type", "application/json");
  const bytes = Buffer.from(body, "utf8");
  // What fetch will send for a string body; a stale value would break the request itself.
  headers.set("content-length", String(bytes.length));
  headers.set("x-content-sha256", createHash("sha256").update(bytes).digest("base64"));
}

/** The host and the request-target path exactly as `fetch` sends them for `uri`. */
function requestTarget(uri: string): { host: string; path: string } | { ok: false; error: string } {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return { ok: false, error: "the request URI is not an absolute URL" };
  }
  if (url.host === "") return { ok: false, error: "the request URI has no host" };
  // fetch puts pathname and search on the wire (a bare trailing "?" is dropped).
  return { host: url.host, path: `${url.pathname}${url.search}` };
}

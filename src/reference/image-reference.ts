/**
 * Image references read the way the runtime reads them.
 *
 * The kubelet hands the pod's image string to containerd, which normalises it with the
 * Docker reference grammar (`ParseDockerRef`) and pulls what comes out. pullgate must judge
 * exactly that image, so this parser follows the same grammar and the same normalisation:
 * a name without a registry is on Docker Hub, a single Docker Hub component is under
 * `library/`, `index.docker.io` is `docker.io`, a missing tag is `latest`, and a reference
 * with both a tag and a digest is pulled by its digest alone.
 *
 * Where it is stricter than the runtime, the reference could not have been pulled anyway,
 * and a stricter gate only fails closed:
 * - a port outside 1-65535;
 * - a first segment that has "." but is not a valid host (say `a_b.c/app`): the grammar
 *   then reads the whole name as a path with no registry, yet containerd contacts the
 *   first segment as a host, so the gate and the runtime would disagree about the host;
 * - input longer than {@link MAX_REFERENCE_LENGTH}.
 * Newer versions of the grammar accept a bracketed IPv6 registry (`[::1]:5000/app`);
 * older containerd releases refuse it. Accepting it costs nothing: it is never OCIR.
 */

import { digestError } from "./digest";
import { namesRegistryDomain, parseRegistryDomain } from "./registry-domain";
import { repositoryPathError } from "./repository-path";
import { isTag } from "./tag";

/** One image reference, normalised the way containerd normalises it before pulling. */
export interface ImageReference {
  /**
   * Registry host as containerd will contact it, lower-cased, without port: "phx.ocir.io".
   * Host names are case-insensitive (DNS, TLS names), so `PHX.OCIR.IO` reaches the same
   * registry as `phx.ocir.io`: the gate must classify this lower-cased form, never the
   * domain as written, or a change of letter case would slip an OCIR image past it.
   */
  hostname: string;
  /** Port if one was written, else undefined. */
  port?: number;
  /**
   * Domain in normalised form with its port, e.g. "docker.io", "localhost:5000". The
   * runtime keeps the letter case as written, and so does this field.
   */
  domain: string;
  /** Repository path below the domain: "ansh81vru1zp/project01/ngnix-lb". */
  path: string;
  /** The tag pulled; "latest" when none was written; absent when there is a digest. */
  tag?: string;
  /** "sha256:<hex>" (or sha384/sha512); when present it is what the runtime pulls. */
  digest?: string;
  /** The fully normalised reference containerd pulls, e.g. "docker.io/library/nginx:latest" */
  normalized: string;
}

/** A parsed reference, or a sentence saying why the input is not one. */
export type ParseResult = { ok: true; reference: ImageReference } | { ok: false; error: string };

/**
 * Longest accepted input. The longest reference that can name a reachable registry is
 * under 800 characters (a 253-character host, a port, a 255-character path, a 128-character
 * tag and a sha512 digest); bounding the input first keeps every later step cheap.
 */
export const MAX_REFERENCE_LENGTH = 1024;

const DEFAULT_DOMAIN = "docker.io";
const LEGACY_DEFAULT_DOMAIN = "index.docker.io";
const OFFICIAL_PREFIX = "library/";
const DEFAULT_TAG = "latest";
const TAG_ERROR =
  "the tag must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'";

// The grammar is printable ASCII without spaces; anything else is refused before parsing.
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
// A bare 64-hex string is an image ID, not a name: the runtime refuses it as a name.
const IMAGE_ID = /^[a-f0-9]{64}$/;

/** Parses an image reference as containerd would before pulling it; never throws. */
export function parseImageReference(input: string): ParseResult {
  const refused = screen(input);
  if (refused !== undefined) return fail(refused);

  const { name, tag, digest } = splitSuffixes(input);
  const { domain, path } = splitName(name);

  const host = parseRegistryDomain(domain);
  if (!host.ok) return fail(host.error);
  const problem =
    repositoryPathError(path) ??
    (tag !== undefined && !isTag(tag) ? TAG_ERROR : undefined) ??
    (digest !== undefined ? digestError(digest) : undefined);
  if (problem !== undefined) return fail(problem);

  const hostname = host.domain.hostname;
  const reference: ImageReference = { hostname, domain, path, normalized: "" };
  if (host.domain.port !== undefined) reference.port = host.domain.port;
  if (digest !== undefined) {
    // containerd pulls a tagged and digested reference by its digest and drops the tag.
    reference.digest = digest;
    reference.normalized = `${domain}/${path}@${digest}`;
  } else {
    reference.tag = tag ?? DEFAULT_TAG;
    reference.normalized = `${domain}/${path}:${reference.tag}`;
  }
  return { ok: true, reference };
}

function screen(input: unknown): string | undefined {
  if (typeof input !== "string") return "the image reference is not a string";
  if (input.length === 0) return "the image reference is empty";
  if (input.length > MAX_REFERENCE_LENGTH) {
    return `the image reference is longer than ${MAX_REFERENCE_LENGTH} characters`;
  }
  if (!PRINTABLE_ASCII.test(input)) {
    return "the image reference contains whitespace, a control character or non-ASCII text";
  }
  if (IMAGE_ID.test(input)) {
    return "a 64-character hex string is an image ID, not a repository name";
  }
  return undefined;
}

/** `name[:tag][@digest]`: neither a tag nor a digest can hold "@" or "/". */
function splitSuffixes(input: string): { name: string; tag?: string; digest?: string } {
  const at = input.indexOf("@");
  const beforeDigest = at < 0 ? input : input.slice(0, at);
  const digest = at < 0 ? undefined : input.slice(at + 1);

  // A ":" before the last "/" belongs to a registry port, not to a tag.
  const colon = beforeDigest.lastIndexOf(":");
  const hasTag = colon > beforeDigest.lastIndexOf("/");
  const name = hasTag ? beforeDigest.slice(0, colon) : beforeDigest;
  const tag = hasTag ? beforeDigest.slice(colon + 1) : undefined;

  const parts: { name: string; tag?: string; digest?: string } = { name };
  if (tag !== undefined) parts.tag = tag;
  if (digest !== undefined) parts.digest = digest;
  return parts;
}

/** Applies the default-registry and `library/` rules to a name without tag or digest. */
function splitName(name: string): { domain: string; path: string } {
  const slash = name.indexOf("/");
  const first = slash < 0 ? "" : name.slice(0, slash);

  // A single segment is always a Docker Hub name, even "localhost" or "example.com".
  let domain = DEFAULT_DOMAIN;
  let path = name;
  if (slash >= 0 && namesRegistryDomain(first)) {
    domain = first === LEGACY_DEFAULT_DOMAIN ? DEFAULT_DOMAIN : first;
    path = name.slice(slash + 1);
  }

  if (domain === DEFAULT_DOMAIN && !path.includes("/")) path = OFFICIAL_PREFIX + path;
  return { domain, path };
}

function fail(error: string): ParseResult {
  return { ok: false, error };
}

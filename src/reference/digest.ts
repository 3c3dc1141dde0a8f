/**
 * Content digests in image references, as the runtime validates them.
 *
 * containerd checks a reference's digest with go-digest, which knows only the algorithms
 * compiled into the binary: sha256, sha384 and sha512. Anything else (another algorithm
 * name, upper-case hex, a hex string of the wrong length) makes containerd refuse the
 * reference, so accepting the same set and nothing more keeps the gate and the runtime
 * reading the same digest. OCIR itself names images by sha256.
 */

/** Digest algorithms pullgate accepts, each with the exact length of its hex value. */
export const DIGEST_HEX_LENGTHS: ReadonlyMap<string, number> = new Map([
  ["sha256", 64],
  ["sha384", 96],
  ["sha512", 128],
]);

const LOWER_HEX = /^[a-f0-9]+$/;

/** Why a written digest ("sha256:<hex>") is not acceptable, or undefined when it is. */
export function digestError(digest: string): string | undefined {
  const colon = digest.indexOf(":");
  if (colon < 0) return "the digest must have the form <algorithm>:<hex>";

  const algorithm = digest.slice(0, colon);
  const hex = digest.slice(colon + 1);
  const length = DIGEST_HEX_LENGTHS.get(algorithm);
  if (length === undefined) {
    return "the digest algorithm must be sha256, sha384 or sha512 (what the runtime accepts)";
  }
  if (hex.length !== length || !LOWER_HEX.test(hex)) {
    return `a ${algorithm} digest must be exactly ${length} lower-case hex characters`;
  }
  return undefined;
}

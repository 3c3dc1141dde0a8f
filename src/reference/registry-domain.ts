/**
 * The registry domain of an image reference: a host name, an IPv4 address or a bracketed
 * IPv6 address, optionally followed by ":port", as the reference grammar allows it.
 */

/** A written domain split into the host the runtime contacts and the port, if any. */
export interface RegistryDomain {
  /** Host, lower-cased; an IPv6 address keeps its brackets: "phx.ocir.io", "[::1]". */
  hostname: string;
  port?: number;
}

/** A parsed registry domain, or why the text is not one. */
export type RegistryDomainResult =
  | { ok: true; domain: RegistryDomain }
  | { ok: false; error: string };

// A DNS-style label: letters (either case), digits and inner hyphens.
const DOMAIN_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/;
// Compressed or full IPv6 only; zone identifiers and mapped IPv4 forms are not in the grammar.
const IPV6_ADDRESS = /^[A-Fa-f0-9:]+$/;
const DIGITS = /^[0-9]+$/;
const MAX_PORT = 65535;

/**
 * Whether the first segment of a name is read as a registry domain rather than as the
 * first path component on Docker Hub: "localhost", anything with "." or ":", and anything
 * with upper case (a path never has upper case, so the grammar reads it as a host).
 */
export function namesRegistryDomain(segment: string): boolean {
  return (
    segment === "localhost" ||
    segment.includes(".") ||
    segment.includes(":") ||
    segment.toLowerCase() !== segment
  );
}

/** Splits a written domain ("PHX.ocir.io:443", "[::1]:5000") into host and port. */
export function parseRegistryDomain(written: string): RegistryDomainResult {
  const split = splitHostAndPort(written);
  if (typeof split === "string") return { ok: false, error: split };

  const domain: RegistryDomain = { hostname: split.host.toLowerCase() };
  if (split.port === undefined) return { ok: true, domain };

  // The grammar allows any digits; a port nothing can be dialled on is refused here.
  const port = DIGITS.test(split.port) ? Number(split.port) : Number.NaN;
  if (!(port >= 1 && port <= MAX_PORT)) {
    return { ok: false, error: `the registry port must be a number from 1 to ${MAX_PORT}` };
  }
  domain.port = port;
  return { ok: true, domain };
}

function splitHostAndPort(written: string): { host: string; port?: string } | string {
  if (written.startsWith("[")) return splitBracketed(written);

  const colon = written.indexOf(":");
  const host = colon < 0 ? written : written.slice(0, colon);
  if (!host.split(".").every((label) => DOMAIN_LABEL.test(label))) {
    return "the registry host must be dot-separated labels of letters, digits and inner " +
      "hyphens, or an IP address";
  }
  return colon < 0 ? { host } : { host, port: written.slice(colon + 1) };
}

function splitBracketed(written: string): { host: string; port?: string } | string {
  const close = written.indexOf("]");
  const address = close < 0 ? "" : written.slice(1, close);
  if (!IPV6_ADDRESS.test(address)) {
    return "an IPv6 registry address must be hex digits and ':' inside '[' and ']'";
  }

  const host = written.slice(0, close + 1);
  const rest = written.slice(close + 1);
  if (rest === "") return { host };
  if (!rest.startsWith(":")) return "only ':port' may follow an IPv6 registry address";
  return { host, port: rest.slice(1) };
}

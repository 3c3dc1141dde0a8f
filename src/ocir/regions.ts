import { domainToASCII } from "node:url";

import { REALM_DOMAINS, REGIONS, type OciRegion } from "./oci-regions";
import type { RegistryHost } from "./registry-host";

/**
 * Which registry hosts are OCIR, and in which region each keeps its images (and so its image
 * signatures). Accepted forms, for every region in `oci-regions.ts`:
 *
 *   <region-key>.ocir.io                      phx.ocir.io
 *   <region-id>.ocir.io                       us-phoenix-1.ocir.io
 *   ocir.<region-id>.oci.<realm-domain>       ocir.us-phoenix-1.oci.oraclecloud.com
 *
 * A host that carries OCIR's marks (`ocir.io` as two of its labels; `ocir` first with a
 * later `oci` label; an `ocir` label under a realm domain) but is not exactly one of those
 * forms is `unknown-region`, which the caller denies. That covers a region this SDK does not
 * know yet, typos, and look-alikes such as `phx.ocir.io.example.com` or `evil-phx.ocir.io`:
 * a person reading a manifest takes them for OCIR, so they must not slip through as "not
 * OCIR" and skip the signature check.
 */

const BY_ID = new Map<string, OciRegion>(REGIONS.map((region) => [region.id, region]));
const BY_KEY = new Map<string, OciRegion>(REGIONS.map((region) => [region.key, region]));
const DOMAINS: ReadonlySet<string> = new Set(Object.values(REALM_DOMAINS));

/** Only these characters make up a host name pullgate matches exactly (already lower case). */
const HOST_CHARACTERS = /^[a-z0-9.-]+$/;

/** Looks a region up by identifier (`us-phoenix-1`) or key (`phx`), in any letter case. */
export function findRegion(idOrKey: string): OciRegion | undefined {
  const wanted = idOrKey.toLowerCase();
  return BY_ID.get(wanted) ?? BY_KEY.get(wanted);
}

/** Classifies a registry host (any letter case, optionally with `:port`) as OCIR or not. */
export function classifyRegistryHost(host: string): RegistryHost {
  const name = hostName(host);
  if (name === undefined) return { kind: "not-ocir" };

  if (HOST_CHARACTERS.test(name)) {
    const exact = exactOcirHost(name);
    if (exact !== undefined) return exact;
  }

  // The host is not exactly an OCIR name; IDNA mapping catches look-alikes written with
  // full-width letters or dots, or invisible characters, that map onto OCIR's marks.
  const labels = name.split(".");
  const mapped = domainToAsciiLabels(name);
  if (carriesOcirMarks(labels) || (mapped !== undefined && carriesOcirMarks(mapped))) {
    return { kind: "unknown-region", label: regionLabel(labels) ?? name };
  }
  return { kind: "not-ocir" };
}

/** The Artifacts API endpoint of a region, without the API version (the SDK client adds it). */
export function artifactsEndpoint(regionId: string): string {
  return serviceEndpoint("artifacts", regionId);
}

/** The Container Engine (OKE) API endpoint of a region, without the API version. */
export function containerEngineEndpoint(regionId: string): string {
  return serviceEndpoint("containerengine", regionId);
}

// Both services use the SDK's template `https://<service>.{region}.oci.{secondLevelDomain}`.
function serviceEndpoint(service: string, regionId: string): string {
  const region = BY_ID.get(regionId);
  if (region === undefined) {
    throw new RangeError(`unknown OCI region identifier "${regionId}"`);
  }
  return `https://${service}.${region.id}.oci.${REALM_DOMAINS[region.realm]}`;
}

/** Lower-cases, removes a port and one trailing dot (the absolute form of the same name). */
function hostName(host: string): string | undefined {
  // A bracketed IPv6 literal is never OCIR; an IPv4 literal falls through as not-OCIR below.
  if (host.startsWith("[")) return undefined;
  const colon = host.indexOf(":");
  let name = (colon === -1 ? host : host.slice(0, colon)).toLowerCase();
  if (name.endsWith(".")) name = name.slice(0, -1);
  return name === "" ? undefined : name;
}

function exactOcirHost(name: string): RegistryHost | undefined {
  const labels = name.split(".");

  if (labels.length === 3 && labels[1] === "ocir" && labels[2] === "io") {
    const region = findRegion(labels[0] ?? "");
    return region === undefined ? undefined : ocir(region);
  }

  if (labels.length >= 5 && labels[0] === "ocir" && labels[2] === "oci") {
    const region = BY_ID.get(labels[1] ?? "");
    const domain = labels.slice(3).join(".");
    if (region !== undefined && REALM_DOMAINS[region.realm] === domain) return ocir(region);
  }
  return undefined;
}

function ocir(region: OciRegion): RegistryHost {
  return {
    kind: "ocir",
    regionId: region.id,
    realm: region.realm,
    realmDomain: REALM_DOMAINS[region.realm],
  };
}

function carriesOcirMarks(labels: readonly string[]): boolean {
  const ocirIo = labels.some((label, i) => label === "ocir" && labels[i + 1] === "io");
  const ociForm = labels[0] === "ocir" && labels.slice(1).includes("oci");
  const underRealm = labels.includes("ocir") && endsInRealmDomain(labels);
  return ocirIo || ociForm || underRealm;
}

function endsInRealmDomain(labels: readonly string[]): boolean {
  // Realm domains have two labels (`oraclecloud.com`, `oraclegovcloud.uk`).
  return DOMAINS.has(labels.slice(-2).join("."));
}

/**
 * The label that should have named a region, when the host has exactly the shape of an OCIR
 * form under the right domain (`xyz.ocir.io`, `ocir.xx-nowhere-1.oci.oraclecloud.com`);
 * otherwise the caller reports the whole host.
 */
function regionLabel(labels: readonly string[]): string | undefined {
  const [first, second, third] = labels;
  if (labels.length === 3 && second === "ocir" && third === "io" && first !== "") return first;
  const inRealm = labels.length === 5 && endsInRealmDomain(labels);
  const namesRegion = second !== undefined && second !== "" && !BY_ID.has(second);
  if (inRealm && first === "ocir" && third === "oci" && namesRegion) return second;
  return undefined;
}

function domainToAsciiLabels(name: string): string[] | undefined {
  const ascii = domainToASCII(name);
  return ascii === "" ? undefined : ascii.replace(/\.$/, "").split(".");
}

import { Region } from "oci-common";
import { describe, expect, it } from "vitest";

import {
  artifactsEndpoint,
  classifyRegistryHost,
  containerEngineEndpoint,
  findRegion,
} from "../../src/ocir/regions";
import type { RegistryHost } from "../../src/ocir/registry-host";

// Expected values come from the SDK itself, not from pullgate's table.
const sdkRegions = Object.values(Region).filter((v): v is Region => v instanceof Region);

function expectedOcir(region: Region): RegistryHost {
  return {
    kind: "ocir",
    regionId: region.regionId,
    realm: region.realm.realmId,
    realmDomain: region.realm.secondLevelDomain,
  };
}

function hostForms(region: Region): string[] {
  const domain = region.realm.secondLevelDomain;
  return [
    `${region.regionCode}.ocir.io`,
    `${region.regionId}.ocir.io`,
    `ocir.${region.regionId}.oci.${domain}`,
  ];
}

function variants(host: string): string[] {
  return [host, host.toUpperCase(), `${host}:443`, `${host.toUpperCase()}:5000`, `${host}.`];
}

describe("classifyRegistryHost on every region the SDK knows", () => {
  const cases = sdkRegions.flatMap((region) =>
    hostForms(region).flatMap((form) =>
      variants(form).map((host) => ({ host, region: region.regionId, want: expectedOcir(region) })),
    ),
  );

  it("tests every region in three forms and five variants", () => {
    expect(cases).toHaveLength(sdkRegions.length * 3 * 5);
  });

  it.each(cases)("maps $host to $region", ({ host, want }) => {
    expect(classifyRegistryHost(host)).toEqual(want);
  });
});

describe("classifyRegistryHost on examples from the documentation", () => {
  it.each([
    ["phx.ocir.io", "us-phoenix-1", "oc1", "oraclecloud.com"],
    ["fra.ocir.io", "eu-frankfurt-1", "oc1", "oraclecloud.com"],
    ["Fra.Ocir.IO:443", "eu-frankfurt-1", "oc1", "oraclecloud.com"],
    ["ocir.us-langley-1.oci.oraclegovcloud.com", "us-langley-1", "oc2", "oraclegovcloud.com"],
    [
      "ocir.us-gov-ashburn-1.oci.oraclegovcloud.com",
      "us-gov-ashburn-1",
      "oc3",
      "oraclegovcloud.com",
    ],
    ["ocir.uk-gov-london-1.oci.oraclegovcloud.uk", "uk-gov-london-1", "oc4", "oraclegovcloud.uk"],
    ["ocir.eu-frankfurt-2.oci.oraclecloud.eu", "eu-frankfurt-2", "oc19", "oraclecloud.eu"],
    ["ocir.ap-chiyoda-1.oci.oraclecloud8.com", "ap-chiyoda-1", "oc8", "oraclecloud8.com"],
  ])("maps %s to %s in %s", (host, regionId, realm, realmDomain) => {
    expect(classifyRegistryHost(host)).toEqual({ kind: "ocir", regionId, realm, realmDomain });
  });
});

describe("classifyRegistryHost on hosts that look like OCIR but name no known region", () => {
  it.each([
    // [host, label reported, why it is denied]
    ["ocir.io", "ocir.io", "the bare registry domain names no region"],
    ["xyz.ocir.io", "xyz", "a region key no SDK region has"],
    ["xx-nowhere-9.ocir.io", "xx-nowhere-9", "a region id no SDK region has"],
    ["evil-phx.ocir.io", "evil-phx", "a key with a prefix is not the key"],
    ["phxx.ocir.io", "phxx", "a key with a suffix is not the key"],
    ["a.phx.ocir.io", "a.phx.ocir.io", "an extra label in front"],
    ["phx.ocir.io.evil.com", "phx.ocir.io.evil.com", "OCIR's name inside another domain"],
    ["ocir.io.example.com", "ocir.io.example.com", "OCIR's domain inside another domain"],
    ["phx..ocir.io", "phx..ocir.io", "an empty label"],
    [".phx.ocir.io", ".phx.ocir.io", "a leading empty label"],
    ["phx.ocir.io..", "phx.ocir.io.", "two trailing dots leave an empty label"],
    ["phx_x.ocir.io", "phx_x", "a character no host name may hold"],
    ["%70hx.ocir.io", "%70hx", "a percent-encoded letter"],
    ["user@phx.ocir.io", "user@phx", "user information in the host"],
    ["\uff50\uff48\uff58.ocir.io", "\uff50\uff48\uff58", "full-width letters"],
    ["phx\uff0eocir\uff0eio", "phx\uff0eocir\uff0eio", "full-width dots that map onto OCIR"],
    ["phx\u200b.ocir.io", "phx\u200b", "an invisible character"],
    ["ocir.xx-nowhere-1.oci.oraclecloud.com", "xx-nowhere-1", "an unknown region id"],
    ["ocir.phx.oci.oraclecloud.com", "phx", "a region key where the form takes an id"],
    [
      "ocir.us-phoenix-1.oci.oraclegovcloud.com",
      "ocir.us-phoenix-1.oci.oraclegovcloud.com",
      "a region under another realm's domain",
    ],
    [
      "ocir.us-phoenix-1.oci.oraclecloud.com.evil.com",
      "ocir.us-phoenix-1.oci.oraclecloud.com.evil.com",
      "OCIR's name inside another domain",
    ],
    ["ocir.us-phoenix-1.oci.evil.com", "ocir.us-phoenix-1.oci.evil.com", "a foreign domain"],
    ["ocir.us-phoenix-1.oraclecloud.com", "ocir.us-phoenix-1.oraclecloud.com", "no oci label"],
    ["ocir.oraclecloud.com", "ocir.oraclecloud.com", "no region label"],
    ["phx.ocir.oraclecloud.com", "phx.ocir.oraclecloud.com", "a key-style name in a realm"],
    ["ocir..oci.oraclecloud.com", "ocir..oci.oraclecloud.com", "an empty region label"],
  ])("denies %s as unknown-region (%s): %s", (host, label) => {
    expect(classifyRegistryHost(host)).toEqual({ kind: "unknown-region", label });
  });
});

describe("classifyRegistryHost on hosts that are not OCIR", () => {
  it.each([
    ["docker.io", "another public registry"],
    ["registry-1.docker.io", "another public registry"],
    ["container-registry.oracle.com", "Oracle's public registry is not OCIR"],
    ["localhost:5000", "a local registry"],
    ["127.0.0.1:5000", "an IPv4 literal"],
    ["[::1]:5000", "an IPv6 literal"],
    ["ocir.example.com", "a private registry that happens to be called ocir"],
    ["ocir.mycorp.internal:5000", "a private registry that happens to be called ocir"],
    ["registry.ocir.example.com", "an ocir label outside any realm domain"],
    ["myocir.io", "a different domain that ends in ocir.io characters"],
    ["phxocir.io", "a different domain"],
    ["ocir-io.example.com", "a different domain"],
    ["phx.\u043ecir.io", "a Cyrillic look-alike is another domain; runtimes reject it"],
    ["", "an empty host"],
  ])("forwards %s (%s)", (host) => {
    expect(classifyRegistryHost(host)).toEqual({ kind: "not-ocir" });
  });
});

describe("findRegion", () => {
  it("finds a region by identifier or key in any case, and nothing else", () => {
    expect(findRegion("PHX")?.id).toBe("us-phoenix-1");
    expect(findRegion("us-phoenix-1")?.key).toBe("phx");
    expect(findRegion("oc1")).toBeUndefined();
  });
});

describe("service endpoints", () => {
  it("gives the Frankfurt Artifacts endpoint for images from fra.ocir.io", () => {
    const host = classifyRegistryHost("fra.ocir.io");
    expect(host.kind === "ocir" && artifactsEndpoint(host.regionId)).toBe(
      "https://artifacts.eu-frankfurt-1.oci.oraclecloud.com",
    );
  });

  it("uses each realm's domain", () => {
    expect(artifactsEndpoint("uk-gov-london-1")).toBe(
      "https://artifacts.uk-gov-london-1.oci.oraclegovcloud.uk",
    );
    expect(containerEngineEndpoint("eu-madrid-2")).toBe(
      "https://containerengine.eu-madrid-2.oci.oraclecloud.eu",
    );
  });

  it("refuses a region identifier it does not know, and a region key", () => {
    expect(() => artifactsEndpoint("xx-nowhere-1")).toThrow(/xx-nowhere-1/);
    expect(() => containerEngineEndpoint("phx")).toThrow(/phx/);
  });
});

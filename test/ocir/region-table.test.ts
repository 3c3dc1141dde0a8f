import { Realm, Region } from "oci-common";
import { describe, expect, it } from "vitest";

import { REALM_DOMAINS, REGIONS } from "../../src/ocir/oci-regions";

// The SDK declares each built-in realm and region as a static field of Realm / Region.
// Reading those fields (not Region.values()) keeps the comparison free of the node's
// ~/.oci files, environment and instance metadata.
function sdkRealms(): Map<string, string> {
  const realms = Object.values(Realm).filter((value): value is Realm => value instanceof Realm);
  return new Map(realms.map((realm) => [realm.realmId, realm.secondLevelDomain]));
}

function sdkRegions(): Map<string, { key: string | undefined; realm: string }> {
  const regions = Object.values(Region).filter(
    (value): value is Region => value instanceof Region,
  );
  return new Map(
    regions.map((r) => [r.regionId, { key: r.regionCode, realm: r.realm.realmId }]),
  );
}

describe("the checked-in region table", () => {
  it("has exactly the realms the installed OCI SDK knows, with their domains", () => {
    expect(new Map(Object.entries(REALM_DOMAINS))).toEqual(sdkRealms());
  });

  it("has exactly the regions the installed OCI SDK knows, with their keys and realms", () => {
    const ours = new Map(REGIONS.map((r) => [r.id, { key: r.key, realm: r.realm }]));
    expect(ours).toEqual(sdkRegions());
  });

  it("covers 20 realms and 85 regions (oci-common 2.139.1)", () => {
    expect(Object.keys(REALM_DOMAINS)).toHaveLength(20);
    expect(REGIONS).toHaveLength(85);
  });

  it("gives every region a distinct key, and no key equals another region's identifier", () => {
    const keys = REGIONS.map((r) => r.key);
    const ids = new Set(REGIONS.map((r) => r.id));
    expect(new Set(keys).size).toBe(keys.length);
    expect(keys.filter((key) => ids.has(key))).toEqual([]);
  });
});

import { generateKeyPairSync } from "node:crypto";

import { SimpleAuthenticationDetailsProvider } from "oci-common";
import { KmsVaultClient } from "oci-keymanagement";
import { describe, expect, it } from "vitest";

import { REGIONS } from "../../src/ocir/oci-regions";
import {
  parseKeyOcid,
  vaultCryptoEndpoint,
  vaultManagementEndpoint,
} from "../../src/ocir/vault-endpoint";

const UNIQUE = "abzwkljsbapzb2nrha5nt3s7s7p42ctcrcj72vn3kq5qxaaaaaaaaaaaaaaa";

describe("vault endpoints from a key OCID", () => {
  it.each([
    [
      `ocid1.key.oc1.iad.afnxza26aag4s.${UNIQUE}`,
      "https://afnxza26aag4s-management.kms.us-ashburn-1.oraclecloud.com",
    ],
    [
      `ocid1.key.oc1.eu-frankfurt-1.bjqmywdtaafak.${UNIQUE}`,
      "https://bjqmywdtaafak-management.kms.eu-frankfurt-1.oraclecloud.com",
    ],
    [
      `ocid1.key.oc2.lfi.vaultpart1.${UNIQUE}`,
      "https://vaultpart1-management.kms.us-langley-1.oraclegovcloud.com",
    ],
    [
      `ocid1.key.oc19.str.vaultpart2.${UNIQUE}`,
      "https://vaultpart2-management.kms.eu-frankfurt-2.oraclecloud.eu",
    ],
  ])("derives the management endpoint of %s", (ocid, endpoint) => {
    expect(vaultManagementEndpoint(ocid)).toMatchObject({ ok: true, endpoint });
  });

  it("derives the crypto endpoint the way the OCI CLI does", () => {
    expect(vaultCryptoEndpoint(`ocid1.key.oc1.phx.abcd1234.${UNIQUE}`)).toMatchObject({
      ok: true,
      endpoint: "https://abcd1234-crypto.kms.us-phoenix-1.oraclecloud.com",
      location: { realm: "oc1", regionId: "us-phoenix-1", vaultPart: "abcd1234" },
    });
  });

  it("puts the vault part in front of the SDK's own KMS host for every region", () => {
    const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const auth = new SimpleAuthenticationDetailsProvider("t", "u", "f", pem, null);
    const client = new KmsVaultClient({ authenticationDetailsProvider: auth });
    for (const region of REGIONS) {
      client.regionId = region.id;
      const sdkHost = new URL(client.endpoint).host;
      const ours = vaultManagementEndpoint(`ocid1.key.${region.realm}.${region.key}.v1.${UNIQUE}`);
      expect(ours.ok && new URL(ours.endpoint).host).toBe(`v1-management.${sdkHost}`);
    }
  });

  it.each([
    ["ocid1.key.oc1.iad.afnxza26aag4s", "not of the form"],
    [`ocid1.vault.oc1.iad.afnxza26aag4s.${UNIQUE}`, "not of the form"],
    [`ocid2.key.oc1.iad.afnxza26aag4s.${UNIQUE}`, "not of the form"],
    [`ocid1.key.oc1.iad.afnxza26aag4s.${UNIQUE}.extra`, "not of the form"],
    [`ocid1.key.oc1..${UNIQUE}`, "not of the form"],
    [`ocid1.key.oc99.iad.afnxza26aag4s.${UNIQUE}`, "realm \"oc99\""],
    [`ocid1.key.oc1.xyz.afnxza26aag4s.${UNIQUE}`, "region \"xyz\""],
    [`ocid1.key.oc1.IAD.afnxza26aag4s.${UNIQUE}`, "region \"IAD\""],
    [`ocid1.key.oc2.iad.afnxza26aag4s.${UNIQUE}`, "us-ashburn-1 of realm oc1 under realm oc2"],
    [`ocid1.key.oc1.iad..${UNIQUE}`, "no vault part"],
    [`ocid1.key.oc1.iad.evil-host.${UNIQUE}`, "no vault part"],
    [`ocid1.key.oc1.iad.Vault.${UNIQUE}`, "no vault part"],
    [`ocid1.key.oc1.iad.${"a".repeat(53)}.${UNIQUE}`, "no vault part"],
    [`ocid1.key.oc1.iad.evil.com/x.${UNIQUE}`, "not of the form"],
    ["ocid1.key.oc1.iad.afnxza26aag4s.", "malformed unique part"],
    ["ocid1.key.oc1.iad.afnxza26aag4s.abc_def", "malformed unique part"],
  ])("refuses %s (%s)", (ocid, why) => {
    const result = vaultManagementEndpoint(ocid);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toContain(why);
    expect(parseKeyOcid(ocid).ok).toBe(false);
  });
});

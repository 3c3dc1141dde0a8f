import { constants, verify } from "node:crypto";

import { describe, expect, it } from "vitest";

import { regionalOcid } from "../../lab/fake-oci/ocids";
import {
  ALGORITHM_HASH,
  createVaultKey,
  pythonJsonString,
  signatureMessageJson,
  signImage,
  type OcirSigningAlgorithm,
} from "../../lab/oci-cli-signer";
import { parseKeyOcid } from "../../src/ocir/vault-endpoint";

const key = createVaultKey();
const image = {
  imageId: regionalOcid("containerimage"),
  compartmentId: "ocid1.tenancy.oc1..aaaa",
  repositoryName: "project01/ngnix-lb",
  imageDigest: `sha256:${"ee44b399d".padEnd(64, "0")}`,
};

function verifies(
  message: Buffer,
  signature: Buffer,
  algorithm: OcirSigningAlgorithm,
  saltLength: number = constants.RSA_PSS_SALTLEN_AUTO,
): boolean {
  return verify(
    ALGORITHM_HASH[algorithm],
    message,
    { key: key.publicKeyPem, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength },
    signature,
  );
}

describe("the OCI CLI style signer", () => {
  it("writes the message with the CLI's field order and no whitespace", () => {
    const json = signatureMessageJson({
      description: "",
      imageDigest: "sha256:abc",
      kmsKeyId: "ocid1.key.x",
      kmsKeyVersionId: "ocid1.keyversion.x",
      metadata: "",
      region: "us-phoenix-1",
      repositoryName: "project01/ngnix-lb",
      signingAlgorithm: "SHA_256_RSA_PKCS_PSS",
    });

    expect(json).toBe(
      '{"description":"","imageDigest":"sha256:abc","kmsKeyId":"ocid1.key.x",' +
        '"kmsKeyVersionId":"ocid1.keyversion.x","metadata":"","region":"us-phoenix-1",' +
        '"repositoryName":"project01/ngnix-lb","signingAlgorithm":"SHA_256_RSA_PKCS_PSS"}',
    );
  });

  it("embeds metadata as a JSON string and an unset region as null", () => {
    const signed = signImage(key, image, { metadata: '{"buildNumber":"123"}', region: null });
    const json = Buffer.from(signed.message, "base64").toString("utf8");

    expect(json).toContain(String.raw`"metadata":"{\"buildNumber\":\"123\"}"`);
    expect(json).toContain('"region":null');
  });

  it("escapes every non-printable-ASCII character the way Python's ensure_ascii does", () => {
    const text = 'café ☕ 😀 "q" \\ \n\t\u0001\u007f/';

    const literal = pythonJsonString(text);

    expect(literal).toBe(
      String.raw`"caf\u00e9 \u2615 \ud83d\ude00 \"q\" \\ \n\t\u0001\u007f/"`,
    );
    expect(JSON.parse(literal)).toBe(text);
  });

  it.each(Object.keys(ALGORITHM_HASH) as OcirSigningAlgorithm[])(
    "signs the decoded message bytes with RSASSA-PSS and %s",
    (signingAlgorithm) => {
      const signed = signImage(key, image, { signingAlgorithm, description: "UAT ✓" });
      const message = Buffer.from(signed.message, "base64");
      const signature = Buffer.from(signed.signature, "base64");

      expect(verifies(message, signature, signingAlgorithm)).toBe(true);
      expect(JSON.parse(message.toString("utf8"))).toMatchObject({
        imageDigest: image.imageDigest,
        repositoryName: image.repositoryName,
        kmsKeyId: key.keyId,
        kmsKeyVersionId: key.keyVersionId,
        signingAlgorithm,
      });
    },
  );

  it("uses the hash length as salt unless told to use the longest", () => {
    const algorithm = "SHA_256_RSA_PKCS_PSS";
    const usual = signImage(key, image);
    const longest = signImage(key, image, { saltLength: "max" });
    const check = (s: typeof usual, salt?: number) => {
      const [message, signature] = [s.message, s.signature].map((b) => Buffer.from(b, "base64"));
      return verifies(message ?? Buffer.alloc(0), signature ?? Buffer.alloc(0), algorithm, salt);
    };

    expect(check(usual, 32)).toBe(true);
    expect(check(longest, 32)).toBe(false);
    expect(check(longest)).toBe(true);
  });

  it("produces a signature that no longer verifies once the message changes", () => {
    const signed = signImage(key, image);
    const message = Buffer.from(signed.message, "base64");
    const altered = Buffer.from(message.toString("utf8").replace("ngnix-lb", "ngnix-lc"));

    expect(verifies(altered, Buffer.from(signed.signature, "base64"), "SHA_256_RSA_PKCS_PSS")).toBe(
      false,
    );
  });

  it("returns a record naming the key, the image and its repository", () => {
    const signed = signImage(key, image, { signingAlgorithm: "SHA_384_RSA_PKCS_PSS" });

    expect(signed).toMatchObject({
      ...image,
      kmsKeyId: key.keyId,
      kmsKeyVersionId: key.keyVersionId,
      signingAlgorithm: "SHA_384_RSA_PKCS_PSS",
    });
  });

  it("makes Vault OCIDs shaped like real ones, which pullgate's parser accepts", () => {
    const made = createVaultKey();

    expect(made.keyId).toMatch(/^ocid1\.key\.oc1\.phx\.[a-z0-9]{13}\.[a-z0-9]{60}$/);
    expect(made.keyVersionId).toMatch(/^ocid1\.keyversion\.oc1\.phx\.[a-z0-9]{13}\.[a-z0-9]{60}$/);
    expect(made.keyId.split(".")[4]).toBe(made.vaultPart);
    expect(parseKeyOcid(made.keyId)).toEqual({
      ok: true,
      location: { realm: "oc1", regionId: "us-phoenix-1", vaultPart: made.vaultPart },
    });
  });
});

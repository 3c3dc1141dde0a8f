import { describe, expect, it } from "vitest";
import { parseImageReference, type ImageReference } from "../../src/reference/image-reference";

const HEX64 = "4c5f1b1a1e0d4a8b9c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b";
const HEX96 = "ab".repeat(48);
const HEX128 = "0f".repeat(64);
const SHA256 = `sha256:${HEX64}`;
const OCIR_REPO = "phx.ocir.io/ansh81vru1zp/project01/ngnix-lb";

type Expected = Omit<ImageReference, "normalized"> & { normalized: string };

/** Valid references and what the runtime pulls for each. */
const VALID: Array<[string, Expected]> = [
  [
    `${OCIR_REPO}@${SHA256}`,
    {
      hostname: "phx.ocir.io",
      domain: "phx.ocir.io",
      path: "ansh81vru1zp/project01/ngnix-lb",
      digest: SHA256,
      normalized: `${OCIR_REPO}@${SHA256}`,
    },
  ],
  [
    `${OCIR_REPO}:v1.2@${SHA256}`,
    {
      hostname: "phx.ocir.io",
      domain: "phx.ocir.io",
      path: "ansh81vru1zp/project01/ngnix-lb",
      digest: SHA256,
      normalized: `${OCIR_REPO}@${SHA256}`,
    },
  ],
  [
    `${OCIR_REPO}:v1.2`,
    {
      hostname: "phx.ocir.io",
      domain: "phx.ocir.io",
      path: "ansh81vru1zp/project01/ngnix-lb",
      tag: "v1.2",
      normalized: `${OCIR_REPO}:v1.2`,
    },
  ],
  [
    OCIR_REPO,
    {
      hostname: "phx.ocir.io",
      domain: "phx.ocir.io",
      path: "ansh81vru1zp/project01/ngnix-lb",
      tag: "latest",
      normalized: `${OCIR_REPO}:latest`,
    },
  ],
  [
    `PHX.OCIR.IO/ns/app@${SHA256}`,
    {
      hostname: "phx.ocir.io",
      domain: "PHX.OCIR.IO",
      path: "ns/app",
      digest: SHA256,
      normalized: `PHX.OCIR.IO/ns/app@${SHA256}`,
    },
  ],
  [
    `ocir.us-phoenix-1.oci.oraclecloud.com:443/ns/app@${SHA256}`,
    {
      hostname: "ocir.us-phoenix-1.oci.oraclecloud.com",
      port: 443,
      domain: "ocir.us-phoenix-1.oci.oraclecloud.com:443",
      path: "ns/app",
      digest: SHA256,
      normalized: `ocir.us-phoenix-1.oci.oraclecloud.com:443/ns/app@${SHA256}`,
    },
  ],
  [
    "nginx",
    {
      hostname: "docker.io",
      domain: "docker.io",
      path: "library/nginx",
      tag: "latest",
      normalized: "docker.io/library/nginx:latest",
    },
  ],
  [
    "nginx:1.25-alpine",
    {
      hostname: "docker.io",
      domain: "docker.io",
      path: "library/nginx",
      tag: "1.25-alpine",
      normalized: "docker.io/library/nginx:1.25-alpine",
    },
  ],
  [
    "bitnami/redis:7",
    {
      hostname: "docker.io",
      domain: "docker.io",
      path: "bitnami/redis",
      tag: "7",
      normalized: "docker.io/bitnami/redis:7",
    },
  ],
  [
    "docker.io/ubuntu",
    {
      hostname: "docker.io",
      domain: "docker.io",
      path: "library/ubuntu",
      tag: "latest",
      normalized: "docker.io/library/ubuntu:latest",
    },
  ],
  [
    "index.docker.io/ubuntu:22.04",
    {
      hostname: "docker.io",
      domain: "docker.io",
      path: "library/ubuntu",
      tag: "22.04",
      normalized: "docker.io/library/ubuntu:22.04",
    },
  ],
  [
    "index.docker.io:443/ubuntu",
    {
      hostname: "index.docker.io",
      port: 443,
      domain: "index.docker.io:443",
      path: "ubuntu",
      tag: "latest",
      normalized: "index.docker.io:443/ubuntu:latest",
    },
  ],
  [
    "localhost/app",
    {
      hostname: "localhost",
      domain: "localhost",
      path: "app",
      tag: "latest",
      normalized: "localhost/app:latest",
    },
  ],
  [
    "localhost:5000/team/app:dev",
    {
      hostname: "localhost",
      port: 5000,
      domain: "localhost:5000",
      path: "team/app",
      tag: "dev",
      normalized: "localhost:5000/team/app:dev",
    },
  ],
  [
    // Without a "/" even "localhost:5000" is a Docker Hub name with the tag "5000".
    "localhost:5000",
    {
      hostname: "docker.io",
      domain: "docker.io",
      path: "library/localhost",
      tag: "5000",
      normalized: "docker.io/library/localhost:5000",
    },
  ],
  [
    "example.com",
    {
      hostname: "docker.io",
      domain: "docker.io",
      path: "library/example.com",
      tag: "latest",
      normalized: "docker.io/library/example.com:latest",
    },
  ],
  [
    "registry:5000/app",
    {
      hostname: "registry",
      port: 5000,
      domain: "registry:5000",
      path: "app",
      tag: "latest",
      normalized: "registry:5000/app:latest",
    },
  ],
  [
    // A first segment with upper case cannot be a path, so the grammar reads it as a host.
    "Registry/app",
    {
      hostname: "registry",
      domain: "Registry",
      path: "app",
      tag: "latest",
      normalized: "Registry/app:latest",
    },
  ],
  [
    "10.0.0.7:5000/app",
    {
      hostname: "10.0.0.7",
      port: 5000,
      domain: "10.0.0.7:5000",
      path: "app",
      tag: "latest",
      normalized: "10.0.0.7:5000/app:latest",
    },
  ],
  [
    "[::1]:5000/app",
    {
      hostname: "[::1]",
      port: 5000,
      domain: "[::1]:5000",
      path: "app",
      tag: "latest",
      normalized: "[::1]:5000/app:latest",
    },
  ],
  [
    "[2001:DB8::1]/app",
    {
      hostname: "[2001:db8::1]",
      domain: "[2001:DB8::1]",
      path: "app",
      tag: "latest",
      normalized: "[2001:DB8::1]/app:latest",
    },
  ],
  [
    "foo/a.b_c__d---e/f0",
    {
      hostname: "docker.io",
      domain: "docker.io",
      path: "foo/a.b_c__d---e/f0",
      tag: "latest",
      normalized: "docker.io/foo/a.b_c__d---e/f0:latest",
    },
  ],
  [
    "my-registry.example.com/x:Tag_With.UPPER-case",
    {
      hostname: "my-registry.example.com",
      domain: "my-registry.example.com",
      path: "x",
      tag: "Tag_With.UPPER-case",
      normalized: "my-registry.example.com/x:Tag_With.UPPER-case",
    },
  ],
  [
    `${HEX64}:v1`,
    {
      hostname: "docker.io",
      domain: "docker.io",
      path: `library/${HEX64}`,
      tag: "v1",
      normalized: `docker.io/library/${HEX64}:v1`,
    },
  ],
  [
    `example.com/${HEX64}`,
    {
      hostname: "example.com",
      domain: "example.com",
      path: HEX64,
      tag: "latest",
      normalized: `example.com/${HEX64}:latest`,
    },
  ],
  [
    `ns/app@sha384:${HEX96}`,
    {
      hostname: "docker.io",
      domain: "docker.io",
      path: "ns/app",
      digest: `sha384:${HEX96}`,
      normalized: `docker.io/ns/app@sha384:${HEX96}`,
    },
  ],
  [
    `a.io/app@sha512:${HEX128}`,
    {
      hostname: "a.io",
      domain: "a.io",
      path: "app",
      digest: `sha512:${HEX128}`,
      normalized: `a.io/app@sha512:${HEX128}`,
    },
  ],
  [
    `a.io/app:${"t".repeat(128)}`,
    {
      hostname: "a.io",
      domain: "a.io",
      path: "app",
      tag: "t".repeat(128),
      normalized: `a.io/app:${"t".repeat(128)}`,
    },
  ],
  [
    `a.io/${"p".repeat(255)}`,
    {
      hostname: "a.io",
      domain: "a.io",
      path: "p".repeat(255),
      tag: "latest",
      normalized: `a.io/${"p".repeat(255)}:latest`,
    },
  ],
];

/** References the runtime would refuse (or, where noted, pullgate refuses deliberately). */
const INVALID: Array<[string, string, RegExp]> = [
  ["the empty string", "", /empty/],
  ["a space inside", "phx.ocir.io/ns/app :v1", /whitespace/],
  ["a leading space", " nginx", /whitespace/],
  ["a trailing newline", "nginx\n", /control/],
  ["a NUL byte", "phx.ocir.io/ns/app\u0000", /control/],
  ["a tab", "nginx\t", /whitespace/],
  ["non-ASCII letters", "phx.ocir.io/ns/äpp", /non-ASCII/],
  ["a look-alike dot", "phx\u2024ocir.io/ns/app", /non-ASCII/],
  ["a bare image ID", HEX64, /image ID/],
  ["upper case in a single name", "Nginx", /lower case/],
  ["upper case in the repository path", "phx.ocir.io/ns/App", /lower case/],
  ["upper case in a Docker Hub path", "bitnami/Redis", /lower case/],
  ["a repository path over 255 characters", `a.io/${"p".repeat(256)}`, /255/],
  ["a single name that is 255 with library/", "p".repeat(250), /255/],
  ["an empty path component", "phx.ocir.io/ns//app", /repository path/],
  ["a trailing slash", "phx.ocir.io/ns/app/", /repository path/],
  ["a leading slash", "/ns/app", /repository path/],
  ["a domain with nothing below it", "phx.ocir.io/", /repository path/],
  ["a separator at the start", "ns/-app", /repository path/],
  ["a separator at the end", "ns/app.", /repository path/],
  ["two dots", "ns/a..b", /repository path/],
  ["three underscores", "ns/a___b", /repository path/],
  ["a dot then a dash", "ns/a.-b", /repository path/],
  ["an empty tag", "nginx:", /tag/],
  ["a tag starting with a dot", "nginx:.v1", /tag/],
  ["a tag starting with a dash", "nginx:-v1", /tag/],
  ["a tag of 129 characters", `nginx:${"t".repeat(129)}`, /tag/],
  ["a tag with a plus", "nginx:v1+b", /tag/],
  ["two tags", "nginx:v1:v2", /repository path/],
  ["an empty digest", "nginx@", /digest/],
  ["a digest without algorithm", `nginx@${HEX64}`, /digest/],
  ["a short sha256 digest", `nginx@sha256:${HEX64.slice(1)}`, /64/],
  ["a long sha256 digest", `nginx@sha256:${HEX64}0`, /64/],
  ["upper-case digest hex", `nginx@sha256:${HEX64.toUpperCase()}`, /lower-case hex/],
  ["an upper-case algorithm", `nginx@SHA256:${HEX64}`, /algorithm/],
  ["an unsupported algorithm", `nginx@md5:${HEX64.slice(0, 32)}`, /algorithm/],
  ["a sha256 digest with non-hex", `nginx@sha256:${HEX64.slice(1)}g`, /hex/],
  ["two digests", `nginx@${SHA256}@${SHA256}`, /digest/],
  ["a digest before a tag", `nginx@${SHA256}:v1`, /digest/],
  ["a host label ending in a dash", "phx-.ocir.io/ns/app", /registry host/],
  ["an empty host label", "phx..ocir.io/ns/app", /registry host/],
  ["a trailing dot on the host", "phx.ocir.io./ns/app", /registry host/],
  // The grammar would read this as a domain-less path, while containerd contacts the host.
  ["an underscore in a dotted first segment", "phx_x.ocir.io/ns/app", /registry host/],
  ["an empty port", "phx.ocir.io:/ns/app", /port/],
  ["a port that is not a number", "phx.ocir.io:https/ns/app", /port/],
  ["port zero", "phx.ocir.io:0/ns/app", /port/],
  ["a port above 65535", "phx.ocir.io:65536/ns/app", /port/],
  ["an unclosed IPv6 address", "[::1/app", /IPv6/],
  ["an IPv6 zone identifier", "[fe80::1%eth0]/app", /IPv6/],
  ["text after an IPv6 address", "[::1]x/app", /IPv6/],
  ["empty brackets (not a host: no \":\")", "[]/app", /repository path/],
  ["credentials in the host", "user:pw@phx.ocir.io/ns/app", /digest/],
  ["a URL scheme", "https://phx.ocir.io/ns/app", /port|registry/],
  ["a tag that spans a slash", "nginx:v1/x", /port|registry/],
];

describe("parseImageReference", () => {
  it.each(VALID)("reads %s as the runtime does", (input, expected) => {
    const result = parseImageReference(input);

    expect(result).toEqual({ ok: true, reference: expected });
  });

  it.each(INVALID)("refuses %s", (_name, input, message) => {
    const result = parseImageReference(input);

    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(message);
  });

  it("keeps the domain's letter case in the normalised form but lower-cases the hostname", () => {
    const lower = parseImageReference(`phx.ocir.io/ns/app@${SHA256}`);
    const upper = parseImageReference(`Phx.OCIR.io/ns/app@${SHA256}`);

    expect(lower.ok && upper.ok).toBe(true);
    if (lower.ok && upper.ok) {
      expect(upper.reference.hostname).toBe(lower.reference.hostname);
      expect(upper.reference.normalized).toBe(`Phx.OCIR.io/ns/app@${SHA256}`);
    }
  });

  it("pulls a tagged and digested reference by the digest and drops the tag", () => {
    const result = parseImageReference(`${OCIR_REPO}:latest@${SHA256}`);

    expect(result.ok).toBe(true);
    if (result.ok) {
      expect(result.reference.digest).toBe(SHA256);
      expect(result.reference.tag).toBeUndefined();
      expect(result.reference.normalized).not.toContain(":latest");
    }
  });

  it("refuses a one-megabyte reference by its length, without parsing it", () => {
    const huge = `phx.ocir.io/${"a".repeat(1024 * 1024)}`;

    const result = parseImageReference(huge);

    expect(result).toEqual({ ok: false, error: expect.stringMatching(/longer than 1024/) });
  });

  it("refuses a one-megabyte run of separators that would strain a backtracking matcher", () => {
    const result = parseImageReference(`a${"-_".repeat(512 * 1024)}!`);

    expect(result.ok).toBe(false);
  });

  it("answers with an error for a value that is not a string instead of throwing", () => {
    const notAString = 42 as unknown as string;

    expect(parseImageReference(notAString)).toEqual({ ok: false, error: expect.any(String) });
  });

  it("never repeats the input in its error message", () => {
    const input = "phx.ocir.io/secret-looking-token/App";

    const result = parseImageReference(input);

    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).not.toContain("secret-looking-token");
  });
});

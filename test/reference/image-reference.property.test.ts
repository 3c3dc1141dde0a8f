import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseImageReference, type ParseResult } from "../../src/reference/image-reference";

/*
 * An independent reading of the reference grammar, written the way the grammar itself is
 * written: whole-string regular expressions, then the Docker normalisation steps in the
 * order `ParseNormalizedNamed` / `ParseDockerRef` take them. The parser under test splits
 * the string by hand instead, so agreement between the two is evidence, not tautology.
 * pullgate's deliberate extra refusals are applied at the end and named as such.
 */
const ALNUM = "[a-z0-9]+";
const SEPARATOR = "(?:[._]|__|[-]+)";
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const REMOTE_NAME = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const HOST = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])`;
const DOMAIN_AND_PORT = `${HOST}(?::[0-9]+)?`;
const TAG = "[\\w][\\w.-]{0,127}";
const DIGEST = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
const NAME = `(?:${DOMAIN_AND_PORT}/)?${REMOTE_NAME}`;
const REFERENCE_RE = new RegExp(`^(${NAME})(?::(${TAG}))?(?:@(${DIGEST}))?$`);
const ANCHORED_NAME_RE = new RegExp(`^(?:(${DOMAIN_AND_PORT})/)?(${REMOTE_NAME})$`);
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;
const PORT_OF_DOMAIN_RE = /^(?:\[[^\]]*\]|[^:]*)(?::([0-9]+))?$/;
const REGISTERED_DIGESTS = new Map([["sha256", 64], ["sha384", 96], ["sha512", 128]]);
const ORACLE_MAX_LENGTH = 1024;

type OracleResult = { ok: false } | { ok: true; normalized: string };

function oracle(input: string): OracleResult {
  const no: OracleResult = { ok: false };
  if (input.length === 0 || input.length > ORACLE_MAX_LENGTH) return no;
  if (IDENTIFIER_RE.test(input)) return no;

  const [domain, remainder] = splitDockerDomain(input);
  const remote = remainder.split(":")[0] ?? "";
  if (remote.toLowerCase() !== remote) return no;

  const match = REFERENCE_RE.exec(`${domain}/${remainder}`);
  if (match === null) return no;
  const [, name = "", tag, digest] = match;
  const named = ANCHORED_NAME_RE.exec(name);
  const [, parsedDomain, path = ""] = named ?? [];
  if (path.length > 255) return no;
  if (digest !== undefined && !isRegisteredDigest(digest)) return no;

  // pullgate's own refusals: a name the grammar leaves without a registry, a bad port.
  if (parsedDomain === undefined) return no;
  const port = PORT_OF_DOMAIN_RE.exec(parsedDomain)?.[1];
  if (port !== undefined && !(Number(port) >= 1 && Number(port) <= 65535)) return no;

  const base = `${parsedDomain}/${path}`;
  return { ok: true, normalized: digest ? `${base}@${digest}` : `${base}:${tag ?? "latest"}` };
}

function splitDockerDomain(input: string): [string, string] {
  const slash = input.indexOf("/");
  if (slash < 0) return ["docker.io", `library/${input}`];

  const first = input.slice(0, slash);
  const rest = input.slice(slash + 1);
  let domain = "docker.io";
  let remote = input;
  if (first === "localhost") [domain, remote] = [first, rest];
  else if (first === "index.docker.io") remote = rest;
  else if (/[.:]/.test(first) || first.toLowerCase() !== first) [domain, remote] = [first, rest];
  if (domain === "docker.io" && !remote.includes("/")) remote = `library/${remote}`;
  return [domain, remote];
}

function isRegisteredDigest(digest: string): boolean {
  const [algorithm = "", hex = ""] = digest.split(":");
  return REGISTERED_DIGESTS.get(algorithm) === hex.length && /^[a-f0-9]+$/.test(hex);
}

/* Arbitraries that build references from the grammar's productions. */
const alnum = fc.stringMatching(/^[a-z0-9]{1,6}$/);
const separator = fc.constantFrom(".", "_", "__", "-", "--", "---");
const pathComponent = fc
  .tuple(alnum, fc.array(fc.tuple(separator, alnum), { maxLength: 3 }))
  .map(([head, tail]) => head + tail.map(([sep, part]) => sep + part).join(""));
const repositoryPath = fc
  .array(pathComponent, { minLength: 1, maxLength: 4 })
  .map((components) => components.join("/"));
const label = fc.stringMatching(/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,8}[A-Za-z0-9])?$/);
const dottedHost = fc.array(label, { minLength: 2, maxLength: 4 }).map((l) => l.join("."));
const port = fc.integer({ min: 1, max: 65535 });
const ipv6 = fc.constantFrom("::1", "2001:db8::1", "FE80::A", "0:0:0:0:0:0:0:1");

interface GeneratedDomain {
  written: string;
  hostname: string;
  port?: number;
}

const domain: fc.Arbitrary<GeneratedDomain> = fc.oneof(
  dottedHost.map((host) => ({ written: host, hostname: host.toLowerCase() })),
  fc.tuple(fc.oneof(dottedHost, label, fc.constant("localhost")), port).map(([host, p]) => ({
    written: `${host}:${p}`,
    hostname: host.toLowerCase(),
    port: p,
  })),
  fc.tuple(ipv6, fc.option(port, { nil: undefined })).map(([address, p]) => ({
    written: p === undefined ? `[${address}]` : `[${address}]:${p}`,
    hostname: `[${address.toLowerCase()}]`,
    ...(p === undefined ? {} : { port: p }),
  })),
  label
    .filter((l) => l.toLowerCase() !== l)
    .map((host) => ({ written: host, hostname: host.toLowerCase() })),
  fc
    .constantFrom(
      "localhost",
      "phx.ocir.io",
      "PHX.OCIR.IO",
      "ocir.us-ashburn-1.oci.oraclecloud.com",
      "docker.io",
      "index.docker.io",
    )
    .map((host) => ({
      written: host,
      hostname: host === "index.docker.io" ? "docker.io" : host.toLowerCase(),
    })),
);
const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/);
const digest = fc.oneof(
  fc.stringMatching(/^[a-f0-9]{64}$/).map((hex) => `sha256:${hex}`),
  fc.stringMatching(/^[a-f0-9]{96}$/).map((hex) => `sha384:${hex}`),
  fc.stringMatching(/^[a-f0-9]{128}$/).map((hex) => `sha512:${hex}`),
);

const generatedReference = fc
  .record({
    domain: fc.option(domain, { nil: undefined }),
    path: repositoryPath,
    tag: fc.option(tag, { nil: undefined }),
    digest: fc.option(digest, { nil: undefined }),
  })
  // Without a registry, a first component with "." would itself be read as a registry.
  .filter((r) => r.domain !== undefined || !/^[^/]*\.[^/]*\//.test(r.path))
  .map((parts) => {
    const written =
      (parts.domain ? `${parts.domain.written}/` : "") +
      parts.path +
      (parts.tag !== undefined ? `:${parts.tag}` : "") +
      (parts.digest !== undefined ? `@${parts.digest}` : "");
    return { ...parts, written };
  })
  .filter((r) => !/^[a-f0-9]{64}$/.test(r.written));

/* Arbitraries for inputs that are mostly not references. */
const referenceCharacters = fc.constantFrom(
  ..."abz09AZ._-:/@[] fF\t\n\u00e4\u0000".split(""),
);
const fragment = fc.constantFrom(
  "a", "app", "localhost", "docker.io", "index.docker.io", "phx.ocir.io", "PHX", "Foo",
  ":5000", ":0", ":", "/", "//", "@", "_", "__", ".", "-", "[::1]", "[", "]", "latest",
  `sha256:${"a".repeat(64)}`, "sha256:", "a".repeat(64), "library", "x_y.z",
);
const fragmentSoup = fc.array(fragment, { maxLength: 8 }).map((parts) => parts.join(""));
const loneSurrogateUnit = fc
  .integer({ min: 0xd800, max: 0xdfff })
  .map((code) => String.fromCharCode(code));

type Mutation = { kind: "insert" | "replace" | "delete" | "case"; at: number; char: string };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom("insert", "replace", "delete", "case"),
  at: fc.nat(),
  char: referenceCharacters,
});

function mutate(input: string, mutations: Mutation[]): string {
  return mutations.reduce((text, { kind, at, char }) => {
    const i = text.length === 0 ? 0 : at % text.length;
    const c = text.charAt(i);
    if (kind === "insert") return text.slice(0, i) + char + text.slice(i);
    if (kind === "replace") return text.slice(0, i) + char + text.slice(i + 1);
    if (kind === "delete") return text.slice(0, i) + text.slice(i + 1);
    const flipped = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
    return text.slice(0, i) + flipped + text.slice(i + 1);
  }, input);
}

const mutatedReference = fc
  .tuple(generatedReference, fc.array(mutation, { minLength: 1, maxLength: 3 }))
  .map(([reference, mutations]) => mutate(reference.written, mutations));

function isWellFormedResult(result: ParseResult): boolean {
  if (result.ok) return typeof result.reference.normalized === "string";
  return typeof result.error === "string" && result.error.length > 0;
}

describe("parseImageReference, against the grammar", () => {
  it("reads every reference built from the grammar and round-trips its parts", () => {
    fc.assert(
      fc.property(generatedReference, (generated) => {
        const result = parseImageReference(generated.written);
        if (!result.ok) throw new Error(`refused ${generated.written}: ${result.error}`);
        const ref = result.reference;

        const d = generated.domain;
        const expectedDomain =
          d === undefined || d.written === "index.docker.io" ? "docker.io" : d.written;
        const expectedPath =
          expectedDomain === "docker.io" && !generated.path.includes("/")
            ? `library/${generated.path}`
            : generated.path;
        expect(ref.domain).toBe(expectedDomain);
        expect(ref.hostname).toBe(d?.hostname ?? "docker.io");
        expect(ref.port).toBe(d?.port);
        expect(ref.path).toBe(expectedPath);
        expect(ref.digest).toBe(generated.digest);
        expect(ref.tag).toBe(
          generated.digest !== undefined ? undefined : (generated.tag ?? "latest"),
        );
        const suffix = ref.digest !== undefined ? `@${ref.digest}` : `:${ref.tag ?? ""}`;
        expect(ref.normalized).toBe(`${expectedDomain}/${expectedPath}${suffix}`);
      }),
      { numRuns: 3000 },
    );
  });

  it("reads its own normalised form back to the same reference", () => {
    fc.assert(
      fc.property(generatedReference, (generated) => {
        const first = parseImageReference(generated.written);
        if (!first.ok) throw new Error(first.error);

        const again = parseImageReference(first.reference.normalized);

        expect(again).toEqual(first);
      }),
      { numRuns: 1000 },
    );
  });

  it("never throws, whatever the input", () => {
    const anyInput = fc.oneof(
      fc.string(),
      fc.string({ unit: "binary", maxLength: 200 }),
      fc.string({ unit: "binary-ascii", maxLength: 200 }),
      fc.string({ unit: loneSurrogateUnit, maxLength: 20 }),
      fc.string({ unit: referenceCharacters, maxLength: 60 }),
      fragmentSoup,
      mutatedReference,
    );
    fc.assert(
      fc.property(anyInput, (input) => {
        expect(isWellFormedResult(parseImageReference(input))).toBe(true);
      }),
      { numRuns: 10000 },
    );
  });

  it("accepts exactly what the grammar checker accepts, with the same normalised form", () => {
    const tally = { accepted: 0, refused: 0 };
    const candidates = fc.oneof(
      generatedReference.map((r) => r.written),
      mutatedReference,
      fragmentSoup,
      fc.string({ unit: referenceCharacters, maxLength: 40 }),
    );
    fc.assert(
      fc.property(candidates, (input) => {
        const expected = oracle(input);
        const actual = parseImageReference(input);

        expect(actual.ok).toBe(expected.ok);
        if (actual.ok && expected.ok) {
          expect(actual.reference.normalized).toBe(expected.normalized);
        }
        tally[actual.ok ? "accepted" : "refused"] += 1;
      }),
      { numRuns: 20000 },
    );

    // Agreement only means something if both outcomes were exercised in earnest.
    expect(tally.accepted).toBeGreaterThan(2000);
    expect(tally.refused).toBeGreaterThan(2000);
  });

  it("agrees with the checker on the boundary cases of the grammar", () => {
    const boundary = [
      "nginx", "localhost:5000", "localhost:5000/app", "Foo/bar", "Foo", "foo/Bar",
      "a_b.c/d", "a.b_c/d", "index.docker.io/x", "index.docker.io:443/x", "[::1]/x",
      "[]/x", "[::1]", `${"a".repeat(64)}`, `${"a".repeat(64)}:t`, `x@sha256:${"a".repeat(64)}`,
      `x@SHA256:${"a".repeat(64)}`, `x@sha256:${"A".repeat(64)}`, "x:5000/y", "x:0/y",
      "x:65536/y", "x:65535/y", `x/${"a".repeat(247)}`, `x/${"a".repeat(248)}`,
      "a".repeat(247), "a".repeat(248), "a.b/c:d@e", "nginx:\u0000", "nginx\n",
    ];
    for (const input of boundary) {
      const expected = oracle(input);
      const actual = parseImageReference(input);
      expect({ input, ok: actual.ok }).toEqual({ input, ok: expected.ok });
    }
  });
});

import { describe, expect, it } from "vitest";

import { decidePull } from "../../src/decision/decide";
import { decision, type Decision } from "../../src/decision/decision";
import { VerdictCache, type VerdictKey } from "../../src/decision/verdict-cache";
import { createMetrics } from "../../src/observability/metrics";
import { classifyRegistryHost } from "../../src/ocir/regions";
import { makePolicy, type Policy } from "../../src/policy/policy";
import { createVaultKey, signImage } from "../../lab/oci-cli-signer";
import { MemoryKeys, MemorySignatures } from "../support/memory-sources";
import { BREAK_GLASS, digestOf, NAMESPACE, ocirImage, TENANCY } from "./gated-node";

const trustedKey = createVaultKey();
const A = digestOf("content-a");
const B = digestOf("content-b");
const never = new AbortController().signal;

function key(overrides: Partial<VerdictKey> = {}): VerdictKey {
  return {
    host: "phx.ocir.io",
    namespace: NAMESPACE,
    repository: "app",
    digest: A,
    policyVersion: "v1",
    ...overrides,
  };
}

function cache(options: Partial<ConstructorParameters<typeof VerdictCache>[0]> = {}) {
  let clock = 1_000_000;
  const made = new VerdictCache({
    allowTtlMs: 60_000,
    denyTtlMs: 10_000,
    maxEntries: 100,
    lookupTimeoutMs: 5_000,
    now: () => clock,
    ...options,
  });
  return { cache: made, advance: (ms: number) => (clock += ms) };
}

/** A judge that counts its runs and answers with `reason`. */
function counting(reason: Decision["reason"] = "signed") {
  const judge = Object.assign(
    async (_signal: AbortSignal) => {
      judge.runs += 1;
      return decision(reason, "judged", A);
    },
    { runs: 0 },
  );
  return judge;
}

/** A node's decision inputs over in-memory sources, with one shared cache. */
function decider(policy: Policy = makePolicy({ enabled: true, keys: [trustedKey.keyId],
  tenancy: TENANCY }, "test")) {
  const signatures = new MemorySignatures();
  const keys = new MemoryKeys();
  keys.add(trustedKey);
  const { cache: verdicts } = cache();
  const sign = (repository: string, digest: string) =>
    signatures.add(signImage(trustedKey, {
      imageId: "ocid1.containerimage.oc1.phx.0.tenancy.aaaaaaaaimage",
      compartmentId: TENANCY,
      repositoryName: repository,
      imageDigest: digest,
    }));
  const decide = async (image: string, annotations: Record<string, string> = {},
    signal: AbortSignal = never) =>
    (await decidePull({ image, podAnnotations: annotations },
      { policy, classifyHost: classifyRegistryHost, signatures, keys, signal, verdicts }))
      .decision;
  return { decide, sign, signatures, keys, verdicts };
}

describe("the verdict cache", () => {
  it("runs the check once and then answers from memory", async () => {
    const { cache: verdicts } = cache();
    const judge = counting();
    await verdicts.lookup(key(), judge, never);
    const again = await verdicts.lookup(key(), judge, never);
    expect(again.reason).toBe("signed");
    expect(judge.runs).toBe(1);
  });

  it.each([
    ["host", { host: "iad.ocir.io" }],
    ["namespace", { namespace: "othertenancy" }],
    ["repository", { repository: "other" }],
    ["digest", { digest: B }],
    ["policy version", { policyVersion: "v2" }],
  ])("never answers for another %s", async (_part, other) => {
    const { cache: verdicts } = cache();
    const judge = counting();
    await verdicts.lookup(key(), judge, never);
    await verdicts.lookup(key(other), judge, never);
    expect(judge.runs).toBe(2);
  });

  it("keeps allow and deny verdicts for their own lifetimes", async () => {
    const { cache: verdicts, advance } = cache({ allowTtlMs: 60_000, denyTtlMs: 10_000 });
    const allow = counting("signed");
    const deny = counting("unsigned");
    await verdicts.lookup(key(), allow, never);
    await verdicts.lookup(key({ digest: B }), deny, never);

    advance(10_000);
    await verdicts.lookup(key(), allow, never);
    await verdicts.lookup(key({ digest: B }), deny, never);
    expect([allow.runs, deny.runs]).toEqual([1, 2]);

    advance(50_000);
    await verdicts.lookup(key(), allow, never);
    expect(allow.runs).toBe(2);
  });

  it("stays within its size, forgetting the least recently used verdict", async () => {
    const { cache: verdicts } = cache({ maxEntries: 3 });
    const judge = counting();
    for (const digest of ["d1", "d2", "d3"]) {
      await verdicts.lookup(key({ digest: digestOf(digest) }), judge, never);
    }
    await verdicts.lookup(key({ digest: digestOf("d1") }), judge, never);
    await verdicts.lookup(key({ digest: digestOf("d4") }), judge, never);
    expect(verdicts.size).toBe(3);

    const runs = judge.runs;
    await verdicts.lookup(key({ digest: digestOf("d1") }), judge, never);
    expect(judge.runs).toBe(runs);
    await verdicts.lookup(key({ digest: digestOf("d2") }), judge, never);
    expect(judge.runs).toBe(runs + 1);
  });

  it.each([
    "ocir-unreachable",
    "break-glass",
    "policy-disabled",
    "no-keys",
    "tag-reference",
  ] as const)(
    "never remembers a %s outcome",
    async (reason) => {
      const { cache: verdicts } = cache();
      const judge = counting(reason);
      await verdicts.lookup(key(), judge, never);
      await verdicts.lookup(key(), judge, never);
      expect(judge.runs).toBe(2);
      expect(verdicts.size).toBe(0);
    },
  );

  it("forgets everything on clear, including a lookup still in flight", async () => {
    const { cache: verdicts } = cache();
    let release: (made: Decision) => void = () => undefined;
    const slow = verdicts.lookup(key(), () => new Promise((resolve) => (release = resolve)), never);
    verdicts.clear();
    release(decision("signed", "judged", A));
    await slow;
    expect(verdicts.size).toBe(0);
  });

  it("shares one check among concurrent lookups of the same key, and counts them", async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const { cache: verdicts } = cache({ lookups: metrics.verdictCache });
    let release: (made: Decision) => void = () => undefined;
    let runs = 0;
    const judge = () => {
      runs += 1;
      return new Promise<Decision>((resolve) => (release = resolve));
    };
    const waiting = Array.from({ length: 20 }, () => verdicts.lookup(key(), judge, never));
    release(decision("signed", "judged", A));
    const answers = await Promise.all(waiting);
    await verdicts.lookup(key(), judge, never);

    expect(runs).toBe(1);
    expect(new Set(answers.map((a) => a.reason))).toEqual(new Set(["signed"]));
    const text = await metrics.registry.metrics();
    expect(text).toContain('pullgate_verdict_cache_lookups_total{result="miss"} 1');
    expect(text).toContain('pullgate_verdict_cache_lookups_total{result="shared"} 19');
    expect(text).toContain('pullgate_verdict_cache_lookups_total{result="hit"} 1');
  });

  it("lets one caller give up (fail closed) while the others get the shared answer", async () => {
    const { cache: verdicts } = cache();
    let release: (made: Decision) => void = () => undefined;
    const judge = () => new Promise<Decision>((resolve) => (release = resolve));
    const impatient = new AbortController();
    const first = verdicts.lookup(key(), judge, impatient.signal);
    const second = verdicts.lookup(key(), judge, never);
    impatient.abort();
    expect((await first).reason).toBe("ocir-unreachable");
    release(decision("signed", "judged", A));
    expect((await second).reason).toBe("signed");
  });

  it("stops the shared check when every caller has given up", async () => {
    const { cache: verdicts } = cache();
    let seen: AbortSignal | undefined;
    const judge = (signal: AbortSignal) => {
      seen = signal;
      return new Promise<Decision>(() => undefined);
    };
    const gone = new AbortController();
    const waiting = verdicts.lookup(key(), judge, gone.signal);
    gone.abort();
    await waiting;
    expect(seen?.aborted).toBe(true);
  });
});

describe("verdicts inside the decision table", () => {
  it("does not reuse a verdict when a tag now names other content", async () => {
    const node = decider();
    node.sign("app", A);
    const tagged = `phx.ocir.io/${NAMESPACE}/app:v1`;
    expect((await node.decide(`${tagged}@${A}`)).reason).toBe("signed");

    // v1 was moved to unsigned content B: a cache keyed by name and tag would say "signed".
    expect((await node.decide(`${tagged}@${B}`)).reason).toBe("unsigned");
    expect((await node.decide(tagged)).reason).toBe("tag-reference");
  });

  it("shares one verdict between spellings that name the same content", async () => {
    const node = decider();
    node.sign("app", A);
    const spellings = [
      ocirImage("app", A),
      `PHX.OCIR.IO/${NAMESPACE}/app@${A}`,
      `phx.ocir.io:443/${NAMESPACE}/app@${A}`,
      `phx.ocir.io/${NAMESPACE}/app:v9@${A}`,
    ];
    for (const image of spellings) expect((await node.decide(image)).reason, image).toBe("signed");
    expect(node.signatures.queries).toHaveLength(1);
  });

  it("makes one signature lookup for many concurrent pulls of one digest", async () => {
    const node = decider();
    node.sign("app", A);
    const made = await Promise.all(
      Array.from({ length: 25 }, () => node.decide(ocirImage("app", A))),
    );
    expect(made.every((m) => m.reason === "signed")).toBe(true);
    expect(node.signatures.queries).toHaveLength(1);
    expect(node.keys.lookups).toHaveLength(1);
  });

  it("leaves no verdict behind a break-glass pull", async () => {
    const node = decider();
    const image = ocirImage("app", B);
    expect((await node.decide(image, BREAK_GLASS)).reason).toBe("break-glass");
    expect(node.verdicts.size).toBe(0);
    expect(node.signatures.queries).toHaveLength(0);
    expect((await node.decide(image)).reason).toBe("unsigned");
  });

  it("does not remember that OCI could not be reached", async () => {
    const node = decider();
    node.sign("app", A);
    node.signatures.failure = new Error("connect ECONNREFUSED");
    expect((await node.decide(ocirImage("app", A))).reason).toBe("ocir-unreachable");
    node.signatures.failure = undefined;
    expect((await node.decide(ocirImage("app", A))).reason).toBe("signed");
  });

  it("shows each pod its own break-glass hint, not the first pod's", async () => {
    const node = decider();
    const image = ocirImage("app", B);
    const first = await node.decide(image, { "oracle.image-policy.k8s.io/break-glass": "yes" });
    const second = await node.decide(image);
    expect(first.detail).toContain('"yes"');
    expect(second.detail).not.toContain("break-glass");
    expect(node.signatures.queries).toHaveLength(1);
  });

  it("judges anew under a new policy", async () => {
    const signatures = new MemorySignatures();
    const keys = new MemoryKeys();
    keys.add(trustedKey);
    const { cache: verdicts } = cache();
    const run = (policy: Policy) =>
      decidePull({ image: ocirImage("app", A), podAnnotations: {} },
        { policy, classifyHost: classifyRegistryHost, signatures, keys, signal: never, verdicts });
    const trusting = makePolicy({ enabled: true, keys: [trustedKey.keyId], tenancy: TENANCY }, "a");
    const other = createVaultKey();
    const distrusting = makePolicy({ enabled: true, keys: [other.keyId], tenancy: TENANCY }, "b");
    signatures.add(signImage(trustedKey, {
      imageId: "ocid1.containerimage.oc1.phx.0.tenancy.aaaaaaaaimage",
      compartmentId: TENANCY,
      repositoryName: "app",
      imageDigest: A,
    }));

    expect((await run(trusting)).decision.reason).toBe("signed");
    expect((await run(distrusting)).decision.reason).toBe("untrusted-key");
  });
});

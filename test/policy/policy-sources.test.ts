import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import type { ClusterImagePolicy, ClusterPolicyReader } from "../../src/oci/cluster-policy";
import { OciCallError } from "../../src/oci/sdk-setup";
import { createMetrics } from "../../src/observability/metrics";
import { watchClusterPolicy } from "../../src/policy/cluster-source";
import { watchPolicyFile } from "../../src/policy/file-source";
import { PolicyStore } from "../../src/policy/policy-store";
import { captureLogs } from "../cri/fixtures/log-capture";

/**
 * Both live sources against a real PolicyStore: the file source on real files in a temp
 * dir, the cluster source with a scripted reader behind the interface the SDK reader has.
 */

const TENANCY = "ocid1.tenancy.oc1..aaaaaaaatenancyexample0000000000000000000000000000000000";
const OTHER = "ocid1.tenancy.oc1..aaaaaaaaothertenancy00000000000000000000000000000000000";
const key = (n: number) => `ocid1.key.oc1.phx.bbqehaq3aadfa.abyhqljt${String(n).padStart(52, "0")}`;

const dir = mkdtempSync(join(tmpdir(), "pullgate-sources-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function newStore(): PolicyStore {
  return new PolicyStore(captureLogs().logger, createMetrics({ defaultMetrics: false }));
}

function write(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

const policyText = (keys: string[]) =>
  `enabled: true\ntenancy: ${TENANCY}\nkeys: [${keys.join(", ")}]\n`;

/** A reader whose next answer the test sets; counts its reads. */
class ScriptedReader implements ClusterPolicyReader {
  reads = 0;
  answer: ClusterImagePolicy | Error = new Error("not scripted");

  async read(): Promise<ClusterImagePolicy> {
    this.reads += 1;
    if (this.answer instanceof Error) throw this.answer;
    return this.answer;
  }
}

const unreachable = () =>
  new OciCallError("oci-unreachable", { api: "containerengine", operation: "getCluster" },
    "no answer: connect ECONNREFUSED", {});

async function until(check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 10) {
    if (waited > 10_000) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("the policy file source", () => {
  it("starts without a policy when the file is missing, and loads it when it appears", async () => {
    const path = join(dir, "late.yaml");
    const store = newStore();
    const watch = watchPolicyFile(path, store, 20);
    await watch.firstRead;
    expect(store.current()).toBeUndefined();

    write(path, policyText([key(1)]));
    await until(() => store.current() !== undefined);
    expect(store.current()?.keys).toEqual([key(1)]);
    watch.stop();
  });

  it("follows edits and keeps the last good policy when an edit is invalid", async () => {
    const path = join(dir, "edited.yaml");
    write(path, policyText([key(1)]));
    const store = newStore();
    const watch = watchPolicyFile(path, store, 20);
    await watch.firstRead;

    write(path, policyText([key(2)]));
    await until(() => store.current()?.keys[0] === key(2));
    write(path, policyText([1, 2, 3, 4, 5, 6].map(key)));
    await watch.refresh();
    await watch.refresh();
    expect(store.current()?.keys).toEqual([key(2)]);

    // Going back to the very text in force before the broken edit loads it again.
    write(path, policyText([key(2)]));
    await watch.refresh();
    write(path, policyText([key(3)]));
    await until(() => store.current()?.keys[0] === key(3));
    watch.stop();
  });

  it("keeps the policy when the file disappears", async () => {
    const path = join(dir, "removed.yaml");
    write(path, policyText([key(1)]));
    const store = newStore();
    const watch = watchPolicyFile(path, store, 1_000_000);
    await watch.firstRead;
    rmSync(path);
    await watch.refresh();
    expect(store.current()?.keys).toEqual([key(1)]);
    watch.stop();
  });
});

describe("the cluster policy source", () => {
  const options = {
    clusterId: "ocid1.cluster.oc1.phx.aaaaaaaaclusterexample",
    tenancy: TENANCY,
    namespaceTenancies: { otherns: OTHER },
    refreshMs: 20,
    timeoutMs: 1000,
  };

  it("retries until a first policy loads, then keeps refreshing", async () => {
    const reader = new ScriptedReader();
    reader.answer = unreachable();
    const store = newStore();
    const watch = watchClusterPolicy(reader, store, options);
    await watch.firstRead;
    expect(store.current()).toBeUndefined();

    reader.answer = { enabled: true, keys: [key(1)] };
    await until(() => store.current() !== undefined);
    expect(store.current()).toMatchObject({
      enabled: true,
      keys: [key(1)],
      tenancy: TENANCY,
      namespaceTenancies: { otherns: OTHER },
      source: `cluster ${options.clusterId}`,
    });
    const reads = reader.reads;
    await until(() => reader.reads >= reads + 3);
    watch.stop();
  });

  it("keeps the last good policy through outages and invalid answers", async () => {
    const reader = new ScriptedReader();
    reader.answer = { enabled: true, keys: [key(1)] };
    const store = newStore();
    const watch = watchClusterPolicy(reader, store, { ...options, refreshMs: 1_000_000 });
    await watch.firstRead;
    const good = store.current();

    for (const answer of [
      unreachable(),
      { enabled: true, keys: [1, 2, 3, 4, 5, 6].map(key) },
      { enabled: true, keys: ["ocid1.key.oc1.phx.short"] },
      { enabled: true, keys: [""] },
    ]) {
      reader.answer = answer;
      await watch.refresh();
      expect(store.current()).toBe(good);
    }
    reader.answer = { enabled: false, keys: [] };
    await watch.refresh();
    expect(store.current()).toMatchObject({ enabled: false, keys: [] });
    watch.stop();
  });

  it("reads no more once stopped", async () => {
    const reader = new ScriptedReader();
    reader.answer = { enabled: true, keys: [] };
    const watch = watchClusterPolicy(reader, newStore(), options);
    await watch.firstRead;
    watch.stop();
    const reads = reader.reads;
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(reader.reads).toBe(reads);
  });
});

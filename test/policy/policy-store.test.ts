import { describe, expect, it } from "vitest";

import { createMetrics } from "../../src/observability/metrics";
import { makePolicy, type Policy, PolicyError } from "../../src/policy/policy";
import { PolicyStore } from "../../src/policy/policy-store";
import { captureLogs } from "../cri/fixtures/log-capture";

const TENANCY = "ocid1.tenancy.oc1..aaaaaaaatenancyexample0000000000000000000000000000000000";
const key = (n: number) => `ocid1.key.oc1.phx.bbqehaq3aadfa.abyhqljt${String(n).padStart(52, "0")}`;
const policyWith = (keys: string[], source = "policy.yaml"): Policy =>
  makePolicy({ enabled: true, tenancy: TENANCY, keys }, source);

function storeAt(clock: { now: number }) {
  const logs = captureLogs();
  const metrics = createMetrics({ defaultMetrics: false });
  const store = new PolicyStore(logs.logger, metrics, () => clock.now);
  const value = async (name: string) => {
    const found = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
    return found?.values[0]?.value;
  };
  return { store, logs, metrics, value };
}

describe("the policy store", () => {
  it("warns when an enabled policy names no keys, since it lets every OCIR image in", () => {
    const { store, logs } = storeAt({ now: 0 });
    store.confirm(policyWith([key(1)]));
    store.confirm(policyWith([]));
    const changes = logs.records.filter((line) => line.event === "policy-changed");
    expect(changes.map((line) => line.level)).toEqual([30, 40]);
    expect(String(changes[1]?.msg)).toContain("every OCIR image is allowed");
  });

  it("holds no policy and reports none loaded until a first one is confirmed", async () => {
    const { store, value } = storeAt({ now: 0 });
    expect(store.current()).toBeUndefined();
    expect(store.ageSeconds()).toBeUndefined();
    expect(await value("pullgate_policy_loaded")).toBe(0);
  });

  it("keeps the last good policy through failures, counting each", async () => {
    const clock = { now: 1000 };
    const { store, value } = storeAt(clock);
    const good = policyWith([key(1)]);
    store.confirm(good);

    clock.now = 61_000;
    store.fail("cluster x", new Error("connection refused"));
    store.fail("cluster x", new Error("connection refused"));

    expect(store.current()).toBe(good);
    expect(await value("pullgate_policy_refresh_failures_total")).toBe(2);
    expect(await value("pullgate_policy_age_seconds")).toBe(60);
    expect(await value("pullgate_policy_loaded")).toBe(1);
    expect(await value("pullgate_policy_keys")).toBe(1);
  });

  it("logs one error per distinct problem and one line when the source recovers", () => {
    const { store, logs } = storeAt({ now: 0 });
    store.confirm(policyWith([key(1)]));
    store.fail("s", new Error("HTTP 500"));
    store.fail("s", new Error("HTTP 500"));
    store.fail("s", new Error("HTTP 503"));
    store.confirm(policyWith([key(1)]));

    const failures = logs.records.filter((line) => line.event === "policy-refresh-failed");
    expect(failures.map((line) => line.level)).toEqual([50, 20, 50]);
    expect(logs.records.filter((line) => line.event === "policy-source-recovered")).toHaveLength(1);
  });

  it("names every problem of a rejected policy in its error line", () => {
    const { store, logs } = storeAt({ now: 0 });
    store.confirm(policyWith([key(1)]));
    store.fail("s", new PolicyError("s", ["names 6 keys; at most 5 are allowed"]));

    const line = logs.records.find((record) => record.event === "policy-refresh-failed");
    expect(line).toMatchObject({ level: 50, problems: ["names 6 keys; at most 5 are allowed"] });
    expect(String(line?.msg)).toContain("invalid image verification policy rejected");
  });

  it("says OCIR pulls are denied while no policy has loaded", () => {
    const { store, logs } = storeAt({ now: 0 });
    store.fail("policy.yaml", new Error("cannot read the policy file"));
    expect(String(logs.records[0]?.msg)).toContain("OCIR pulls are denied until one loads");
  });

  it("tells listeners about a change of content only", () => {
    const { store } = storeAt({ now: 0 });
    const seen: string[] = [];
    store.onChange((policy) => seen.push(policy.version));
    const first = policyWith([key(1)]);
    store.confirm(first);
    store.confirm(policyWith([key(1)], "another name for the same"));
    const second = policyWith([key(2)]);
    store.confirm(second);
    expect(seen).toEqual([first.version, second.version]);
  });

  it("restarts the age at each confirmation, changed or not", () => {
    const clock = { now: 0 };
    const { store } = storeAt(clock);
    store.confirm(policyWith([key(1)]));
    clock.now = 30_000;
    expect(store.ageSeconds()).toBe(30);
    store.confirm(policyWith([key(1)]));
    expect(store.ageSeconds()).toBe(0);
  });
});

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { REASONS, verdictFor } from "../decision/decision";

/**
 * pullgate's Prometheus metrics. Labels are bounded sets (reason, verdict, method, code,
 * api, outcome): never an image, pod or namespace name.
 */
export interface Metrics {
  registry: Registry;
  decisions: Counter<"reason" | "verdict" | "mode">;
  decisionSeconds: Histogram<"verdict">;
  ociRequests: Counter<"api" | "outcome">;
  upstreamRequests: Counter<"method" | "code">;
  upstreamSeconds: Histogram<"method">;
  policyLoaded: Gauge;
  policyAgeSeconds: Gauge;
  policyRefreshFailures: Counter;
  policyKeys: Gauge;
  verdictCache: Counter<"result">;
  /** Read when metrics are collected: seconds since the policy was last confirmed. */
  policyAge: () => number | undefined;
}

/** Creates the metrics in their own registry, so tests and embedders do not share state. */
export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry, prefix: "pullgate_" });
  }
  const registers = [registry];

  const decisions = new Counter({
    name: "pullgate_decisions_total",
    help: "PullImage decisions by reason code, verdict and enforcement mode.",
    labelNames: ["reason", "verdict", "mode"] as const,
    registers,
  });
  // Publish zeroes for every reason so a rate() over a fresh node is defined.
  for (const reason of REASONS) {
    decisions.inc({ reason, verdict: verdictFor(reason), mode: "enforce" }, 0);
  }

  const metrics: Metrics = {
    registry,
    policyAge: () => undefined,
    decisions,
    decisionSeconds: new Histogram({
      name: "pullgate_decision_duration_seconds",
      help: "Time to decide one PullImage, before the pull itself.",
      labelNames: ["verdict"] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20],
      registers,
    }),
    ociRequests: new Counter({
      name: "pullgate_oci_requests_total",
      help: "Attempts to call OCI APIs by API and outcome (ok, or the failure code).",
      labelNames: ["api", "outcome"] as const,
      registers,
    }),
    upstreamRequests: new Counter({
      name: "pullgate_upstream_requests_total",
      help: "Calls forwarded to the container runtime by CRI method and gRPC status code.",
      labelNames: ["method", "code"] as const,
      registers,
    }),
    upstreamSeconds: new Histogram({
      name: "pullgate_upstream_request_duration_seconds",
      help: "Duration of calls forwarded to the container runtime, by CRI method.",
      labelNames: ["method"] as const,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 30, 60, 120],
      registers,
    }),
    policyLoaded: new Gauge({
      name: "pullgate_policy_loaded",
      help: "1 when an image verification policy is in force, 0 before the first one loads.",
      registers,
    }),
    policyAgeSeconds: new Gauge({
      name: "pullgate_policy_age_seconds",
      help: "Seconds since the policy in force was last confirmed by its source.",
      registers,
      collect() {
        const age = metrics.policyAge();
        if (age !== undefined) this.set(age);
      },
    }),
    policyRefreshFailures: new Counter({
      name: "pullgate_policy_refresh_failures_total",
      help: "Policy loads or refreshes that failed; the last good policy stays in force.",
      registers,
    }),
    policyKeys: new Gauge({
      name: "pullgate_policy_keys",
      help: "Number of Vault keys the policy in force trusts.",
      registers,
    }),
    verdictCache: new Counter({
      name: "pullgate_verdict_cache_lookups_total",
      help: "Verdict cache lookups by result (hit, miss, shared).",
      labelNames: ["result"] as const,
      registers,
    }),
  };
  return metrics;
}

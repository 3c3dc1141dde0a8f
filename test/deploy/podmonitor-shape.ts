const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

const endpointFields = new Set(["port", "path", "interval", "scheme", "relabelings"]);

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`PodMonitor: ${what}`);
}

/**
 * The PodMonitor is a Prometheus Operator CRD, outside the Kubernetes API schemas: this
 * checks the fields pullgate's manifest uses, as the CRD (monitoring.coreos.com/v1) has them.
 */
export function validatePodMonitor(object: Record<string, unknown>): void {
  check(object.apiVersion === "monitoring.coreos.com/v1", "apiVersion: monitoring.coreos.com/v1");
  const { metadata, spec } = object;
  check(isRecord(metadata) && typeof metadata.name === "string", "metadata.name is required");
  if (!isRecord(spec)) throw new Error("PodMonitor: spec is required");
  const selector = spec.selector;
  check(isRecord(selector) && isRecord(selector.matchLabels), "spec.selector.matchLabels");
  const endpoints = spec.podMetricsEndpoints;
  if (!Array.isArray(endpoints) || endpoints.length === 0) {
    throw new Error("PodMonitor: spec.podMetricsEndpoints is required");
  }

  for (const endpoint of endpoints as unknown[]) {
    if (!isRecord(endpoint)) throw new Error("PodMonitor: an endpoint must be an object");
    for (const field of Object.keys(endpoint)) {
      check(endpointFields.has(field), `unexpected endpoint field ${field}`);
    }
    check(typeof endpoint.port === "string", "endpoint.port must name a container port");
    check(["undefined", "string"].includes(typeof endpoint.path), "endpoint.path: a string");
    const interval = endpoint.interval;
    check(
      interval === undefined || /^(\d+(ms|s|m|h))+$/.test(String(interval)),
      `endpoint.interval ${String(interval)} is not a duration`,
    );
  }
}

/**
 * Failures a test can ask the fake OCI to produce: an error status, a slow answer, or no
 * answer at all, for the next N requests to one route (or to any route).
 */

/** The operations the fake serves, named after the SDK methods that call them. */
export const FAKE_ROUTES = [
  "listContainerImageSignatures",
  "getContainerImageSignature",
  "getKeyVersion",
  "getVault",
  "getCluster",
] as const;

/** One of the routes above. */
export type FakeRoute = (typeof FAKE_ROUTES)[number];

/** What goes wrong. */
export type FaultKind =
  | { kind: "status"; status: number; code?: string; message?: string }
  | { kind: "delay"; ms: number }
  | { kind: "hang" };

/** A fault and where and how often it applies. */
export type Fault = FaultKind & {
  /** Only requests to this route; every route when absent. */
  route?: FakeRoute;
  /** How many matching requests it affects; 1 when absent, `Infinity` for all. */
  times?: number;
};

interface ArmedFault {
  fault: FaultKind;
  route?: FakeRoute;
  remaining: number;
}

/** Faults waiting to fire, first armed first served. */
export class FaultQueue {
  private armed: ArmedFault[] = [];

  /** Arms a fault. */
  add(fault: Fault): void {
    const { route, times = 1, ...kind } = fault;
    if (!(times > 0)) throw new Error("fake OCI: a fault must apply at least once");
    const entry: ArmedFault = { fault: kind, remaining: times };
    if (route !== undefined) entry.route = route;
    this.armed.push(entry);
  }

  /** Disarms everything. */
  clear(): void {
    this.armed = [];
  }

  /** The fault the next request to `route` meets, if any, used up by this call. */
  take(route: FakeRoute | undefined): FaultKind | undefined {
    const entry = this.armed.find((a) => a.route === undefined || a.route === route);
    if (!entry) return undefined;
    entry.remaining -= 1;
    if (entry.remaining <= 0) this.armed = this.armed.filter((a) => a !== entry);
    return entry.fault;
  }
}

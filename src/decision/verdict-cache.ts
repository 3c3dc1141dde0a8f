import type { Counter } from "prom-client";
import { type Decision, decision, type Reason } from "./decision";

/**
 * Remembers signature verdicts so that a node asks OCI once per image, not once per pod.
 *
 * A verdict is keyed by what the signature check actually judged: the registry host, the
 * tenancy namespace, the repository, the digest and the version of the policy in force.
 * Never by a tag: a tag can be moved to other content after the verdict was made, a digest
 * cannot. Only the signature rows of the decision table are remembered; a failure to get an
 * answer is not a verdict, and a break-glass pass is about one pod, never about the image.
 */

/** What a signature verdict is about. */
export interface VerdictKey {
  /** Registry host, lower-cased, without port: the port does not change what is judged. */
  host: string;
  namespace: string;
  repository: string;
  /** `sha256:<hex>` (or another algorithm the reference grammar allows). */
  digest: string;
  /** The version of the policy the verdict was made under. */
  policyVersion: string;
}

/** Runs the signature check for one key; the signal ends with the shared lookup's deadline. */
export type VerdictJudge = (signal: AbortSignal) => Promise<Decision>;

/** Where a decision looks up signature verdicts before asking OCI. */
export interface VerdictLookup {
  /**
   * The remembered verdict for `key`, or the outcome of `judge`, run once for every caller
   * that asks for the same key while it runs. `signal` is this caller's own: when it aborts,
   * this caller stops waiting (fail closed), and the others keep waiting.
   */
  lookup(key: VerdictKey, judge: VerdictJudge, signal: AbortSignal): Promise<Decision>;
}

/** The reasons whose verdicts may be remembered: the signature rows of the table. */
export const CACHEABLE_REASONS: ReadonlySet<Reason> = new Set<Reason>([
  "signed",
  "untrusted-key",
  "bad-signature",
  "unsigned",
]);

/** Settings of a verdict cache. */
export interface VerdictCacheOptions {
  allowTtlMs: number;
  denyTtlMs: number;
  maxEntries: number;
  /** Deadline of one shared lookup, independent of any one caller's. */
  lookupTimeoutMs: number;
  /** Counts lookups by result: hit, miss (this caller ran the check), shared (joined one). */
  lookups?: Counter<"result">;
  /** Clock for lifetimes (tests). */
  now?: () => number;
}

interface Entry {
  verdict: Decision;
  expiresAt: number;
}

interface Flight {
  promise: Promise<Decision>;
  controller: AbortController;
  waiting: number;
}

/** A bounded, expiring, single-flight cache of signature verdicts. */
export class VerdictCache implements VerdictLookup {
  private readonly entries = new Map<string, Entry>();
  private readonly flights = new Map<string, Flight>();
  private readonly now: () => number;
  // Bumped by clear(): a lookup that started before it must not store its answer after it.
  private generation = 0;

  constructor(private readonly options: VerdictCacheOptions) {
    if (!(options.maxEntries >= 1)) {
      throw new RangeError("a verdict cache holds at least one entry");
    }
    this.now = options.now ?? Date.now;
  }

  /** How many verdicts are remembered (expired ones included until they are next looked at). */
  get size(): number {
    return this.entries.size;
  }

  /** Forgets every verdict, and lets lookups in flight finish without storing theirs. */
  clear(): void {
    this.generation += 1;
    this.entries.clear();
    this.flights.clear();
  }

  async lookup(key: VerdictKey, judge: VerdictJudge, signal: AbortSignal): Promise<Decision> {
    const text = keyText(key);
    const remembered = this.remembered(text);
    if (remembered !== undefined) {
      this.options.lookups?.inc({ result: "hit" });
      return remembered;
    }

    let flight = this.flights.get(text);
    this.options.lookups?.inc({ result: flight === undefined ? "miss" : "shared" });
    if (flight === undefined) {
      flight = this.start(text, judge);
    }
    return this.wait(text, flight, signal, key.digest);
  }

  private remembered(text: string): Decision | undefined {
    const entry = this.entries.get(text);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.now()) {
      this.entries.delete(text);
      return undefined;
    }
    // Re-inserting moves the entry to the young end of the Map's order (LRU).
    this.entries.delete(text);
    this.entries.set(text, entry);
    return entry.verdict;
  }

  private start(text: string, judge: VerdictJudge): Flight {
    const controller = new AbortController();
    const timeout = AbortSignal.timeout(this.options.lookupTimeoutMs);
    const signal = AbortSignal.any([controller.signal, timeout]);
    const generation = this.generation;
    const promise = judge(signal)
      .then((verdict) => {
        if (generation === this.generation) this.store(text, verdict);
        return verdict;
      })
      .finally(() => this.land(text, flight));
    const flight: Flight = { controller, waiting: 0, promise };
    this.flights.set(text, flight);
    return flight;
  }

  /** A finished or abandoned lookup is no longer joined by new callers. */
  private land(text: string, flight: Flight): void {
    if (this.flights.get(text) === flight) this.flights.delete(text);
  }

  private store(text: string, verdict: Decision): void {
    if (!CACHEABLE_REASONS.has(verdict.reason)) return;
    const ttl = verdict.verdict === "allow" ? this.options.allowTtlMs : this.options.denyTtlMs;
    if (ttl <= 0) return;
    this.entries.delete(text);
    this.entries.set(text, { verdict, expiresAt: this.now() + ttl });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }

  /** Waits for a shared lookup, or for this caller's signal, whichever comes first. */
  private async wait(
    text: string,
    flight: Flight,
    signal: AbortSignal,
    digest: string,
  ): Promise<Decision> {
    flight.waiting += 1;
    let onAbort: (() => void) | undefined;
    const abandoned = new Promise<Decision>((resolve) => {
      onAbort = () => resolve(abandonedVerdict(digest));
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return await Promise.race([flight.promise, abandoned]);
    } finally {
      if (onAbort !== undefined) signal.removeEventListener("abort", onAbort);
      flight.waiting -= 1;
      // Nobody is left to hear the answer: stop asking OCI for it.
      if (flight.waiting === 0 && signal.aborted) {
        this.land(text, flight);
        flight.controller.abort();
      }
    }
  }
}

/** The text a key is stored under; newlines cannot occur in any of its parts. */
function keyText(key: VerdictKey): string {
  return [key.host, key.namespace, key.repository, key.digest, key.policyVersion].join("\n");
}

function abandonedVerdict(digest: string): Decision {
  return decision("ocir-unreachable", "no signature verdict within the decision deadline", digest);
}

import type { AuthenticationDetailsProvider } from "oci-common";
import { KmsManagementClient } from "oci-keymanagement";

import { DEFAULT_KEY_CACHE_TTL_MS } from "../config/defaults";
import type { KeySource, KeyVersionInfo } from "../signatures/sources";
import {
  callOci,
  clientConfiguration,
  clientParams,
  deadlineError,
  OciCallError,
  type OciCall,
  type RetryBudget,
} from "./sdk-setup";

/**
 * Public keys of Vault key versions (KMS management `GetKeyVersion`), cached. KMS management
 * reads are throttled at around ten per second per tenancy, and a key version's public key
 * never changes, so a node asks once per version per cache lifetime; concurrent lookups of one
 * version share a single request. The lifetime bounds how long a key version that was
 * disabled since is still reported with its old state.
 */

/** How the source reaches Vault and how long it remembers. */
export interface VaultKeySourceOptions {
  auth: AuthenticationDetailsProvider;
  /** The management endpoint of the vault holding a key, from the key's OCID. */
  managementEndpoint: (keyId: string) => string;
  /**
   * How long an answer is reused. Default 5 minutes. This also bounds how long a key
   * version disabled in Vault keeps counting on a node.
   */
  cacheTtlMs?: number;
  /** How long a "not found" answer is reused. Default 1 minute. */
  missingTtlMs?: number;
  /** How many key versions are remembered; the oldest goes first. Default 100. */
  maxEntries?: number;
  /** Clock for cache lifetimes (tests). */
  now?: () => number;
  /** Retry budget per request (tests only). */
  retryBudget?: RetryBudget;
}

const GET: OciCall = { api: "vault", operation: "getKeyVersion" };

interface CacheEntry {
  info: KeyVersionInfo;
  expiresAt: number;
}

/** A key version Vault said it does not have (or will not show), remembered briefly. */
interface MissingEntry {
  error: OciCallError;
  expiresAt: number;
}

/** A lookup in flight, shared by everyone who asked while it ran. */
interface Flight {
  promise: Promise<KeyVersionInfo>;
  controller: AbortController;
  waiting: number;
}

/** A KeySource on the SDK's KmsManagementClient, one client per management endpoint. */
export class VaultKeySource implements KeySource {
  private readonly clients = new Map<string, KmsManagementClient>();
  private readonly cache = new Map<string, CacheEntry>();
  private readonly missing = new Map<string, MissingEntry>();
  private readonly flights = new Map<string, Flight>();
  private readonly ttlMs: number;
  private readonly missingTtlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly options: VaultKeySourceOptions) {
    this.ttlMs = options.cacheTtlMs ?? DEFAULT_KEY_CACHE_TTL_MS;
    this.missingTtlMs = options.missingTtlMs ?? 60 * 1000;
    this.maxEntries = options.maxEntries ?? 100;
    this.now = options.now ?? Date.now;
  }

  /** The key version's answer if this source holds a fresh one; never asks Vault. */
  cached(keyId: string, keyVersionId: string): KeyVersionInfo | undefined {
    const cached = this.cache.get(`${keyId} ${keyVersionId}`);
    return cached && cached.expiresAt > this.now() ? cached.info : undefined;
  }

  /** The key version's public key and state, from the cache or from Vault. */
  async getKeyVersion(
    keyId: string,
    keyVersionId: string,
    signal: AbortSignal,
  ): Promise<KeyVersionInfo> {
    const fresh = this.cached(keyId, keyVersionId);
    if (fresh !== undefined) return fresh;
    const cacheKey = `${keyId} ${keyVersionId}`;
    // Whatever is still stored under the key has expired.
    this.cache.delete(cacheKey);
    // Signature records can name key versions that do not exist; asking Vault again for
    // each one on every retry of every pull would spend the tenancy's Vault quota.
    const gone = this.missing.get(cacheKey);
    if (gone && gone.expiresAt > this.now()) throw gone.error;
    if (gone) this.missing.delete(cacheKey);

    const running = this.flights.get(cacheKey);
    // A flight its last waiter abandoned is finishing with an abort; do not join it.
    const flight =
      running && !running.controller.signal.aborted
        ? running
        : this.startFlight(cacheKey, keyId, keyVersionId);
    return this.join(flight, signal);
  }

  private startFlight(cacheKey: string, keyId: string, keyVersionId: string): Flight {
    const controller = new AbortController();
    const promise = this.fetch(keyId, keyVersionId, controller.signal)
      .then(
        (info) => {
          this.remember(cacheKey, info);
          return info;
        },
        (error: unknown) => {
          if (error instanceof OciCallError && error.code === "oci-not-found") {
            this.rememberMissing(cacheKey, error);
          }
          throw error;
        },
      )
      .finally(() => {
        if (this.flights.get(cacheKey) === flight) this.flights.delete(cacheKey);
      });
    // Every waiter may leave before it settles; the rejection is theirs to see, not Node's.
    promise.catch(() => undefined);
    const flight: Flight = { promise, controller, waiting: 0 };
    this.flights.set(cacheKey, flight);
    return flight;
  }

  /**
   * Waits for a shared lookup under this caller's own signal. The request itself is cancelled
   * only when the last caller waiting on it gives up, so one impatient caller cannot fail the
   * others.
   */
  private join(flight: Flight, signal: AbortSignal): Promise<KeyVersionInfo> {
    if (signal.aborted) return Promise.reject(deadlineError(GET, signal));
    flight.waiting += 1;
    return new Promise<KeyVersionInfo>((resolve, reject) => {
      const onAbort = (): void => {
        flight.waiting -= 1;
        if (flight.waiting === 0) flight.controller.abort(signal.reason);
        reject(deadlineError(GET, signal));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      flight.promise
        .then(resolve, reject)
        .finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  private async fetch(
    keyId: string,
    keyVersionId: string,
    signal: AbortSignal,
  ): Promise<KeyVersionInfo> {
    const client = this.clientFor(this.options.managementEndpoint(keyId));
    const response = await callOci(
      GET,
      signal,
      () => client.getKeyVersion({ keyId, keyVersionId }),
      this.options.retryBudget,
    );
    const version = response.keyVersion;
    if (version.keyId !== keyId || version.id !== keyVersionId) {
      throw new OciCallError("oci-bad-response", GET, "Vault answered for another key", {});
    }
    if (typeof version.publicKey !== "string" || version.publicKey === "") {
      throw new OciCallError(
        "oci-bad-response",
        GET,
        `key version ${keyVersionId} has no public key (not an asymmetric key)`,
        {},
      );
    }
    return {
      keyId,
      keyVersionId,
      publicKeyPem: version.publicKey,
      lifecycleState: String(version.lifecycleState ?? "UNKNOWN"),
    };
  }

  private remember(cacheKey: string, info: KeyVersionInfo): void {
    this.cache.delete(cacheKey);
    this.cache.set(cacheKey, { info, expiresAt: this.now() + this.ttlMs });
    trimOldest(this.cache, this.maxEntries);
  }

  private rememberMissing(cacheKey: string, error: OciCallError): void {
    this.missing.delete(cacheKey);
    this.missing.set(cacheKey, { error, expiresAt: this.now() + this.missingTtlMs });
    trimOldest(this.missing, this.maxEntries);
  }

  private clientFor(endpoint: string): KmsManagementClient {
    const known = this.clients.get(endpoint);
    if (known) return known;
    const client = new KmsManagementClient(clientParams(this.options.auth), clientConfiguration());
    client.endpoint = endpoint;
    this.clients.set(endpoint, client);
    return client;
  }
}

/** Drops the oldest entries (Maps iterate in insertion order) until `map` holds `max`. */
function trimOldest(map: Map<string, unknown>, max: number): void {
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done === true) break;
    map.delete(oldest.value);
  }
}

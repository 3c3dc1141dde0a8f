import { AsyncLocalStorage } from "node:async_hooks";

import * as common from "oci-common";

import { OciRequestSigner } from "./request-signer";

/**
 * How pullgate uses the OCI SDK. A kubelet waits on each pull, so pullgate, not the SDK,
 * decides how long an OCI call may take and whether it is tried again:
 *
 * - The SDK's own retries are off. Its default is 8 attempts with backoff up to 30 s, far past
 *   any decision deadline. `callOci` instead retries once, after about 0.1-0.2 s, and only
 *   when the failure looks transient (a 5xx or a connection failure) and the deadline still
 *   allows it: one blip then costs a fraction of a second instead of a denied pull and the
 *   kubelet's back-off. A 429 is not retried: the throttle is per tenancy, an immediate retry
 *   only deepens it, and the kubelet's own back-off is the right wait.
 * - The SDK's circuit breaker is off. It would turn one dependency's trouble into refusals of
 *   calls to other regions and vaults, for its own reset period, whatever the deadline.
 * - Every request carries the caller's AbortSignal. The SDK takes no signal, so pullgate
 *   gives each client its own HTTP client, which signs the request as the SDK would and hands
 *   the signal of the call in progress (carried in an AsyncLocalStorage) to `fetch`: an
 *   aborted call closes its connection instead of leaving it to finish unobserved. The
 *   caller is also released the moment the signal aborts, whatever the SDK is doing.
 */

/** The OCI services pullgate calls. */
export type OciApi = "artifacts" | "vault" | "containerengine";

/** Stable codes for the ways an OCI call can fail to give an answer. */
export const OCI_CALL_ERROR_CODES = [
  /** The caller's deadline passed or it cancelled. */
  "oci-deadline",
  /** No HTTP answer: connection refused or reset, DNS, TLS, or request signing failed. */
  "oci-unreachable",
  /** 401: the request signature or the credentials were refused. */
  "oci-not-authenticated",
  /** 404 NotAuthorizedOrNotFound: missing, or the credentials may not read it. */
  "oci-not-found",
  /** 429: throttled. */
  "oci-throttled",
  /** 5xx. */
  "oci-service-error",
  /** Any other 4xx: the service refused the request as pullgate made it. */
  "oci-rejected",
  /** A 2xx whose body is not what the API promises. */
  "oci-bad-response",
  /** A listing longer than pullgate is willing to read for one decision. */
  "oci-too-many-results",
] as const;

/** One of the codes above. */
export type OciCallErrorCode = (typeof OCI_CALL_ERROR_CODES)[number];

/** Which call failed. */
export interface OciCall {
  api: OciApi;
  /** The SDK method, e.g. `listContainerImageSignatures`. */
  operation: string;
}

/** Details an OCI call error may carry. */
export interface OciCallErrorDetails {
  status?: number;
  serviceCode?: string;
  opcRequestId?: string;
  cause?: unknown;
}

/** An OCI call that produced no usable answer. Retry decisions read `code`, never text. */
export class OciCallError extends Error {
  override readonly name = "OciCallError";
  readonly code: OciCallErrorCode;
  readonly api: OciApi;
  readonly operation: string;
  readonly status: number | undefined;
  readonly serviceCode: string | undefined;
  readonly opcRequestId: string | undefined;

  constructor(code: OciCallErrorCode, call: OciCall, detail: string, more: OciCallErrorDetails) {
    super(`${call.api} ${call.operation}: ${detail}`, { cause: more.cause });
    this.code = code;
    this.api = call.api;
    this.operation = call.operation;
    this.status = more.status;
    this.serviceCode = more.serviceCode;
    this.opcRequestId = more.opcRequestId;
  }
}

const callSignal = new AsyncLocalStorage<AbortSignal>();

/** Client settings: no SDK retries, no circuit breaker. */
export function clientConfiguration(): common.ClientConfiguration {
  return {
    retryConfiguration: {
      terminationStrategy: new common.MaxAttemptsTerminationStrategy(1),
      delayStrategy: new common.FixedTimeDelayStrategy(0),
      retryCondition: () => false,
    },
    circuitBreaker: new common.CircuitBreaker({ disableClientCircuitBreaker: true }),
  };
}

/** The SDK's HttpClient seam, with the current call's AbortSignal passed to `fetch`. */
class AbortableHttpClient implements common.HttpClient {
  private readonly signer: OciRequestSigner;

  constructor(auth: common.AuthenticationDetailsProvider) {
    this.signer = new OciRequestSigner(auth);
  }

  /** Signs and sends one request; only inside `callOci`, which supplies the signal. */
  async send(req: common.HttpRequest, forceExcludeBody = false): Promise<Response> {
    const signal = callSignal.getStore();
    if (signal === undefined) throw new Error("OCI SDK call made outside callOci()");
    signal.throwIfAborted();
    const body: unknown = req.body;
    if (body !== undefined && typeof body !== "string") {
      throw new Error("pullgate sends OCI request bodies only as strings");
    }
    // An excluded body is still sent; it is only left out of the signature.
    const signed = await this.signer.sign(
      { method: req.method, uri: req.uri, headers: req.headers, body },
      { excludeBody: forceExcludeBody },
    );
    if (!signed.ok) {
      // The SDK keeps only `code` and `message` of what we throw.
      throw Object.assign(new Error(`request signing failed: ${signed.error}`), {
        code: "signing-failed",
      });
    }
    try {
      return await fetch(req.uri, { method: req.method, headers: req.headers, body, signal });
    } catch (error) {
      // The SDK keeps only `code` and `message` of what we throw; put the socket's code there.
      const cause = (error as { cause?: { code?: unknown } }).cause;
      const code = typeof cause?.code === "string" ? cause.code : undefined;
      throw Object.assign(new Error(`${(error as Error).message}${code ? ` (${code})` : ""}`), {
        code,
        cause: error,
      });
    }
  }
}

/**
 * The `params` every pullgate SDK client is constructed with: only the HTTP client, which
 * signs. Without the provider the client takes no region from it either; pullgate always sets
 * `client.endpoint` itself.
 */
export function clientParams(auth: common.AuthenticationDetailsProvider): {
  httpClient: common.HttpClient;
} {
  return { httpClient: new AbortableHttpClient(auth) };
}

/** Retry settings of `callOci`; tests set `retries: 0` to see a single failure. */
export interface RetryBudget {
  /** Extra attempts after a transient failure. Default 1. */
  retries: number;
  /** Pause before a retry, plus up to the same again at random. Default 100 ms. */
  pauseMs: number;
}

const DEFAULT_BUDGET: RetryBudget = { retries: 1, pauseMs: 100 };

/** What became of one attempt of an OCI call: `ok`, or the code it failed with. */
export interface OciAttempt {
  api: OciApi;
  operation: string;
  outcome: "ok" | OciCallErrorCode;
}

/** Told about every attempt `callOci` makes, retries included. */
export type OciCallObserver = (attempt: OciAttempt) => void;

const observers = new Set<OciCallObserver>();

/**
 * Adds an observer of every OCI call attempt in this process (the metrics of `serve`);
 * returns the function that removes it again. The SDK clients are made in many places, so
 * one process-wide hook sees them all without threading metrics through each.
 */
export function observeOciCalls(observer: OciCallObserver): () => void {
  observers.add(observer);
  return () => {
    observers.delete(observer);
  };
}

function report(call: OciCall, outcome: OciAttempt["outcome"]): void {
  for (const observer of observers) {
    try {
      observer({ api: call.api, operation: call.operation, outcome });
    } catch {
      // An observer's fault must not turn into a failed OCI call, and so into a denial.
    }
  }
}

/**
 * Runs one SDK call under the caller's signal with pullgate's retry budget, and turns every
 * failure into an `OciCallError`. Resolves or rejects no later than the signal aborts.
 */
export async function callOci<T>(
  call: OciCall,
  signal: AbortSignal,
  run: () => Promise<T>,
  budget: RetryBudget = DEFAULT_BUDGET,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const answer = await attemptOnce(call, signal, run);
      report(call, "ok");
      return answer;
    } catch (error) {
      const failure = classify(call, error, signal);
      report(call, failure.code);
      const transient = failure.code === "oci-service-error" || failure.code === "oci-unreachable";
      if (!transient || attempt >= budget.retries) throw failure;
      await pause(budget.pauseMs * (1 + Math.random()), signal, call);
    }
  }
}

/** The error of a call given up because its caller's signal aborted. */
export function deadlineError(call: OciCall, signal: AbortSignal): OciCallError {
  return new OciCallError("oci-deadline", call, "gave up: the decision deadline passed", {
    cause: signal.reason,
  });
}

function attemptOnce<T>(call: OciCall, signal: AbortSignal, run: () => Promise<T>): Promise<T> {
  if (signal.aborted) return Promise.reject(deadlineError(call, signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(deadlineError(call, signal));
    signal.addEventListener("abort", onAbort, { once: true });
    callSignal
      .run(signal, run)
      .then(resolve, reject)
      .finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function pause(ms: number, signal: AbortSignal, call: OciCall): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(deadlineError(call, signal));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(deadlineError(call, signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function codeForStatus(status: number): OciCallErrorCode {
  if (status === 401) return "oci-not-authenticated";
  if (status === 404) return "oci-not-found";
  if (status === 429) return "oci-throttled";
  if (status >= 500) return "oci-service-error";
  return "oci-rejected";
}

/** Maps whatever the SDK threw to an OciCallError. */
function classify(call: OciCall, error: unknown, signal: AbortSignal): OciCallError {
  if (error instanceof OciCallError) return error;
  if (signal.aborted) return deadlineError(call, signal);
  if (error instanceof common.OciError) {
    const detail = `HTTP ${error.statusCode} ${error.serviceCode}: ${error.message}`;
    return new OciCallError(codeForStatus(error.statusCode), call, detail, {
      status: error.statusCode,
      serviceCode: error.serviceCode,
      opcRequestId: error.opcRequestId ?? undefined,
      cause: error,
    });
  }
  // A 2xx whose body is not JSON fails in the SDK's `response.json()`.
  if (error instanceof SyntaxError) {
    return new OciCallError("oci-bad-response", call, `unreadable body: ${error.message}`, {
      cause: error,
    });
  }
  // The SDK rethrows transport failures as plain `{ code, message }` objects.
  const message = (error as { message?: unknown } | undefined)?.message;
  const text = typeof message === "string" ? message : String(error);
  return new OciCallError("oci-unreachable", call, `no answer: ${text}`, { cause: error });
}

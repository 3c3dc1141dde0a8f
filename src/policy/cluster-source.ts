import type { ClusterPolicyReader } from "../oci/cluster-policy";
import { makePolicy } from "./policy";
import type { PolicyStore } from "./policy-store";

/**
 * The cluster's policy as a live source: read at start, then every `refreshMs`, so a change
 * made in the console reaches every node within one interval. Until the first read
 * succeeds, reads are retried sooner; a failed read keeps the last good policy.
 */

/** What the refresher needs besides the reader. */
export interface ClusterSourceOptions {
  clusterId: string;
  /** The tenancy owning OCIR namespaces not mapped otherwise. */
  tenancy: string;
  namespaceTenancies: Readonly<Record<string, string>>;
  refreshMs: number;
  /** Deadline of one read. */
  timeoutMs: number;
}

/** A running refresher. */
export interface ClusterPolicyWatch {
  /** Settles after the first read, whether it succeeded or not. */
  firstRead: Promise<void>;
  /** Reads now, outside the schedule; shares a read already in flight. */
  refresh(): Promise<void>;
  stop(): void;
}

/** Retry delay before the first policy has loaded: pulls are denied meanwhile. */
const FIRST_LOAD_RETRY_MS = 5000;

/** Starts refreshing the store from the cluster. */
export function watchClusterPolicy(
  reader: ClusterPolicyReader,
  store: PolicyStore,
  options: ClusterSourceOptions,
): ClusterPolicyWatch {
  const source = `cluster ${options.clusterId}`;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  let inFlight: Promise<void> | undefined;

  const readOnce = async (): Promise<void> => {
    try {
      const fetched = await reader.read(AbortSignal.timeout(options.timeoutMs));
      store.confirm(
        makePolicy(
          {
            ...fetched,
            tenancy: options.tenancy,
            namespaceTenancies: options.namespaceTenancies,
          },
          source,
        ),
      );
    } catch (error) {
      store.fail(source, error);
    }
  };
  const refresh = (): Promise<void> => {
    inFlight ??= readOnce().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
  const schedule = (): void => {
    if (stopped) return;
    const delay = store.current() === undefined
      ? Math.min(FIRST_LOAD_RETRY_MS, options.refreshMs)
      : options.refreshMs;
    timer = setTimeout(() => void refresh().then(schedule), delay);
    timer.unref();
  };

  const firstRead = refresh().then(schedule);
  return {
    firstRead,
    refresh,
    stop: () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}

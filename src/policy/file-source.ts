import { parsePolicyText, readPolicyText } from "./policy-file";
import type { PolicyStore } from "./policy-store";

/**
 * The policy file as a live source. Kubernetes updates a mounted ConfigMap by swapping a
 * symlink, which file watchers miss or see twice; reading the small file on an interval
 * and comparing its text is simpler and cannot miss a change.
 *
 * A file that is missing when pullgate starts does not stop it: on a node the file is
 * written by the DaemonSet after pullgate is already running. pullgate serves, denies OCIR
 * pulls `policy-unavailable`, and loads the file once it is there and valid. (A file that
 * is there but invalid at start-up is a configuration error: `serve` refuses to start.)
 */

/** How often the file is re-read. */
export const FILE_POLL_MS = 2000;

/** A running file source. */
export interface PolicyFileWatch {
  /** Settles after the first read, whether it loaded a policy or not. */
  firstRead: Promise<void>;
  /** Re-reads the file now, outside the schedule. */
  refresh(): Promise<void>;
  /** Ends the polling. */
  stop(): void;
}

/** Reads the file now and then every `intervalMs`, confirming or failing the store. */
export function watchPolicyFile(
  path: string,
  store: PolicyStore,
  intervalMs = FILE_POLL_MS,
): PolicyFileWatch {
  // The text of the policy in force: an unchanged file only re-confirms it.
  let goodText: string | undefined;
  let failing = false;

  const readOnce = async (): Promise<void> => {
    try {
      const text = await readPolicyText(path);
      const current = store.current();
      if (text === goodText && !failing && current !== undefined) {
        store.confirm(current);
        return;
      }
      const policy = parsePolicyText(text, path);
      goodText = text;
      failing = false;
      store.confirm(policy);
    } catch (error) {
      failing = true;
      store.fail(path, error);
    }
  };

  let running: Promise<void> | undefined;
  const refresh = (): Promise<void> => {
    running ??= readOnce().finally(() => {
      running = undefined;
    });
    return running;
  };
  const firstRead = refresh();
  const timer = setInterval(() => void refresh(), intervalMs);
  timer.unref();
  return { firstRead, refresh, stop: () => clearInterval(timer) };
}

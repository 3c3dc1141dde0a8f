import { readFile } from "node:fs/promises";
import { type Policy, PolicyError } from "./policy";
import { parsePolicyText } from "./policy-file";
import type { PolicyStore } from "./policy-store";

/**
 * The policy file as a live source. Kubernetes updates a mounted ConfigMap by swapping a
 * symlink, which file watchers miss or see twice; reading the small file on an interval
 * and comparing its text is simpler and cannot miss a change.
 */

/** How often the file is re-read. */
export const FILE_POLL_MS = 2000;

/** A running file source; `stop()` ends the polling. */
export interface PolicyFileWatch {
  stop(): void;
}

/**
 * Loads the file once (throwing PolicyError when it is missing or invalid: start-up stops
 * with that message), then re-reads it every `intervalMs`, confirming or failing the store.
 */
export async function watchPolicyFile(
  path: string,
  store: PolicyStore,
  intervalMs = FILE_POLL_MS,
): Promise<PolicyFileWatch> {
  let lastText = await readText(path);
  store.confirm(parsePolicyText(lastText, path));
  let lastFailure: string | undefined;

  const poll = async (): Promise<void> => {
    try {
      const text = await readText(path);
      if (text === lastText && lastFailure === undefined) {
        store.confirm(store.current() as Policy);
        return;
      }
      const policy = parsePolicyText(text, path);
      lastText = text;
      lastFailure = undefined;
      store.confirm(policy);
    } catch (error) {
      // A broken file is reported once per distinct problem, not every poll.
      const message = (error as Error).message;
      if (message !== lastFailure) store.fail(path, error);
      lastFailure = message;
    }
  };

  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= poll().finally(() => {
      running = undefined;
    });
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    throw new PolicyError(path, [`cannot read the file: ${(error as Error).message}`]);
  }
}

/** Waiting for a lab server to answer, failing early when its process dies instead. */
import { readFile } from "node:fs/promises";
import type { LabProcess } from "./processes";

/** Polls `ready` until it returns true; rejects when `process` exits or `timeoutMs` passes. */
export async function waitUntilReady(
  what: string,
  process: LabProcess,
  ready: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delayMs = 20;
  while (Date.now() < deadline) {
    if (!process.isRunning()) {
      throw new Error(`${what} exited during start-up:\n${await logTail(process.logFile)}`);
    }
    if (await ready().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    // Most start-ups finish in well under a second; a slow CI machine gets longer waits.
    delayMs = Math.min(delayMs * 2, 250);
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms:\n${await logTail(process.logFile)}`);
}

/** The last lines of a log file, for error messages. */
export async function logTail(file: string, lines = 20): Promise<string> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * Child processes of the lab (containerd, the registry): started with their output in a log
 * file, stopped by their own PID only, and killed when this Node process exits for any reason.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, rmSync } from "node:fs";

/** How a lab child process ended. */
export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running child process started by the lab. */
export interface LabProcess {
  /** The PID of the process the lab started (never any other). */
  readonly pid: number;
  /** File receiving the process's stdout and stderr. */
  readonly logFile: string;
  /** Settles when the process has exited. */
  readonly exited: Promise<ProcessExit>;
  /** True until the process has exited. */
  isRunning(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<ProcessExit>;
}

const running = new Map<number, ChildProcess>();
const directoriesToRemove = new Set<string>();
let exitHooksInstalled = false;

/** Starts `command` with `args`, its stdout and stderr appended to `logFile`. */
export async function startLabProcess(
  command: string,
  args: readonly string[],
  logFile: string,
): Promise<LabProcess> {
  installExitHooks();
  const out = openSync(logFile, "a");
  const child = spawn(command, [...args], { stdio: ["ignore", out, out] });
  // The child holds its own copy of the descriptor; ours is no longer needed.
  closeSync(out);

  const pid = await spawned(child, command);
  running.set(pid, child);
  let alive = true;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once("exit", (code, signal) => {
      alive = false;
      running.delete(pid);
      resolve({ code, signal });
    });
  });

  return {
    pid,
    logFile,
    exited,
    isRunning: () => alive,
    stop: async (graceMs = 10_000) => {
      if (!alive) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}

function spawned(child: ChildProcess, command: string): Promise<number> {
  return new Promise((resolve, reject) => {
    child.once("error", (err) => reject(new Error(`cannot start ${command}: ${err.message}`)));
    child.once("spawn", () => {
      if (child.pid === undefined) reject(new Error(`cannot start ${command}: no pid`));
      else resolve(child.pid);
    });
  });
}

/** Marks a lab directory for removal should this Node process exit before its owner stops. */
export function removeOnExit(dir: string): () => void {
  directoriesToRemove.add(dir);
  return () => directoriesToRemove.delete(dir);
}

/** Kills every lab child still running; safe to call from an exit handler (synchronous). */
export function killAllLabProcesses(): void {
  for (const child of running.values()) child.kill("SIGKILL");
  running.clear();
  for (const dir of directoriesToRemove) {
    // Best effort: a child that has not died yet may still hold files open.
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Left for the operating system's temporary-file cleanup.
    }
  }
  directoriesToRemove.clear();
}

// A failed test run or Ctrl-C must not leave a root containerd behind. Signal handlers kill
// the children, then re-raise the signal so the process still ends the way it would have.
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.once("exit", killAllLabProcesses);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAllLabProcesses();
      process.kill(process.pid, signal);
    });
  }
}

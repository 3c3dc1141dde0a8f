/** Whether this machine can run the lab: root, and Debian's containerd and registry. */
import { existsSync } from "node:fs";
import { CONTAINERD_BINARY } from "../../lab/containerd";
import { REGISTRY_BINARY } from "../../lab/registry";

/** Why the lab cannot run here, or null when it can. */
export function labSkipReason(): string | null {
  if (process.getuid?.() !== 0) return "skipped: the lab runs containerd and must be root";
  const missing = [CONTAINERD_BINARY, REGISTRY_BINARY].filter((binary) => !existsSync(binary));
  if (missing.length > 0) return `skipped: ${missing.join(" and ")} not installed`;
  return null;
}

/** A suite title that carries the skip reason, so a skipped run says why. */
export function labSuiteTitle(title: string): string {
  const reason = labSkipReason();
  return reason === null ? title : `${title} (${reason})`;
}

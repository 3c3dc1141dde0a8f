import type { Logger } from "pino";

/**
 * The OCI SDK writes to the console on every failed call ("Request cannot be retried...",
 * "All retry attempts have exhausted..."), with no setting to stop it. pullgate already
 * records each failure with its reason, so in the pullgate process these lines are routed
 * into the structured log at debug level instead of breaking the one-JSON-per-line stdout.
 * pullgate's own code never writes to the console.
 */
export function routeConsoleToLog(logger: Logger): void {
  const sdk = logger.child({ source: "oci-sdk" });
  const write = (...parts: unknown[]): void => {
    sdk.debug(parts.map((part) => (typeof part === "string" ? part : String(part))).join(" "));
  };
  console.log = write;
  console.info = write;
  console.warn = write;
  console.debug = write;
}

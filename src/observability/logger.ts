import pino, { type DestinationStream, type Logger } from "pino";

/**
 * The node log: one JSON object per line on stdout. Registry credentials never reach it:
 * pullgate never logs a request, and these paths are redacted should one slip into a log
 * call anyway.
 */
export const REDACTED_PATHS = [
  "auth",
  "*.auth",
  "password",
  "*.password",
  "*.*.password",
  "identity_token",
  "*.identity_token",
  "registry_token",
  "*.registry_token",
  "identityToken",
  "*.identityToken",
  "registryToken",
  "*.registryToken",
];

/** Creates the logger; tests pass a destination to read records in memory. */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: "pullgate" },
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

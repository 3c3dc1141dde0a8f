import pino, { type DestinationStream, type Logger } from "pino";
import { clip } from "../text/clip";

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

/** Longest image reference written to the log; a request may carry far more. */
const MAX_LOGGED_IMAGE = 512;

/**
 * An image reference as the log records it. References come from requests, which a hostile
 * client can make hundreds of kilobytes long; one log line must stay one readable line.
 */
export function loggedImage(image: string): string {
  return clip(image, MAX_LOGGED_IMAGE);
}

import { describe, expect, it } from "vitest";

import { parseServeOptions, UsageError } from "../../src/config/options";

const base = ["--policy", "/etc/pullgate/policy.yaml"];

describe("enforcement flags of pullgate serve", () => {
  it("turns the ImageStatus gate on, with bounded verdict lifetimes, by default", () => {
    const options = parseServeOptions(base);
    expect(options.imageStatusGate).toBe(true);
    expect(options.verdictCache).toEqual({
      allowTtlMs: 300_000,
      denyTtlMs: 30_000,
      maxEntries: 4096,
    });
  });

  it("reads the gate switch and the cache settings", () => {
    const options = parseServeOptions([
      ...base,
      "--image-status-gate", "off",
      "--allow-cache-ttl", "0s",
      "--deny-cache-ttl", "2m",
      "--verdict-cache-size", "10",
    ]);
    expect(options.imageStatusGate).toBe(false);
    expect(options.verdictCache).toEqual({ allowTtlMs: 0, denyTtlMs: 120_000, maxEntries: 10 });
  });

  it.each([
    [["--image-status-gate", "yes"], /--image-status-gate: "yes" is not one of on, off/],
    [["--allow-cache-ttl", "forever"], /--allow-cache-ttl: "forever" is not a duration/],
    [["--deny-cache-ttl", "2h"], /--deny-cache-ttl: 2h is outside/],
    [["--verdict-cache-size", "0"], /--verdict-cache-size: "0" is not a whole number/],
    [["--verdict-cache-size", "1e3"], /--verdict-cache-size: "1e3"/],
  ])("refuses %j, naming the option and the value", (flags, message) => {
    expect(() => parseServeOptions([...base, ...flags])).toThrow(UsageError);
    expect(() => parseServeOptions([...base, ...flags])).toThrow(message);
  });
});

import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, loggedImage } from "../../src/observability/logger";

/** A logger whose records are parsed into memory. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString("utf8").split("\n")) {
        if (text !== "") lines.push(JSON.parse(text) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: createLogger("trace", stream), lines };
}

describe("the node log", () => {
  it("redacts registry credentials wherever a log call puts them", () => {
    const { logger, lines } = capture();
    logger.info({
      auth: { username: "u", password: "hunter2" },
      request: { auth: { password: "hunter2", identity_token: "tok-1", registry_token: "tok-2" } },
      password: "hunter2",
    }, "careless call");
    const text = JSON.stringify(lines);
    for (const secret of ["hunter2", "tok-1", "tok-2"]) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({ auth: "[redacted]", password: "[redacted]" });
  });

  it("writes levels as words and names the service", () => {
    const { logger, lines } = capture();
    logger.warn({ reason: "unsigned" }, "pull denied");
    expect(lines[0]).toMatchObject({ level: "warn", service: "pullgate", reason: "unsigned" });
  });

  it("keeps a hostile, very long image reference to one short line", () => {
    const image = `phx.ocir.io/${"a".repeat(300_000)}`;
    expect(loggedImage(image)).toHaveLength(512);
    expect(loggedImage(image).endsWith("...")).toBe(true);
    expect(loggedImage("phx.ocir.io/ns/app:v1")).toBe("phx.ocir.io/ns/app:v1");
  });
});

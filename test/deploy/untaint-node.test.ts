import { createServer, type IncomingMessage, type Server } from "node:http";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runScript } from "./run-script";

const script = join(__dirname, "../../deploy/untaint-node.js");

interface Seen {
  method: string;
  url: string;
  authorization: string;
  contentType: string;
  body: string;
}

let server: Server;
let api: string;
let saDir: string;
let seen: Seen[] = [];
let taints: { key: string; effect: string; value?: string }[] = [];

const bodyOf = (req: IncomingMessage): Promise<string> =>
  new Promise((resolve) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => resolve(body));
  });

beforeAll(async () => {
  saDir = await mkdtemp(join(tmpdir(), "pg-sa-"));
  await writeFile(join(saDir, "token"), "test-token\n");
  server = createServer((req, res) => {
    void bodyOf(req).then((body) => {
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        authorization: req.headers.authorization ?? "",
        contentType: req.headers["content-type"] ?? "",
        body,
      });
      res.setHeader("content-type", "application/json");
      if (req.url !== "/api/v1/nodes/node-1") {
        res.statusCode = 404;
        res.end("{}");
        return;
      }
      res.end(JSON.stringify({ metadata: { name: "node-1" }, spec: { taints } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(saDir, { recursive: true, force: true });
});

beforeEach(() => {
  seen = [];
});

const untaint = (node: string) =>
  runScript("node", [script, node, "pullgate/not-enforcing"], {
    PULLGATE_KUBE_API: api,
    PULLGATE_SA_DIR: saDir,
  });

describe("untaint-node.js", () => {
  it("removes the pullgate taint by index, guarded by a test of its key", async () => {
    taints = [
      { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" },
      { key: "pullgate/not-enforcing", value: "true", effect: "NoSchedule" },
    ];

    const result = await untaint("node-1");

    expect(result.code, result.stderr).toBe(0);
    const patch = seen.find((s) => s.method === "PATCH");
    expect(patch?.authorization).toBe("Bearer test-token");
    expect(patch?.contentType).toBe("application/json-patch+json");
    expect(JSON.parse(patch?.body ?? "null")).toEqual([
      { op: "test", path: "/spec/taints/1/key", value: "pullgate/not-enforcing" },
      { op: "remove", path: "/spec/taints/1" },
    ]);
  });

  it("sends no patch when the node has no such taint", async () => {
    taints = [{ key: "other", effect: "NoSchedule" }];

    const result = await untaint("node-1");

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain("has no pullgate/not-enforcing taint");
    expect(seen.map((s) => s.method)).toEqual(["GET"]);
  });

  it("fails when the API server does not know the node", async () => {
    const result = await untaint("node-2");

    expect(result.code).toBe(1);
    expect(result.stderr).toContain("HTTP 404");
  });
});

"use strict";
// Removes one taint from this node once pullgate enforces on it.
//
//   node untaint-node.js NODE_NAME TAINT_KEY
//
// New nodes register with the taint (deploy/cloud-init.sh), so that no workload lands on a
// node before the kubelet pulls through pullgate. Uses the pod's service account; the
// JSON patch tests the key at the index it removes, so a concurrent edit makes it fail
// rather than remove the wrong taint. PULLGATE_KUBE_API and PULLGATE_SA_DIR exist for tests.

const fs = require("node:fs");
const http = require("node:http");
const https = require("node:https");
const path = require("node:path");

const saDir = process.env.PULLGATE_SA_DIR || "/var/run/secrets/kubernetes.io/serviceaccount";

function apiBase() {
  if (process.env.PULLGATE_KUBE_API) return new URL(process.env.PULLGATE_KUBE_API);
  const host = process.env.KUBERNETES_SERVICE_HOST;
  const port = process.env.KUBERNETES_SERVICE_PORT || "443";
  if (!host) throw new Error("KUBERNETES_SERVICE_HOST is not set: not running in a pod");
  return new URL(`https://${host.includes(":") ? `[${host}]` : host}:${port}`);
}

function call(method, url, body, contentType) {
  const token = fs.readFileSync(path.join(saDir, "token"), "utf8").trim();
  const caPath = path.join(saDir, "ca.crt");
  const secure = url.protocol === "https:";
  const options = {
    method,
    headers: { authorization: `Bearer ${token}`, accept: "application/json" },
    ca: secure ? fs.readFileSync(caPath) : undefined,
    timeout: 10_000,
  };
  if (body !== undefined) options.headers["content-type"] = contentType;
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(url, options, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${url.pathname} timed out`)));
    req.on("error", reject);
    req.end(body);
  });
}

async function untaint(nodeName, key) {
  const url = new URL(`/api/v1/nodes/${encodeURIComponent(nodeName)}`, apiBase());
  const got = await call("GET", url);
  if (got.status !== 200) throw new Error(`reading node ${nodeName}: HTTP ${got.status}`);
  const taints = JSON.parse(got.body.toString("utf8")).spec?.taints ?? [];
  const index = taints.findIndex((t) => t.key === key);
  if (index < 0) return `node ${nodeName} has no ${key} taint`;

  const patch = JSON.stringify([
    { op: "test", path: `/spec/taints/${index}/key`, value: key },
    { op: "remove", path: `/spec/taints/${index}` },
  ]);
  const done = await call("PATCH", url, patch, "application/json-patch+json");
  if (done.status !== 200) throw new Error(`removing ${key} from ${nodeName}: HTTP ${done.status}`);
  return `removed taint ${key} from node ${nodeName}`;
}

const [nodeName, key] = process.argv.slice(2);
if (!nodeName || !key) {
  console.error("usage: node untaint-node.js NODE_NAME TAINT_KEY");
  process.exit(64);
}
untaint(nodeName, key).then(
  (message) => console.log(`untaint-node: ${message}`),
  (err) => {
    console.error(`untaint-node: ${err.message}`);
    process.exit(1);
  },
);

import { readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { ClusterRole, ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { DaemonSet } from "kubernetes-models/apps/v1";
import { ConfigMap, Namespace, Service, ServiceAccount } from "kubernetes-models/v1";
import type { IDaemonSet } from "kubernetes-models/apps/v1";
import type { IContainer } from "kubernetes-models/v1";
import {
  CRIO_UPSTREAM,
  DEFAULT_LISTEN,
  DEFAULT_METRICS_LISTEN,
  DEFAULT_UPSTREAM,
} from "../../src/config/defaults";
import { parsePolicyText } from "../../src/policy/policy-file";
import { validatePodMonitor } from "./podmonitor-shape";

const repo = join(__dirname, "../..");
const deployDir = join(repo, "deploy");

type Manifest = { apiVersion?: string; kind?: string; metadata?: { name?: string } } & Record<
  string,
  unknown
>;

async function loadYaml(file: string): Promise<Manifest[]> {
  const docs = parseAllDocuments(await readFile(file, "utf8"));
  return docs.map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
    return doc.toJSON() as Manifest;
  });
}

/** Validates one object against the Kubernetes API schema of its kind. */
function validate(object: Manifest): void {
  const data = object as never;
  switch (`${object.apiVersion}/${object.kind}`) {
    case "v1/Namespace": return new Namespace(data).validate();
    case "v1/ServiceAccount": return new ServiceAccount(data).validate();
    case "v1/ConfigMap": return new ConfigMap(data).validate();
    case "v1/Service": return new Service(data).validate();
    case "apps/v1/DaemonSet": return new DaemonSet(data).validate();
    case "rbac.authorization.k8s.io/v1/ClusterRole": return new ClusterRole(data).validate();
    case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
      return new ClusterRoleBinding(data).validate();
    case "monitoring.coreos.com/v1/PodMonitor": return validatePodMonitor(object);
    default:
      throw new Error(`no schema for ${object.apiVersion} ${object.kind}`);
  }
}

async function kustomization(dir: string): Promise<{ namespace?: string; resources: string[] }> {
  const [k] = await loadYaml(join(dir, "kustomization.yaml"));
  return k as unknown as { namespace?: string; resources: string[] };
}

async function kustomizeObjects(dir: string): Promise<Manifest[]> {
  const { resources } = await kustomization(dir);
  const lists = await Promise.all(resources.map((r) => loadYaml(join(dir, r))));
  return lists.flat();
}

const key = (m: Manifest): string => `${m.kind}/${m.metadata?.name}`;

async function pullgateDaemonSet(): Promise<IDaemonSet> {
  const objects = await kustomizeObjects(deployDir);
  const ds = objects.find((o) => o.kind === "DaemonSet");
  if (!ds) throw new Error("deploy/ holds no DaemonSet");
  return ds as unknown as IDaemonSet;
}

function container(ds: IDaemonSet, name: string): IContainer {
  const spec = ds.spec?.template.spec;
  const found = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].find(
    (c) => c.name === name,
  );
  if (!found) throw new Error(`no container ${name}`);
  return found;
}

const metricsPort = Number(DEFAULT_METRICS_LISTEN.split(":").pop());

describe("the manifests", () => {
  it("validate against the Kubernetes API schemas, every object in every file", async () => {
    const files = [
      join(repo, "daemonset.yaml"),
      ...(await readdir(deployDir))
        .filter((f) => f.endsWith(".yaml"))
        .map((f) => join(deployDir, f)),
      join(deployDir, "uninstall/daemonset.yaml"),
    ];
    let objects = 0;
    for (const file of files) {
      if (file.endsWith("kustomization.yaml")) continue;
      for (const object of await loadYaml(file)) {
        expect(() => validate(object), `${file}: ${key(object)}`).not.toThrow();
        objects += 1;
      }
    }
    expect(objects).toBeGreaterThanOrEqual(16);
  });

  it("catch a wrong field type (the validator is not a stub)", () => {
    const broken = { apiVersion: "v1", kind: "Service", spec: { ports: [{ port: "many" }] } };
    expect(() => validate(broken)).toThrow(/integer/);
    const monitor = {
      apiVersion: "monitoring.coreos.com/v1",
      kind: "PodMonitor",
      metadata: { name: "m" },
      spec: { selector: { matchLabels: {} }, podMetricsEndpoints: [{ targetPort: 9464 }] },
    };
    expect(() => validate(monitor)).toThrow(/targetPort/);
  });

  it("are all listed in deploy/kustomization.yaml, which names files that exist", async () => {
    const { resources, namespace } = await kustomization(deployDir);
    const yamlFiles = (await readdir(deployDir)).filter(
      (f) => f.endsWith(".yaml") && f !== "kustomization.yaml",
    );
    expect([...resources].sort()).toEqual(yamlFiles.sort());
    expect(namespace).toBe("pullgate-system");
  });

  it("put every namespaced object in pullgate-system", async () => {
    for (const object of await kustomizeObjects(deployDir)) {
      if (["Namespace", "ClusterRole", "ClusterRoleBinding"].includes(object.kind ?? "")) continue;
      expect((object.metadata as { namespace?: string }).namespace, key(object)).toBe(
        "pullgate-system",
      );
    }
  });

  it("daemonset.yaml at the top holds what deploy/ holds, less the PodMonitor", async () => {
    const fromDeploy = (await kustomizeObjects(deployDir)).filter((o) => o.kind !== "PodMonitor");
    const allInOne = await loadYaml(join(repo, "daemonset.yaml"));
    expect(allInOne).toEqual(fromDeploy);
  });
});

describe("the DaemonSet", () => {
  it("runs on every node, first among pods, whatever the node's taints", async () => {
    const spec = (await pullgateDaemonSet()).spec?.template.spec;
    expect(spec?.priorityClassName).toBe("system-node-critical");
    expect(spec?.tolerations).toEqual([{ operator: "Exists" }]);
  });

  it("upgrades one node at a time, a node done only when its pullgate is ready", async () => {
    const ds = await pullgateDaemonSet();
    expect(ds.spec?.updateStrategy).toEqual({
      type: "RollingUpdate",
      rollingUpdate: { maxUnavailable: 1, maxSurge: 0 },
    });
    expect(container(ds, "policy-sync").readinessProbe?.httpGet?.path).toBe("/readyz");
  });

  it("probes pullgate's /healthz and /readyz on pullgate's metrics port", async () => {
    const main = container(await pullgateDaemonSet(), "policy-sync");
    expect(main.ports).toEqual([{ name: "metrics", containerPort: metricsPort, protocol: "TCP" }]);
    expect(main.livenessProbe?.httpGet).toEqual({ path: "/healthz", port: "metrics" });
    expect(main.readinessProbe?.httpGet).toEqual({ path: "/readyz", port: "metrics" });
  });

  it("tells pullgate to serve metrics where its default says", async () => {
    const install = container(await pullgateDaemonSet(), "install");
    const args = install.env?.find((e) => e.name === "PULLGATE_SERVE_ARGS")?.value ?? "";
    expect(args.split(/\s+/)).toEqual(
      expect.arrayContaining(["--metrics-listen", DEFAULT_METRICS_LISTEN]),
    );
    expect(args).toContain("--policy /etc/pullgate/policy/policy.yaml");
  });

  it("keeps the long-running container unprivileged and read-only", async () => {
    const main = container(await pullgateDaemonSet(), "policy-sync");
    expect(main.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(main.resources?.limits).toBeDefined();
    expect(main.resources?.requests).toBeDefined();
  });

  it("mounts only the host paths the installer and the policy sync write", async () => {
    const volumes = (await pullgateDaemonSet()).spec?.template.spec?.volumes ?? [];
    const hostPaths = volumes.flatMap((v) => (v.hostPath ? [v.hostPath.path] : []));
    expect(hostPaths.sort()).toEqual(["/etc/pullgate/policy", "/opt/pullgate"]);
  });

  it("lifts the same taint the node pool's cloud-init sets", async () => {
    const install = container(await pullgateDaemonSet(), "install");
    const taint = install.env?.find((e) => e.name === "PULLGATE_TAINT_KEY")?.value ?? "";
    const cloudInit = await readFile(join(deployDir, "cloud-init.sh"), "utf8");
    expect(taint).not.toBe("");
    expect(cloudInit).toContain(`--register-with-taints=${taint}=true:NoSchedule`);
  });
});

describe("the metrics Service and PodMonitor", () => {
  it("point at the pods' metrics port", async () => {
    const objects = await kustomizeObjects(deployDir);
    const service = objects.find((o) => o.kind === "Service") as unknown as {
      spec: { ports: { port: number; targetPort: string }[]; selector: Record<string, string> };
    };
    const monitor = objects.find((o) => o.kind === "PodMonitor") as unknown as {
      spec: { podMetricsEndpoints: { port: string; path: string }[] };
    };
    const labels = (await pullgateDaemonSet()).spec?.template.metadata?.labels ?? {};

    expect(service.spec.ports).toEqual([
      { name: "metrics", port: metricsPort, targetPort: "metrics", protocol: "TCP" },
    ]);
    expect(labels).toMatchObject(service.spec.selector);
    expect(monitor.spec.podMetricsEndpoints[0]).toMatchObject({
      port: "metrics",
      path: "/metrics",
    });
  });
});

describe("the host units and scripts agree with pullgate's defaults", () => {
  const read = (path: string) => readFile(join(deployDir, path), "utf8");

  it("the socket unit listens where pullgate listens by default, mode 0660", async () => {
    const socket = await read("host/systemd/pullgate.socket");
    expect(socket).toContain(`ListenStream=${DEFAULT_LISTEN}\n`);
    expect(socket).toContain("SocketMode=0660\n");
  });

  it("the kubelet switch and the host script default to the same socket", async () => {
    for (const script of ["host/kubelet-switch.sh", "host/pullgate-host.sh"]) {
      expect(await read(script)).toContain(`PULLGATE_SOCKET:-${DEFAULT_LISTEN}`);
    }
  });

  it("the host script knows both runtime sockets", async () => {
    const script = await read("host/pullgate-host.sh");
    expect(script).toContain(`echo ${DEFAULT_UPSTREAM}`);
    expect(script).toContain(`echo ${CRIO_UPSTREAM}`);
  });

  it("the service binds the runtimes' socket directories into its root", async () => {
    const service = await read("host/systemd/pullgate.service");
    for (const upstream of [DEFAULT_UPSTREAM, CRIO_UPSTREAM]) {
      const dir = upstream.replace(/^\/var\/run\//, "/run/").replace(/\/[^/]+$/, "");
      expect(service).toMatch(new RegExp(`BindPaths=.*-${dir}( |$)`, "m"));
    }
  });

  it("systemd accepts the units", () => {
    const units = ["pullgate.socket", "pullgate.service", "pullgate-guard.service",
      "pullgate-guard.timer", "pullgate-fallback.service"].map((u) =>
      join(deployDir, "host/systemd", u),
    );
    let output = "";
    try {
      execFileSync("systemd-analyze", ["verify", "--man=no", ...units], { stdio: "pipe" });
    } catch (err) {
      output = String((err as { stderr?: Buffer }).stderr ?? err);
    }
    // The executables live on the node (or in the release's root), not on this machine.
    const complaints = output
      .split("\n")
      .filter((line) => line.trim() !== "" && !line.includes("is not executable"));
    expect(complaints).toEqual([]);
  });
});

describe("the shipped policy ConfigMap", () => {
  // The policy sync puts only a policy pullgate accepts on a node; a placeholder it rejected
  // would leave every node without a policy, denying all OCIR pulls right after install.
  it.each(["deploy/policy-configmap.yaml", "daemonset.yaml"])(
    "in %s holds a policy pullgate accepts, disabled until the operator sets it",
    async (file) => {
      const configMap = (await loadYaml(join(repo, file))).find(
        (object) => object.kind === "ConfigMap" && object.metadata?.name === "pullgate-policy",
      ) as { data?: Record<string, string> } | undefined;
      const text = configMap?.data?.["policy.yaml"];
      expect(text).toBeDefined();
      expect(parsePolicyText(text ?? "", file)).toMatchObject({ enabled: false, keys: [] });
    },
  );
});


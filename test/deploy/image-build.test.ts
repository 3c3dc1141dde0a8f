import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScript, type ScriptResult } from "./run-script";

// Builds the real Dockerfile with buildah (vfs storage, chroot isolation) from a base
// assembled on this machine, then looks inside the image. Needs root; in CI it must run.

const repo = join(__dirname, "../..");
const script = join(repo, "scripts/build-image.sh");
const buildTimeout = 10 * 60_000;
const isRoot = process.getuid?.() === 0;
const inCi = (process.env.CI ?? "") !== "";

/** Whether an executable of this name is on PATH. */
function onPath(command: string): boolean {
  return (process.env.PATH ?? "")
    .split(delimiter)
    .some((dir) => dir !== "" && existsSync(join(dir, command)));
}

/** Why the build cannot run here, or undefined when it can. */
function missingPrerequisite(): string | undefined {
  if (!isRoot) return "building the image needs root (debootstrap, buildah chroot isolation)";
  const missing = ["buildah", "debootstrap"].filter((command) => !onPath(command));
  if (missing.length > 0) {
    return `${missing.join(" and ")} missing: run scripts/install-system-deps.sh as root`;
  }
  return undefined;
}

/** The directories mounted at or below dir, deepest first (from this process's view). */
function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((point) => point === dir || point.startsWith(`${dir}/`))
    .sort()
    .reverse();
}

/** This process's environment, without unset entries. */
function callerEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(process.env).filter((entry): entry is [string, string] => {
      return entry[1] !== undefined;
    }),
  );
}

interface ImageConfig {
  architecture: string;
  config: { User?: string; Entrypoint?: string[]; Cmd?: string[] };
}

interface LockEntry {
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
}

let work = "";
let imageId = "";
let container = "";
let rootfs = "";
let build: ScriptResult | undefined;

/** Runs buildah against the build's own storage, never the system's. */
function buildah(args: string[]): Promise<ScriptResult> {
  const store = ["--root", join(work, "storage"), "--runroot", join(work, "run")];
  return runScript("buildah", [...store, "--storage-driver", "vfs", ...args], {
    CONTAINERS_STORAGE_CONF: join(work, "storage.conf"),
    HOME: process.env.HOME ?? "/root",
  });
}

/** Runs buildah and returns its trimmed stdout, or throws with its stderr. */
async function buildahOut(args: string[]): Promise<string> {
  const result = await buildah(args);
  if (result.code !== 0) {
    throw new Error(`buildah ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  }
  return result.stdout.trim();
}

/** A path inside the image's root filesystem. */
const inImage = (path: string): string => join(rootfs, path);

const skipHere = !isRoot && !inCi;

describe.skipIf(skipHere)("the image built from the Dockerfile", () => {
  beforeAll(async () => {
    const missing = missingPrerequisite();
    if (missing !== undefined) throw new Error(missing);
    work = await mkdtemp(join(tmpdir(), "pullgate-image-"));
    // The caller's environment goes through whole: a mirror or proxy set for CI applies.
    build = await runScript("bash", [script, work], callerEnv());
    if (build.code !== 0) {
      throw new Error(`build-image.sh exited ${build.code}:\n${build.stderr.slice(-4000)}`);
    }
    imageId = build.stdout.trim().split("\n").at(-1) ?? "";
    container = await buildahOut(["from", "--pull=never", "--quiet", imageId]);
    rootfs = await buildahOut(["mount", container]);
  }, buildTimeout);

  afterAll(async () => {
    if (work === "") return;
    if (container !== "") await buildah(["rm", container]);
    await buildah(["rmi", "--all", "--force"]);
    for (const point of mountsUnder(work)) await runScript("umount", ["-l", point], {});
    const left = mountsUnder(work);
    if (left.length > 0) throw new Error(`still mounted, not removing ${work}: ${left}`);
    // --one-file-system: never follow a mount that slipped through into another filesystem.
    await runScript("rm", ["-rf", "--one-file-system", work], {});
  }, 120_000);

  it("prints the id of an image built for this machine's architecture", async () => {
    expect(imageId).toMatch(/^[0-9a-f]{64}$/);
    const image = JSON.parse(await buildahOut(["inspect", "--type", "image", imageId])) as {
      OCIv1: ImageConfig;
    };
    const goArch: Record<string, string> = { x64: "amd64", arm64: "arm64" };
    expect(image.OCIv1.architecture).toBe(goArch[process.arch]);
  });

  it("runs as 65532:65532 with /app/bin/pullgate as its entrypoint", async () => {
    const image = JSON.parse(await buildahOut(["inspect", "--type", "image", imageId])) as {
      OCIv1: ImageConfig;
    };
    expect(image.OCIv1.config.User).toBe("65532:65532");
    expect(image.OCIv1.config.Entrypoint).toEqual(["/app/bin/pullgate"]);
    expect(image.OCIv1.config.Cmd).toEqual(["serve"]);
  });

  it("holds the compiled CLI and the launcher", () => {
    expect(statSync(inImage("/app/dist/src/cli.js")).isFile()).toBe(true);
    expect(statSync(inImage("/app/bin/pullgate")).mode & 0o111).not.toBe(0);
    expect(existsSync(inImage("/app/proto"))).toBe(true);
  });

  it("holds the production dependencies exactly as locked, none of the dev ones", async () => {
    const lock = JSON.parse(await readFile(join(repo, "package-lock.json"), "utf8")) as {
      packages: Record<string, LockEntry>;
    };
    const installed = (key: string): boolean => existsSync(inImage(join("/app", key)));
    const entries = Object.entries(lock.packages).filter(([key]) => key !== "");
    const dev = entries.filter(([, entry]) => entry.dev === true).map(([key]) => key);
    const production = entries
      .filter(([, e]) => e.dev !== true && e.optional !== true && e.devOptional !== true)
      .map(([key]) => key);

    expect(dev.length).toBeGreaterThan(0);
    expect(dev.filter(installed)).toEqual([]);
    expect(production.filter((key) => !installed(key))).toEqual([]);
    for (const name of ["vitest", "typescript", "fast-check", "kubernetes-models"]) {
      expect(installed(`node_modules/${name}`), name).toBe(false);
    }
    expect(installed("node_modules/@grpc/grpc-js")).toBe(true);
  });

  it("carries no tests, lab or benchmarks, compiled or not", () => {
    for (const dir of ["test", "lab", "bench"]) {
      expect(existsSync(inImage(`/app/${dir}`)), `/app/${dir}`).toBe(false);
      expect(existsSync(inImage(`/app/dist/${dir}`)), `/app/dist/${dir}`).toBe(false);
    }
  });

  it("runs pullgate --help as its own user and prints the usage", async () => {
    const shell = "id -u; id -g; exec /app/bin/pullgate --help";
    const help = await buildah(["run", "--isolation", "chroot", container, "--", "sh", "-c",
      shell]);

    expect(help.code, help.stderr).toBe(0);
    const [uid, gid, ...usage] = help.stdout.split("\n");
    expect([uid, gid]).toEqual(["65532", "65532"]);
    expect(usage.join("\n")).toContain("Usage:\n  pullgate serve [options]");
  });
});

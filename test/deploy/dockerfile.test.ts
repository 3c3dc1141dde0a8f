import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, readdir, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const repo = join(__dirname, "../..");

interface Stage {
  from: string;
  name: string;
  instructions: string[];
}

/** Splits a Dockerfile into stages of instructions, continuation lines joined. */
function parseDockerfile(text: string): Stage[] {
  const lines = text
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const stages: Stage[] = [];
  for (const line of lines) {
    const from = /^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) {
      stages.push({ from: line, name: from[2] ?? "", instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(line.replace(/\s+/g, " "));
    }
  }
  return stages;
}

async function stages(): Promise<Stage[]> {
  return parseDockerfile(await readFile(join(repo, "Dockerfile"), "utf8"));
}

function stage(all: Stage[], name: string): Stage {
  const found = all.find((s) => s.name === name);
  if (!found) throw new Error(`no stage ${name}`);
  return found;
}

describe("the Dockerfile", () => {
  it("installs production dependencies only, as locked, without install scripts", async () => {
    const deps = stage(await stages(), "deps");
    expect(deps.instructions).toContain(
      "RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund",
    );
  });

  it("builds on the build machine's platform and only the runtime per target", async () => {
    const all = await stages();
    for (const name of ["deps", "build"]) {
      expect(stage(all, name).from).toContain("--platform=$BUILDPLATFORM");
    }
    expect(stage(all, "runtime").from).not.toContain("--platform");
    expect(all.at(-1)?.name).toBe("runtime");
  });

  it("gives the runtime stage compiled JS, production modules and node scripts only", async () => {
    const copies = stage(await stages(), "runtime").instructions.filter((i) =>
      i.startsWith("COPY"),
    );
    expect(copies).toEqual([
      "COPY --from=deps /app/node_modules ./node_modules",
      "COPY --from=build /app/dist ./dist",
      "COPY --from=build /app/proto ./proto",
      "COPY package.json ./",
      "COPY deploy/host ./deploy/host",
      "COPY deploy/pod ./deploy/pod",
      "COPY deploy/untaint-node.js ./deploy/untaint-node.js",
      "COPY deploy/image/pullgate ./bin/pullgate",
    ]);
  });

  it("runs as a non-root user unless a manifest says otherwise", async () => {
    const runtime = stage(await stages(), "runtime");
    expect(runtime.instructions).toContain("USER 65532:65532");
    expect(runtime.instructions).toContain('ENTRYPOINT ["/app/bin/pullgate"]');
  });

  it("sends no tests, modules or local state to the builder", async () => {
    const ignore = (await readFile(join(repo, ".dockerignore"), "utf8")).split("\n");
    expect(ignore).toContain("*");
    expect(ignore.filter((l) => l.startsWith("!")).sort()).toEqual([
      "!deploy/host/",
      "!deploy/image/",
      "!deploy/pod/",
      "!deploy/untaint-node.js",
      "!package-lock.json",
      "!package.json",
      "!proto/",
      "!src/",
      "!tsconfig.json",
    ]);
  });

  it("copies only files that exist", async () => {
    for (const path of ["deploy/host", "deploy/pod", "deploy/untaint-node.js",
      "deploy/image/pullgate", "proto", "package-lock.json"]) {
      expect(existsSync(join(repo, path)), path).toBe(true);
    }
  });
});

interface Run {
  code: number | null;
  output: string;
}

function run(command: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: process.env });
    let output = "";
    child.stdout.on("data", (c: Buffer) => (output += c.toString()));
    child.stderr.on("data", (c: Buffer) => (output += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
  });
}

const haveCli = existsSync(join(repo, "src/cli.ts"));
let work: string | undefined;

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe("the runtime stage's contents, assembled the Dockerfile's way in a temp dir", () => {
  it.skipIf(!haveCli)(
    "runs `pullgate --help` with production dependencies and dist alone",
    async () => {
      work = await mkdtemp(join(tmpdir(), "pg-image-"));
      const build = join(work, "build");
      const runtime = join(work, "runtime");

      // build stage: sources and the full toolchain
      await mkdir(build);
      for (const f of ["package.json", "package-lock.json", "tsconfig.json", "src", "proto"]) {
        await cp(join(repo, f), join(build, f), { recursive: true });
      }
      await symlink(join(repo, "node_modules"), join(build, "node_modules"));
      const tscBin = join(repo, "node_modules/typescript/bin/tsc");
      const tsc = await run("node", [tscBin, "-p", "."], build);
      expect(tsc.code, tsc.output).toBe(0);

      // deps stage + runtime stage
      await mkdir(runtime);
      for (const f of ["package.json", "package-lock.json"]) {
        await cp(join(repo, f), join(runtime, f));
      }
      const ci = await run(
        "npm",
        ["ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund"],
        runtime,
      );
      expect(ci.code, ci.output).toBe(0);
      await cp(join(build, "dist"), join(runtime, "dist"), { recursive: true });
      await cp(join(build, "proto"), join(runtime, "proto"), { recursive: true });

      const installed = await readdir(join(runtime, "node_modules"));
      for (const devOnly of ["typescript", "vitest", "fast-check", "kubernetes-models"]) {
        expect(installed).not.toContain(devOnly);
      }
      const help = await run("node", ["dist/src/cli.js", "--help"], runtime);
      expect(help.code, help.output).toBe(0);
      expect(help.output).toContain("serve");
    },
    300_000,
  );
});

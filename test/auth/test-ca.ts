import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A throw-away CA and a server certificate for 127.0.0.1 it signed, made with openssl. */
export interface TestTls {
  caPath: string;
  caPem: string;
  keyPem: string;
  certPem: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
}

/** Writes `<name>-ca.pem`, `<name>-server.key`, `<name>-server.pem` into `dir`. */
export function makeTestTls(dir: string, name: string): TestTls {
  const ca = `${name}-ca`;
  const server = `${name}-server`;
  openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
    "-subj", `/CN=${name} test CA`, "-keyout", `${ca}.key`, "-out", `${ca}.pem`]);
  openssl(dir, ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
    "-keyout", `${server}.key`, "-out", `${server}.csr`]);
  writeFileSync(join(dir, `${server}.ext`), "subjectAltName=IP:127.0.0.1\n");
  openssl(dir, ["x509", "-req", "-in", `${server}.csr`, "-CA", `${ca}.pem`,
    "-CAkey", `${ca}.key`, "-CAcreateserial", "-days", "2",
    "-extfile", `${server}.ext`, "-out", `${server}.pem`]);
  const read = (file: string) => readFileSync(join(dir, file), "utf8");
  return {
    caPath: join(dir, `${ca}.pem`),
    caPem: read(`${ca}.pem`),
    keyPem: read(`${server}.key`),
    certPem: read(`${server}.pem`),
  };
}

import { createPrivateKey } from "node:crypto";
import { readFileSync, statSync } from "node:fs";

import {
  ConfigFileAuthenticationDetailsProvider,
  ConfigFileReader,
  type AuthenticationDetailsProvider,
} from "oci-common";

import { errorText } from "./error-text";

/**
 * OCI credentials from an OCI CLI/SDK config file (`~/.oci/config` style: `user`,
 * `fingerprint`, `key_file`, `tenancy`, `region`, optional `pass_phrase`), for development.
 * Everything is checked at start-up, and every problem is reported with the file and profile
 * it concerns; key material never appears in a message.
 */

/** A config file that cannot provide credentials. */
export class OciConfigError extends Error {
  override readonly name = "OciConfigError";
  readonly code = "oci-config-invalid";

  constructor(
    readonly file: string,
    readonly profile: string,
    problem: string,
  ) {
    super(`OCI config file ${file}, profile [${profile}]: ${problem}`);
  }
}

/** A parsed config file, as the SDK's reader returns it. */
type ConfigFile = ReturnType<typeof ConfigFileReader.parseFileFromPath>;

/** A setting of the profile (or of DEFAULT); the reader answers null or undefined if unset. */
function setting(config: ConfigFile, key: string): string | undefined {
  const value: string | null | undefined = config.get(key);
  return value === null || value === undefined || value === "" ? undefined : value;
}

function readConfig(file: string, profile: string): ConfigFile {
  let isFile: boolean;
  try {
    isFile = statSync(file).isFile();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new OciConfigError(file, profile, code === "ENOENT" ? "no such file" : errorText(error));
  }
  if (!isFile) throw new OciConfigError(file, profile, "not a regular file");
  try {
    return ConfigFileReader.parseFileFromPath(file, profile);
  } catch (error) {
    const text = errorText(error);
    const problem = text.startsWith("No profile") ? "no such profile" : text;
    throw new OciConfigError(file, profile, problem);
  }
}

function checkPrivateKey(file: string, profile: string, config: ConfigFile): void {
  const keyFile = setting(config, "key_file");
  if (keyFile === undefined) throw new OciConfigError(file, profile, "no key_file");
  const path = ConfigFileReader.expandUserHome(keyFile);
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new OciConfigError(file, profile, `key_file ${path} cannot be read (${code})`);
  }
  try {
    const passphrase = setting(config, "pass_phrase");
    createPrivateKey(passphrase === undefined ? { key: pem } : { key: pem, passphrase });
  } catch {
    // The parser's own message may quote the key; say only what is wrong.
    throw new OciConfigError(
      file,
      profile,
      `key_file ${path} is not a PEM private key, or pass_phrase does not open it`,
    );
  }
}

/** An AuthenticationDetailsProvider for API-key credentials in `file` under `profile`. */
export function configFileAuth(file: string, profile = "DEFAULT"): AuthenticationDetailsProvider {
  const config = readConfig(file, profile);
  for (const key of ["tenancy", "user", "fingerprint", "region"]) {
    if (setting(config, key) === undefined) throw new OciConfigError(file, profile, `no ${key}`);
  }
  checkPrivateKey(file, profile, config);
  try {
    return new ConfigFileAuthenticationDetailsProvider(file, profile);
  } catch (error) {
    throw new OciConfigError(file, profile, errorText(error));
  }
}

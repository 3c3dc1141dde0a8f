import { existsSync } from "node:fs";
import { join } from "node:path";

import { loadSync, type ServiceDefinition } from "@grpc/proto-loader";

import { IMAGE_SERVICE } from "./methods";

/**
 * The path of `proto/api.proto`, found from both the TypeScript sources (`src/cri`) and
 * the compiled output (`dist/src/cri`).
 */
export function criProtoPath(): string {
  const candidates = [
    join(__dirname, "..", "..", "proto", "api.proto"),
    join(__dirname, "..", "..", "..", "proto", "api.proto"),
  ];
  const found = candidates.find((candidate) => existsSync(candidate));
  if (found === undefined) throw new Error(`proto/api.proto not found near ${__dirname}`);
  return found;
}

/** The ImageService from `proto/api.proto`, with snake_case field names as written there. */
export function loadImageServiceDefinition(): ServiceDefinition {
  const definitions = loadSync(criProtoPath(), {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
  });
  const service = definitions[IMAGE_SERVICE];
  if (service === undefined || "format" in service) {
    throw new Error(`${IMAGE_SERVICE} is missing from proto/api.proto`);
  }
  return service;
}

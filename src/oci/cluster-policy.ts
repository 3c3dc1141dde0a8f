import { ContainerEngineClient } from "oci-containerengine";
import type { AuthenticationDetailsProvider } from "oci-common";
import { callOci, clientConfiguration, clientParams, type OciCall } from "./sdk-setup";

/**
 * The image verification policy as OKE stores it on the cluster (`GetCluster`'s
 * `imagePolicyConfig`): the same settings an operator edits under Image Verification.
 */

/** The policy fields OKE keeps on a cluster. */
export interface ClusterImagePolicy {
  enabled: boolean;
  keys: string[];
}

/** Reads a cluster's image policy; throws an OciCallError when it cannot get an answer. */
export interface ClusterPolicyReader {
  read(signal: AbortSignal): Promise<ClusterImagePolicy>;
}

const GET: OciCall = { api: "containerengine", operation: "getCluster" };

/** A ClusterPolicyReader on the SDK's ContainerEngineClient. */
export class ContainerEngineClusterPolicy implements ClusterPolicyReader {
  private readonly client: ContainerEngineClient;

  constructor(
    auth: AuthenticationDetailsProvider,
    endpoint: string,
    private readonly clusterId: string,
  ) {
    this.client = new ContainerEngineClient(clientParams(auth), clientConfiguration());
    this.client.endpoint = endpoint;
  }

  /** The cluster's policy; a cluster without an imagePolicyConfig has verification off. */
  async read(signal: AbortSignal): Promise<ClusterImagePolicy> {
    const response = await callOci(GET, signal, () =>
      this.client.getCluster({ clusterId: this.clusterId }),
    );
    const config = response.cluster.imagePolicyConfig;
    return {
      enabled: config?.isPolicyEnabled === true,
      keys: (config?.keyDetails ?? []).map((detail) => detail.kmsKeyId ?? ""),
    };
  }
}

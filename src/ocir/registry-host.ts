/**
 * What a registry host name means to pullgate. Implemented in `src/ocir/regions.ts`.
 */

/** The classification of one registry host (already lower-cased, port removed). */
export type RegistryHost =
  | { kind: "not-ocir" }
  | {
      kind: "ocir";
      /** Region identifier, e.g. `us-phoenix-1`. */
      regionId: string;
      /** Realm key, e.g. `oc1`. */
      realm: string;
      /** Realm's second-level domain, e.g. `oraclecloud.com`. */
      realmDomain: string;
    }
  | {
      /** Looks like OCIR but names no region pullgate knows: denied, never "not OCIR". */
      kind: "unknown-region";
      /** The part of the host that should have named a region. */
      label: string;
    };

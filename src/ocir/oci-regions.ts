/**
 * Every public OCI realm and region that oci-common 2.139.1 knows, as a checked-in table.
 *
 * Checked in rather than read from `Region.values()` at run time: the SDK's list can grow from
 * `~/.oci/regions-config.json`, the `OCI_REGION_METADATA` variable and, once enabled, the
 * instance metadata service, and which registry hosts count as OCIR is a security decision
 * that must not change with a node's files or environment. `test/ocir/region-table.test.ts`
 * fails when the installed SDK knows a region or realm this table lacks, or disagrees on one.
 */

/** A realm key, e.g. `oc1`. */
export type RealmKey = keyof typeof REALM_DOMAINS;

/** One OCI region: its identifier, its three-letter key (short code) and its realm. */
export interface OciRegion {
  /** Region identifier, e.g. `us-phoenix-1`. */
  id: string;
  /** Region key, e.g. `phx`: the first label of `<key>.ocir.io`. */
  key: string;
  realm: RealmKey;
}

/** Each realm's second-level domain, the tail of its service host names. */
export const REALM_DOMAINS = {
  oc1: "oraclecloud.com",
  oc2: "oraclegovcloud.com",
  oc3: "oraclegovcloud.com",
  oc4: "oraclegovcloud.uk",
  oc8: "oraclecloud8.com",
  oc9: "oraclecloud9.com",
  oc10: "oraclecloud10.com",
  oc14: "oraclecloud14.com",
  oc20: "oraclecloud20.com",
  oc19: "oraclecloud.eu",
  oc24: "oraclecloud24.com",
  oc21: "oraclecloud21.com",
  oc26: "oraclecloud26.com",
  oc15: "oraclecloud15.com",
  oc29: "oraclecloud29.com",
  oc23: "oraclecloud23.com",
  oc35: "oraclecloud35.com",
  oc42: "oraclecloud42.com",
  oc51: "oraclecloud51.com",
  oc52: "oraclecloud52.com",
} as const;

/** Every region, grouped by realm in the order the SDK declares them. */
export const REGIONS: readonly OciRegion[] = [
  { id: "ap-chuncheon-1", key: "yny", realm: "oc1" },
  { id: "ap-mumbai-1", key: "bom", realm: "oc1" },
  { id: "ap-hyderabad-1", key: "hyd", realm: "oc1" },
  { id: "ap-seoul-1", key: "icn", realm: "oc1" },
  { id: "ap-sydney-1", key: "syd", realm: "oc1" },
  { id: "ap-melbourne-1", key: "mel", realm: "oc1" },
  { id: "ap-osaka-1", key: "kix", realm: "oc1" },
  { id: "ap-tokyo-1", key: "nrt", realm: "oc1" },
  { id: "ca-montreal-1", key: "yul", realm: "oc1" },
  { id: "ca-toronto-1", key: "yyz", realm: "oc1" },
  { id: "eu-frankfurt-1", key: "fra", realm: "oc1" },
  { id: "eu-zurich-1", key: "zrh", realm: "oc1" },
  { id: "sa-saopaulo-1", key: "gru", realm: "oc1" },
  { id: "uk-cardiff-1", key: "cwl", realm: "oc1" },
  { id: "uk-london-1", key: "lhr", realm: "oc1" },
  { id: "us-ashburn-1", key: "iad", realm: "oc1" },
  { id: "us-phoenix-1", key: "phx", realm: "oc1" },
  { id: "eu-amsterdam-1", key: "ams", realm: "oc1" },
  { id: "me-jeddah-1", key: "jed", realm: "oc1" },
  { id: "us-sanjose-1", key: "sjc", realm: "oc1" },
  { id: "me-dubai-1", key: "dxb", realm: "oc1" },
  { id: "sa-santiago-1", key: "scl", realm: "oc1" },
  { id: "sa-vinhedo-1", key: "vcp", realm: "oc1" },
  { id: "il-jerusalem-1", key: "mtz", realm: "oc1" },
  { id: "eu-marseille-1", key: "mrs", realm: "oc1" },
  { id: "ap-singapore-1", key: "sin", realm: "oc1" },
  { id: "me-abudhabi-1", key: "auh", realm: "oc1" },
  { id: "eu-milan-1", key: "lin", realm: "oc1" },
  { id: "eu-stockholm-1", key: "arn", realm: "oc1" },
  { id: "af-johannesburg-1", key: "jnb", realm: "oc1" },
  { id: "eu-paris-1", key: "cdg", realm: "oc1" },
  { id: "mx-queretaro-1", key: "qro", realm: "oc1" },
  { id: "eu-madrid-1", key: "mad", realm: "oc1" },
  { id: "us-chicago-1", key: "ord", realm: "oc1" },
  { id: "mx-monterrey-1", key: "mty", realm: "oc1" },
  { id: "us-saltlake-2", key: "aga", realm: "oc1" },
  { id: "sa-bogota-1", key: "bog", realm: "oc1" },
  { id: "sa-valparaiso-1", key: "vap", realm: "oc1" },
  { id: "ap-singapore-2", key: "xsp", realm: "oc1" },
  { id: "me-riyadh-1", key: "ruh", realm: "oc1" },
  { id: "ap-delhi-1", key: "onm", realm: "oc1" },
  { id: "ap-batam-1", key: "hsg", realm: "oc1" },
  { id: "eu-madrid-3", key: "orf", realm: "oc1" },
  { id: "eu-turin-1", key: "nrq", realm: "oc1" },
  { id: "ap-kulai-2", key: "jbp", realm: "oc1" },
  { id: "af-casablanca-1", key: "lej", realm: "oc1" },
  { id: "us-langley-1", key: "lfi", realm: "oc2" },
  { id: "us-luke-1", key: "luf", realm: "oc2" },
  { id: "us-gov-ashburn-1", key: "ric", realm: "oc3" },
  { id: "us-gov-chicago-1", key: "pia", realm: "oc3" },
  { id: "us-gov-phoenix-1", key: "tus", realm: "oc3" },
  { id: "uk-gov-london-1", key: "ltn", realm: "oc4" },
  { id: "uk-gov-cardiff-1", key: "brs", realm: "oc4" },
  { id: "ap-chiyoda-1", key: "nja", realm: "oc8" },
  { id: "ap-ibaraki-1", key: "ukb", realm: "oc8" },
  { id: "me-dcc-muscat-1", key: "mct", realm: "oc9" },
  { id: "me-ibri-1", key: "ibr", realm: "oc9" },
  { id: "ap-dcc-canberra-1", key: "wga", realm: "oc10" },
  { id: "eu-dcc-milan-1", key: "bgy", realm: "oc14" },
  { id: "eu-dcc-milan-2", key: "mxp", realm: "oc14" },
  { id: "eu-dcc-dublin-2", key: "snn", realm: "oc14" },
  { id: "eu-dcc-rating-2", key: "dtm", realm: "oc14" },
  { id: "eu-dcc-rating-1", key: "dus", realm: "oc14" },
  { id: "eu-dcc-dublin-1", key: "ork", realm: "oc14" },
  { id: "eu-jovanovac-1", key: "beg", realm: "oc20" },
  { id: "eu-madrid-2", key: "vll", realm: "oc19" },
  { id: "eu-frankfurt-2", key: "str", realm: "oc19" },
  { id: "eu-dcc-zurich-1", key: "avz", realm: "oc24" },
  { id: "eu-crissier-1", key: "avf", realm: "oc24" },
  { id: "me-dcc-doha-1", key: "doh", realm: "oc21" },
  { id: "me-alrayyan-1", key: "vve", realm: "oc21" },
  { id: "me-abudhabi-3", key: "ahu", realm: "oc26" },
  { id: "me-alain-1", key: "rba", realm: "oc26" },
  { id: "ap-dcc-gazipur-1", key: "dac", realm: "oc15" },
  { id: "me-abudhabi-2", key: "rkt", realm: "oc29" },
  { id: "me-abudhabi-4", key: "shj", realm: "oc29" },
  { id: "us-somerset-1", key: "ebb", realm: "oc23" },
  { id: "us-thames-1", key: "ebl", realm: "oc23" },
  { id: "ap-seoul-2", key: "dtz", realm: "oc35" },
  { id: "ap-suwon-1", key: "dln", realm: "oc35" },
  { id: "ap-chuncheon-2", key: "bno", realm: "oc35" },
  { id: "us-ashburn-2", key: "yxj", realm: "oc42" },
  { id: "us-newark-1", key: "pgc", realm: "oc42" },
  { id: "eu-budapest-1", key: "jsk", realm: "oc51" },
  { id: "sa-riodejaneiro-1", key: "hnw", realm: "oc52" },
];

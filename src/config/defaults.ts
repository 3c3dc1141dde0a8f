/** Defaults shared by the command line, the manifests and the docs; tests keep them in step. */

/** Where pullgate serves the CRI ImageService for the kubelet. */
export const DEFAULT_LISTEN = "/run/pullgate/pullgate.sock";

/** The runtime's CRI socket pullgate forwards to (containerd). */
export const DEFAULT_UPSTREAM = "/run/containerd/containerd.sock";

/** Where Prometheus metrics, /healthz and /readyz are served. */
export const DEFAULT_METRICS_LISTEN = "0.0.0.0:9464";

/** The CRI-O runtime socket, for nodes that run CRI-O. */
export const CRIO_UPSTREAM = "/var/run/crio/crio.sock";

/**
 * How long one PullImage decision may take before it fails closed. The kubelet gives a
 * runtime call 2 minutes; the decision must leave most of that to the pull itself.
 */
export const DEFAULT_DECISION_TIMEOUT_MS = 20_000;

/** The most keys an OKE image verification policy can name. */
export const MAX_POLICY_KEYS = 5;

/** The pod annotation that lets a pod pull any OCIR image, audited. */
export const BREAK_GLASS_ANNOTATION = "oracle.image-policy.k8s.io/break-glass";

/**
 * How long a Vault key version's public key and state are reused. Vault management reads
 * are throttled per tenancy, so every node cannot ask on every pull; it is also how long a
 * key version disabled in Vault may still count on a node.
 */
export const DEFAULT_KEY_CACHE_TTL_MS = 5 * 60_000;

/** How long an allow verdict is reused by default: bounds how late a revocation takes effect. */
export const DEFAULT_ALLOW_TTL_MS = 5 * 60_000;

/** How long a deny verdict is reused by default: bounds how late a new signature is seen. */
export const DEFAULT_DENY_TTL_MS = 30_000;

/** How many signature verdicts are remembered by default; the least recently used goes first. */
export const DEFAULT_VERDICT_CACHE_SIZE = 4096;

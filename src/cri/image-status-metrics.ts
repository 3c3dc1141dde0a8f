import { Counter, type Registry } from "prom-client";

/** How the ImageStatus gate answered: a bounded label set. */
export type ImageStatusAnswer = "forwarded" | "not-present" | "break-glass" | "audit-forwarded";

const ANSWERS: readonly ImageStatusAnswer[] = [
  "forwarded",
  "not-present",
  "break-glass",
  "audit-forwarded",
];

/** Counts the ImageStatus gate's answers, registered in pullgate's metrics registry. */
export function createImageStatusAnswers(registry: Registry): Counter<"answer"> {
  const counter = new Counter({
    name: "pullgate_image_status_answers_total",
    help:
      "ImageStatus calls by the gate's answer: forwarded to the runtime, answered " +
      "'not present' so the kubelet pulls (and pullgate decides), forwarded for a " +
      "break-glass pod, or forwarded in audit mode although it would have been hidden.",
    labelNames: ["answer"] as const,
    registers: [registry],
  });
  for (const answer of ANSWERS) counter.inc({ answer }, 0);
  return counter;
}

import type { Deadline, ServerUnaryCall } from "@grpc/grpc-js";

import type { CallContext } from "./interceptor";

/** The caller's deadline as a Date, or undefined when it sent none. */
export function callerDeadline(deadline: Deadline): Date | undefined {
  if (deadline instanceof Date) return deadline;
  return Number.isFinite(deadline) ? new Date(deadline) : undefined;
}

/** What every kind of server call offers about its lifetime. */
export type ServerCallLifetime = Pick<
  ServerUnaryCall<Buffer, Buffer>,
  "cancelled" | "getDeadline" | "once" | "off"
>;

/** setTimeout's longest delay; later deadlines are left to the caller's own timer. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A CallContext whose signal aborts when the caller cancels or its deadline passes (with
 * a timer of our own, so the signal does not depend on how grpc-js reports an expired
 * deadline). `release` detaches it once the call has ended.
 */
export function contextFor(call: ServerCallLifetime): { context: CallContext; release(): void } {
  const controller = new AbortController();
  const abort = (): void => controller.abort(new Error("the caller cancelled the call"));
  call.once("cancelled", abort);

  const context: CallContext = { signal: controller.signal };
  const deadline = callerDeadline(call.getDeadline());
  let timer: NodeJS.Timeout | undefined;
  if (deadline !== undefined) {
    context.deadline = deadline;
    const remaining = Math.max(0, deadline.getTime() - Date.now());
    if (remaining <= MAX_TIMER_MS) timer = setTimeout(abort, remaining);
  }
  if (call.cancelled) abort();

  const release = (): void => {
    call.off("cancelled", abort);
    clearTimeout(timer);
  };
  return { context, release };
}

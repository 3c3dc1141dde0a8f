import type {
  CallContext,
  ImageServiceInterceptor,
  Interception,
  UnaryMethod,
} from "./interceptor";

/**
 * Sends each unary method to the interceptor that judges it; methods nobody judges are
 * forwarded untouched. Keeps each gate about one RPC.
 */

/** The interceptor for each judged method. */
export type MethodRoutes = Partial<Record<UnaryMethod, ImageServiceInterceptor>>;

/** One interceptor made of per-method interceptors. */
export function routeByMethod(routes: MethodRoutes): ImageServiceInterceptor {
  return {
    beforeUnary(method, request, context): Promise<Interception> {
      const route = routes[method];
      return route === undefined
        ? Promise.resolve({ action: "forward" })
        : route.beforeUnary(method, request, context);
    },
    afterUnary(method, request, response, context: CallContext): Promise<Buffer> {
      const after = routes[method]?.afterUnary?.bind(routes[method]);
      return after === undefined
        ? Promise.resolve(response)
        : after(method, request, response, context);
    },
  };
}

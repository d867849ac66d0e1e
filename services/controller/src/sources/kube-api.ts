/**
 * The Kubernetes API as the controller's sources use it (the FeatureFlags source and the Lease
 * gate): objects as JSON, a deadline on every request, and failed calls described in one line.
 */
import { ApiException, Observable, type ConfigurationOptions, type ObservableMiddleware } from '@kubernetes/client-node';

/** A Kubernetes object as JSON (what CustomObjectsApi returns). */
export interface KubeObjectJson {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; resourceVersion?: string; generation?: number; [field: string]: unknown };
  spec?: unknown;
  status?: unknown;
  [field: string]: unknown;
}

/** The HTTP status of a failed client-node call (ApiException.code), or undefined. */
export function httpStatusOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const code = (error as { code?: unknown; statusCode?: unknown } | null)?.statusCode ?? (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** A readable one-line description of a failed API call: the Status message when there is one. */
export function describeApiError(error: unknown): string {
  if (error instanceof ApiException) {
    let message: string | undefined;
    try {
      const body = typeof error.body === 'string' ? (JSON.parse(error.body) as { message?: string }) : (error.body as { message?: string } | undefined);
      message = body?.message;
    } catch {
      message = typeof error.body === 'string' ? error.body.slice(0, 200) : undefined;
    }
    return `HTTP ${error.code}${message ? `: ${message}` : ''}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** Per-request options: a deadline on every call (node-fetch has none by default). */
export function requestOptions(timeoutMs: number): ConfigurationOptions {
  const timeout: ObservableMiddleware = {
    pre: (request) => {
      request.setSignal(AbortSignal.timeout(timeoutMs));
      return new Observable(Promise.resolve(request));
    },
    post: (response) => new Observable(Promise.resolve(response)),
  };
  return { middleware: [timeout], middlewareMergeStrategy: 'append' };
}

/**
 * The controller's view of Prometheus (GET /api/v1/query and /api/v1/query_range): one number for
 * the analysis gates and the cutover checks, series for the A/B test and the scorecard. A query that
 * returns nothing is `null` or an empty list ("no data", which no caller treats as a pass); a
 * Prometheus that does not answer, or rejects the query, throws PrometheusQueryError.
 */
class PrometheusQueryError extends Error {
  readonly code = 'PROMETHEUS_QUERY_FAILED';
  override readonly name = 'PrometheusQueryError';
}

interface Sample {
  labels: Record<string, string>;
  value: number;
}

interface RangeSeries {
  labels: Record<string, string>;
  /** [Unix ms, value], NaN and ±Inf dropped. */
  points: Array<[number, number]>;
}

export interface PrometheusClient {
  /** The first sample's value, or null when the query returned no data. */
  query(expr: string, atMs?: number): Promise<number | null>;
  /** Every sample of an instant vector (NaN dropped). */
  vector(expr: string, atMs?: number): Promise<Sample[]>;
  /** A range query: every series with its points. */
  range(expr: string, startMs: number, endMs: number, stepSeconds: number): Promise<RangeSeries[]>;
}

type Data = { resultType: string; result: unknown };

export function prometheusClient(baseUrl: string, timeoutMs: number): PrometheusClient {
  async function get(path: string, params: Record<string, string>): Promise<Data> {
    const url = new URL(path, baseUrl);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new PrometheusQueryError(`Prometheus at ${baseUrl} did not answer within ${timeoutMs} ms: ${(error as Error).message}`, { cause: error });
    }
    const body = (await response.json().catch(() => null)) as { status?: string; error?: string; data?: Data } | null;
    if (!response.ok || body?.status !== 'success') {
      throw new PrometheusQueryError(`Prometheus rejected the query ${JSON.stringify(params.query)}: ${body?.error ?? `HTTP ${response.status}`}`);
    }
    return body.data!;
  }
  const instant = (expr: string, atMs?: number) => get('/api/v1/query', { query: expr, ...(atMs !== undefined ? { time: (atMs / 1000).toFixed(3) } : {}) });
  return {
    async query(expr, atMs) {
      return firstValue(await instant(expr, atMs));
    },
    async vector(expr, atMs) {
      const data = await instant(expr, atMs);
      if (data.resultType === 'scalar') {
        const value = toNumber((data.result as [number, string])[1]);
        return value === null ? [] : [{ labels: {}, value }];
      }
      if (data.resultType !== 'vector') return [];
      return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).flatMap((sample) => {
        const value = toNumber(sample.value[1]);
        return value === null ? [] : [{ labels: sample.metric, value }];
      });
    },
    async range(expr, startMs, endMs, stepSeconds) {
      const data = await get('/api/v1/query_range', { query: expr, start: (startMs / 1000).toFixed(3), end: (endMs / 1000).toFixed(3), step: `${stepSeconds}` });
      if (data.resultType !== 'matrix') return [];
      return (data.result as Array<{ metric: Record<string, string>; values: Array<[number, string]> }>).map((series) => ({
        labels: series.metric,
        points: series.values.flatMap(([at, text]): Array<[number, number]> => {
          const value = toNumber(text);
          return value === null || !Number.isFinite(value) ? [] : [[at * 1000, value]];
        }),
      }));
    },
  };
}

function firstValue(data: Data): number | null {
  if (data.resultType === 'scalar') return toNumber((data.result as [number, string])[1]);
  if (data.resultType === 'vector') {
    const [first] = data.result as Array<{ value: [number, string] }>;
    return first ? toNumber(first.value[1]) : null;
  }
  return null;
}

function toNumber(text: string): number | null {
  const value = Number(text);
  return Number.isNaN(value) ? null : value;
}

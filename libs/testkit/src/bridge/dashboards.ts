/**
 * Reads the Grafana dashboards in deploy/grafana/dashboards and the PromQL in them: every panel
 * query and annotation query, Grafana's built-in variables resolved to concrete values, and the
 * metric names and vector selectors an expression uses.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../index.js';

const DASHBOARD_DIR = join(REPO_ROOT, 'deploy/grafana/dashboards');
export const RULES_FILE = join(REPO_ROOT, 'deploy/prometheus/agent-bridge.rules.yaml');

interface GrafanaTarget {
  expr?: string;
  refId?: string;
  instant?: boolean;
  datasource?: { type?: string; uid?: string };
}

export interface GrafanaPanel {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: GrafanaTarget[];
  panels?: GrafanaPanel[];
  gridPos?: { h: number; w: number; x: number; y: number };
}

interface GrafanaAnnotation {
  name: string;
  builtIn?: number;
  expr?: string;
  datasource?: { type?: string; uid?: string };
  useValueForTime?: boolean;
}

export interface GrafanaDashboard {
  uid: string;
  title: string;
  id: number | null;
  schemaVersion: number;
  panels: GrafanaPanel[];
  annotations: { list: GrafanaAnnotation[] };
  templating: { list: Array<{ name: string; type: string; query?: unknown }> };
}

export interface LoadedDashboard {
  file: string;
  json: GrafanaDashboard;
}

/** One PromQL query of a dashboard: a panel target or an annotation. */
export interface DashboardQuery {
  dashboard: string;
  /** Panel title, or `annotation "<name>"`. */
  where: string;
  expr: string;
}

/** Every dashboard of the folder (the chart ships each file there), so a new one is checked without being listed. */
export function loadDashboards(): LoadedDashboard[] {
  const files = readdirSync(DASHBOARD_DIR)
    .filter((file) => file.endsWith('.json'))
    .sort();
  return files.map((file) => ({ file, json: JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')) as GrafanaDashboard }));
}

/** Every panel, those inside rows included (a collapsed row keeps its panels in `panels`). */
export function allPanels(dashboard: GrafanaDashboard): GrafanaPanel[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

export function dashboardQueries(dashboards: readonly LoadedDashboard[]): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  for (const { file, json } of dashboards) {
    for (const panel of allPanels(json)) {
      for (const target of panel.targets ?? []) {
        if (target.expr !== undefined) queries.push({ dashboard: file, where: `panel "${panel.title}" (${target.refId})`, expr: target.expr });
      }
    }
    for (const annotation of json.annotations.list) {
      if (annotation.expr !== undefined) queries.push({ dashboard: file, where: `annotation "${annotation.name}"`, expr: annotation.expr });
    }
  }
  return queries;
}

/**
 * Concrete values for Grafana's built-in interval variables, as Grafana would fill them for a
 * short time range with a 1 s scrape interval.
 */
const TEST_VARIABLES: Readonly<Record<string, string>> = {
  __rate_interval: '1m',
  __interval: '15s',
  __interval_ms: '15000',
  __range: '5m',
  __range_s: '300',
  __range_ms: '300000',
};

/** Replaces `$var` and `${var}` with `values`; throws naming any variable it cannot resolve. */
export function resolveVariables(expr: string, values: Readonly<Record<string, string>> = TEST_VARIABLES): string {
  const resolved = expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    const value = values[name];
    if (value === undefined) throw new Error(`unknown variable ${whole} in ${expr}`);
    return value;
  });
  return resolved;
}

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);

/**
 * The vector selectors of a PromQL expression, as written: metric name plus label matchers, e.g.
 * `agentbridge_errors_total{protocol="elicitation"}`. Functions, aggregations, keywords, grouping
 * labels, numbers and durations are not selectors.
 */
export function vectorSelectors(expr: string): string[] {
  const text = expr
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // grouping label lists
    .replace(/\[[^\]]*\]/g, ' '); // range and subquery durations
  const selectors: string[] = [];
  for (const match of text.matchAll(/(?<![\w.])([a-zA-Z_][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?/g)) {
    const [, name, matchers] = match;
    const rest = text.slice(match.index! + match[0].length);
    if (!matchers && rest.trimStart().startsWith('(')) continue; // a function or an aggregation
    if (KEYWORDS.has(name!.toLowerCase())) continue;
    selectors.push(`${name}${matchers ?? ''}`);
  }
  return selectors;
}

/** The metric names an expression selects. */
export function metricNames(expr: string): string[] {
  return vectorSelectors(expr).map((selector) => selector.replace(/\{.*$/, ''));
}

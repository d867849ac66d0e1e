/** bridgectl ab and scorecard render the status a person reads: every metric and criterion, with its numbers. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AbTestStatus, ScorecardStatus } from '@agent-bridge/flags';
import type { ControllerReport } from './controller-client.js';
import { renderAbTest, renderScorecard } from './evidence-commands.js';
import { renderStatus } from './status-command.js';

const NOW = Date.parse('2026-11-08T12:00:00Z');

const AB: AbTestStatus = {
  name: 'week-6',
  state: 'running',
  startedAt: '2026-11-06T12:00:00.000Z',
  endsAt: '2026-11-13T12:00:00.000Z',
  evaluatedAt: '2026-11-08T11:55:00.000Z',
  windowSeconds: 172_500,
  confidence: 0.95,
  verdict: 'improved',
  note: 'latency improved; no metric worse',
  metrics: [
    {
      name: 'latency',
      goal: 'improve',
      test: 'bootstrap over histogram buckets (mean)',
      control: { estimate: 0.1234, n: 51_200 },
      treatment: { estimate: 0.0611, n: 50_870 },
      improvement: 0.5049,
      interval: [0.4811, 0.5262],
      pValue: 0,
      pValueResolution: 0.0005,
      minimumImprovement: 0.1,
      verdict: 'improved',
      note: 'reaches 10 %',
    },
    {
      name: 'success-rate',
      goal: 'not-worse',
      test: 'two-proportion z-test',
      control: { estimate: 0.998, n: 51_300 },
      treatment: { estimate: 0.9982, n: 50_960 },
      improvement: 0.1,
      interval: [-0.17, 0.32],
      pValue: 0.4521,
      minimumImprovement: 0.1,
      verdict: 'not-significant',
      note: 'no difference shown',
    },
    {
      name: 'cost',
      goal: 'not-worse',
      test: "Welch's t-test on logs",
      control: { estimate: null, n: 40 },
      treatment: { estimate: null, n: 12 },
      improvement: null,
      interval: null,
      pValue: null,
      minimumImprovement: 0.1,
      verdict: 'not-enough-data',
      note: 'fewer than 100 steps',
    },
  ],
};

describe('bridgectl ab', () => {
  test('the verdict, the window, and a row per metric with both groups, the interval, the p-value and the verdict', () => {
    const text = renderAbTest(AB, NOW);
    assert.match(text, /^verdict\s+IMPROVED — latency improved; no metric worse$/m);
    assert.match(text, /^test\s+week-6: running, 2026-11-06T12:00:00.000Z → 2026-11-13T12:00:00.000Z$/m);
    assert.match(text, /^evaluated\s+2026-11-08T11:55:00.000Z \(5m0?s? ago\), over 47\.9 h; confidence 0\.95$/m);
    assert.match(text, /^latency\s+improve ≥ 10%\s+123\.4 ms \(51200\)\s+61\.1 ms \(50870\)\s+50\.5%\s+48\.1% to 52\.6%\s+< 0\.0001\s+improved$/m);
    assert.match(text, /^success-rate\s+not-worse\s+99\.800% \(51300\)\s+99\.820% \(50960\)\s+10\.0%\s+-17\.0% to 32\.0%\s+0\.4521\s+not-significant$/m);
    assert.match(text, /^cost\s+not-worse\s+— \(40\)\s+— \(12\)\s+—\s+—\s+—\s+not-enough-data$/m);
    assert.match(text, /positive = better/);
  });

  test('no test described says where to describe one', () => {
    assert.match(renderAbTest(undefined, NOW), /spec\.abTest/);
  });
});

describe('bridgectl scorecard', () => {
  const card: ScorecardStatus = {
    evaluatedAt: '2026-11-08T11:59:00.000Z',
    summary: { pass: 1, fail: 1, pending: 1 },
    criteria: [
      {
        id: 'staging-tests',
        group: 'decision-point',
        section: 'end of week 2',
        title: 'Staging tests pass',
        threshold: 'attested pass',
        value: null,
        display: 'not attested',
        result: 'pending',
        source: 'attestation',
        note: 'attest it in spec.attestations',
      },
      { id: 'canary-zero-loss', group: 'phase-gate', section: 'canary success', title: 'Zero message loss', threshold: '0 unaccounted', value: 0, display: '0 unaccounted', window: '24h', result: 'pass', source: 'prometheus' },
      { id: 'delivery-rate', group: 'acceptance', section: 'final acceptance', title: 'Message delivery rate', threshold: '> 99.99 %', value: 0.9991, display: '99.910 %', window: '168h', result: 'fail', source: 'prometheus' },
    ],
  };

  test('each group with its criteria, marked PASS / FAIL / pending, with threshold, value and window, and what is left to attest', () => {
    const text = renderScorecard(card, NOW);
    assert.match(text, /^scorecard evaluated 2026-11-08T11:59:00.000Z \(1m0?s? ago\): 1 pass, 1 fail, 1 pending$/m);
    assert.match(text, /^Go\/no-go decision points\n.*\n {2}\.\.\.\.\s+staging-tests\s+end of week 2\s+Staging tests pass\s+attested pass\s+not attested — attest it in spec\.attestations$/m);
    assert.match(text, /^ {2}PASS\s+canary-zero-loss\s+canary success\s+Zero message loss\s+0 unaccounted\s+0 unaccounted\s+24h$/m);
    assert.match(text, /^ {2}FAIL\s+delivery-rate\s+final acceptance\s+Message delivery rate\s+> 99\.99 %\s+99\.910 %\s+168h$/m);
    assert.match(text, /^to attest \(spec\.attestations: criterion, by, at, evidence\): staging-tests$/m);
  });

  test('before the first evaluation it says when one comes', () => {
    assert.match(renderScorecard(undefined, NOW), /every spec\.scorecard\.interval/);
  });
});

describe('bridgectl status shows the evidence in one line each', () => {
  test('health check, last drill, A/B verdict and scorecard summary', () => {
    const report: ControllerReport = {
      controller: { id: 'ctl', leader: true, leaderId: 'ctl', source: 'file' },
      resource: { state: 'ok', name: 'agent-bridge', generation: 1 },
      status: {
        observedGeneration: 1,
        phase: 'rollout',
        stage: 0,
        effectivePercentage: 50,
        paused: false,
        failedChecks: 0,
        lastMetrics: [],
        handledAlerts: [],
        snapshotVersion: 3,
        conditions: [],
        history: [],
        abTest: AB,
        lastDrill: { id: 'drill-1', agent: 'drill-agent', trigger: 'cli', actor: 'jane', startedAt: '2026-11-08T11:00:00.000Z', at: '2026-11-08T11:00:01.000Z', result: 'passed', effectMs: 212, restoreMs: 180, message: 'ok' },
        scorecard: { evaluatedAt: '2026-11-08T11:59:00.000Z', summary: { pass: 7, fail: 2, pending: 13 }, criteria: [] },
      },
      healthCheck: { consecutiveFailures: 1, lastCheckAt: '2026-11-08T11:59:50.000Z', lastResult: 'unhealthy', message: '0 of 2 ready' },
      snapshot: {
        version: 3,
        publishedAt: '2026-11-08T11:00:00.000Z',
        publishedBy: 'ctl',
        elicitation: { enabled: true, percentage: 50, agents: [], excludedAgents: [] },
        legacyDisabled: false,
        rollout: { phase: 'rollout', stage: 0, rollbacks: [], lastRollback: null },
      },
      adoption: { windowMs: 300_000, activeAgents: 0, elicitationAgents: 0, legacyAgents: 0, rate: null, legacyShare: null },
    };
    const text = renderStatus(report, 'http://ctl', NOW);
    assert.match(text, /^health check\s+unhealthy, 1 failed in a row \(checked 10s ago\): 0 of 2 ready$/m);
    assert.match(text, /^last drill\s+passed at 2026-11-08T11:00:01.000Z \(59m59s ago\): drill-agent, effect 212 ms, restore 180 ms$/m);
    assert.match(text, /^A\/B test\s+week-6 running: improved \(bridgectl ab\)$/m);
    assert.match(text, /^scorecard\s+7 pass, 2 fail, 13 pending \(bridgectl scorecard\)$/m);
  });

  test('adoption adds up: an agent that used both endpoints is on both, not counted twice (it printed "1 on elicitation, 2 on legacy" of 2)', () => {
    const report = {
      controller: { id: 'ctl', leader: true, leaderId: 'ctl', source: 'file' },
      resource: { state: 'ok', name: 'agent-bridge', generation: 1 },
      status: null,
      snapshot: {
        version: 1,
        publishedAt: '2026-11-08T11:00:00.000Z',
        publishedBy: 'ctl',
        elicitation: { enabled: true, percentage: 0, agents: [], excludedAgents: [] },
        legacyDisabled: false,
        rollout: { phase: 'canary', stage: 0, rollbacks: [], lastRollback: null },
      },
      adoption: { windowMs: 300_000, activeAgents: 2, elicitationAgents: 1, legacyAgents: 2, legacyOnlyAgents: 1, elicitationOnlyAgents: 0, bothAgents: 1, otherAgents: 0, rate: 0, legacyShare: 1 },
    } satisfies ControllerReport;
    assert.match(renderStatus(report, 'http://ctl', NOW), /^adoption\s+2 active agents in the last 5m: 0 on elicitation only, 1 on legacy only, 1 on both, 0 on neither \(sent only\); migrated 0\.0%, still using legacy 100\.0%$/m);
  });
});

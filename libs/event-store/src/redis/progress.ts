/**
 * The progress page's data (ProgressStore): adoption samples in a stream trimmed by age and
 * length, owner feedback (latest answer per agent, counts per score kept by
 * record_owner_feedback.lua).
 */
import { LOG_FIELDS, pairs } from '../entry-codec.js';
import type { ProgressStore } from '../store.js';
import type { AdoptionSample, OwnerFeedback, OwnerFeedbackSummary } from '../types.js';
import type { RedisContext, Reply } from './context.js';

const SCORES = ['1', '2', '3', '4', '5'] as const;

export class RedisProgress implements ProgressStore {
  constructor(private readonly context: RedisContext) {}

  async appendAdoptionSample(sample: AdoptionSample, retentionMs: number, maxLength: number): Promise<void> {
    const { keys, redis } = this.context;
    const at = Date.parse(sample.at);
    // Entry ids are append times (the sample's own, give or take a round trip): MINID trims by age.
    const multi = redis
      .multi()
      .xadd(keys.adoptionSamples(), 'MAXLEN', '~', maxLength, '*', LOG_FIELDS.adoptionSample, JSON.stringify(sample))
      .xtrim(keys.adoptionSamples(), 'MINID', '~', Math.max(0, at - retentionMs));
    await this.context.exec('append adoption sample', multi);
  }

  async readAdoptionSamples(since: number, limit: number): Promise<AdoptionSample[]> {
    const { keys, redis } = this.context;
    const raw = await this.context.call('read adoption samples', () => redis.xrevrange(keys.adoptionSamples(), '+', Math.max(0, Math.floor(since)), 'COUNT', limit));
    return raw.reverse().map(([, flat]) => JSON.parse(pairs(flat)[LOG_FIELDS.adoptionSample] ?? '{}') as AdoptionSample);
  }

  async recordOwnerFeedback(feedback: OwnerFeedback, maxAgents: number): Promise<{ status: 'recorded'; previousScore: number | null } | { status: 'full' }> {
    const { keys, scripts } = this.context;
    const [status, previous] = (await this.context.run(
      scripts.record_owner_feedback,
      [keys.ownerFeedback('answers'), keys.ownerFeedback('times'), keys.ownerFeedback('counts')],
      [feedback.agentId, feedback.score, JSON.stringify({ score: feedback.score, comment: feedback.comment, at: feedback.at }), Date.parse(feedback.at), maxAgents],
    )) as Reply;
    if (status === 'FULL') return { status: 'full' };
    return { status: 'recorded', previousScore: previous === '' || previous === undefined ? null : Number(previous) };
  }

  async ownerFeedbackSummary(): Promise<OwnerFeedbackSummary> {
    const counts = await this.context.call('owner feedback counts', () => this.context.redis.hgetall(this.context.keys.ownerFeedback('counts')));
    const byScore = Object.fromEntries(SCORES.map((score) => [score, Math.max(0, Number(counts[score] ?? 0))])) as OwnerFeedbackSummary['byScore'];
    return { byScore, total: SCORES.reduce((sum, score) => sum + byScore[score], 0) };
  }

  async readOwnerFeedback(limit: number): Promise<OwnerFeedback[]> {
    const { keys, redis } = this.context;
    const agents = await this.context.call('owner feedback times', () => redis.zrevrange(keys.ownerFeedback('times'), 0, limit - 1));
    if (agents.length === 0) return [];
    const answers = await this.context.call('owner feedback', () => redis.hmget(keys.ownerFeedback('answers'), ...agents));
    return agents.flatMap((agentId, i) => {
      const json = answers[i];
      return json ? [{ agentId, ...(JSON.parse(json) as Omit<OwnerFeedback, 'agentId'>) }] : [];
    });
  }
}

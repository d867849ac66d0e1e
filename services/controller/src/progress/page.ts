/**
 * The progress page as HTML: one document, no script, its stylesheet same-origin (style.css),
 * every link and form relative to the page, so it works under any path prefix an Ingress gives it.
 */
import { adoptionChart } from './chart.js';
import { html, type Html } from './html.js';
import type { AgentProtocol } from './source.js';
import type { ProgressView } from './view.js';

interface LookupResult {
  agentId: string;
  protocol: AgentProtocol;
}

export interface PageOptions {
  lookup: boolean;
  feedback: boolean;
  /** Where the migration guide is (PROGRESS_MIGRATION_GUIDE_URL); without it the steps stand alone. */
  guideUrl?: string;
  /** Longest comment the feedback form takes. */
  commentMaxLength: number;
}

/** What the page says above a form: the lookup's answer, or what became of a feedback answer. */
export interface Notice {
  lookup?: LookupResult | { error: string };
  feedback?: { ok: true; agentId: string } | { error: string };
}

const pct = (ratio: number | null) => (ratio === null ? 'no data' : `${(ratio * 100).toFixed(1)} %`);
const minutes = (ms: number) => (ms >= 3_600_000 ? `${(ms / 3_600_000).toFixed(ms % 3_600_000 === 0 ? 0 : 1)} h` : `${Math.round(ms / 60_000)} min`);

function standing(view: ProgressView): Html {
  const stage = view.stage !== null ? (view.stages ? `${view.stage} of ${view.stages}` : String(view.stage)) : 'unknown';
  return html`<section aria-labelledby="standing">
    <h2 id="standing">Where the migration stands</h2>
    <dl class="figures">
      <div>
        <dt>Phase</dt>
        <dd id="phase">${view.phase ?? 'unknown'}</dd>
      </div>
      <div>
        <dt>Rollout stage</dt>
        <dd id="stage">${stage}</dd>
      </div>
      <div>
        <dt>Agents chosen for elicitation</dt>
        <dd id="percentage">${view.percentage === null ? 'unknown' : `${view.percentage} %`}</dd>
      </div>
      <div>
        <dt>Active agents on elicitation only</dt>
        <dd id="adoption-rate">${view.adoption ? pct(view.adoption.rate) : 'no data'}</dd>
      </div>
    </dl>
    ${view.paused ? html`<p class="notice">The rollout is paused.</p>` : ''}
    ${view.rollbackInForce ? html`<p class="notice" id="rollback-in-force">A ${view.rollbackInForce.level} rollback is in force since ${view.rollbackInForce.at}: ${view.rollbackInForce.reason}</p>` : ''}
  </section>`;
}

function adoption(view: ProgressView): Html {
  const a = view.adoption;
  return html`<section aria-labelledby="adoption">
    <h2 id="adoption">Adoption</h2>
    ${
      a
        ? html`<p>
            In the last ${minutes(a.windowMs)}: <strong>${a.active}</strong> active agents — ${a.elicitationOnly} on elicitation only, ${a.legacyOnly} on legacy only, ${a.both} on both,
            ${Math.max(0, a.active - a.elicitationOnly - a.legacyOnly - a.both)} on neither (they only sent).
          </p>`
        : html`<p>No adoption figures yet.</p>`
    }
    ${adoptionChart(view.samples)}
  </section>`;
}

function teams(view: ProgressView): Html {
  return html`<section aria-labelledby="teams">
    <h2 id="teams">Agents still on legacy, by team</h2>
    ${
      view.teams.length === 0
        ? html`<p>No active agent uses the legacy endpoint.</p>`
        : html`<table>
            <thead>
              <tr>
                <th scope="col">Team</th>
                <th scope="col">Legacy only</th>
                <th scope="col">Both endpoints</th>
                <th scope="col">Agents in all</th>
              </tr>
            </thead>
            <tbody>
              ${view.teams.map(
                (t) =>
                  html`<tr>
                    <th scope="row">${t.team}</th>
                    <td>${t.legacy}</td>
                    <td>${t.both}</td>
                    <td>${t.total}</td>
                  </tr>`,
              )}
            </tbody>
          </table>`
    }
  </section>`;
}

function deadline(view: ProgressView): Html {
  return html`<section aria-labelledby="deadline">
    <h2 id="deadline">Deadline</h2>
    <p id="sunset">${view.sunsetAt ? html`The legacy endpoint (<code>wait_for_messages</code>) is switched off at <time datetime="${view.sunsetAt}">${view.sunsetAt}</time>.` : 'No deadline set.'}</p>
    ${
      view.steps.length > 0
        ? html`<ol class="steps">
            ${view.steps.map((s) => html`<li>${s.at ? html`<time datetime="${s.at}">${s.at}</time> — ` : ''}${s.label}${s.done ? ' (done)' : ''}</li>`)}
          </ol>`
        : ''
    }
  </section>`;
}

function rollbacks(view: ProgressView): Html {
  return html`<section aria-labelledby="rollbacks">
    <h2 id="rollbacks">Rollbacks</h2>
    ${
      view.rollbacks.length === 0
        ? html`<p>No rollback so far.</p>`
        : html`<ol class="timeline">
            ${view.rollbacks.map((r) => html`<li><time datetime="${r.at}">${r.at}</time> — ${r.level} rollback${r.trigger !== 'unknown' ? ` (${r.trigger})` : ''}: ${r.reason}</li>`)}
          </ol>`
    }
  </section>`;
}

/** What an owner does next, for each answer of the lookup. */
function nextSteps(result: LookupResult, guide: Html): Html {
  const id = html`<code>${result.agentId}</code>`;
  switch (result.protocol) {
    case 'legacy':
      return html`<p>${id} uses the <strong>legacy</strong> endpoint (<code>wait_for_messages</code>). To migrate:</p>
        <ol>
          <li>Use an MCP client that declares the elicitation capability (MCP SDK v2, or a 2025-11-25 client with <code>capabilities.elicitation</code>).</li>
          <li>Point it at the elicitation endpoint (the same host, path <code>/mcp</code> of the elicitation service) with the agent's token.</li>
          <li>Answer the <code>elicitation/create</code> requests (2025-11-25) or the elicitations of your <code>wait_for_messages</code> call (2026-07-28); de-duplicate by <code>message_id</code>.</li>
          <li>Stop calling the legacy endpoint, then look the agent up again: it should say elicitation.</li>
        </ol>
        ${guide}`;
    case 'both':
      return html`<p>${id} uses <strong>both</strong> endpoints: it reaches the elicitation endpoint but still calls <code>wait_for_messages</code> on the legacy one.</p>
        <ol>
          <li>Find the process or loop that still polls the legacy endpoint and stop it.</li>
          <li>Keep the elicitation session; look the agent up again after the next window: it should say elicitation.</li>
        </ol>
        ${guide}`;
    case 'elicitation':
      return html`<p>${id} is on <strong>elicitation</strong>. Nothing to do; tell us below how the migration went.</p>`;
    default:
      return html`<p>${id} was <strong>not seen</strong> lately. Check the id (the one your agent's token belongs to); an agent that has not connected in the window is not counted. Start it and look again.</p>
        ${guide}`;
  }
}

function lookup(options: PageOptions, notice: Notice): Html {
  if (!options.lookup) return html``;
  const guide = options.guideUrl ? html`<p>More in the <a href="${options.guideUrl}" rel="noreferrer">migration guide</a>.</p>` : html``;
  const result = notice.lookup;
  return html`<section aria-labelledby="lookup">
    <h2 id="lookup">Look up your agent</h2>
    <form method="get" action="lookup#lookup">
      <label for="lookup-agent">Agent id</label>
      <input id="lookup-agent" name="agent" required maxlength="128" pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{0,127}" autocomplete="off" value="${result && 'agentId' in result ? result.agentId : ''}" />
      <button type="submit">Look up</button>
    </form>
    ${result ? html`<div id="lookup-result" role="status">${'error' in result ? html`<p class="error">${result.error}</p>` : nextSteps(result, guide)}</div>` : ''}
  </section>`;
}

function feedback(view: ProgressView, options: PageOptions, notice: Notice): Html {
  if (!options.feedback) return html``;
  const scores = [1, 2, 3, 4, 5].map((score) => html`<label class="score"><input type="radio" name="score" value="${score}" required /> ${score}</label>`);
  const answer = notice.feedback;
  return html`<section aria-labelledby="feedback">
    <h2 id="feedback">How did the migration go?</h2>
    <p>
      Owners: rate the migration of your agent from 1 (bad) to 5 (good). The latest answer per agent counts.
      ${view.feedback.answers > 0 ? html`So far <span id="feedback-summary">${view.feedback.answers} ${view.feedback.answers === 1 ? 'answer' : 'answers'}, ${pct(view.feedback.positiveRatio)} positive (4 or 5)</span>.` : ''}
    </p>
    ${answer ? html`<p id="feedback-result" role="status" class="${'error' in answer ? 'error' : 'ok'}">${'error' in answer ? answer.error : html`Thank you: your answer for <code>${answer.agentId}</code> is recorded.`}</p>` : ''}
    <form method="post" action="feedback#feedback">
      <label for="feedback-agent">Agent id</label>
      <input id="feedback-agent" name="agent" required maxlength="128" pattern="[A-Za-z0-9][A-Za-z0-9._\\-]{0,127}" autocomplete="off" />
      <fieldset>
        <legend>Satisfaction (1 bad – 5 good)</legend>
        ${scores}
      </fieldset>
      <label for="feedback-comment">Comment (optional, at most ${options.commentMaxLength} characters; not shown here)</label>
      <textarea id="feedback-comment" name="comment" maxlength="${options.commentMaxLength}" rows="3"></textarea>
      <button type="submit">Send</button>
    </form>
  </section>`;
}

export function renderPage(view: ProgressView, options: PageOptions, notice: Notice = {}): string {
  return `<!doctype html>\n${
    html`<html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>Migration progress — agent-bridge</title>
        <link rel="stylesheet" href="style.css" />
        <link rel="icon" href="favicon.svg" type="image/svg+xml" />
      </head>
      <body>
        <header>
          <h1>Migration to MCP elicitation</h1>
          <p>Moving every agent from long-polling (<code>wait_for_messages</code>) to MCP elicitation. Updated <time datetime="${view.generatedAt}">${view.generatedAt}</time>.</p>
        </header>
        <main>${standing(view)} ${adoption(view)} ${teams(view)} ${deadline(view)} ${rollbacks(view)} ${lookup(options, notice)} ${feedback(view, options, notice)}</main>
      </body>
    </html>`.text
  }\n`;
}

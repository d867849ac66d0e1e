/**
 * The adoption chart: a server-rendered inline SVG of the share of active agents on elicitation
 * only, legacy only and both over time (stacked areas), with labelled axes and a text summary for
 * screen readers. No script, no external asset, no style attribute (the page's CSP forbids them).
 */
import type { AdoptionSample } from '@agent-bridge/event-store';
import { html, type Html } from './html.js';

const WIDTH = 720;
const HEIGHT = 240;
const PAD = { left: 44, right: 12, top: 12, bottom: 28 };

/** Points `x,y` of a polygon between two series (shares 0..1) over the samples. */
function band(samples: readonly AdoptionSample[], lower: (s: AdoptionSample) => number, upper: (s: AdoptionSample) => number, x: (i: number) => number, y: (share: number) => number): string {
  const top = samples.map((s, i) => `${x(i).toFixed(1)},${y(upper(s)).toFixed(1)}`);
  const bottom = samples.map((s, i) => `${x(i).toFixed(1)},${y(lower(s)).toFixed(1)}`).reverse();
  return [...top, ...bottom].join(' ');
}

const share = (part: number, sample: AdoptionSample) => (sample.active > 0 ? part / sample.active : 0);

/** The chart, or a sentence when there are fewer than two samples to draw. A sample without active agents has no shares: it is left out. */
export function adoptionChart(all: readonly AdoptionSample[]): Html {
  const samples = all.filter((sample) => sample.active > 0);
  if (samples.length < 2) {
    return html`<p class="empty">Not enough samples yet to draw adoption over time (${samples.length} so far; one is taken every few minutes).</p>`;
  }
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (i: number) => PAD.left + (samples.length === 1 ? 0 : (i / (samples.length - 1)) * plotW);
  const y = (value: number) => PAD.top + (1 - Math.min(1, Math.max(0, value))) * plotH;
  const elicitation = (s: AdoptionSample) => share(s.elicitationOnly, s);
  const withBoth = (s: AdoptionSample) => share(s.elicitationOnly + s.both, s);
  const withLegacy = (s: AdoptionSample) => share(s.elicitationOnly + s.both + s.legacyOnly, s);
  const first = samples[0]!;
  const last = samples.at(-1)!;
  const grid = [0, 0.25, 0.5, 0.75, 1].map(
    (v) => html`<line class="grid" x1="${PAD.left}" x2="${WIDTH - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}"></line><text class="axis" x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v * 100}%</text>`,
  );
  const summary = `From ${first.at} to ${last.at}: elicitation only ${(elicitation(first) * 100).toFixed(0)}% → ${(elicitation(last) * 100).toFixed(0)}% of ${last.active} active agents; legacy only ${(share(last.legacyOnly, last) * 100).toFixed(0)}%, both ${(share(last.both, last) * 100).toFixed(0)}% now.`;
  return html`<figure>
    <svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-labelledby="chart-title chart-desc" xmlns="http://www.w3.org/2000/svg">
      <title id="chart-title">Share of active agents by protocol over time</title>
      <desc id="chart-desc">${summary}</desc>
      ${grid}
      <polygon class="area-elicitation" points="${band(samples, () => 0, elicitation, x, y)}"></polygon>
      <polygon class="area-both" points="${band(samples, elicitation, withBoth, x, y)}"></polygon>
      <polygon class="area-legacy" points="${band(samples, withBoth, withLegacy, x, y)}"></polygon>
      <text class="axis" x="${PAD.left}" y="${HEIGHT - 8}" text-anchor="start">${first.at.slice(0, 16).replace('T', ' ')}</text>
      <text class="axis" x="${WIDTH - PAD.right}" y="${HEIGHT - 8}" text-anchor="end">${last.at.slice(0, 16).replace('T', ' ')} UTC</text>
    </svg>
    <figcaption><span class="key key-elicitation"></span> elicitation only <span class="key key-both"></span> both <span class="key key-legacy"></span> legacy only — ${summary}</figcaption>
  </figure>`;
}

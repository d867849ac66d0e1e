/** The page's icon, served as favicon.svg (otherwise a browser asks for /favicon.ico, outside the page's path). */
export const ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#1f7a4d"/><path d="M4 8h8M9 5l3 3-3 3" stroke="#fff" stroke-width="2" fill="none"/></svg>';

/** The page's stylesheet, served same-origin as style.css (the CSP allows style-src 'self' only). */
export const STYLESHEET = `:root { color-scheme: light dark; --fg: #1b1f24; --bg: #ffffff; --muted: #59636e; --line: #d1d9e0; --elicitation: #1f7a4d; --both: #c08a00; --legacy: #b3261e; --accent: #0b57d0; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9198a1; --line: #3d444d; --elicitation: #3fb950; --both: #d29922; --legacy: #f85149; --accent: #4493f8; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 60rem; padding: 1rem 1.25rem 3rem; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 1.75rem; margin: 0.5rem 0; }
h2 { font-size: 1.25rem; margin: 2rem 0 0.5rem; border-bottom: 1px solid var(--line); padding-bottom: 0.25rem; }
header p, .empty, figcaption { color: var(--muted); }
code { font-size: 0.95em; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(12rem, 1fr)); gap: 0.75rem; margin: 0; }
.figures div { border: 1px solid var(--line); border-radius: 6px; padding: 0.5rem 0.75rem; }
.figures dt { color: var(--muted); font-size: 0.9rem; }
.figures dd { margin: 0; font-size: 1.5rem; font-weight: 600; }
.notice { border-left: 4px solid var(--both); padding-left: 0.75rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 0.35rem 0.5rem; border-bottom: 1px solid var(--line); }
td { font-variant-numeric: tabular-nums; }
figure { margin: 0; }
.chart { width: 100%; height: auto; }
.chart .grid { stroke: var(--line); stroke-width: 1; }
.chart .axis { fill: var(--muted); font-size: 11px; }
.area-elicitation, .key-elicitation { fill: var(--elicitation); background: var(--elicitation); }
.area-both, .key-both { fill: var(--both); background: var(--both); }
.area-legacy, .key-legacy { fill: var(--legacy); background: var(--legacy); }
.key { display: inline-block; width: 0.8rem; height: 0.8rem; border-radius: 2px; vertical-align: middle; }
form { display: grid; gap: 0.5rem; max-width: 32rem; }
input, textarea, button { font: inherit; padding: 0.4rem 0.5rem; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; justify-self: start; }
fieldset { border: 1px solid var(--line); border-radius: 4px; }
.score { margin-right: 1rem; }
.error { color: var(--legacy); font-weight: 600; }
.ok { color: var(--elicitation); font-weight: 600; }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
`;

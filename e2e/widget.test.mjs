// End-to-end tests of the embeddable widgets from the built files (dist/):
// a blog-like page (e2e/fixtures/blog/) embeds the <profile-report> element
// and the embed.html iframe, both served with the site under a sub-path. The
// page has its own strict CSP, styles and script; the tests check what the
// widgets draw, that they leave the page alone whatever report they are
// given, and take screenshots (target/screenshots/widget-*.png).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { setup, newPage, waitForReport, cliReport, fmt, shot, ROOT, DATA } from './helpers.mjs';

const EXAMPLE = join(ROOT, 'www', 'example', 'example.jsonl');
const SUMMEVAL = join(DATA, 'summeval', 'summeval.jsonl');
const FIXTURES = join(ROOT, 'e2e', 'fixtures', 'blog');
const TEMPLATE = readFileSync(join(FIXTURES, 'post.html'), 'utf8');
const INVALID = 'This PROFILE report cannot be shown';

let env;
let site;
let blog;
let reports;

/**
 * The example report with the agents of tests/fixtures/agents.json (human,
 * a judge, a writer and a flat one) in place of its own: ten factors each,
 * counts and intervals made up to match the scores.
 */
function withAgents(report) {
  const table = JSON.parse(readFileSync(join(ROOT, 'tests', 'fixtures', 'agents.json'), 'utf8'));
  const settings = { human: 'human', judge: 'evaluation', writer: 'generation', flat: 'generation' };
  const r = structuredClone(report);
  r.agents = Object.entries(table).map(([name, scores]) => {
    const factor_scores = Object.fromEntries(Object.entries(scores).map(([k, s]) => {
      const c = s === null ? 0 : Math.round((1 + s) * 50);
      const ci95 = s === null ? null : [Math.max(-1, s - 0.08), Math.min(1, s + 0.08)];
      return [k, { score: s, ci95, concordant: c, discordant: s === null ? 0 : 100 - c, ties: 0, dropped: s === null ? 100 : 0, n_pairs: 100 }];
    }));
    const ranking = Object.keys(factor_scores).sort((a, b) => {
      const [x, y] = [factor_scores[a].score, factor_scores[b].score];
      if (x === null || y === null) return (x === null) - (y === null) || (a < b ? -1 : 1);
      return y - x || (a < b ? -1 : 1);
    });
    return { name, setting: settings[name], tie_policy: report.agents[0].tie_policy, factor_scores, ranking };
  });
  r.config.factors = Object.keys(table.human);
  r.skipped_factors = [];
  return r;
}

/** An embed.html fragment made with Node's own zlib (an independent encoder). */
function fragment(report, { view = 'factors', theme = 'auto' } = {}) {
  const text = typeof report === 'string' ? report : JSON.stringify({ ...report, dataset: { ...report.dataset, diagnostics: [] } });
  return `view=${view}&theme=${theme}&r=${deflateRawSync(Buffer.from(text)).toString('base64url')}`;
}

/** Writes blog/<name>.html from the template with these widgets; returns its URL. */
function post(name, widgets, { script = '<script type="module" src="../profile/widget.js"></script>' } = {}) {
  const html = TEMPLATE.replace('<!--WIDGET-SCRIPT-->', script).replace('<!--WIDGETS-->', widgets);
  writeFileSync(join(blog, `${name}.html`), html);
  return `${env.url}blog/${name}.html`;
}

/** A report inside a <script type="application/json"> block (no "</" may close it early). */
function inline(report) {
  return `<script type="application/json">${JSON.stringify(report).replaceAll('</', '<\\/')}</script>`;
}

before(async () => {
  site = mkdtempSync(join(tmpdir(), 'profile-widget-'));
  cpSync(join(ROOT, 'dist'), join(site, 'profile'), { recursive: true });
  blog = join(site, 'blog');
  cpSync(FIXTURES, blog, { recursive: true });
  const example = cliReport(EXAMPLE);
  reports = { example, summeval: cliReport(SUMMEVAL), models: withAgents(example) };
  for (const [k, r] of Object.entries(reports)) writeFileSync(join(blog, `${k}.json`), JSON.stringify(r));
  env = await setup({ dir: site, base: '/' });
});
after(async () => {
  await env?.close();
  if (site) rmSync(site, { recursive: true, force: true });
});

/** A page that also records CSP violations (in every frame) and marks scripts that should never run. */
async function blogPage(opts = {}) {
  const page = await newPage(env.browser, { viewport: { width: 1000, height: 900 }, ...opts });
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) page.problems.push(m.text());
  });
  return page;
}

/** Waits until every widget on the page (and in its frames) has drawn a report or an error. */
async function settled(page, n) {
  await page.waitForFunction((n) => {
    const els = [...document.querySelectorAll('profile-report')];
    return els.length === n && els.every((e) => e.state === 'ready' || e.state === 'error');
  }, n, { timeout: 60_000 });
  for (const f of page.frames().filter((f) => f !== page.mainFrame())) {
    await f.waitForFunction(() => ['ready', 'error'].includes(document.querySelector('profile-report')?.state), null, { timeout: 60_000 });
  }
}

/** What a widget shows: state, title, rows, values, problems and the text. */
function inspect(el) {
  const root = el.shadowRoot;
  const q = (s) => [...root.querySelectorAll(s)];
  return {
    state: el.state,
    title: root.querySelector('.pr-title')?.textContent ?? null,
    rows: q('.pr-row').map((r) => r.getAttribute('data-factor')),
    values: q('.pr-value').map((v) => v.textContent),
    taus: q('.pr-tau').map((v) => v.textContent),
    ranks: q('.pr-ranks tbody tr').map((r) => r.getAttribute('data-factor')),
    problems: q('.pr-problems li').map((li) => li.textContent),
    alert: !!root.querySelector('[role=alert]'),
    text: root.textContent,
    width: el.getBoundingClientRect().width,
    card: getComputedStyle(root.querySelector('.pr-card') || el).backgroundColor,
    svgBackground: root.querySelector('svg') ? getComputedStyle(root.querySelector('svg')).backgroundColor : null,
  };
}

async function widget(page, selector) {
  return page.$eval(selector, inspect);
}

async function frameWidget(page, id) {
  const frame = await (await page.$(`iframe#${id}`)).contentFrame();
  return frame.$eval('profile-report', inspect);
}

/** The host page still works: its text is intact and its own script still runs. */
async function hostWorks(page) {
  assert.equal(await page.textContent('#post-title'), 'Why do readers prefer one summary over another?');
  await page.click('#like');
  await page.click('#like');
  assert.equal(await page.textContent('#likes'), '2');
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'nothing from a report ran');
  assert.deepEqual(await page.evaluate(() => window.__csp), []);
}

function human(report) {
  return report.agents.find((a) => a.name === 'human');
}

function scoredRanking(agent) {
  return agent.ranking.filter((id) => agent.factor_scores[id].score !== null);
}

test('a blog post embeds both widget kinds from the built files', async () => {
  const { summeval, models } = reports;
  const url = post('post', `
    <profile-report id="w-factors" src="summeval.json"></profile-report>
    <iframe id="f-factors" src="../profile/embed.html#${fragment(summeval)}" title="factor scores" width="100%" height="460" frameborder="0"></iframe>
    <profile-report id="w-align" src="models.json" view="alignment" theme="light"></profile-report>
    <profile-report id="w-ranks" src="models.json" view="rankings" theme="dark"></profile-report>
    <profile-report id="w-inline" view="factors" agent="judge">${inline(models)}</profile-report>`);
  const page = await blogPage();
  await page.goto(url);
  await settled(page, 4);

  const f = await widget(page, '#w-factors');
  assert.equal(f.state, 'ready');
  assert.equal(f.title, 'Factor scores — summeval.jsonl');
  const h = human(summeval);
  assert.deepEqual(f.rows, scoredRanking(h));
  assert.deepEqual(f.values, scoredRanking(h).map((id) => fmt(h.factor_scores[id].score)));
  assert.match(f.text, /11342 pairs · 100 inputs · task summarization · 95% intervals from 1000 resamples/);
  assert.match(f.text, /Not scored, need a language model: .*# facts/);
  assert.equal(f.svgBackground, 'rgba(0, 0, 0, 0)', "the blog's CSS does not reach inside");

  const i = await frameWidget(page, 'f-factors');
  assert.deepEqual([i.state, i.rows, i.values], ['ready', f.rows, f.values]);

  // Alignment: Kendall's τ as `profile align` computes it from the same factor scores.
  const cli = JSON.parse(execFileSync(join(ROOT, 'target', 'release', 'profile'),
    ['align', join(ROOT, 'tests', 'fixtures', 'agents.json'), '--json']).toString());
  const a = await widget(page, '#w-align');
  assert.equal(a.state, 'ready');
  assert.deepEqual(a.taus, ['judge', 'writer', 'flat'].map((n) => fmt(cli.find((x) => x.agent === n).kendall_tau)));
  assert.equal(a.taus[2], '—', 'a constant vector has no τ');
  assert.deepEqual(a.rows, scoredRanking(human(models)));
  assert.match(a.text, /computed from its agents' factor scores/);

  const r = await widget(page, '#w-ranks');
  assert.equal(r.state, 'ready');
  assert.deepEqual(r.ranks.slice(0, scoredRanking(human(models)).length), scoredRanking(human(models)));
  assert.match(r.text, /factorhumanjudgewriterflat/);

  const n = await widget(page, '#w-inline');
  const judge = models.agents.find((x) => x.name === 'judge');
  assert.deepEqual(n.values, scoredRanking(judge).map((id) => fmt(judge.factor_scores[id].score)));

  await shot(page, 'widget-01-blog');
  await hostWorks(page);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('clickable: a factor dispatches profile-factor with its factor and agent; without the attribute, nothing', async () => {
  const url = post('clickable', `
    <profile-report id="w-click" src="summeval.json" clickable></profile-report>
    <profile-report id="w-ranks-click" src="models.json" view="rankings" clickable></profile-report>
    <profile-report id="w-plain" src="summeval.json"></profile-report>`);
  const page = await blogPage();
  await page.goto(url);
  await settled(page, 3);
  await page.evaluate(() => {
    window.__factor = [];
    document.addEventListener('profile-factor', (e) => window.__factor.push({ id: e.target.id, ...e.detail }));
  });
  const events = () => page.evaluate(() => window.__factor.splice(0));
  await page.click('#w-click g.pr-row[data-factor="length"] text.pr-label');
  assert.deepEqual(await events(), [{ id: 'w-click', factor: 'length', agent: 'human', view: 'factors' }]);
  // A button for the keyboard too.
  assert.equal(await page.getAttribute('#w-click g.pr-row[data-factor="novel_words"]', 'role'), 'button');
  await page.focus('#w-click g.pr-row[data-factor="novel_words"]');
  await page.keyboard.press('Enter');
  assert.deepEqual(await events(), [{ id: 'w-click', factor: 'novel_words', agent: 'human', view: 'factors' }]);
  // Rankings: the column names the agent; the row's label names none.
  await page.click('#w-ranks-click tr[data-factor="length"] td[data-agent="judge"]');
  await page.click('#w-ranks-click tr[data-factor="length"] th');
  assert.deepEqual(await events(), [
    { id: 'w-ranks-click', factor: 'length', agent: 'judge', view: 'rankings' },
    { id: 'w-ranks-click', factor: 'length', agent: null, view: 'rankings' },
  ]);
  // Without `clickable`: no event, no button.
  await page.click('#w-plain g.pr-row[data-factor="length"] text.pr-label');
  assert.deepEqual(await events(), []);
  assert.equal(await page.getAttribute('#w-plain g.pr-row[data-factor="length"]', 'role'), null);
  await shot(page, 'widget-08-clickable');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('intervals from fewer than 10 inputs are flagged; 100 inputs are not', async () => {
  // The example has 8 inputs: every interval comes from fewer than 10.
  const ex = human(reports.example);
  assert.ok(Object.values(ex.factor_scores).some((e) => e.few_inputs && e.inputs < 10));
  assert.ok(!Object.values(human(reports.summeval).factor_scores).some((e) => e.few_inputs));
  const url = post('few', `
    <profile-report id="w-few" src="example.json"></profile-report>
    <profile-report id="w-many" src="summeval.json"></profile-report>`);
  const page = await blogPage();
  await page.goto(url);
  await settled(page, 2);
  const few = await widget(page, '#w-few');
  assert.equal(few.state, 'ready');
  assert.match(few.text, /! fewer than 10 inputs: intervals cover well below 95%/);
  assert.match(few.text, /! Intervals from fewer than 10 inputs, whose coverage is well below 95%: .*length/);
  const many = await widget(page, '#w-many');
  assert.doesNotMatch(many.text, /fewer than 10 inputs/);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('light and dark themes; auto follows prefers-color-scheme', async () => {
  const frag = fragment(reports.models, { view: 'alignment', theme: 'auto' });
  const widgets = `
    <profile-report id="auto" src="models.json"></profile-report>
    <profile-report id="light" src="models.json" theme="light" view="rankings"></profile-report>
    <profile-report id="dark" src="models.json" theme="dark" view="alignment"></profile-report>
    <iframe id="f-auto" src="../profile/embed.html#${frag}" title="alignment" width="100%" height="520" frameborder="0"></iframe>`;
  const url = post('themes', widgets);
  for (const scheme of ['light', 'dark']) {
    const page = await blogPage({ colorScheme: scheme });
    await page.goto(url);
    await settled(page, 3);
    const [auto, light, dark, frame] = [
      await widget(page, '#auto'), await widget(page, '#light'), await widget(page, '#dark'), await frameWidget(page, 'f-auto'),
    ];
    const white = 'rgb(255, 255, 255)';
    const night = 'rgb(17, 24, 39)';
    assert.equal(light.card, white);
    assert.equal(dark.card, night);
    assert.equal(auto.card, scheme === 'dark' ? night : white);
    assert.equal(frame.card, scheme === 'dark' ? night : white);
    await shot(page, `widget-02-themes-${scheme}`);
    await hostWorks(page);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  }
});

test('a phone-width page: the widgets fit and stay readable', async () => {
  const url = post('narrow', `
    <profile-report id="w1" src="summeval.json"></profile-report>
    <profile-report id="w2" src="models.json" view="rankings"></profile-report>
    <iframe id="f1" src="../profile/embed.html#${fragment(reports.models, { view: 'alignment' })}" title="alignment" width="100%" height="560" frameborder="0"></iframe>`);
  const page = await blogPage({ viewport: { width: 360, height: 780 }, deviceScaleFactor: 2 });
  await page.goto(url);
  await settled(page, 2);
  for (const id of ['#w1', '#w2']) {
    const w = await widget(page, id);
    assert.equal(w.state, 'ready');
    assert.ok(w.width <= 360 - 40 + 1, `${id} is ${w.width}px wide`);
  }
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page overflows by ${overflow}px`);
  // The chart was laid out for this width, not scaled down from a wide one.
  const box = await page.$eval('#w1', (el) => el.shadowRoot.querySelector('svg').viewBox.baseVal.width);
  assert.ok(box <= 330, `laid out at ${box}px`);
  await shot(page, 'widget-03-phone');
  // Wider again: the widget lays itself out anew.
  await page.setViewportSize({ width: 900, height: 780 });
  await page.waitForFunction(() => document.querySelector('#w1').shadowRoot.querySelector('svg').viewBox.baseVal.width > 600);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test("the app's Embed button: both snippets for the current view, a live preview, and the snippets work in a post", async () => {
  const page = await blogPage({ viewport: { width: 1100, height: 1000 }, acceptDownloads: true });
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
  await page.goto(`${env.url}profile/#task=helpful`);
  await waitForReport(page, 'example');
  await page.click('#embed-open');
  const script = await page.inputValue('#embed-script');
  const base = `${env.url}profile/`;
  assert.equal(script, `<script type="module" src="${base}widget.js"></script>\n<profile-report src="profile-report.json" view="factors" theme="auto"></profile-report>`);
  let iframe = await page.inputValue('#embed-iframe');
  assert.match(iframe, new RegExp(`^<iframe src="${base}embed\\.html#view=factors&amp;theme=auto&amp;r=[A-Za-z0-9_-]+" title="Factor scores — example[^"]*" width="100%" height="\\d+" frameborder="0"`));
  // The live preview shows the current report (the helpful preset: no novel_words).
  const preview = await (await page.$('#embed-preview')).contentFrame();
  await preview.waitForFunction(() => document.querySelector('profile-report')?.state === 'ready');
  const rows = await preview.$eval('profile-report', (el) => [...el.shadowRoot.querySelectorAll('.pr-row')].map((r) => r.dataset.factor));
  assert.deepEqual(rows, ['length']);
  // Another view and theme: the snippets and the preview follow.
  await page.selectOption('#embed-view', 'rankings');
  await page.selectOption('#embed-theme', 'dark');
  await page.waitForFunction(() => document.querySelector('#embed-iframe').value.includes('view=rankings&amp;theme=dark'));
  assert.match(await page.inputValue('#embed-script'), /view="rankings" theme="dark"/);
  await preview.waitForFunction(() => document.querySelector('profile-report')?.shadowRoot.querySelector('.pr-ranks'));
  await page.click('#embed-copy-iframe');
  await page.waitForFunction(() => /Copied|Selected/.test(document.getElementById('embed-status').textContent));
  await page.$eval('#embed-h', (h) => h.scrollIntoView());
  await shot(page, 'widget-04-app-embed');
  // Paste both snippets into a post, with the downloaded report beside it.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#embed-download')]);
  assert.equal(dl.suggestedFilename(), 'profile-report.json');
  writeFileSync(join(blog, 'profile-report.json'), readFileSync(await dl.path()));
  iframe = await page.inputValue('#embed-iframe');
  const scriptNow = await page.inputValue('#embed-script');
  const [scriptTag, element] = scriptNow.split('\n');
  const url = post('pasted', `${element}\n${iframe}`, { script: scriptTag });
  assert.deepEqual(page.problems, []);
  const blogTab = await blogPage();
  await blogTab.goto(url);
  await settled(blogTab, 1);
  const w = await widget(blogTab, 'profile-report');
  const fr = await blogTab.$('iframe').then((e) => e.contentFrame()).then((f) => f.$eval('profile-report', inspect));
  assert.equal(w.state, 'ready');
  assert.equal(fr.state, 'ready');
  assert.deepEqual(w.ranks, ['length']);
  assert.deepEqual(fr.ranks, ['length']);
  assert.equal(fr.card, 'rgb(17, 24, 39)');
  await shot(blogTab, 'widget-05-pasted');
  await hostWorks(blogTab);
  assert.deepEqual(blogTab.problems, []);
  await page.context().close();
  await blogTab.context().close();
});

// ---------------------------------------------------------------- hostile input

/** A small seeded generator (mulberry32), so a failure reproduces. */
function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PAYLOADS = [
  '<script>window.__pwned=1</script>',
  '"><img src=x onerror="window.__pwned=1">',
  'javascript:window.__pwned=1',
  '<svg onload="window.__pwned=1"><a xlink:href="javascript:window.__pwned=1">x</a></svg>',
  "' onmouseover='window.__pwned=1",
  '</profile-report><script>window.__pwned=1</script>',
];

function paths(v, at = [], out = []) {
  if (v && typeof v === 'object') {
    for (const k of Object.keys(v)) {
      out.push([...at, k]);
      paths(v[k], [...at, k], out);
    }
  }
  return out;
}

function nested(depth) {
  return '['.repeat(depth) + ']'.repeat(depth);
}

/** Mutated reports: [name, text, expect] with expect 'ready', 'error' or 'either'. */
function hostileReports() {
  const base = reports.models;
  const rand = rng(20241007);
  const pick = (xs) => xs[Math.floor(rand() * xs.length)];
  const all = paths(base);
  const out = [];
  const at = (obj, path) => path.slice(0, -1).reduce((o, k) => o[k], obj);
  const BAD = [null, true, -1, 1.5, 1e308, -1e308, 1e30, 'NaN', 'Infinity', '', [], {}, 'x'.repeat(5000), JSON.parse(nested(100))];
  for (let i = 0; i < 30; i++) {
    const r = structuredClone(base);
    const p = pick(all);
    delete at(r, p)[p.at(-1)];
    out.push([`delete ${p.join('.')}`, JSON.stringify(r), 'either']);
  }
  for (let i = 0; i < 30; i++) {
    const r = structuredClone(base);
    const p = pick(all);
    at(r, p)[p.at(-1)] = pick(BAD);
    out.push([`replace ${p.join('.')}`, JSON.stringify(r), 'either']);
  }
  // Report text in every string place: shown as text, never run.
  const strings = all.filter((p) => typeof at(base, p)[p.at(-1)] === 'string');
  for (let i = 0; i < 12; i++) {
    const r = structuredClone(base);
    for (const p of strings) if (rand() < 0.5 && p.at(-1) !== 'schema' && p.at(-1) !== 'setting') at(r, p)[p.at(-1)] = pick(PAYLOADS);
    r.dataset.name = PAYLOADS[i % PAYLOADS.length];
    r.agents[0].name = PAYLOADS[(i + 1) % PAYLOADS.length];
    const ids = Object.keys(r.agents[0].factor_scores);
    r.agents[0].factor_scores[PAYLOADS[(i + 2) % PAYLOADS.length]] = r.agents[0].factor_scores[ids[0]];
    r.agents[0].ranking.push(PAYLOADS[(i + 2) % PAYLOADS.length]);
    // Keep the agents referable: rankings must name their own factors.
    for (const a of r.agents) a.ranking = a.ranking.filter((id) => id in a.factor_scores);
    out.push([`payloads ${i}`, JSON.stringify(r), 'ready']);
  }
  const text = JSON.stringify(base);
  const certain = [
    ['score NaN string', text.replace(/"score":(-?[\d.e-]+)/, '"score":"NaN"')],
    ['score NaN token', text.replace(/"score":(-?[\d.e-]+)/, '"score":NaN')],
    ['score 1e999', text.replace(/"score":(-?[\d.e-]+)/, '"score":1e999')],
    ['score huge', text.replace(/"score":(-?[\d.e-]+)/, '"score":123456789012')],
    ['count negative', text.replace(/"concordant":\d+/, '"concordant":-5')],
    ['count fraction', text.replace(/"pairs":\d+/, '"pairs":2.5')],
    ['no agents field', JSON.stringify({ ...base, agents: undefined })],
    ['agents an object', JSON.stringify({ ...base, agents: { human: base.agents[0] } })],
    ['schema 2', JSON.stringify({ ...base, schema: 'profile-report/2' })],
    ['no schema', JSON.stringify({ ...base, schema: undefined })],
    ['deep nesting', nested(20000)],
    ['deep object', '{"a":'.repeat(3000) + '1' + '}'.repeat(3000)],
    ['truncated', text.slice(0, text.length / 2)],
    ['empty', ''],
    ['null', 'null'],
    ['html', '<!doctype html><html><body><script>window.__pwned=1</script></body></html>'],
    ['binary', String.fromCharCode(...Array.from({ length: 300 }, (_, i) => (i * 7919) % 256))],
    ['array', '[1, 2, 3]'],
    ['ranking names a missing factor', JSON.stringify({ ...base, agents: [{ ...base.agents[0], ranking: ['<script>window.__pwned=1</script>'] }] })],
  ];
  for (const [name, t] of certain) out.push([name, t, 'error']);
  // Random JSON values.
  const value = (d) => {
    const k = rand();
    if (d > 4 || k < 0.3) return pick([null, true, false, 0, -1, 1e300, 'NaN', pick(PAYLOADS), 'profile-report/1']);
    if (k < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => value(d + 1));
    const keys = ['schema', 'agents', 'dataset', 'config', 'factor_scores', 'score', 'ranking', 'name', 'x'];
    return Object.fromEntries(Array.from({ length: Math.floor(rand() * 5) }, () => [pick(keys), value(d + 1)]));
  };
  for (let i = 0; i < 15; i++) {
    const v = value(0);
    if (i % 2 === 0 && v && typeof v === 'object' && !Array.isArray(v)) v.schema = 'profile-report/1';
    out.push([`random ${i}`, JSON.stringify(v), 'error']);
  }
  out.push(['huge name', JSON.stringify({ ...base, dataset: { ...base.dataset, name: 'n'.repeat(3_000_000) } }), 'ready']);
  return out;
}

test('mutated and random reports never break the host page, and problems read clearly', async () => {
  const cases = hostileReports();
  mkdirSync(join(blog, 'fuzz'), { recursive: true });
  cases.forEach(([, t], i) => writeFileSync(join(blog, 'fuzz', `${i}.json`), t));
  const BATCH = 40;
  let shown = 0;
  let errors = 0;
  for (let start = 0; start < cases.length; start += BATCH) {
    const batch = cases.slice(start, start + BATCH);
    const url = post(`fuzz-${start}`, batch.map((_, j) =>
      `<section class="embed-case"><h2>case ${start + j}</h2><profile-report id="c${start + j}" src="fuzz/${start + j}.json"></profile-report></section>`).join('\n'));
    const page = await blogPage();
    await page.goto(url);
    await settled(page, batch.length);
    for (let j = 0; j < batch.length; j++) {
      const [name, , expect] = batch[j];
      const w = await widget(page, `#c${start + j}`);
      assert.ok(['ready', 'error'].includes(w.state), `${name}: ${w.state}`);
      if (expect !== 'either') assert.equal(w.state, expect, `${name}: ${w.problems.join('; ')}`);
      if (w.state === 'error') {
        errors++;
        assert.ok(w.alert, name);
        assert.equal(w.title, INVALID, name);
        assert.ok(w.problems.length > 0 && w.problems.every((p) => p.length > 5 && p.length < 400), `${name}: ${w.problems}`);
      } else {
        shown++;
      }
    }
    // Nothing active inside any widget: no scripts, handlers, links or foreign content.
    const active = await page.$$eval('profile-report', (els) => els.flatMap((el) =>
      [...el.shadowRoot.querySelectorAll('.pr-host *')].flatMap((n) => [
        ...(['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED', 'A', 'IMG', 'FOREIGNOBJECT', 'USE', 'STYLE'].includes(n.tagName.toUpperCase()) ? [n.tagName] : []),
        ...[...n.attributes].filter((a) => /^on|href|^src$|^style$/i.test(a.name)).map((a) => `${n.tagName}[${a.name}]`),
      ])));
    assert.deepEqual(active, []);
    if (start === 0) await shot(page, 'widget-06-fuzz');
    // Payloads are shown as text.
    const texts = await page.$$eval('profile-report', (els) => els.map((e) => e.shadowRoot.textContent).join('\n'));
    if (batch.some(([n]) => n.startsWith('payloads'))) assert.ok(texts.includes('<script>window.__pwned=1</script>'));
    await hostWorks(page);
    assert.deepEqual(page.problems, [], `batch ${start}`);
    await page.context().close();
  }
  console.log(`# ${cases.length} hostile reports: ${shown} drawn, ${errors} shown as a clear error`);
  assert.ok(shown > 10 && errors > 40, `${shown} drawn, ${errors} errors`);
});

test('damaged iframe fragments show a message inside the frame, and the page goes on', async () => {
  const good = fragment(reports.example);
  const frames = [
    ['no-report', 'view=factors'],
    ['truncated', good.slice(0, good.length - 40)],
    ['not-base64', 'view=factors&r=%%%<script>'],
    ['not-deflate', `r=${Buffer.from('hello world, not deflate').toString('base64url')}`],
    ['not-json', `r=${deflateRawSync(Buffer.from('<html>')).toString('base64url')}`],
    ['bomb', `r=${deflateRawSync(Buffer.alloc(20 << 20, 32)).toString('base64url')}`],
    ['payload', fragment(JSON.stringify({ ...reports.example, generator: PAYLOADS[1], dataset: { ...reports.example.dataset, name: PAYLOADS[0] } }), { theme: 'dark' })],
  ];
  const url = post('frames', frames.map(([id, f]) =>
    `<iframe id="${id}" src="../profile/embed.html#${f}" title="${id}" width="100%" height="200" frameborder="0"></iframe>`).join('\n'));
  const page = await blogPage();
  await page.goto(url);
  await settled(page, 0);
  for (const [id] of frames) {
    const w = await frameWidget(page, id);
    if (id === 'payload') {
      assert.equal(w.state, 'ready');
      assert.match(w.title, /<script>window.__pwned=1<\/script>/);
    } else {
      assert.equal(w.state, 'error', id);
      assert.ok(w.alert && w.problems.length === 1, id);
    }
  }
  const detail = async (id) => (await frameWidget(page, id)).problems[0];
  assert.match(await detail('no-report'), /has no report in it/);
  assert.match(await detail('truncated'), /damaged/);
  assert.match(await detail('not-base64'), /damaged \(an unexpected character/);
  assert.match(await detail('not-json'), /not valid JSON/);
  assert.match(await detail('bomb'), /expands to more than 8 MB/);
  await shot(page, 'widget-07-frames');
  await hostWorks(page);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('a missing report file, or no report at all, says so in the widget', async () => {
  const url = post('missing', `
    <profile-report id="gone" src="no-such-report.json"></profile-report>
    <profile-report id="none"></profile-report>
    <profile-report id="late"></profile-report>`);
  const page = await blogPage();
  await page.goto(url);
  await settled(page, 3);
  const gone = await widget(page, '#gone');
  assert.equal(gone.title, 'This PROFILE report could not be loaded');
  assert.match(gone.problems[0], /no-such-report\.json: the server answered 404/);
  assert.equal((await widget(page, '#none')).title, 'This PROFILE widget has no report');
  // Given a report later, by property or attribute, it draws it.
  await page.$eval('#late', (el, r) => { el.report = r; }, reports.example);
  await page.waitForFunction(() => document.querySelector('#late').state === 'ready');
  await page.$eval('#none', (el) => el.setAttribute('src', 'models.json'));
  await page.waitForFunction(() => document.querySelector('#none').state === 'ready');
  await hostWorks(page);
  assert.deepEqual(page.problems.filter((p) => !/404/.test(p)), []);
  await page.context().close();
});

test('the built files: relative URLs, a strict CSP on embed.html, no inline scripts', async () => {
  const dist = join(ROOT, 'dist');
  const embed = readFileSync(join(dist, 'embed.html'), 'utf8');
  const csp = embed.match(/Content-Security-Policy" content="([^"]+)"/)[1];
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);
  assert.match(csp, /style-src 'self'/);
  assert.doesNotMatch(embed, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline <script>');
  assert.doesNotMatch(embed, /\sstyle=|<style/, 'no inline styles');
  for (const f of ['widget.js', 'embed.js', 'profile-widget.js']) {
    const js = readFileSync(join(dist, f), 'utf8');
    assert.doesNotMatch(js, /(from|import)\s*\(?\s*['"](\/|https?:)/, `${f} imports only relative URLs`);
    assert.doesNotMatch(js, /\beval\(|new Function\(|innerHTML|insertAdjacentHTML|document\.write/, `${f} parses no markup and evaluates no code`);
  }
});

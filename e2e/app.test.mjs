// End-to-end tests of the built site (dist/), served on 127.0.0.1 under a
// sub-path and driven in Debian's Chromium as a person would use it: open,
// upload, read the table and chart, export, cancel. Screenshots of each state
// go to target/screenshots/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createWriteStream, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setup, newPage, waitForReport, tableScores, cliReport, fmt, shot, ROOT, DATA } from './helpers.mjs';

const SUMMEVAL = join(DATA, 'summeval', 'summeval.jsonl');
const LLMBAR = join(DATA, 'llmbar', 'Processed', 'MT-Bench', 'dataset.json');
const HH = join(DATA, 'hh-rlhf-harmless-base', 'test.jsonl.gz');
const BROKEN = join(ROOT, 'tests', 'fixtures', 'broken.jsonl');
const EXAMPLE = join(ROOT, 'www', 'example', 'example.jsonl');

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env.close();
});

function expectedScores(report) {
  const human = report.agents.find((a) => a.name === 'human');
  return Object.fromEntries(Object.entries(human.factor_scores).map(([k, v]) => [k, fmt(v.score)]));
}

async function upload(page, file) {
  await page.setInputFiles('#file-input', file);
}

async function download(page, button) {
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click(button)]);
  const path = await dl.path();
  return { name: dl.suggestedFilename(), bytes: readFileSync(path) };
}

test('the built-in example report shows without any upload', async () => {
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 900 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  const cli = cliReport(EXAMPLE);
  assert.equal(await page.textContent('#stat-pairs'), String(cli.dataset.pairs));
  assert.deepEqual(await tableScores(page), expectedScores(cli));
  const bars = await page.$$('#factor-chart g.bar-row');
  assert.equal(bars.length, Object.keys(expectedScores(cli)).length);
  assert.ok((await page.$$('#skipped-factors li')).length > 0, 'model factors are listed');
  // 8 inputs: every interval is flagged, with the legend.
  const flagged = await page.$$eval('#factor-table tbody tr td.ci-high', (tds) => tds.filter((t) => t.textContent.endsWith('!')).length);
  assert.equal(flagged, Object.values(cli.agents[0].factor_scores).filter((e) => e.few_inputs).length);
  assert.ok(flagged > 0);
  assert.match(await page.textContent('.few-inputs'), /! interval from fewer than 10 inputs/);
  await shot(page, '01-example');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('uploading SummEval shows the numbers the CLI prints, and the exported report equals the CLI report', async () => {
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 900 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await upload(page, SUMMEVAL);
  await waitForReport(page, 'summeval.jsonl');
  const cli = cliReport(SUMMEVAL);
  assert.equal(await page.textContent('#stat-pairs'), '11342');
  assert.equal(await page.textContent('#stat-ties'), '658');
  assert.match(await page.textContent('#stat-format'), /summeval \(detected\)/);
  assert.deepEqual(await tableScores(page), expectedScores(cli));
  assert.equal(await page.$('.few-inputs'), null, '100 inputs: nothing flagged');
  const { name, bytes } = await download(page, '#export-json');
  assert.equal(name, 'summeval.profile-report.json');
  const exported = JSON.parse(bytes.toString());
  assert.equal(exported.schema, 'profile-report/1');
  assert.deepEqual(exported.agents, cli.agents);
  assert.deepEqual(exported.dataset, cli.dataset);
  await shot(page, '02-summeval');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('uploading LLMBar (a JSON array) and gzipped HH-RLHF match the CLI', async () => {
  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  for (const file of [LLMBAR, HH]) {
    await upload(page, file);
    const base = file.split('/').pop();
    await waitForReport(page, base);
    const cli = cliReport(file);
    assert.equal(await page.textContent('#stat-pairs'), String(cli.dataset.pairs), base);
    assert.deepEqual(await tableScores(page), expectedScores(cli), base);
    await shot(page, `03-${base.replace(/\W/g, '_')}`);
  }
  assert.match(await page.textContent('#stat-dropped'), /^5 /);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

/** Keeps the worker's progress messages in window.__progress. */
function captureProgress() {
  window.__progress = [];
  const W = window.Worker;
  window.Worker = class extends W {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        if (typeof e.data === 'string' && e.data.startsWith('{"kind":"progress"')) window.__progress.push(JSON.parse(e.data));
      });
    }
  };
}

test('a file of several slices is read by the reader worker and gives the numbers the CLI prints', async () => {
  const page = await newPage(env.browser);
  await page.addInitScript(captureProgress);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  // The reader worker is up before a file is dropped; it counts its reads.
  const reader = await readerWorker(page);
  await reader.evaluate(() => {
    const read = self.onmessage;
    self.reads = 0;
    self.onmessage = (e) => {
      self.reads += 1;
      return read(e);
    };
  });
  // 22 MB: six 4 MB slices, more than the worker asks for at once.
  const file = await bigFile(22);
  await upload(page, file);
  await waitForReport(page, file.split('/').pop());
  const cli = cliReport(file);
  assert.equal(await page.textContent('#stat-pairs'), String(cli.dataset.pairs));
  assert.deepEqual(await tableScores(page), expectedScores(cli));
  const slices = Math.ceil(statSync(file).size / (4 * 1024 * 1024));
  assert.equal(await reader.evaluate(() => self.reads), slices, 'the reader worker read every slice');
  // Progress is not posted after every slice, but always after the last.
  const progress = await page.evaluate(() => window.__progress);
  const size = statSync(file).size;
  assert.ok(progress.length >= 1 && progress.length <= slices, `${progress.length} progress messages`);
  assert.deepEqual(progress.at(-1).bytes, size, 'the last progress message is at the end of the file');
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

/** The reader worker, which the app's worker starts as soon as it is ready, once its handler is set. */
async function readerWorker(page) {
  for (let i = 0; i < 100; i++) {
    const reader = page.workers().find((w) => w.url().endsWith('/reader.js'));
    if (reader) {
      await reader.evaluate(
        () =>
          new Promise((ok) => {
            const ready = () => (typeof self.onmessage === 'function' ? ok() : setTimeout(ready, 10));
            ready();
          }),
      );
      return reader;
    }
    await new Promise((ok) => setTimeout(ok, 50));
  }
  assert.fail(`no reader worker (workers: ${page.workers().map((w) => w.url())})`);
}

/** Notes in window.__failures every error the page shows (an alert), from now on. */
function watchFailures() {
  window.__failures = [];
  new MutationObserver(() => {
    for (const e of document.querySelectorAll('[role=alert]')) {
      if (e.textContent && !window.__failures.includes(e.textContent)) window.__failures.push(e.textContent);
    }
  }).observe(document.body, { childList: true, subtree: true, characterData: true });
}

// The reader worker is a help, never a requirement: when reader.js cannot be
// loaded (the import fails) or the worker it starts fails, the app's worker
// reads the slices itself, shows no error, and a reader that failed for one
// file does not make the next file's load hang.
for (const [what, beforeStart, afterStart] of [
  [
    'reader.js cannot be imported',
    (page) => page.context().route('**/reader.js', (route) => route.abort()),
    async (page) => {
      assert.ok(page.aborted.some((u) => u.endsWith('/reader.js')), `reader.js was asked for and failed (${page.aborted})`);
      assert.ok(!page.workers().some((w) => w.url().endsWith('/reader.js')), 'no reader worker');
    },
  ],
  [
    'the reader worker fails',
    () => {},
    // The reader worker (started with the app's worker) fails at its first
    // read; in the app's worker, every worker started from now on fails at
    // once (as one whose script cannot be fetched does).
    async (page) => {
      const reader = await readerWorker(page);
      await reader.evaluate(() => {
        self.onmessage = () => {
          throw new Error('no reader in this test');
        };
      });
      const worker = page.workers().find((w) => w.url().includes('worker.js'));
      assert.ok(worker, `the app's worker (${page.workers().map((w) => w.url())})`);
      await worker.evaluate(() => {
        self.Worker = class {
          constructor() {
            setTimeout(() => this.onerror?.({ message: 'no reader in this test' }));
          }
          postMessage() {}
          terminate() {}
        };
      });
    },
  ],
]) {
  test(`a file is still read when ${what}, and so is the next one`, async () => {
    const page = await newPage(env.browser);
    page.aborted = [];
    page.on('requestfailed', (r) => page.aborted.push(r.url()));
    await beforeStart(page);
    await page.goto(env.url);
    await waitForReport(page, 'example');
    await afterStart(page);
    await page.evaluate(watchFailures);
    const file = await bigFile(22);
    for (const round of [1, 2]) {
      await upload(page, file);
      await waitForReport(page, file.split('/').pop());
      const cli = cliReport(file);
      assert.equal(await page.textContent('#stat-pairs'), String(cli.dataset.pairs), `round ${round}`);
      assert.deepEqual(await tableScores(page), expectedScores(cli), `round ${round}`);
      if (round === 1) await upload(page, EXAMPLE), await waitForReport(page, 'example.jsonl');
    }
    assert.deepEqual(await page.evaluate(() => window.__failures), [], 'the page showed no error');
    // The aborted requests and the reader's injected error are the only problems the console shows.
    assert.deepEqual(page.problems.filter((p) => !/reader\.js|net::ERR_FAILED|Failed to load resource|no reader in this test/.test(p)), []);
    await page.context().close();
  });
}

test('the SummEval label and the format can be overridden', async () => {
  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await upload(page, SUMMEVAL);
  await waitForReport(page, 'summeval.jsonl');
  await page.selectOption('#label-select', 'relevance');
  await page.waitForFunction(() => document.getElementById('stat-pairs')?.textContent === '10143' && !document.getElementById('progress'));
  assert.equal(await page.textContent('#stat-label'), 'relevance');
  const cli = cliReport(SUMMEVAL, ['--label', 'relevance']);
  assert.deepEqual(await tableScores(page), expectedScores(cli));
  // Forcing a format the file is not gives located diagnostics, not a crash.
  await page.selectOption('#format-select', 'llmbar');
  await page.waitForFunction(() => document.querySelector('#stat-format')?.textContent.startsWith('llmbar (chosen)'));
  const first = await page.$eval('#diagnostics tbody tr', (tr) => tr.textContent);
  assert.match(first, /^1label\s*missing$/);
  await page.context().close();
});

test('a broken file lists its problems by line, and its good lines still count', async () => {
  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await upload(page, BROKEN);
  await waitForReport(page, 'broken.jsonl');
  const cli = cliReport(BROKEN);
  const rows = await page.$$eval('#diagnostics tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
  assert.equal(rows.length, cli.dataset.diagnostics_total);
  assert.deepEqual(rows.map((r) => Number(r[0])), cli.dataset.diagnostics.map((d) => d.line));
  assert.equal(await page.textContent('#stat-pairs'), String(cli.dataset.pairs));
  assert.match(await page.textContent('#stat-records'), new RegExp(`${cli.dataset.records_parsed} parsed`));
  const { bytes } = await download(page, '#diagnostics-download');
  const lines = bytes.toString().trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, cli.dataset.diagnostics_total);
  assert.ok(lines.every((d) => d.line > 0 && d.reason));
  await shot(page, '04-broken');
  await page.context().close();
});

test('exports: CSV of factor scores, chart as SVG and PNG', async () => {
  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  const csv = (await download(page, '#export-csv')).bytes.toString().trim().split('\n');
  assert.equal(csv[0], 'agent,setting,factor,score,ci95_low,ci95_high,concordant,discordant,ties,dropped,missing,n_pairs');
  const cli = cliReport(EXAMPLE);
  assert.equal(csv.length - 1, Object.keys(cli.agents[0].factor_scores).length);
  const len = csv.find((l) => l.startsWith('human,human,length,')).split(',');
  assert.equal(Number(len[3]), cli.agents[0].factor_scores.length.score);
  const svg = (await download(page, '#export-svg')).bytes.toString();
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  assert.ok(svg.includes('</svg>'));
  const png = (await download(page, '#export-png')).bytes;
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.ok(png.length > 2000);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

test('the view (task, factors, sort) lives in the URL fragment and survives a reload', async () => {
  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await page.selectOption('#task-select', 'doc_qa');
  await page.waitForFunction(() => location.hash.includes('task=doc_qa'));
  await page.waitForFunction(() => document.querySelector('#task-select').value === 'doc_qa');
  await page.click('input[data-factor="novel_words_count"]');
  await page.waitForFunction(() => document.querySelector('#factor-table tr[data-factor="novel_words_count"]'));
  await page.click('button[data-sort="c"]');
  await page.waitForFunction(() => location.hash.includes('sort=-c'));
  const hash = await page.evaluate(() => location.hash);
  assert.match(hash, /factors=[^&]*novel_words_count/);
  const before = await page.$$eval('#factor-table tbody tr', (r) => r.map((x) => x.dataset.factor));
  await page.reload();
  await waitForReport(page, 'example');
  assert.equal(await page.evaluate(() => location.hash), hash);
  const after = await page.$$eval('#factor-table tbody tr', (r) => r.map((x) => x.dataset.factor));
  assert.deepEqual(after, before);
  assert.equal(await page.$eval('#task-select', (s) => s.value), 'doc_qa');
  await page.context().close();
});

test('paste and drag-and-drop load data too', async () => {
  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  const text = readFileSync(EXAMPLE, 'utf8').split('\n').slice(0, 12).join('\n');
  await page.click('details.paste summary');
  await page.fill('#paste-input', text);
  await page.click('#paste-go');
  await waitForReport(page, 'pasted text');
  assert.equal(await page.textContent('#stat-records'), '12 read · 12 parsed · 0 skipped');
  await page.evaluate((t) => {
    const dt = new DataTransfer();
    dt.items.add(new File([t], 'dropped.jsonl', { type: 'application/x-ndjson' }));
    document.querySelector('.dropzone').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, text);
  await waitForReport(page, 'dropped.jsonl');
  assert.equal(await page.textContent('#stat-records'), '12 read · 12 parsed · 0 skipped');
  await page.context().close();
});

async function bigFile(mb) {
  const path = join(tmpdir(), `profile-big-${mb}mb.jsonl`);
  try {
    if (statSync(path).size >= mb * 1e6) return path;
  } catch {}
  const lines = readFileSync(EXAMPLE, 'utf8').trim().split('\n');
  const out = createWriteStream(path);
  let size = 0;
  for (let i = 0; size < mb * 1e6; i++) {
    const rec = JSON.parse(lines[i % lines.length]);
    rec.input = `${rec.input} #${Math.floor(i / lines.length)}`;
    const l = JSON.stringify(rec) + '\n';
    size += l.length;
    if (!out.write(l)) await new Promise((ok) => out.once('drain', ok));
  }
  await new Promise((ok) => out.end(ok));
  return path;
}

test('a 200 MB upload shows progress, the page stays responsive, and cancel stops it', async () => {
  const page = await newPage(env.browser, { viewport: { width: 1100, height: 900 } });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  const file = await bigFile(200);
  await upload(page, file);
  await page.waitForFunction(() => /MB of/.test(document.getElementById('progress-text')?.textContent || ''), null, { timeout: 60_000 });
  const progress = await page.textContent('#progress-text');
  assert.match(progress, /MB of \d+\.\d MB/);
  // The UI thread answers while the worker parses.
  const t0 = Date.now();
  assert.equal(await page.evaluate(() => 1 + 1), 2);
  const responsiveMs = Date.now() - t0;
  await shot(page, '05-progress');
  await page.click('#cancel');
  await page.waitForSelector('#progress', { state: 'detached' });
  assert.match(await page.textContent('.notice'), /cancelled/);
  // The previous report is still shown and still works (rescoring goes to a new worker).
  await waitForReport(page, 'example');
  await page.selectOption('#task-select', 'helpful');
  await page.waitForFunction(() => !document.querySelector('#factor-table tr[data-factor="novel_words"]'));
  await shot(page, '06-cancelled');
  console.log(`# UI answered in ${responsiveMs} ms during a 200 MB parse`);
  await page.context().close();
});

test('phone width: the chart and table stay readable', async () => {
  const page = await newPage(env.browser, { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  const box = await page.$eval('#factor-chart', (s) => s.getBoundingClientRect().width);
  assert.ok(box <= 390, `chart is ${box}px wide`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `page overflows by ${overflow}px`);
  await shot(page, '07-phone');
  await page.context().close();
});

test('security: a strict CSP, no inline scripts, and keyboard access to the chart', async () => {
  const html = readFileSync(join(ROOT, 'dist', 'index.html'), 'utf8');
  assert.match(html, /Content-Security-Policy/);
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline <script>');
  const page = await newPage(env.browser);
  const violations = [];
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await page.focus('#factor-chart g.bar-row');
  const label = await page.evaluate(() => document.activeElement.getAttribute('aria-label'));
  assert.match(label, /score/);
  assert.deepEqual(violations, []);
  await page.context().close();
});

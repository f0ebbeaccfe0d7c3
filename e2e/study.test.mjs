// "The paper's study": the published factor scores of the PROFILE paper
// (../shared/data/paper, put beside the app by build/paper.sh) opened from
// the upload panel, shown with the alignment table, the ranking chart and
// the heatmap per task, labelled as published, and checked against
// `profile align --json` on the same file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { setup, newPage, waitForReport, fmt, shot, ROOT, DATA } from './helpers.mjs';

const PAPER = join(DATA, 'paper', 'factor_scores.json');

let env;
before(async () => {
  env = await setup();
});
after(async () => {
  await env.close();
});

function align(task) {
  const bin = join(ROOT, 'target', 'release', 'profile');
  return JSON.parse(execFileSync(bin, ['align', PAPER, '--task', task, '--json']).toString())[task];
}

/** The app's p-value text, as the alignment table writes it. */
function withP(x, p) {
  let s = fmt(x);
  if (p !== undefined && p !== null) s += p < 0.001 ? ' p<0.001' : ` p=${p.toFixed(3)}`;
  return s;
}

test("the paper's study opens, per task, as published results", async () => {
  assert.ok(existsSync(PAPER), `the paper's scores are needed at ${PAPER}`);
  assert.ok(existsSync(join(ROOT, 'dist', 'example', 'paper.json')), 'build/paper.sh put them beside the app');
  const page = await newPage(env.browser);
  await page.goto(env.url);
  await waitForReport(page, 'example');
  await page.click('#study-open');
  await page.waitForSelector('#study-alignment tbody tr');
  assert.match(await page.textContent('#study-note'), /Published results, not your data/);
  assert.match(await page.textContent('#study-note'), /no intervals/);
  // The report's panels give way to the study.
  assert.equal(await page.$('#factor-table'), null);

  for (const task of ['summarization', 'helpful', 'doc_qa']) {
    await page.selectOption('#study-task', task);
    const want = align(task);
    await page.waitForFunction((n) => document.querySelectorAll('#study-alignment tbody tr').length === n, want.length);
    const rows = await page.$$eval('#study-alignment tbody tr', (trs) =>
      trs.map((tr) => ({ agent: tr.dataset.agent, cells: [...tr.querySelectorAll('td')].map((td) => td.textContent) })));
    assert.deepEqual(
      rows.map((r) => r.agent),
      want.map((a) => a.agent),
    );
    for (const [i, a] of want.entries()) {
      const [role, tau, rho, r, n] = rows[i].cells;
      assert.equal(role, a.agent.endsWith('(writer)') ? 'writer' : 'judge');
      assert.equal(tau, withP(a.kendall_tau, a.kendall_tau_p), `${task} ${a.agent} τ`);
      assert.equal(rho, withP(a.spearman_rho, a.spearman_rho_p));
      assert.equal(r, withP(a.pearson_r, a.pearson_r_p));
      assert.equal(Number(n), a.n_factors);
      // Published scores have no interval.
      assert.ok(!tau.includes('['), tau);
    }
    // One ranking column and one heatmap column per agent (the humans too).
    const agents = want.length + 1;
    assert.equal(await page.$$eval('#ranking-chart .rank-head', (g) => g.length), agents);
    assert.equal(
      await page.$$eval('#heatmap .cell', (c) => new Set(c.map((x) => x.dataset.agent)).size),
      agents,
    );
    await shot(page, `63-study-${task}`);
  }

  // Back to the report shown before.
  await page.click('#study-close');
  await waitForReport(page, 'example');
  assert.equal(await page.$('#study'), null);
  assert.deepEqual(page.problems, []);
  await page.context().close();
});

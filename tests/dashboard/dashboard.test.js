/* dashboard.test.js: whistle's dashboard in a real browser: Debian's Chromium
 * (/usr/bin/chromium, --no-sandbox as root) driven by playwright-core, which downloads nothing.
 * Run by tests/e2e/test_dashboard.py against a real stack and gateway; env:
 *   DASH_URL     the gateway (http://127.0.0.1:PORT/)
 *   DASH_KEYS    JSON {ops, cg, yjgl, north, app}: API keys of the gateway's allowlist
 *   DASH_SHOTS   the folder the screenshots go to (the build folder: never committed)
 * Prints one line per check; exits 1 on the first failure. */
'use strict';
const { chromium } = require('playwright-core');
const path = require('path');

const BASE = process.env.DASH_URL;
const KEYS = JSON.parse(process.env.DASH_KEYS);
const SHOTS = process.env.DASH_SHOTS;
const origin = new URL(BASE).origin;
// how long a wait for something the page shows may take: generous, as this runs on shared
// machines (under AddressSanitizer too); a wait ends as soon as the thing is there
const LIVE_MS = 15000;

function ok(cond, what) {
  if (!cond) throw new Error('FAILED: ' + what);
  console.log('ok - ' + what);
}

/* A report through the gateway's Open311 API (an integrator's key): the case id, once intake
 * committed it and tracking holds it (open311_routes.c answers then). */
async function report(matter, grid, description) {
  const form = new URLSearchParams({ api_key: KEYS.app, service_code: matter,
    'attribute[grid]': grid, description, lat: '30.5', long: '117.25' });
  const res = await fetch(BASE + 'requests.json', { method: 'POST', body: form,
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
  const doc = await res.json();
  if (res.status !== 200 && res.status !== 201)
    throw new Error('report ' + res.status + ' ' + JSON.stringify(doc));
  return doc[0].service_request_id;
}

async function main() {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'], headless: true });
  const elsewhere = [], errors = [];
  async function page(name, key) {
    const ctx = await browser.newContext({ viewport: { width: 1400, height: 900 },
      locale: 'zh-CN' });
    const p = await ctx.newPage();
    p.on('request', (r) => { if (!r.url().startsWith(origin + '/')) elsewhere.push(r.url()); });
    p.on('console', (m) => { if (m.type() === 'error') errors.push(name + ': ' + m.text()); });
    p.on('pageerror', (e) => errors.push(name + ': ' + e.message));
    p.answer = '到场处置中';
    p.on('dialog', (d) => d.accept(p.answer));
    await p.goto(BASE);
    if (key) {
      await p.fill('#key', key);
      await p.click('#signin-form button[type=submit]');
      await p.locator('#board').waitFor({ state: 'visible', timeout: LIVE_MS });
      await p.locator('#live.on').waitFor({ timeout: LIVE_MS });
    }
    return p;
  }
  const shot = (p, name) => p.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
  const row = (p, id) => p.locator(`#cases tr[data-case="${id}"]`);

  // ---- a wrong key: refused in the page, in Chinese --------------------------------------
  const bad = await page('bad', null);
  ok(await bad.evaluate(() => document.documentElement.lang) === 'zh-CN', 'the page is zh-CN first');
  ok((await bad.title()).includes('乡街吹哨'), 'the title is Chinese');
  await bad.fill('#key', 'not-a-key-0123456789abcdef');
  await bad.click('#signin-form button[type=submit]');
  await bad.locator('#signin-error', { hasText: '密钥无效' }).waitFor({ timeout: LIVE_MS });
  ok(true, 'an unknown key is refused: 密钥无效或未登记');
  await shot(bad, '01-signin');
  errors.length = 0; // the 401 of that sign-in is logged by Chromium as a failed resource

  // ---- the operator: the district, live ---------------------------------------------------
  const ops = await page('ops', KEYS.ops);
  ok((await ops.textContent('#who')).includes('区级指挥中心'), 'the operator signed in');
  const before = Number(await ops.textContent('#today-reported'));
  const t0 = Date.now();
  const c1 = await report('m1', 'g1', '东门占道经营，请城管处置');
  const t1 = Date.now();
  // live, without a reload; how soon is printed, not asserted (a shared machine: timing
  // belongs to bench/, and the SSE path's latency is measured there)
  await row(ops, c1).waitFor({ timeout: LIVE_MS });
  const seen = Date.now() - t1;
  ok(true, `a case reported through the API is on the live board without a reload, ${seen} ms ` +
     `after the API answered (${t1 - t0} ms to answer)`);
  await ops.locator('#today-reported', { hasText: String(before + 1) }).waitFor({ timeout: LIVE_MS });
  ok(true, "today's reported counter moved by one");
  await ops.locator('#open-table tr[data-whistle="QUICK"] td[data-state="total"]',
    { hasText: /^[1-9]/ }).waitFor({ timeout: LIVE_MS });
  ok(true, 'open cases by whistle and state count it (快捷哨)');
  await ops.locator('#feed li', { hasText: c1 }).first().waitFor({ timeout: LIVE_MS });
  ok(true, 'the live feed lists it');
  await shot(ops, '02-operator-board-zh');

  // ---- the English toggle -------------------------------------------------------------------
  await ops.click('#lang');
  await ops.locator('h1', { hasText: 'command centre' }).waitFor({ timeout: LIVE_MS });
  ok((await ops.textContent('#cases thead')).includes('Lead unit'), 'every label also in English');
  // names from the catalog, not codes: the board's lead unit and the case's departments
  const unitCell = row(ops, c1).locator('td[data-code="north"]');
  ok((await unitCell.textContent()) === '北乡', 'the board shows the lead unit by name: 北乡');
  ok((await row(ops, c1).locator('span.dept[data-code="cg"]').textContent()).startsWith('城管'),
     'the board shows a department by name: 城管');
  await shot(ops, '03-operator-board-en');
  await ops.click('#lang');
  await ops.locator('h1', { hasText: '指挥中心' }).waitFor({ timeout: LIVE_MS });

  // ---- a department: its own orders, checked in from the page -------------------------------
  const cg = await page('cg', KEYS.cg);
  await row(cg, c1).waitFor({ timeout: LIVE_MS });
  ok(true, 'department cg sees its order');
  await row(cg, c1).locator('button.act-checkin').click();
  await cg.locator(`#cases tr[data-case="${c1}"][data-state="IN_PROGRESS"]`).waitFor({ timeout: LIVE_MS });
  ok((await row(cg, c1).textContent()).includes('已报到'), 'cg checked in from the page: 已报到');
  await ops.locator(`#cases tr[data-case="${c1}"][data-state="IN_PROGRESS"]`).waitFor({ timeout: LIVE_MS });
  ok(true, "the operator's board shows the check-in live (办理中)");
  await row(cg, c1).locator('button.act-progress').click();
  await ops.locator('#feed li', { hasText: c1 + ' 进展' }).first().waitFor({ timeout: LIVE_MS });
  ok(true, 'progress logged from the page reaches the board');
  await shot(cg, '04-department-cg');

  // ---- another department never sees cg's case -------------------------------------------------
  const yj = await page('yjgl', KEYS.yjgl);
  const c2 = await report('m3', 'g1', '燃气泄漏，请应急管理处置');
  await row(yj, c2).waitFor({ timeout: LIVE_MS });
  await row(ops, c2).waitFor({ timeout: LIVE_MS });
  await row(cg, c1).waitFor({ timeout: LIVE_MS });
  ok(await row(yj, c1).count() === 0, "department yjgl does not see cg's case");
  ok(await row(cg, c2).count() === 0, "department cg does not see yjgl's case");
  ok(errors.length === 0, 'no console error or page error so far: ' + errors.join(' | '));
  const direct = await yj.evaluate(async (id) => {
    const r = await fetch('/v1/cases/' + id,
      { headers: { Authorization: 'Bearer ' + sessionStorage.getItem('whistle.key') } });
    return r.status;
  }, c1);
  ok(direct === 403 || direct === 404, `yjgl's key reading cg's case directly is refused (${direct})`);
  errors.length = 0; // Chromium logs that refusal as a failed resource
  await shot(yj, '05-department-yjgl');

  // ---- what needs a push (point 4): a 攻坚哨 case whose 2.5 s check-in passes ----------------
  const c4 = await report('m4', 'g2', '违章搭建，需城管、城管监察、市场监管联合处置');
  await ops.click('#tabs button[data-view="push"]');
  const prow = (p, id) => p.locator(`#push-table tr[data-case="${id}"]`);
  await prow(ops, c4).waitFor({ timeout: LIVE_MS });
  const notIn = prow(ops, c4).locator('td.not-in');
  ok((await notIn.textContent()) === '城管 城管监察 市场监管' &&
     (await notIn.getAttribute('data-codes')) === 'cg cgj scjg',
     'the push list names the departments not checked in, by name: 城管 城管监察 市场监管');
  const left0 = await prow(ops, c4).locator('td.countdown').textContent();
  await ops.locator(`#push-table tr.overdue[data-case="${c4}"]`).waitFor({ timeout: LIVE_MS });
  const left1 = await prow(ops, c4).locator('td.countdown').textContent();
  ok(left1.startsWith('超时'), `its deadline counts down (${left0}) and passes (${left1})`);
  await ops.locator(`#push-table tr[data-case="${c4}"] td.ladder:not([data-level="0"])`)
    .waitFor({ timeout: LIVE_MS });
  ok(true, 'the ladder step it is on: ' + await prow(ops, c4).locator('td.ladder').textContent());
  await ops.click('#tabs button[data-view="board"]');
  await ops.locator('#feed li', { hasText: c4 + ' 升级督办' }).first().waitFor({ timeout: LIVE_MS });
  ok(true, 'the escalation reached the live feed');
  await ops.click('#tabs button[data-view="push"]');
  await ops.selectOption('#f-whistle', 'TOUGH');
  ok(await ops.locator('#push-table tbody tr').count() === 1 && await prow(ops, c4).count() === 1,
     'filtered by whistle: only the 攻坚哨 case');
  await ops.selectOption('#f-whistle', '');
  await ops.selectOption('#f-dept', 'yjgl');
  ok(await prow(ops, c4).count() === 0 && await prow(ops, c2).count() === 1,
     'filtered by department: yjgl\'s case, not the one without yjgl');
  await ops.selectOption('#f-dept', '');
  await ops.selectOption('#f-unit', 'north');
  ok(await prow(ops, c4).count() === 1, 'filtered by township');
  await ops.selectOption('#f-unit', '');
  await ops.click('#push-table th[data-sort="level"]');
  ok(await ops.locator('#push-table tbody tr').first().getAttribute('data-case') === c4,
     'sorted by ladder step: the escalated case first');
  await shot(ops, '08-operator-push');

  // ---- a case (point 5): timeline, 1+N, actions by role with the API's refusals --------------
  await row(cg, c4).locator('a.case-link').click();
  await cg.locator('#case').waitFor({ state: 'visible', timeout: LIVE_MS });
  await cg.locator('#case-history li[data-action="DISPATCH"]').waitFor({ timeout: LIVE_MS });
  ok(await cg.locator('#case-history li[data-action="ESCALATE"]').count() >= 1,
     'the timeline holds the dispatch and the escalation');
  ok(await cg.locator('#case-assignments tbody tr').count() === 3, 'the 1+N: three departments');
  ok(await cg.locator('#case-actions button.case-resolve').count() === 0,
     'a department is offered no resolve');
  await cg.click('#case-actions button.case-checkin');
  await cg.locator('#case-assignments tr[data-department="cg"][data-state="CHECKED_IN"]')
    .waitFor({ timeout: LIVE_MS });
  ok(true, 'cg checked in from the case view');
  await ops.locator(`#push-table tr[data-case="${c4}"] td.not-in[data-codes="cgj scjg"]`)
    .waitFor({ timeout: LIVE_MS });
  ok(true, "the operator's push list drops cg from the departments not checked in");
  await shot(cg, '09-department-case');
  await prow(ops, c4).locator('a.case-link').click();
  await ops.locator('#case-actions button.case-escalate').waitFor({ timeout: LIVE_MS });
  ok(await ops.locator('#case-actions button').count() === 1,
     "the operator is offered 升级督办 only (resolve and assign are the lead unit's)");
  await shot(ops, '10-operator-case');
  await ops.click('#case-back');
  await ops.locator('#push').waitFor({ state: 'visible', timeout: LIVE_MS });
  ok(true, 'back from a case opened in the push list returns to the push list');
  await ops.click('#tabs button[data-view="board"]');

  // ---- a township: its own unit -------------------------------------------------------------------
  const north = await page('north', KEYS.north);
  const c3 = await report('m1', 'g3', '南一社区占道经营');
  await row(ops, c3).waitFor({ timeout: LIVE_MS });
  await row(north, c1).waitFor({ timeout: LIVE_MS });
  ok(await row(north, c3).count() === 0, 'township north sees its case (g1), not south\'s (g3)');
  await row(north, c1).locator('a.case-link').click();
  // RESOLVE while cg still works on it: tracking refuses (ESTATE), the page says so as given
  await north.locator('#case-actions button.case-resolve').waitFor({ timeout: LIVE_MS });
  await north.click('#case-actions button.case-resolve');
  await north.locator('#case-error', { hasText: /./ }).waitFor({ timeout: LIVE_MS });
  const refusal = await north.textContent('#case-error');
  ok(/^解决: ESTATE .*cg/.test(refusal), 'a refused action shows the API\'s refusal: ' + refusal);
  await shot(north, '11-township-case-refusal');
  errors.splice(0, errors.length, ...errors.filter((e) => !e.startsWith('north: Failed to load')));
  await north.click('#case-back');
  await shot(north, '06-township-north');

  // ---- a broken stream resumes from the last event id: no gap ------------------------------------
  const before2 = await ops.evaluate(() => window.whistleDash.connects);
  await ops.evaluate(() => window.whistleDash.dropStream(1500));
  const away = [await report('m1', 'g2', '断线期间上报一'), await report('m2', 'g2', '断线期间上报二')];
  for (const id of away) await row(ops, id).waitFor({ timeout: LIVE_MS });
  const d = await ops.evaluate(() => ({ gaps: window.whistleDash.gaps, ids: window.whistleDash.ids,
    connects: window.whistleDash.connects }));
  ok(d.connects > before2, 'the page reconnected with a fresh ticket');
  ok(d.gaps === 0 && d.ids.every((id, i) => i === 0 || id === d.ids[i - 1] + 1),
     `after the break the stream went on from the next id: ${d.ids.length} events, no gap, no duplicate`);
  await ops.locator('#live.on').waitFor({ timeout: LIVE_MS });
  await shot(ops, '07-operator-after-reconnect');

  // ---- assessment (point 6): figures of a period beside the previous period's, chart, CSV ------
  const prev = await ops.evaluate(() => ['2026-W01', '2021-W01', '2026-W48', '2026-01', '2026-11',
    '2026-Q1', '2026-Q4', '2026'].map((p) => window.whistleDash.prevPeriod(p)));
  ok(JSON.stringify(prev) === JSON.stringify(['2025-W52', '2020-W53', '2026-W47', '2025-12',
    '2026-10', '2025-Q4', '2026-Q3', '2025']), 'the previous period computed in the page: ' + prev);
  await ops.click('#tabs button[data-view="assess"]');
  const week = await ops.evaluate(() => window.whistleDash.periodOf('week', new Date()));
  await ops.locator('#a-table tbody tr[data-key="cg"]').waitFor({ timeout: LIVE_MS });
  ok(await ops.inputValue('#a-period') === week, 'this ISO week by default: ' + week);
  const range = await ops.textContent('#a-range');
  const prevWeek = await ops.evaluate((w) => window.whistleDash.prevPeriod(w), week);
  ok(range.includes('本期 ' + week) && range.includes('上期 ' + prevWeek),
     'the previous period beside it: ' + range);
  const nrows = await ops.locator('#a-table tbody tr[data-key]').count();
  const cgRow = await ops.locator('#a-table tbody tr[data-key="cg"] td').allTextContents();
  ok(nrows >= 3 && cgRow[0] !== '' && /^(\d+\.\d%|—)上期/.test(cgRow[5]) &&
     /^(\d+\.\d%|—)/.test(cgRow[7]) && /\//.test(cgRow[9]),
     `${nrows} departments ranked with 三率 (— without a value), p50/p90: ${cgRow.join(' | ')}`);
  ok(await ops.locator('#a-table td.rate', { hasText: /^—/ }).count() > 0,
     'a rate with no value (none verified yet) shows —');
  const drawn = await ops.evaluate(() => {
    const cv = document.querySelector('#a-chart canvas');
    if (!cv || !cv.width) return 0;
    const px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
    let red = 0; // the score bars (#b71c1c) and the rate lines: pixels drawn in colour
    for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0 && px[i] - px[i + 2] > 60) red++;
    return red;
  });
  ok(drawn > 200, `the chart canvas is drawn (${drawn} coloured pixels)`);
  const [download] = await Promise.all([ops.waitForEvent('download'), ops.click('#a-csv')]);
  const csv = require('fs').readFileSync(await download.path(), 'utf8');
  const lines = csv.replace(/^\ufeff/, '').split('\r\n');
  ok(download.suggestedFilename() === `figures-department-${week}.csv` && csv.startsWith('\ufeff') &&
     lines[0].startsWith('period,by,rank,key,name,dispatched,') && lines[lines.length - 1] === '' &&
     lines.length === nrows + 2 && lines.some((l) => l.startsWith(`${week},department,`) &&
       l.split(',')[3] === 'cg' && l.includes(',' + prevWeek + ',')),
     `the CSV export (${download.suggestedFilename()}): header, ${nrows} rows, CRLF`);
  await ops.selectOption('#a-by', 'township');
  await ops.locator('#a-table tbody tr[data-key="north"]').waitFor({ timeout: LIVE_MS });
  ok(true, 'by township: north ranked');
  await ops.selectOption('#a-kind', 'month');
  const month = await ops.inputValue('#a-period');
  await ops.locator('#a-range', { hasText: '本期 ' + month }).waitFor({ timeout: LIVE_MS });
  await ops.locator('#a-table tbody tr[data-key="north"]').waitFor({ timeout: LIVE_MS });
  ok(/^\d{4}-\d{2}$/.test(month), 'a month (月通报): ' + month);
  await shot(ops, '12-operator-assessment');
  await ops.click('#lang');
  await ops.locator('#a-table thead', { hasText: 'Satisfaction' }).waitFor({ timeout: LIVE_MS });
  ok(true, 'the assessment in English too');
  await ops.click('#lang');
  await north.click('#tabs button[data-view="assess"]');
  await north.selectOption('#a-by', 'department');
  await north.locator('#a-table tbody tr[data-key="cg"]').waitFor({ timeout: LIVE_MS });
  ok(await north.textContent('#a-error') === '', "a township reads the departments' figures over its own cases");

  // ---- 一格一账本 (point 7): a grid's page ---------------------------------------------------
  await north.click('#tabs button[data-view="board"]');
  await row(north, c1).locator('a.grid-link').click();
  await north.locator('#g-book').waitFor({ state: 'visible', timeout: LIVE_MS });
  const staff = await north.locator('#g-staff tbody tr').evaluateAll((rs) => rs.map((r) =>
    r.dataset.staff + (r.className === 'short' ? '!' : '')));
  ok(JSON.stringify(staff) === JSON.stringify(['王一', '李二!', '张三!', '赵四!']),
     'the 1+3 staff, under 5 h this week flagged: ' + staff.join(' '));
  ok((await north.textContent('#g-head')).includes('北一社区') &&
     (await north.textContent('#g-head dd[data-fact="households"]')) === '312',
     'its community, township and households');
  ok(await north.locator('#g-visits tbody tr', { hasText: '入户走访' }).count() === 1,
     'a visit with its note');
  await north.locator(`#g-cases tr[data-case="${c1}"]`).waitFor({ timeout: LIVE_MS });
  ok(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}/.test(await north.textContent(`#g-cases tr[data-case="${c1}"]`)),
     'its case listed with dates');
  ok(await north.locator(`#g-open tr[data-case="${c1}"]`).count() === 1, 'and among the open items');
  await shot(north, '13-township-grid-book');
  await cg.click('#tabs button[data-view="grid"]');
  await cg.fill('#g-code', 'g1');
  await cg.click('#g-load');
  await cg.locator('#g-error', { hasText: 'EFORBIDDEN' }).waitFor({ timeout: LIVE_MS });
  ok(await cg.locator('#g-book').isHidden(), "a department may not read a grid's book");
  errors.splice(0, errors.length, ...errors.filter((e) => !e.startsWith('cg: Failed to load')));

  // ---- nothing from elsewhere, no error in any page (CSP violations are console errors) ------
  ok(elsewhere.length === 0, 'the browser fetched nothing from elsewhere: ' + elsewhere.join(' '));
  ok(errors.length === 0, 'no console error or page error: ' + errors.join(' | '));
  const ver = await ops.evaluate(() => typeof window.uPlot === 'function' &&
    document.querySelectorAll('#chart .u-wrap').length === 1);
  ok(ver, 'the vendored uPlot drew the chart');
  await browser.close();
  console.log('dashboard: all checks passed');
}

main().catch((e) => { console.error(e && e.stack || e); process.exit(1); });

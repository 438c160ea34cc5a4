// The browser console end to end, in headless Chromium against the whole demo plant run in this
// process (simulated PLCs, connector, MQTT, ingest, engine, API): an operator watches the live
// chart, a main bursts, the operator takes a complaint near it and sees telemetry verify it; a
// prioritised work order appears in the queue with its reasons; a dispatcher assigns it (and
// meets a conflicting change on the way); the crew member completes it on a phone; the KPI page
// counts it. A screenshot of every page goes to TIRTA_SCREENSHOT_DIR (test-artifacts/screenshots).
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { Browser, Page } from 'playwright-core';
import { createUser } from '../../src/access/accounts.js';
import type { RuntimeEnvironment } from '../../src/config/environment.js';
import { parseScenario } from '../../src/contracts/scenario.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { silentLogger } from '../../src/log.js';
import { Lifecycle } from '../../src/runtime/lifecycle.js';
import { Services, startApi, startConnector, startEngine, startIngest } from '../../src/runtime/roles.js';
import { startSimulator, type SimulatorHandle } from '../../src/runtime/simulator.js';
import { applyWorkOrderAction, getWorkOrder } from '../../src/workorders/work-orders.js';
import { freshDatabase, testServices, waitFor, type FreshDatabase } from '../support/services.js';
import { quickDemoSite } from '../support/site-fixture.js';
import { chromiumAvailable, chromiumPath, desktop, launchBrowser, newPage, numberIn, PageProblems, phone, screenshot, screenshotDirectory, signIn } from './browser.js';

const PASSWORD = 'console-test-password';
/** Beside the pressure sensor dma-2.pressure.1, downstream of the burst junction J-D2-020. */
const NEAR_BURST = { lat: -6.908, lon: 107.608 };
const BURST_SCENARIO = `
id: console-test-burst
seed: 7
events:
  - { id: braga-burst, kind: burst, at: 0s, duration: 1h, junction: J-D2-020, coefficient: 150 }
`;

describe('browser console, end to end', function () {
  this.timeout(60_000);
  let db: FreshDatabase;
  let lifecycle: Lifecycle;
  let simulator: SimulatorHandle;
  let site: SiteConfig;
  let baseUrl: string;
  let dataDir: string;
  let browser: Browser;
  const problems = new PageProblems();
  let operator: Page;
  let dispatcher: Page;
  let crew: Page;
  let complaintId: string;
  let order: { id: string; code: string };
  let crewWestOrdersBefore: number;
  let totalOrdersBefore: number;
  let pressureBeforeBurst: number;

  before(async function () {
    this.timeout(120_000);
    if (!(await chromiumAvailable())) {
      // CI installs Chromium (.ci/run): there, its absence is a failure, not a reason to skip.
      if (process.env.CI) throw new Error(`no Chromium at ${chromiumPath}`);
      console.warn(`    skipped: no Chromium at ${chromiumPath} (set TIRTA_CHROMIUM)`);
      this.skip();
    }
    db = await freshDatabase();
    const { mqttUrl } = await testServices();
    site = await quickDemoSite({ autoAssign: false });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'tirta-console-'));
    const env: RuntimeEnvironment = { databaseUrl: db.url, mqttUrl, port: 0, host: '127.0.0.1', dataDir, simPort: 0, metricsPort: 0, instanceId: 'console-test', retention: { retentionDays: 400, compressAfterDays: 7 }, siteConfigFile: '', logLevel: 'silent' };
    lifecycle = new Lifecycle(silentLogger);
    const services = new Services(env, site, silentLogger, lifecycle);
    simulator = await startSimulator(services);
    await startIngest(services);
    await startEngine(services);
    await startConnector(services);
    baseUrl = (await startApi(services)).url;
    await createUser(db.pool, { username: 'op-test', display_name: 'Operator Test', role: 'operator', password: PASSWORD });
    await createUser(db.pool, { username: 'disp-test', display_name: 'Dispatcher Test', role: 'dispatcher', password: PASSWORD });
    await createUser(db.pool, { username: 'asep-test', display_name: 'Asep (test)', role: 'crew', crew: 'crew-west', password: PASSWORD });
    browser = await launchBrowser();
    operator = (await newPage(browser, desktop, problems)).page;
    dispatcher = (await newPage(browser, desktop, problems)).page;
    crew = (await newPage(browser, phone, problems)).page;
  });

  after(async function () {
    this.timeout(60_000);
    await browser?.close();
    await lifecycle?.stop();
    await db?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses a wrong password with the server\'s message, then signs the operator in to the views of the role', async () => {
    await operator.goto(`${baseUrl}/crew`);
    // Not signed in: sent to the sign-in page, remembering where to return.
    await operator.waitForURL(/\/login\?next=%2Fcrew/);
    await operator.goto(`${baseUrl}/login`);
    await operator.getByTestId('login-username').fill('op-test');
    await operator.getByTestId('login-password').fill('not-the-password');
    await operator.getByTestId('login-submit').click();
    await operator.getByTestId('login-error').filter({ hasText: 'wrong username or password' }).waitFor();
    await screenshot(operator, 'console-login');

    await signIn(operator, baseUrl, 'op-test', PASSWORD, (url) => url.pathname === '/');
    await operator.getByTestId('signed-in-role').filter({ hasText: 'operator' }).waitFor();
    const views = await operator.getByTestId('nav').locator('a').evaluateAll((links) => links.map((link) => link.getAttribute('data-view')));
    expect(views).to.deep.equal(['live', 'overview', 'anomalies', 'queue', 'complaint']);
  });

  it('draws the last hour and appends live samples to the chart', async () => {
    await operator.goto(`${baseUrl}/#/live?tags=dma-2.pressure.1,dma-2.inlet.flow`);
    const chart = operator.getByTestId('live-chart');
    await chart.locator('canvas').waitFor();
    expect(await chart.getAttribute('data-tags')).to.equal('dma-2.pressure.1,dma-2.inlet.flow');
    await waitFor('live samples on the chart', async () => (Number(await chart.getAttribute('data-live-points')) >= 2 ? true : undefined), 30_000);
    const points = Number(await chart.getAttribute('data-points'));
    await waitFor('the chart to grow', async () => (Number(await chart.getAttribute('data-points')) >= points + 4 ? true : undefined), 30_000);
    expect(await numberIn(operator, '[data-testid="live-count"]')).to.be.greaterThan(0);
    expect(await operator.getByTestId('live-last').textContent()).to.match(/\d\d:\d\d:\d\d/);
    pressureBeforeBurst = await numberIn(operator, '[data-testid="live-values"] tr[data-tag="dma-2.pressure.1"] td.number');
    expect(pressureBeforeBurst).to.be.above(15);
  });

  it('shows every zone with its pressures and flows on the overview', async () => {
    await operator.getByTestId('nav-overview').click();
    await operator.locator('[data-testid="zone-card"][data-zone="dma-2"] [data-tag="dma-2.pressure.1"] [data-testid="reading-value"]').filter({ hasText: /\d/ }).waitFor();
    const zones = await operator.getByTestId('zone-card').evaluateAll((cards) => cards.map((card) => card.getAttribute('data-zone')));
    expect(zones).to.deep.equal(['dma-1', 'dma-2', 'dma-3', 'network']);
    await screenshot(operator, 'console-overview');
  });

  it('takes a complaint near a burst, names each bad field, and shows telemetry verifying it', async function () {
    this.timeout(300_000);
    simulator.addScenario(parseScenario(BURST_SCENARIO, 'console test'), 'console test');
    await operator.getByTestId('nav-complaint').click();
    await operator.getByTestId('complaint-location-mode-coordinates').check();
    await operator.getByTestId('complaint-lat').fill('95');
    await operator.getByTestId('complaint-lon').fill(String(NEAR_BURST.lon));
    await operator.getByTestId('complaint-submit').click();
    // The server's 400 names the latitude and the missing text; each shows beside its field.
    await operator.getByTestId('error-location.lat').filter({ hasText: /\S/ }).waitFor();
    await operator.getByTestId('error-text').filter({ hasText: /\S/ }).waitFor();
    expect(await operator.getByTestId('complaint-lat').getAttribute('aria-invalid')).to.equal('true');

    await operator.getByTestId('complaint-category').selectOption('low_pressure');
    await operator.getByTestId('complaint-lat').fill(String(NEAR_BURST.lat));
    await operator.getByTestId('complaint-text').fill('Hardly any pressure since a few minutes ago, water in the street nearby.');
    await operator.getByTestId('complaint-contact').fill('+62 812 0000 0001');
    await operator.getByTestId('complaint-submit').click();
    complaintId = (await operator.getByTestId('complaint-id').textContent({ timeout: 15_000 }))!;
    expect(complaintId).to.match(/^[0-9a-f-]{36}$/);
    expect(await operator.getByTestId('complaint-zone').textContent()).to.equal('dma-2');
    expect(await operator.getByTestId('error-location.lat').textContent()).to.equal('');
    await operator.locator(`[data-testid="recent-complaint"][data-id="${complaintId}"]`).waitFor();
    // The burst's pressure anomaly verifies it: the page follows the complaint until it changes.
    await operator.locator('[data-testid="complaint-result"] [data-verification="verified_by_telemetry"]').waitFor({ timeout: 240_000 });
    await operator.locator(`[data-testid="recent-complaint"][data-id="${complaintId}"][data-verification="verified_by_telemetry"]`).waitFor({ timeout: 20_000 });
    await screenshot(operator, 'console-complaint');
  });

  it('shows the burst on the live chart and among the open anomalies', async () => {
    await operator.goto(`${baseUrl}/#/live?tags=dma-2.pressure.1,dma-2.inlet.flow`);
    const chart = operator.getByTestId('live-chart');
    await waitFor('live samples on the chart', async () => (Number(await chart.getAttribute('data-live-points')) >= 4 ? true : undefined), 30_000);
    // The drop that verified the complaint: at least pressure_drop's minimum of 5 m.
    const pressure = await numberIn(operator, '[data-testid="live-values"] tr[data-tag="dma-2.pressure.1"] td.number');
    expect(pressure).to.be.below(pressureBeforeBurst - 5);
    await screenshot(operator, 'console-live');

    await operator.getByTestId('nav-anomalies').click();
    await operator.locator('[data-testid="anomaly-row"][data-zone="dma-2"]').first().waitFor({ timeout: 20_000 });
    await screenshot(operator, 'console-anomalies');
  });

  it('puts the verified incident\'s work order in the dispatcher\'s queue with its priority reasons', async function () {
    this.timeout(120_000);
    order = await waitFor(
      'the work order of the complaint\'s incident',
      async () => {
        const { rows } = await db.pool.query<{ id: string; code: string }>(
          'SELECT w.id, w.code FROM incident i JOIN work_order w ON w.incident_id = i.id WHERE $1 = ANY(i.complaint_ids) AND i.merged_into IS NULL',
          [complaintId],
        );
        return rows[0];
      },
      90_000,
    );
    await signIn(dispatcher, baseUrl, 'disp-test', PASSWORD, (url) => url.pathname === '/');
    const views = await dispatcher.getByTestId('nav').locator('a').evaluateAll((links) => links.map((link) => link.getAttribute('data-view')));
    expect(views).to.deep.equal(['overview', 'queue', 'orders', 'complaint', 'kpi']);

    // The KPI before the crew completes anything.
    await dispatcher.goto(`${baseUrl}/#/kpi`);
    crewWestOrdersBefore = await numberIn(dispatcher, '[data-testid="kpi-crew-row"][data-crew="crew-west"] [data-testid="kpi-orders"]');
    totalOrdersBefore = await numberIn(dispatcher, '[data-testid="kpi-total-orders"]');

    await dispatcher.getByTestId('nav-queue').click();
    const row = dispatcher.locator(`[data-testid="queue-row"][data-code="${order.code}"]`);
    await row.waitFor({ timeout: 30_000 });
    expect(await row.getAttribute('data-status')).to.equal('new');
    expect(await row.getByTestId('queue-crew').textContent()).to.equal('unassigned');
    expect(await row.getAttribute('data-priority')).to.match(/^P[1-3]$/);
    const reasons = await row.getByTestId('reasons').locator('li').allTextContents();
    expect(reasons.join('\n')).to.match(/complainants/).and.to.match(/verification/);
    await screenshot(dispatcher, 'console-queue');
  });

  it('assigns the order from its page, showing a conflicting change and reloading first', async () => {
    await dispatcher.locator(`[data-testid="queue-row"][data-code="${order.code}"] [data-testid="queue-order-link"]`).click();
    await dispatcher.waitForURL(new RegExp(`#/orders/${order.code}$`));
    await dispatcher.locator('[data-testid="order-timeline"] [data-testid="timeline-row"][data-action="create"]').waitFor();
    await dispatcher.getByTestId('order-action-assign').click();
    await dispatcher.locator('[data-testid="order-assign-crew"] option[value="crew-west"]').waitFor({ state: 'attached' });
    await dispatcher.getByTestId('order-assign-crew').selectOption('crew-west');

    // Another dispatcher assigns it first: this page's version is stale.
    const current = (await getWorkOrder(db.pool, site.site.id, order.id))!;
    await applyWorkOrderAction(db.pool, site, order.id, { action: 'assign', version: current.version, crew: 'crew-east', by: 'another-dispatcher' }, Date.now());
    await dispatcher.getByTestId('order-action-submit').click();
    await dispatcher.getByTestId('order-error').filter({ hasText: /version/ }).waitFor();
    await dispatcher.locator('[data-testid="order-facts"][data-crew="crew-east"]').waitFor();

    await dispatcher.getByTestId('order-action-assign').click();
    await dispatcher.locator('[data-testid="order-assign-crew"] option[value="crew-west"]').waitFor({ state: 'attached' });
    await dispatcher.getByTestId('order-assign-crew').selectOption('crew-west');
    await dispatcher.getByTestId('order-note').fill('West crew is closer to Jalan Braga.');
    await dispatcher.getByTestId('order-action-submit').click();
    await dispatcher.getByTestId('order-notice').filter({ hasText: 'crew-west' }).waitFor();
    await dispatcher.locator('[data-testid="order-facts"][data-crew="crew-west"][data-status="assigned"]').waitFor();
    const actions = await dispatcher.locator('[data-testid="timeline-row"]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-action')));
    expect(actions).to.deep.equal(['create', 'assign', 'assign']);
    expect(await dispatcher.locator('[data-testid="timeline-row"]').last().textContent()).to.contain('disp-test').and.to.contain('West crew is closer');
    await screenshot(dispatcher, 'console-order');
  });

  it('lets the crew member acknowledge, start and complete the order on a phone', async function () {
    this.timeout(90_000);
    await signIn(crew, baseUrl, 'asep-test', PASSWORD, (url) => url.pathname === '/crew');
    const card = () => crew.locator(`[data-testid="crew-order-card"][data-code="${order.code}"]`);
    await card().waitFor({ timeout: 20_000 });
    // Nothing wider than the phone: no sideways scrolling.
    expect(await crew.evaluate('document.documentElement.scrollWidth')).to.be.at.most(390);
    await screenshot(crew, 'console-crew');

    await card().getByTestId('crew-action-acknowledge').click();
    await crew.locator(`[data-testid="crew-order-card"][data-code="${order.code}"][data-status="acknowledged"]`).waitFor();
    await card().getByTestId('crew-action-start').click();
    await crew.locator(`[data-testid="crew-order-card"][data-code="${order.code}"][data-status="in_progress"]`).waitFor();
    await card().getByTestId('crew-action-complete').click();
    const officers = await card().getByTestId('crew-officer').evaluateAll((boxes) => boxes.map((box) => box.getAttribute('data-officer')));
    expect(officers).to.deep.equal(['off-asep', 'off-dewi']);
    await card().locator('[data-testid="crew-officer"][data-officer="off-dewi"]').uncheck();
    await card().getByTestId('crew-complete-note').fill('Replaced 2 m of 150 mm main; pressure restored.');
    await screenshot(crew, 'console-crew-complete');
    await card().getByTestId('crew-complete-submit').click();
    await crew.getByTestId('crew-notice').filter({ hasText: `${order.code}: completed` }).waitFor();
    await card().waitFor({ state: 'detached' });

    const completed = (await getWorkOrder(db.pool, site.site.id, order.id))!;
    expect(completed.status).to.equal('completed');
    expect(completed.completed_by).to.deep.equal(['off-asep']);
    expect(completed.timeline.at(-1)).to.include({ actor: 'asep-test', action: 'complete' });

    // Signing out ends the session: the page is gone until the next sign-in.
    await crew.getByTestId('sign-out').click();
    await crew.waitForURL(/\/login$/);
    await crew.goto(`${baseUrl}/crew`);
    await crew.waitForURL(/\/login\?next=%2Fcrew$/);
  });

  it('counts the completed order on the KPI page', async () => {
    await dispatcher.goto(`${baseUrl}/#/kpi`);
    await dispatcher.getByTestId('kpi-refresh').click();
    await dispatcher.locator('[data-testid="kpi-crew-row"][data-crew="crew-west"] [data-testid="kpi-orders"]').filter({ hasText: new RegExp(`^${crewWestOrdersBefore + 1}$`) }).waitFor({ timeout: 20_000 });
    expect(await numberIn(dispatcher, '[data-testid="kpi-total-orders"]')).to.equal(totalOrdersBefore + 1);
    expect(await numberIn(dispatcher, '[data-testid="kpi-officer-row"][data-officer="off-asep"] [data-testid="kpi-orders"]')).to.equal(1);
    expect(await numberIn(dispatcher, '[data-testid="kpi-officer-row"][data-officer="off-dewi"] [data-testid="kpi-orders"]')).to.equal(0);
    const csv = await dispatcher.getByTestId('kpi-csv').getAttribute('href');
    expect(csv).to.match(/^\/api\/v1\/kpi\?.*format=csv/);
    const download = await dispatcher.evaluate(async (href) => (await fetch(href!)).text(), csv);
    expect(download.split('\r\n')[0]).to.match(/^subject_type,subject_id,name,crew_id,period_start/);
    await screenshot(dispatcher, 'console-kpi');
  });

  it('met no uncaught error and no Content-Security-Policy violation on any page', () => {
    expect(problems.problems, problems.problems.join('\n')).to.deep.equal([]);
    console.log(`    screenshots in ${screenshotDirectory}`);
  });
});

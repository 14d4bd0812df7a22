// The web dashboard in a real browser against a real `paas serve`: a wrong token refused with
// its code, sign in; the create wizard checking the name and the repository as they are typed
// (language shown), the build followed to RUNNING; the app's URL answering; the list following
// a status change live, across a dropped connection; the runtime log's tail, paged back to its first line (no line twice)
// and following a line printed after the page opened; an env change and the restart it makes;
// a rollback to the first deployment; stop, start, restart, redeploy; a build log, scaling and a domain; deploy on push
// and a webhook (its secret shown once, accepted by a signed delivery, rotated, removed); the layout at phone width; deletion; a failed build's reason; the list's pages.
//
// Inputs: PAAS_URL (the API), PAAS_TOKEN, PAAS_REPO (a git URL of a Python app answering
// $GREETING and printing `request <path>` per request), PAAS_APP (the name to create),
// PAAS_BARE_REPO (a git URL of a repository with no app in it).
// Prints one JSON line: { "app": <id>, "first": <first deployment>, "lines": <log lines seen> }.

import { createHmac, randomUUID } from 'node:crypto';

import { assert, assertClean, env, main, open, shot, waitForText } from './lib.mjs';

const BUILD = 240000;
const SETTLE = 90000;

/** A query or mutation from this script (not the page): the API with the token. */
async function api(base, token, query, variables = {}) {
  const resp = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = await resp.json();
  assert(!body.errors, `${query}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

/** A GitHub `ping` to a webhook URL, signed with `secret`: the answer's status. */
async function ping(url, secret) {
  const body = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
  const signature = createHmac('sha256', secret).update(body).digest('hex');
  const resp = await fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-GitHub-Event': 'ping',
      'X-GitHub-Delivery': randomUUID(),
      'X-Hub-Signature-256': `sha256=${signature}`,
    },
    body,
  });
  return resp.status;
}

/** The log lines the logs page shows: their timestamps and texts, in order. */
async function shownLines(page) {
  return page.getByTestId('log-line').evaluateAll((els) =>
    els.map((el) => ({ ts: el.dataset.ts, text: el.querySelector('.text')?.textContent ?? '' })),
  );
}

function assertNoLineTwice(lines) {
  const ts = new Set(lines.map((l) => l.ts));
  assert(ts.size === lines.length, `a line shown twice: ${lines.length} lines, ${ts.size} timestamps`);
  // Each of these paths was asked for once (a browser also asks for /favicon.ico per page).
  const requests = lines.map((l) => l.text).filter((t) => /^request \/(old|live)-/.test(t));
  assert(new Set(requests).size === requests.length, `a request line shown twice: ${requests}`);
}

main(async () => {
  const base = env('PAAS_URL');
  const token = env('PAAS_TOKEN');
  const repo = env('PAAS_REPO');
  const name = env('PAAS_APP');
  const bare = env('PAAS_BARE_REPO');
  const session = await open({ base });
  const { browser, page } = session;
  const byId = (id) => page.getByTestId(id);
  // The page's websocket to the API passes through here, so that the test can drop it.
  let socket = null;
  await page.routeWebSocket(
    (url) => url.pathname === '/graphql/ws',
    (ws) => {
      ws.connectToServer();
      socket = ws;
    },
  );

  // GET / leads to the dashboard; a wrong token is refused with the API's code, not JSON.
  await page.goto(`${base}/`);
  assert(new URL(page.url()).pathname === '/ui/', `GET / led to ${page.url()}`);
  await byId('token').fill('not-a-token');
  await byId('sign-in-submit').click();
  await waitForText(byId('error-code'), 'UNAUTHENTICATED');
  const banner = await byId('error').innerText();
  assert(!banner.includes('{'), `raw JSON in the banner: ${banner}`);
  await byId('token').fill(token);
  await byId('sign-in-submit').click();
  await waitForText(byId('user'), 'alice');
  await waitForText(byId('no-apps'), 'No apps yet');

  // The wizard: each check answers as its field is typed.
  await byId('new-app').click();
  await byId('name').fill('Not_A_Name');
  await waitForText(byId('name-check'), 'INVALID_NAME');
  await byId('name').fill(name);
  await waitForText(byId('name-check'), 'available');
  await byId('repo-url').fill(`${repo}-missing`);
  await waitForText(byId('repo-check'), 'Repository not found');
  await byId('repo-url').fill(repo);
  await waitForText(byId('repo-exists'), 'Repository found');
  await waitForText(byId('branch-check'), 'Branch main exists');
  await waitForText(byId('language'), 'PYTHON');
  await byId('repo-branch').fill('no-such-branch');
  await waitForText(byId('branch-check'), 'No branch no-such-branch');
  assert(await byId('create').isDisabled(), 'create allowed with a missing branch');
  await byId('repo-branch').fill('main');
  await waitForText(byId('branch-check'), 'Branch main exists');
  await byId('env-add').click();
  await byId('env-key-0').fill('GREETING');
  await byId('env-value-0').fill('hello from the wizard');
  await shot(page, 'wizard');
  await byId('create').click();

  // The build, followed live, to RUNNING.
  await waitForText(byId('follow-status'), 'RUNNING', { timeout: BUILD });
  await waitForText(byId('build-log-state'), 'ended', { timeout: SETTLE });
  const buildLog = await byId('build-log-lines').innerText();
  assert(buildLog.trim().length > 0, 'an empty build log');
  await shot(page, 'build');
  await byId('open-app').click();
  await waitForText(byId('app-status'), 'RUNNING');
  const appUrl = await byId('app-url').getAttribute('href');
  const appId = new URL(page.url()).pathname.split('/')[3];

  // The app's own URL (its origin, not the dashboard's: a context of its own).
  const appContext = await browser.newContext();
  const appPage = await appContext.newPage();
  const first = await appPage.goto(appUrl);
  assert(first.status() === 200, `${appUrl}: ${first.status()}`);
  const greeting = await first.text();
  assert(greeting === 'hello from the wizard', `${appUrl} answered ${JSON.stringify(greeting)}`);
  // Thirty requests: thirty lines in the app's log, more than a page of 20.
  await appPage.evaluate(async () => {
    for (let i = 0; i < 30; i++) {
      const r = await fetch(`/old-${i}`);
      await r.text();
    }
  });

  // The list follows the app's status live: stopped and started again from outside the page.
  await byId('nav-apps').click();
  const row = byId(`app-row-${name}`);
  await waitForText(row.getByTestId('app-status'), 'RUNNING');
  await shot(page, 'list');
  await api(base, token, 'mutation($id: ID!) { stopApplication(id: $id) { status } }', { id: appId });
  await waitForText(row.getByTestId('app-status'), 'STOPPED', { timeout: SETTLE });
  // The live connection drops: the page says so, reconnects, and its subscriptions go on.
  assert(socket, 'no websocket seen');
  await socket.close({ code: 1012, reason: 'dropped by the test' });
  await waitForText(byId('connection-lost'), 'reconnecting');
  await waitForText(byId('connection'), 'live', { timeout: SETTLE });
  await byId('connection-lost').waitFor({ state: 'detached' });
  await api(base, token, 'mutation($id: ID!) { startApplication(id: $id) { status } }', { id: appId });
  await waitForText(row.getByTestId('app-status'), 'RUNNING', { timeout: SETTLE });

  // The app page, then its runtime log.
  await row.getByTestId('app-link').click();
  await waitForText(byId('app-status'), 'RUNNING');
  await shot(page, 'app');
  await byId('open-logs').click();
  await waitForText(byId('log-lines'), 'request /old-29', { timeout: SETTLE });
  await byId('log-page-size').selectOption('20');
  // The page reads the tail again, 20 lines this time.
  await page.waitForFunction(() => {
    const n = document.querySelectorAll('[data-testid="log-line"]').length;
    return n > 0 && n <= 20;
  });
  await waitForText(byId('log-lines'), 'request /old-29');
  const tail = await shownLines(page);
  assert(tail.length === 20, `a tail of 20 lines expected, got ${tail.length}`);
  assert(!tail.some((l) => l.text === 'request /old-0'), 'the first request is in the tail');
  // Back through the history with the exact cursor, to the first request.
  let pages = 0;
  while (!(await shownLines(page)).some((l) => l.text === 'request /old-0')) {
    assert(pages < 10, 'request /old-0 not reached after 10 pages');
    const before = (await shownLines(page)).length;
    await byId('load-older').click();
    await page.waitForFunction(
      (n) => document.querySelectorAll('[data-testid="log-line"]').length > n,
      before,
    );
    pages += 1;
  }
  let lines = await shownLines(page);
  assertNoLineTwice(lines);
  for (let i = 0; i < 30; i++) {
    assert(lines.some((l) => l.text === `request /old-${i}`), `request /old-${i} missing`);
  }
  await shot(page, 'logs');
  // A line printed after the page opened arrives live.
  const fresh = `/live-${Date.now()}`;
  const live = await appPage.goto(new URL(fresh, appUrl).toString());
  assert(live.status() === 200, `${fresh}: ${live.status()}`);
  await waitForText(byId('log-lines'), `request ${fresh}`, { timeout: SETTLE });
  lines = await shownLines(page);
  assertNoLineTwice(lines);
  const at = (text) => lines.findIndex((l) => l.text === text);
  assert(at(`request ${fresh}`) > at('request /old-29'), 'the live line is not after the history');

  // An env var changed: the value is write-only, the app restarts with it.
  await byId('back-to-app').click();
  await waitForText(byId('app-status'), 'RUNNING');
  const deploymentsBefore = await byId('deployment').count();
  await byId('env-set-key').fill('GREETING');
  await byId('env-set-value').fill('changed in the dashboard');
  await byId('env-set').click();
  await waitForText(byId('env-notice'), 'GREETING set');
  await waitForText(byId('latest-task'), 'UPDATE');
  await waitForText(byId('latest-task'), 'SUCCEEDED', { timeout: SETTLE });
  await waitForText(byId('app-status'), 'RUNNING', { timeout: SETTLE });
  assert((await byId('deployment').count()) === deploymentsBefore + 1, 'no new deployment for the env change');
  const changed = await appPage.goto(appUrl);
  const changedText = await changed.text();
  assert(changedText === 'changed in the dashboard', `after the env change: ${changedText}`);
  assert(!(await byId('env').innerText()).includes('changed in the dashboard'), 'an env value shown');

  // Roll back to the first deployment: a new deployment runs its image.
  const firstRow = byId('deployment').last();
  const firstId = await firstRow.getAttribute('data-deployment-id');
  await firstRow.getByTestId('rollback').click();
  await waitForText(byId('latest-task'), 'ROLLBACK');
  await waitForText(byId('latest-task'), 'SUCCEEDED', { timeout: SETTLE });
  await waitForText(byId('app-status'), 'RUNNING', { timeout: SETTLE });
  const newest = byId('deployment').first();
  await waitForText(newest, `image of ${firstId.slice(-8)}`);
  await newest.getByTestId('current-deployment').waitFor({ timeout: SETTLE });
  const rolledBack = await appPage.goto(appUrl);
  assert(rolledBack.status() === 200, `after the rollback: ${rolledBack.status()}`);

  // The buttons: stop, start, restart, redeploy, each followed to its end in the history.
  await byId('stop').click();
  await waitForText(byId('desired-state'), 'STOPPED');
  await waitForText(byId('app-status'), 'STOPPED', { timeout: SETTLE });
  await byId('start').click();
  await waitForText(byId('desired-state'), 'RUNNING');
  await waitForText(byId('app-status'), 'RUNNING', { timeout: SETTLE });
  for (const [button, kind] of [['restart', 'RESTART'], ['redeploy', 'DEPLOY']]) {
    await byId(button).click();
    await waitForText(byId('latest-task'), kind);
    await waitForText(byId('latest-task'), 'SUCCEEDED', { timeout: BUILD });
    await waitForText(byId('app-status'), 'RUNNING', { timeout: SETTLE });
  }

  // The server out of reach: the banner says so (the browser logs the failed request itself).
  const logged = session.errors.length;
  const toApi = (url) => url.pathname === '/graphql';
  await page.route(toApi, (route) => route.abort('connectionrefused'));
  await byId('restart').click();
  await waitForText(byId('error-code'), 'NETWORK');
  await page.unroute(toApi);
  const failed = session.errors.splice(logged);
  assert(failed.every((e) => e.includes('ERR_CONNECTION_REFUSED')), `errors: ${failed}`);
  await byId('error').getByRole('button', { name: 'Dismiss' }).click();

  // The first deployment's build log, read again from the app page.
  await byId('deployment').last().getByTestId('build-log-toggle').click();
  await waitForText(byId('build-log-state'), 'ended', { timeout: SETTLE });
  assert((await byId('build-log-lines').innerText()).trim().length > 0, 'an empty build log');

  // Scaling and a custom domain.
  await byId('scaling-maxInstances').fill('2');
  await byId('scaling-save').click();
  await waitForText(byId('scaling-notice'), 'Scaling saved');
  await byId('domain-input').fill('shop.example.com');
  await byId('domain-add').click();
  await waitForText(byId('domain-list'), 'shop.example.com');
  await byId('domain-input').fill('Not a domain');
  await byId('domain-add').click();
  await waitForText(byId('error-code'), 'INVALID_DOMAIN');
  await page.reload();
  await waitForText(byId('app-status'), 'RUNNING');
  assert((await byId('scaling-maxInstances').inputValue()) === '2', 'scaling not kept');
  await waitForText(byId('domain-list'), 'shop.example.com');
  await byId('domain').getByRole('button', { name: 'Remove' }).click();
  await waitForText(byId('domains'), 'No custom domain');

  // Deploy on push, and a webhook: its secret shown once and accepted; a new one; removed.
  await byId('auto-deploy').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=auto-deploy]')?.checked === true);
  const watched = await api(base, token, 'query($id: ID!) { application(id: $id) { autoDeploy } }', { id: appId });
  assert(watched.application.autoDeploy === true, 'autoDeploy not saved');
  await byId('webhook-create').click();
  const secret = (await byId('webhook-secret-value').innerText()).trim();
  const hookUrl = (await byId('webhook-url').innerText()).trim();
  assert(hookUrl.startsWith(`${base}/hooks/git/`), `webhook URL ${hookUrl}`);
  assert((await ping(hookUrl, secret)) === 200, 'a delivery signed with the shown secret was refused');
  assert((await ping(hookUrl, 'not-the-secret')) === 401, 'a badly signed delivery was accepted');
  await byId('webhook-create').click();
  await page.waitForFunction(
    (old) => { const el = document.querySelector('[data-testid=webhook-secret-value]'); return el && el.textContent.trim() !== old; },
    secret,
  );
  assert((await ping(hookUrl, secret)) === 401, 'the old webhook still answers after a new secret');
  await byId('webhook-delete').click();
  await waitForText(byId('webhook'), 'No webhook');
  await byId('auto-deploy').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=auto-deploy]')?.checked === false);

  // At phone width: one column, nothing wider than the screen.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert(overflow <= 390, `the app page is ${overflow}px wide at 390px`);
  await shot(page, 'app-phone');
  await byId('nav-apps').click();
  await waitForText(row.getByTestId('app-status'), 'RUNNING');
  await shot(page, 'list-phone');
  await page.setViewportSize({ width: 1280, height: 900 });

  // Delete, confirmed by typing the name.
  await row.getByTestId('app-link').click();
  await byId('delete').click();
  await byId('delete-name').fill(name.slice(0, -1));
  assert(await byId('delete-confirm-button').isDisabled(), 'deletion allowed with a wrong name');
  await byId('delete-name').fill(name);
  await byId('delete-confirm-button').click();
  await waitForText(byId('no-apps'), 'No apps yet', { timeout: SETTLE });

  // A repository without a language: the wizard says so, and the build fails with its reason.
  await byId('new-app').click();
  await byId('name').fill('broken');
  await waitForText(byId('name-check'), 'available');
  await byId('repo-url').fill(bare);
  await waitForText(byId('repo-exists'), 'Repository found');
  await waitForText(byId('language'), 'not detected');
  await byId('create').click();
  await waitForText(byId('follow-status'), 'FAILED', { timeout: BUILD });
  await waitForText(byId('follow-reason'), "could not tell the app's language");
  await shot(page, 'build-failed');
  await byId('open-app').click();
  await waitForText(byId('status-reason'), "could not tell the app's language");
  await byId('delete').click();
  await byId('delete-name').fill('broken');
  await byId('delete-confirm-button').click();
  await waitForText(byId('no-apps'), 'No apps yet', { timeout: SETTLE });

  // Pages of 10: eleven apps make two.
  const names = Array.from({ length: 11 }, (_, i) => `page-${String(i).padStart(2, '0')}`);
  for (const n of names) {
    await api(base, token, 'mutation($input: CreateApplicationInput!) { createApplication(input: $input) { application { id } } }', {
      input: { name: n, repository: { url: repo } },
    });
  }
  await page.reload();
  await byId('app-row-page-00').waitFor();
  assert((await page.getByTestId(/^app-row-/).count()) === 10, 'a first page of 10 apps');
  assert(await byId('page-previous').isDisabled(), 'a page before the first');
  await byId('page-next').click();
  await byId('app-row-page-10').waitFor();
  assert((await page.getByTestId(/^app-row-/).count()) === 1, 'a second page of 1 app');
  assert(await byId('page-next').isDisabled(), 'a page after the last');
  await byId('page-previous').click();
  await byId('app-row-page-00').waitFor();
  assert((await page.getByTestId(/^app-row-/).count()) === 10, 'back to the first page');

  await appContext.close();
  assertClean(session);
  console.log(JSON.stringify({ app: appId, first: firstId, lines: lines.length }));
});

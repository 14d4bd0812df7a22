// The playground as a person uses it, in a browser that can reach the server and nothing else:
// GraphiQL renders (with the schema's docs), the token goes into the prefilled Authorization
// header, a query shows the user's name, and a subscription shows the app's status and then a
// change made while it runs. Prints what it saw as JSON.
//
// Environment: PAAS_URL, PAAS_TOKEN, PAAS_USER_NAME (the token's user), PAAS_APP_ID (an app of
// that user, already RUNNING; the script restarts it through the API to see a live change).

import { assert, assertClean, env, main, open, shot, waitForText } from './lib.mjs';

const base = env('PAAS_URL');
const token = env('PAAS_TOKEN');
const userName = env('PAAS_USER_NAME');
const appId = env('PAAS_APP_ID');

/** The text of the CodeMirror editor inside `locator`. */
function editorText(locator) {
  return locator.locator('.CodeMirror').first().evaluate((el) => el.CodeMirror.getValue());
}

/** Replaces the text of the CodeMirror editor inside `locator` (as a paste would). */
function setEditorText(locator, text) {
  return locator
    .locator('.CodeMirror')
    .first()
    .evaluate((el, value) => el.CodeMirror.setValue(value), text);
}

/** Polls the result pane until its JSON satisfies `accept`; returns that JSON. */
async function resultWhere(page, what, accept, timeout = 60000) {
  const pane = page.locator('.result-window');
  const until = Date.now() + timeout;
  let last = '';
  for (;;) {
    last = await editorText(pane);
    let json = null;
    try {
      json = JSON.parse(last);
    } catch {
      // Empty, or being written: look again.
    }
    if (json && accept(json)) {
      return json;
    }
    if (Date.now() > until) {
      throw new Error(`the result pane never showed ${what}; it shows ${last}`);
    }
    await page.waitForTimeout(100);
  }
}

await main(async () => {
  const session = await open({ base });
  const { page } = session;
  const sockets = [];
  page.on('websocket', (ws) => sockets.push(ws.url()));

  await page.goto(new URL('/graphql', base).toString());
  const root = page.locator('#graphiql');
  await page.locator('.graphiql-container .graphiql-query-editor .CodeMirror').waitFor();
  await page.locator('.graphiql-execute-button').waitFor();
  const rootText = await root.innerText();
  assert(!rootText.startsWith('Loading...'), `GraphiQL did not replace "Loading...": ${rootText}`);

  // The schema loaded (introspection over this server): the docs list the root types.
  await page.getByRole('button', { name: 'Show Documentation Explorer' }).click();
  await waitForText(page.locator('.graphiql-doc-explorer'), 'QueryRoot');
  await waitForText(page.locator('.graphiql-doc-explorer'), 'SubscriptionRoot');
  await shot(page, 'playground-docs');
  await page.getByRole('button', { name: 'Hide Documentation Explorer' }).click();
  await shot(page, 'playground');

  // The header editor comes with Authorization prefilled: the token goes after "Bearer ".
  await page.locator('.graphiql-editor-tools').getByRole('button', { name: 'Headers' }).click();
  const headers = page.locator('section.graphiql-editor-tool .graphiql-editor:not(.hidden)');
  const prefilled = await editorText(headers);
  assert(
    JSON.stringify(JSON.parse(prefilled)) === JSON.stringify({ Authorization: 'Bearer ' }),
    `the header editor holds ${prefilled}`,
  );
  await headers.locator('.CodeMirror').first().click();
  await headers.locator('.CodeMirror').first().evaluate((el, at) => {
    const cm = el.CodeMirror;
    cm.focus();
    cm.setCursor(cm.posFromIndex(at));
  }, prefilled.indexOf('Bearer ') + 'Bearer '.length);
  await page.keyboard.type(token);
  const typed = JSON.parse(await editorText(headers));
  assert(typed.Authorization === `Bearer ${token}`, `the header editor holds ${JSON.stringify(typed)}`);

  // A query, run with the run button.
  const editor = page.locator('.graphiql-query-editor');
  await setEditorText(editor, '{ me { name } }');
  await page.locator('.graphiql-execute-button').click();
  const me = await resultWhere(page, 'the viewer', (r) => r.data?.me || r.errors);
  assert(me.data?.me?.name === userName, `the query answered ${JSON.stringify(me)}`);
  await waitForText(page.locator('.result-window'), userName);
  await shot(page, 'playground-query');

  // A subscription: the app's status (its changes so far are replayed first) ...
  await setEditorText(
    editor,
    `subscription { applicationStatus(id: "${appId}") { status version } }`,
  );
  await page.locator('.graphiql-execute-button').click();
  // The replay sends every change of the current deployment in order and the pane shows each in
  // turn: wait for the last one, the app's status now (RUNNING), before changing anything.
  const first = await resultWhere(
    page,
    'the replay reaching RUNNING',
    (r) => r.data?.applicationStatus?.status === 'RUNNING' || r.errors,
  );
  assert(first.data?.applicationStatus?.status, `the subscription answered ${JSON.stringify(first)}`);
  const firstChange = first.data.applicationStatus;
  await waitForText(page.locator('.result-window'), firstChange.status);

  // ... then a change made while it runs: a restart, asked from outside the browser.
  const restart = await fetch(new URL('/graphql', base), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
    body: JSON.stringify({
      query: 'mutation($id: ID!) { restartApplication(id: $id) { status } }',
      variables: { id: appId },
    }),
  }).then((r) => r.json());
  assert(!restart.errors, `restartApplication answered ${JSON.stringify(restart)}`);
  const live = await resultWhere(
    page,
    'a status change after the restart',
    (r) => r.errors || r.data?.applicationStatus?.version > firstChange.version,
  );
  assert(live.data?.applicationStatus, `the subscription answered ${JSON.stringify(live)}`);
  await shot(page, 'playground-subscription');
  // The run button stops a running subscription.
  await page.locator('.graphiql-execute-button').click();

  assertClean(session);
  console.log(
    JSON.stringify({
      me: me.data.me.name,
      first: firstChange,
      live: live.data.applicationStatus,
      sockets,
    }),
  );
});

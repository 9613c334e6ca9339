// The owner's page end to end in headless Chromium against `sessionkeys serve --dev`: an app
// requests a session, the owner signs in, reviews and approves it, the app executes, the page
// shows the activity and the budget, the owner revokes, the app is refused. The wallet is a
// test EIP-1193 provider over a local key (viem) that signs typed data and personal_sign only,
// and reads the chain through the read-only `/dev/rpc`. Tamper tests change what the service
// answers; the page must refuse to ask for a signature each time. axe-core checks each screen.
//
// Usage (scripts/page-e2e sets these): SESSIONKEYS_BIN=path/to/sessionkeys
//   SESSIONKEYS_ENGINE_WASM=packages/engine/sessionkeys_engine.wasm [SESSIONKEYS_SCREENSHOTS=docs/page]
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { hashTypedData } from 'viem';

const bin = process.env.SESSIONKEYS_BIN ?? new URL('../target/debug/sessionkeys', import.meta.url).pathname;
const wasm = process.env.SESSIONKEYS_ENGINE_WASM ?? new URL('../packages/engine/sessionkeys_engine.wasm', import.meta.url).pathname;
const shots = process.env.SESSIONKEYS_SCREENSHOTS;
const axeSource = readFileSync(new URL('./node_modules/axe-core/axe.min.js', import.meta.url), 'utf8');
const ALICE = '0x00000000000000000000000000000000000a11ce';
const BOB = '0x0000000000000000000000000000000000000b0b';

const ownerKey = generatePrivateKey();
const owner = privateKeyToAccount(ownerKey);
let server;
let serverLog = '';
let banner;
let browser;

async function api(method, path, body, key = banner.apiKey) {
  const response = await fetch(banner.url + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: response.status, body: await response.json() };
}

async function rpc(method, params = []) {
  const response = await fetch(banner.rpc, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  return response.json();
}

/** A session for the demo account: USDC to `to`, at most 50 USDC in all. */
async function requestSession(to) {
  const { result: block } = await rpc('eth_getBlockByNumber', ['latest', false]);
  const now = Number(BigInt(block.timestamp));
  const session = {
    validUntil: now + 3600,
    feeLimit: { limit: '10000000000000000' },
    callPolicies: [{
      target: banner.usdc,
      selector: 'transfer(address,uint256)',
      constraints: [
        { index: 0, condition: 'equal', value: to, bits: 160 },
        { index: 1, condition: 'unconstrained', limit: { limit: '50000000' } },
      ],
    }],
  };
  const requested = await api('POST', '/v1/sessions', { owner: owner.address, session });
  assert.equal(requested.status, 201, JSON.stringify(requested.body));
  return requested.body;
}

/** After revoke-all, the chain refuses the account's earlier sessions: the approved one from
 * the review test, read from the owner's account view. */
async function requestSessionAfterRevokeAll() {
  const token = await ownerToken();
  const response = await fetch(`${banner.url}/v1/owner/accounts/${banner.account}/sessions`, { headers: { authorization: `Bearer ${token}` } });
  const { sessions } = await response.json();
  assert.ok(sessions.length > 0);
  return sessions.every((s) => !s.usable && s.status === 'revoked') ? 'revoked on-chain' : JSON.stringify(sessions);
}

async function ownerToken() {
  const post = async (path, body) => (await fetch(banner.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).json();
  const { message } = await post('/v1/owner/challenge', { address: owner.address });
  const signature = await owner.signMessage({ message });
  return (await post('/v1/owner/sign-in', { message, signature })).token;
}

function transfer(to, amount) {
  const data = '0xa9059cbb' + to.slice(2).padStart(64, '0') + BigInt(amount).toString(16).padStart(64, '0');
  return { calls: [{ to: banner.usdc, data }] };
}

/** The test wallet: what the page asked of it, in order. */
function wallet() {
  const asked = [];
  const controls = { rejectNextSignature: false, chainId: null };
  async function request({ method, params = [] }) {
    asked.push({ method, params });
    if (controls.rejectNextSignature && (method === 'eth_signTypedData_v4' || method === 'personal_sign')) {
      controls.rejectNextSignature = false;
      throw { code: 4001, message: 'User rejected the request.' };
    }
    switch (method) {
      case 'eth_requestAccounts':
      case 'eth_accounts':
        return [owner.address];
      case 'personal_sign': {
        assert.equal(params[1].toLowerCase(), owner.address.toLowerCase());
        return owner.signMessage({ message: { raw: params[0] } });
      }
      case 'eth_signTypedData_v4': {
        assert.equal(params[0].toLowerCase(), owner.address.toLowerCase());
        const typed = JSON.parse(params[1]);
        const { EIP712Domain, ...types } = typed.types;
        return owner.signTypedData({ domain: typed.domain, types, primaryType: typed.primaryType, message: typed.message });
      }
      case 'eth_chainId':
        if (controls.chainId) return '0x' + controls.chainId.toString(16);
        return (await rpc(method, params)).result;
      case 'wallet_switchEthereumChain':
        // A wallet that stays on another chain when asked to switch (it does not know 31337).
        if (controls.chainId) throw { code: 4902, message: 'Unrecognized chain ID' };
        if (Number(BigInt(params[0].chainId)) === 31337) return null;
        throw { code: 4902, message: 'unknown chain' };
      case 'eth_sign':
        throw { code: 4200, message: 'eth_sign is never offered' };
      default: {
        const answer = await rpc(method, params);
        if (answer.error) throw answer.error;
        return answer.result;
      }
    }
  }
  return { asked, request, controls };
}

async function openPage(viewport) {
  const context = await browser.newContext({ viewport });
  const w = wallet();
  await context.exposeBinding('__skWallet', async (_source, call) => {
    try {
      return { result: await w.request(call) };
    } catch (error) {
      return { error: { code: error.code ?? -32603, message: error.message ?? String(error) } };
    }
  });
  await context.addInitScript(() => {
    window.ethereum = {
      async request(call) {
        const answer = await window.__skWallet(call);
        if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.code });
        return answer.result;
      },
    };
  });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  await page.goto(banner.url + '/');
  await page.getByText('Ready: sign in with your wallet.').waitFor();
  return { context, page, wallet: w, problems };
}

async function axe(page, screen) {
  // Evaluated by the test driver, not as a page script: the page's CSP allows no inline script.
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`), [], `${screen}: axe`);
}

async function shot(page, name) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

function signedTypedData(w) {
  return w.asked.filter((a) => a.method === 'eth_signTypedData_v4').map((a) => JSON.parse(a.params[1]));
}

async function signIn(page) {
  await page.getByRole('button', { name: 'Connect wallet and sign in' }).click();
  await page.getByRole('heading', { name: 'Sessions' }).waitFor();
}

async function card(page, hash) {
  const item = page.locator(`li[data-session="${hash}"]`);
  await item.waitFor();
  return item;
}

before(async () => {
  server = spawn(bin, ['--json', 'serve', '--dev', '--listen', '127.0.0.1:0', '--dev-owner-key-env', 'SK_PAGE_TEST_OWNER', '--engine-wasm', wasm], {
    env: { ...process.env, SK_PAGE_TEST_OWNER: ownerKey },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // The service's request log, kept for a failure's message rather than printed.
  server.stderr.on('data', (chunk) => {
    serverLog = (serverLog + chunk).slice(-20_000);
  });
  const lines = createInterface({ input: server.stdout });
  banner = await new Promise((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`sessionkeys serve --dev exited (${code}) before its banner:\n${serverLog}`)));
    lines.once('line', (line) => resolve(JSON.parse(line)));
  });
  assert.equal(banner.owner.toLowerCase(), owner.address.toLowerCase(), 'the demo owner is the test wallet');
  assert.equal(banner.page.engineMissing, null, 'the engine module is served');
  // launch() starts Chromium on a fresh profile in a new temporary --user-data-dir of its own
  // (it refuses the flag itself), removed when the browser closes.
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  if (process.exitCode) console.error(`# the service's last log lines:\n${serverLog.slice(-4000)}`);
  await browser?.close();
  server?.kill('SIGTERM');
});

test('the page serves what the banner hashes, under a strict content policy', async () => {
  for (const [path, digest] of Object.entries(banner.page.assets)) {
    const response = await fetch(banner.url + path);
    assert.equal(response.status, 200, path);
    const bytes = Buffer.from(await response.arrayBuffer());
    const { createHash } = await import('node:crypto');
    assert.equal(createHash('sha256').update(bytes).digest('hex'), digest, path);
    assert.match(response.headers.get('content-security-policy'), /script-src 'self' 'wasm-unsafe-eval'/);
  }
  assert.ok(banner.page.assets['/engine.wasm'], 'the engine module is listed');
  const write = await rpc('eth_sendRawTransaction', ['0x00']);
  assert.equal(write.error.code, -32601, 'the dev RPC only reads');
});

test('tampered approvals are refused before the wallet is asked to sign', async () => {
  const a = await requestSession(ALICE);
  const b = await requestSession(BOB);
  const { page, wallet: w, context, problems } = await openPage({ width: 1280, height: 900 });
  await signIn(page);
  const hashA = a.session.sessionHash;
  const approvalPath = `**/v1/owner/sessions/${hashA}/approval`;
  const tampers = {
    'typed data changed, digest kept': (body) => {
      body.typedData.message.session.callPolicies[0].constraints[1].limit.limit = '50000000000';
      return body;
    },
    'typed data kept, digest changed': (body) => ({ ...body, digest: b.digest }),
    "another session's enable behind the button": (body) => ({ ...body, typedData: b.typedData, digest: b.digest }),
  };
  for (const [name, tamper] of Object.entries(tampers)) {
    await page.route(approvalPath, async (route) => {
      const response = await route.fetch();
      await route.fulfill({ response, json: tamper(await response.json()) });
    });
    const item = await card(page, hashA);
    await item.getByRole('button', { name: 'Review request' }).click();
    const error = page.getByRole('alert');
    await error.waitFor();
    assert.match(await error.textContent(), /refused this request.*Nothing was signed/, name);
    assert.equal(await page.locator('#review').isHidden(), true, `${name}: no review shown`);
    assert.deepEqual(signedTypedData(w), [], `${name}: the wallet was not asked`);
    await page.unroute(approvalPath);
  }
  assert.deepEqual(problems, []);
  await context.close();
});

test('an owner reviews, approves, watches the app spend, and revokes from the page', async () => {
  const requested = await requestSession(ALICE);
  const hash = requested.session.sessionHash;
  const { page, wallet: w, context, problems } = await openPage({ width: 1280, height: 900 });
  await shot(page, '1-sign-in');
  await axe(page, 'sign-in');
  await signIn(page);
  // The service puts another session's enable behind the Revoke route: the page never uses it.
  await page.route('**/v1/owner/sessions/*/revoke', (route) => route.fulfill({ json: { ownerRevokeTypedData: requested.typedData } }));

  let item = await card(page, hash);
  await shot(page, '2-sessions');
  await axe(page, 'sessions');
  await item.getByRole('button', { name: 'Review request' }).click();
  await page.getByRole('heading', { name: 'Review a session request' }).waitFor();
  const lines = await page.locator('#review-lines').textContent();
  assert.match(lines, /USDC/, 'the token named from the chain');
  assert.match(lines, /50/, 'the cap');
  assert.equal(await page.locator('#review-digest').textContent(), requested.digest);
  await shot(page, '3-review');
  await axe(page, 'review');

  await page.getByRole('button', { name: 'Approve in wallet' }).click();
  await page.getByText(/^Approved session/).waitFor();
  const [enable] = signedTypedData(w);
  assert.equal(enable.primaryType, 'EnableSession');
  const { EIP712Domain, ...types } = enable.types;
  assert.equal(hashTypedData({ domain: enable.domain, types, primaryType: enable.primaryType, message: enable.message }), requested.digest,
    'a wallet library computes the digest the service expects');

  // The app executes through the API: 10 USDC to Alice.
  const executed = await api('POST', `/v1/sessions/${requested.session.id}/execute`, transfer(ALICE, 10_000_000));
  assert.equal(executed.status, 200, JSON.stringify(executed.body));
  await page.getByRole('button', { name: 'Refresh' }).click();
  item = await card(page, hash);
  await item.getByRole('button', { name: 'Budgets and activity' }).click();
  const budget = item.getByRole('progressbar');
  await budget.first().waitFor();
  assert.match(await item.textContent(), /40000000 of 50000000 left, for the whole session/);
  assert.match(await item.textContent(), /fees \(policy 0\): \d+ of 10000000000000000 left, for the whole session/);
  assert.match(await item.textContent(), /execute allowed/);
  await shot(page, '4-activity');
  await axe(page, 'activity');

  // Revoke: the wallet signs the page's own revocation of this session, the service relays it.
  await item.getByRole('button', { name: 'Revoke' }).click();
  await page.getByText(/^Revoked session/).waitFor();
  const revoke = signedTypedData(w).at(-1);
  assert.equal(revoke.primaryType, 'RevokeSessions');
  assert.deepEqual(revoke.message.sessionHashes.map((h) => h.toLowerCase()), [hash.toLowerCase()]);

  const refused = await api('POST', `/v1/sessions/${requested.session.id}/execute`, transfer(ALICE, 1_000_000));
  assert.equal(refused.status, 409, JSON.stringify(refused.body));
  assert.equal(refused.body.error.code, 'session_revoked');
  // The log and its alerts are written behind the answer: wait until the service has them.
  const token = await ownerToken();
  for (let i = 0; ; i++) {
    const response = await fetch(`${banner.url}/v1/owner/alerts?account=${banner.account}`, { headers: { authorization: `Bearer ${token}` } });
    const { alerts } = await response.json();
    if (alerts.some((a) => a.rule === 'after_revoke' && a.sessionHash.toLowerCase() === hash.toLowerCase())) break;
    assert.ok(i < 100, 'no after_revoke alert within 5 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await page.getByRole('button', { name: 'Refresh' }).click();
  item = await card(page, hash);
  assert.match(await item.textContent(), /revoked/);
  await item.getByRole('button', { name: 'Budgets and activity' }).click();
  await item.getByText(/attempt_after_revoke/).waitFor();
  // The attempt after the revoke raised the owner's alert, shown with the session.
  await item.getByText(/after_revoke: /).waitFor();
  assert.match(await item.textContent(), /On-chain: revoked/);
  await shot(page, '5-revoked');

  assert.ok(!w.asked.some((a) => a.method === 'eth_sign'), 'never eth_sign');
  assert.deepEqual(problems, []);
  await context.close();
});

test('on a phone-sized screen the page works by keyboard, and errors are words', async () => {
  const { page, context, problems, wallet: w } = await openPage({ width: 390, height: 844 });
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'connect-button');
  await page.keyboard.press('Enter');
  await page.locator('li.session').first().waitFor();
  await shot(page, '6-phone');
  await axe(page, 'phone');
  const scrolls = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(scrolls, false, 'no sideways scrolling');
  // A wallet on another chain that cannot switch: the approval is not asked for, in words.
  w.controls.chainId = 1;
  await page.locator('li.session').filter({ hasText: 'requested' }).first().getByRole('button', { name: 'Review request' }).click();
  await page.getByRole('button', { name: 'Approve in wallet' }).click();
  assert.match(await page.getByRole('alert').textContent(), /Your wallet is on chain 1, and this session is on chain 31337/);
  assert.deepEqual(signedTypedData(w), [], 'nothing signed on the wrong chain');
  w.controls.chainId = null;
  await page.getByRole('button', { name: 'Not now' }).click();
  // Revoke every session in one click: the owner first says no in the wallet, then yes.
  w.controls.rejectNextSignature = true;
  await page.getByRole('button', { name: 'Revoke every session' }).click();
  assert.match(await page.getByRole('alert').textContent(), /You rejected the request in your wallet: nothing was signed/);
  await page.getByRole('button', { name: 'Revoke every session' }).click();
  await page.getByText(/^Revoked every session/).waitFor();
  const all = signedTypedData(w).at(-1);
  assert.equal(all.primaryType, 'RevokeAllSessions');
  const statuses = await page.locator('li.session .badge').allTextContents();
  assert.ok(statuses.length >= 3 && statuses.every((s) => s === 'revoked'), statuses.join(', '));
  const after = await requestSessionAfterRevokeAll();
  assert.equal(after, 'revoked on-chain');
  // The service down: said in words.
  await page.route('**/v1/owner/sessions?*', (route) => route.abort('connectionrefused'));
  await page.getByRole('button', { name: 'Refresh' }).click();
  assert.match(await page.getByRole('alert').textContent(), /unreachable/);
  assert.deepEqual(problems, []);
  await context.close();
});

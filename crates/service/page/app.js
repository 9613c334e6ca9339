// The owner's page: sign in with a wallet, review a session request in plain words, approve
// it, see what each app did, revoke. Every message the wallet is asked to sign is built or read
// back by the session engine running here (WebAssembly), from values this page checked
// itself; the service's word is never taken for what is signed (docs/page.md).
import { loadEngine, EngineError } from './engine/index.mjs';

/** The session validator: one deployment at the same address on every chain (the service's
 * tests check it against sessionkeys' deployment). */
export const VALIDATOR = '0x6485327f3d4b669aba61a80add7a5a0805a9643e';
/** The selector of the validator's `epochOf(address)`, read through the wallet. */
export const EPOCH_OF = '0x582805d9';
const DECIMALS = '0x313ce567'; // decimals()
const SYMBOL = '0x95d89b41'; // symbol()
const RISK_WORDS = ['Limits', 'Other calls', 'Moves value', 'Uncapped'];

const params = new URLSearchParams(location.search);
const API = (params.get('api') ?? location.origin).replace(/\/+$/, '');
const $ = (id) => document.getElementById(id);
const state = { engine: null, owner: null, token: null, sessions: [], reviewing: null };

/** A reason this page will not ask the wallet for a signature. */
class Refusal extends Error {}

function say(text) {
  $('status').textContent = text;
}

function clearError() {
  $('error').hidden = true;
  $('error').textContent = '';
}

function words(error) {
  if (error?.code === 4001) return 'You rejected the request in your wallet: nothing was signed.';
  if (error?.code === 4902) return 'Your wallet does not know this session\'s chain: add the chain in your wallet, then try again.';
  if (error instanceof Refusal) return error.message;
  if (error instanceof EngineError) return `The page's engine refused: ${error.message}`;
  if (error?.unreachable) return `The service at ${API} is unreachable: check your connection, or the page's ?api= address.`;
  if (error?.serviceMessage) return `The service refused: ${error.serviceMessage}`;
  return `Something went wrong: ${error?.message ?? error}`;
}

function fail(error) {
  const box = $('error');
  box.textContent = words(error);
  box.hidden = false;
  say('');
  box.focus?.();
}

/** Runs `action` from a button: one at a time, errors in words. */
function guarded(button, action) {
  button.addEventListener('click', async () => {
    if (button.disabled) return;
    button.disabled = true;
    clearError();
    try {
      await action();
    } catch (error) {
      fail(error);
    } finally {
      button.disabled = false;
    }
  });
}

async function call(method, path, body) {
  let response;
  try {
    response = await fetch(API + path, {
      method,
      headers: {
        ...(state.token ? { authorization: `Bearer ${state.token}` } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (cause) {
    throw Object.assign(new Error(`fetch failed: ${cause.message}`), { unreachable: true });
  }
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON: named below by its status.
  }
  if (!response.ok) {
    const message = json?.error?.message ?? `HTTP ${response.status}`;
    throw Object.assign(new Error(message), { serviceMessage: message, status: response.status, serviceCode: json?.error?.code });
  }
  return json;
}

function provider() {
  if (!window.ethereum?.request) {
    throw new Refusal('No wallet found in this browser: install or unlock an Ethereum wallet (EIP-1193), then reload.');
  }
  return window.ethereum;
}

/** A wallet request. Never `eth_sign`: only personal_sign (sign-in) and eth_signTypedData_v4. */
function wallet(method, params = []) {
  return provider().request({ method, params });
}

const same = (a, b) => String(a).toLowerCase() === String(b).toLowerCase();
const short = (hex) => `${hex.slice(0, 8)}…${hex.slice(-6)}`;
const utf8Hex = (text) => '0x' + Array.from(new TextEncoder().encode(text), (b) => b.toString(16).padStart(2, '0')).join('');

async function chainTime() {
  try {
    const block = await wallet('eth_getBlockByNumber', ['latest', false]);
    return Number(BigInt(block.timestamp));
  } catch {
    return Math.floor(Date.now() / 1000);
  }
}

async function ensureChain(chainId) {
  const current = Number(BigInt(await wallet('eth_chainId')));
  if (current === chainId) return;
  try {
    await wallet('wallet_switchEthereumChain', [{ chainId: '0x' + chainId.toString(16) }]);
  } catch (error) {
    if (error?.code === 4001) throw error;
    throw new Refusal(`Your wallet is on chain ${current}, and this session is on chain ${chainId}: switch your wallet to chain ${chainId}, then try again.`);
  }
}

/** The account's revocation epoch on the wallet's chain, read from the validator. */
async function readEpoch(account) {
  const data = EPOCH_OF + account.toLowerCase().replace(/^0x/, '').padStart(64, '0');
  const out = await wallet('eth_call', [{ to: VALIDATOR, data }, 'latest']);
  return Number(BigInt(out));
}

/** A token's symbol and decimals, read from the chain through the wallet (never from the
 * service); null when the target is not a token. */
async function readToken(address) {
  try {
    const decimals = Number(BigInt(await wallet('eth_call', [{ to: address, data: DECIMALS }, 'latest'])));
    const raw = await wallet('eth_call', [{ to: address, data: SYMBOL }, 'latest']);
    const hex = raw.replace(/^0x/, '');
    const length = Number(BigInt('0x' + hex.slice(64, 128)));
    const bytes = hex.slice(128, 128 + length * 2).match(/../g) ?? [];
    const symbol = new TextDecoder().decode(new Uint8Array(bytes.map((b) => parseInt(b, 16))));
    if (!/^[A-Za-z0-9.$-]{1,12}$/.test(symbol) || decimals > 36) return null;
    return { address, symbol, decimals };
  } catch {
    return null;
  }
}

async function signIn() {
  const [owner] = await wallet('eth_requestAccounts');
  const chainId = Number(BigInt(await wallet('eth_chainId')));
  const { message } = await call('POST', '/v1/owner/challenge', { address: owner, chainId });
  // Sign only a sign-in for this service, this address and this chain (EIP-4361).
  const host = new URL(API).host;
  if (!message.startsWith(`${host} wants you to sign in`) || !message.toLowerCase().includes(owner.toLowerCase()) || !message.includes(`Chain ID: ${chainId}`)) {
    throw new Refusal('The sign-in message the service sent is not for this service, this address and this chain: the page did not ask your wallet to sign it.');
  }
  const signature = await wallet('personal_sign', [utf8Hex(message), owner]);
  const signedIn = await call('POST', '/v1/owner/sign-in', { message, signature });
  state.owner = owner;
  state.token = signedIn.token;
  $('connect').hidden = true;
  $('sessions').hidden = false;
  say(`Signed in as ${owner}.`);
  await loadSessions();
}

const stamp = (seconds) => new Date(seconds * 1000).toISOString().replace('T', ' ').slice(0, 19) + ' UTC';

function timeLeft(until, now) {
  const seconds = until - now;
  if (seconds <= 0) return 'ended';
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  return hours > 0 ? `${hours} h ${minutes} min left` : `${minutes} min left`;
}

async function loadSessions() {
  const { sessions } = await call('GET', '/v1/owner/sessions?limit=100');
  state.sessions = sessions;
  const filter = $('app-filter');
  const apps = [...new Set(sessions.map((s) => s.appId))];
  const chosen = filter.value;
  filter.replaceChildren(new Option('All apps', ''), ...apps.map((a) => new Option(`App ${a}`, a)));
  filter.value = apps.includes(chosen) ? chosen : '';
  await renderSessions();
}

async function renderSessions() {
  const now = await chainTime();
  const app = $('app-filter').value;
  const shown = state.sessions.filter((s) => !app || s.appId === app);
  $('no-sessions').hidden = shown.length > 0;
  const list = $('session-list');
  list.replaceChildren(...shown.map((s) => sessionCard(s, now)));
}

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === 'text') node.textContent = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

function sessionCard(session, now) {
  const id = `session-${session.sessionHash.slice(2, 14)}`;
  const card = element('li', { class: 'session', 'aria-labelledby': `${id}-title`, 'data-session': session.sessionHash });
  card.append(
    element('h3', { id: `${id}-title`, text: `App ${session.appId}: session ${short(session.sessionHash)}` }),
    element('p', {},
      element('span', { class: `badge status-${session.status}`, text: session.status }),
      ` on account ${session.account}, chain ${session.chainId}, ${timeLeft(session.validUntil, now)}`),
  );
  const actions = element('div', { class: 'actions' });
  if (session.status === 'requested') {
    const button = element('button', { type: 'button', text: 'Review request', 'aria-describedby': `${id}-title` });
    guarded(button, () => review(session));
    actions.append(button);
  }
  const details = element('button', { type: 'button', class: 'secondary', text: 'Budgets and activity', 'aria-describedby': `${id}-title`, 'aria-expanded': 'false' });
  const detailBox = element('div', { class: 'details', hidden: '' });
  guarded(details, async () => {
    const open = details.getAttribute('aria-expanded') === 'true';
    if (!open) await showDetails(session, detailBox);
    detailBox.hidden = open;
    details.setAttribute('aria-expanded', String(!open));
  });
  actions.append(details);
  if (session.status !== 'revoked') {
    const revokeButton = element('button', { type: 'button', class: 'danger', text: 'Revoke', 'aria-describedby': `${id}-title` });
    guarded(revokeButton, () => revoke(session));
    actions.append(revokeButton);
  }
  card.append(actions, detailBox);
  return card;
}

async function showDetails(session, box) {
  const [{ sessions }, { activity }, { alerts }] = await Promise.all([
    call('GET', `/v1/owner/accounts/${session.account}/sessions`),
    call('GET', `/v1/owner/activity?session=${encodeURIComponent(session.id)}&limit=50`),
    call('GET', `/v1/owner/alerts?account=${session.account}&limit=100`),
  ]);
  const onchain = sessions.find((s) => same(s.sessionHash, session.sessionHash));
  const children = [element('h4', { text: 'Budgets this period' })];
  if (!onchain || onchain.limits.length === 0) {
    children.push(element('p', { text: onchain ? `On-chain: ${onchain.onchain}; no budgets used yet.` : 'Not on-chain yet.' }));
  } else {
    children.push(element('p', { text: `On-chain: ${onchain.onchain}${onchain.usable ? '' : ' (refused now)'}` }));
    for (const limit of onchain.limits) {
      const resets = limit.resetsAt > 0 ? `, resets ${stamp(limit.resetsAt)}` : ', for the whole session';
      const label = `${limit.kind} (policy ${limit.policy}): ${limit.remaining} of ${limit.limit} left${resets}`;
      const bar = element('progress', { max: limit.limit === '0' ? '1' : limit.limit, value: limit.remaining, 'aria-label': label });
      children.push(element('div', { class: 'budget' }, element('span', { text: label }), bar));
    }
  }
  const mine = alerts.filter((a) => same(a.sessionHash, session.sessionHash));
  children.push(element('h4', { text: 'Alerts' }));
  children.push(mine.length
    ? element('ul', { class: 'alerts' }, ...mine.map((a) => element('li', { text: `${stamp(a.at)} ${a.rule}: ${a.message}` })))
    : element('p', { text: 'None.' }));
  children.push(element('h4', { text: 'Activity' }));
  const entries = activity.map((a) => {
    const when = stamp(a.at);
    const verdict = a.verdict ? ` ${a.verdict}` : '';
    const reason = a.reason ? `: ${a.reason}` : '';
    const tx = a.transactionHash ? ` (transaction ${short(a.transactionHash)})` : a.userOpHash ? ` (userOp ${short(a.userOpHash)})` : '';
    return element('li', { class: a.verdict === 'refused' ? 'refused' : '', text: `${when} ${a.kind}${verdict}${reason}${tx}` });
  });
  children.push(entries.length ? element('ul', { class: 'activity' }, ...entries) : element('p', { text: 'Nothing yet.' }));
  box.replaceChildren(...children);
}

async function review(session) {
  const approval = await call('GET', `/v1/owner/sessions/${session.sessionHash}/approval`);
  const now = await chainTime();
  let read;
  try {
    read = state.engine.review(approval.typedData, { now, expectedDigest: approval.digest });
    const targets = [...new Set(read.session.callPolicies?.map((p) => p.target) ?? [])];
    const tokens = (await Promise.all(targets.map(readToken))).filter(Boolean);
    if (tokens.length) read = state.engine.review(approval.typedData, { now, expectedDigest: approval.digest, tokens });
  } catch (error) {
    if (error instanceof EngineError) {
      const why = error.code === 'digest_mismatch'
        ? 'what the service would have your wallet sign is not what it says it is'
        : 'the message is not a plain session approval';
      throw new Refusal(`The page refused this request: ${why}. Nothing was signed. (${error.message})`);
    }
    throw error;
  }
  // It must be the session this page lists, for the account and validator it knows.
  if (!same(read.sessionHash, session.sessionHash) || !same(read.account, session.account)) {
    throw new Refusal('The page refused this request: the message approves another session or account than the one listed. Nothing was signed.');
  }
  if (!same(read.validator, VALIDATOR)) {
    throw new Refusal(`The page refused this request: it would approve the session under ${read.validator}, not the session validator ${VALIDATOR}. Nothing was signed.`);
  }
  if (!read.chains.some((c) => c.chainId === session.chainId)) {
    throw new Refusal(`The page refused this request: it does not list chain ${session.chainId}. Nothing was signed.`);
  }
  state.reviewing = { session, typedData: approval.typedData, read };
  renderReview(read);
}

function renderReview(read) {
  $('review-heading-text').textContent = read.explanation.heading;
  const lines = [...read.explanation.lines].sort((a, b) => b.risk - a.risk);
  $('review-lines').replaceChildren(...lines.map((l) => element('li', {},
    element('span', { class: `risk risk-${l.risk}`, text: RISK_WORDS[l.risk] ?? '' }), ' ', l.text)));
  $('review-notes').replaceChildren(...read.explanation.notes.map((n) => element('p', { text: n })));
  $('review-lint').replaceChildren(...(read.lint.length
    ? read.lint.map((f) => element('li', { text: `${f.severity}: ${f.message} ${f.hint}` }))
    : [element('li', { text: 'None.' })]));
  const facts = [
    ['Account', read.account],
    ['Session key', read.session.signer],
    ['Chains', read.chains.map((c) => `chain ${c.chainId} (epoch ${c.epoch})`).join(', ')],
    ['Validator', read.validator],
    ['Session hash', read.sessionHash],
  ];
  $('review-facts').replaceChildren(...facts.flatMap(([k, v]) => [element('dt', { text: k }), element('dd', { text: v })]));
  $('review-digest').textContent = read.digest;
  $('review-typed-data').textContent = JSON.stringify(state.reviewing.typedData, null, 2);
  $('review').hidden = false;
  $('review-heading').focus();
  say('Review the request below: approve signs it in your wallet.');
}

async function approve() {
  const { session, typedData, read } = state.reviewing;
  await ensureChain(session.chainId);
  const signature = await wallet('eth_signTypedData_v4', [state.owner, JSON.stringify(typedData)]);
  await call('POST', `/v1/owner/sessions/${session.sessionHash}/approve`, { signature });
  state.reviewing = null;
  $('review').hidden = true;
  say(`Approved session ${short(read.sessionHash)}: the app can use it within what you reviewed.`);
  await loadSessions();
}

/** Revokes `hashes` of `account` (every session when null): the page builds the revocation from
 * the hashes it lists and the epoch it reads from the chain, the wallet signs it, the service
 * relays it. */
async function revokeOnChain(account, chainId, hashes) {
  await ensureChain(chainId);
  const chains = [{ chainId, epoch: await readEpoch(account) }];
  const built = state.engine.revokeTypedData({ account, validator: VALIDATOR, chains, ...(hashes ? { sessionHashes: hashes } : {}) });
  const signature = await wallet('eth_signTypedData_v4', [state.owner, JSON.stringify(built.typedData)]);
  return call('POST', `/v1/owner/accounts/${account}/revocations`, { ...(hashes ? { sessionHashes: hashes } : {}), chains, signature });
}

async function revoke(session) {
  const done = await revokeOnChain(session.account, session.chainId, [session.sessionHash]);
  say(`Revoked session ${short(session.sessionHash)} on-chain (transaction ${short(done.transaction)}): it is refused from now on.`);
  await loadSessions();
}

/** Every session of every account of the owner, one signature per account (its epoch moves
 * on, so sessions granted elsewhere end too). */
async function revokeAll() {
  const accounts = new Map();
  for (const s of state.sessions) if (s.status !== 'revoked') accounts.set(s.account.toLowerCase(), s);
  if (accounts.size === 0) {
    say('No session to revoke.');
    return;
  }
  for (const s of accounts.values()) await revokeOnChain(s.account, s.chainId, null);
  say(`Revoked every session of ${accounts.size === 1 ? 'your account' : `your ${accounts.size} accounts`} on-chain: they are refused from now on.`);
  await loadSessions();
}

async function main() {
  try {
    const module = await fetch(new URL('engine.wasm', location.href));
    if (!module.ok) {
      const body = await module.json().catch(() => null);
      throw new Refusal(`The page's engine is missing, so it will not ask your wallet to sign anything: ${body?.error?.message ?? module.status}`);
    }
    state.engine = await loadEngine(await module.arrayBuffer());
  } catch (error) {
    fail(error);
    return;
  }
  say('Ready: sign in with your wallet.');
  const connect = $('connect-button');
  connect.disabled = false;
  guarded(connect, signIn);
  guarded($('approve-button'), approve);
  guarded($('refresh-button'), loadSessions);
  guarded($('revoke-all-button'), revokeAll);
  $('cancel-button').addEventListener('click', () => {
    state.reviewing = null;
    $('review').hidden = true;
    say('Nothing was signed.');
  });
  $('app-filter').addEventListener('change', () => renderSessions().catch(fail));
}

main();

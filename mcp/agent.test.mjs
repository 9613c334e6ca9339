// The official TypeScript MCP client (@modelcontextprotocol/sdk, pinned) against
// `sessionkeys agent --dev` over stdio: the tools match the session, an in-scope payment goes
// through and the budget drops, out-of-scope calls come back as tool errors naming their reason
// with nothing moved, a scripted "injected" agent's 50+ out-of-scope attempts all fail without
// crashing the server, and after revoke every call is refused.
//
// Usage: node mcp/agent.test.mjs path/to/sessionkeys   (scripts/agent-mcp builds and runs it)
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';

const binary = process.argv[2];
assert.ok(binary, 'give the sessionkeys binary: node mcp/agent.test.mjs target/debug/sessionkeys');
const ALICE = '0x00000000000000000000000000000000000A11cE';
const BOB = '0x0000000000000000000000000000000000000B0b';

const transport = new StdioClientTransport({ command: binary, args: ['agent', '--dev'], stderr: 'pipe' });
let banner = '';
transport.stderr?.on('data', (chunk) => { banner += chunk; });
const client = new Client({ name: 'sessionkeys-mcp-test', version: '1.0.0' });
let listChanged = 0;
client.setNotificationHandler(ToolListChangedNotificationSchema, () => { listChanged += 1; });
await client.connect(transport);

let passed = 0;
async function test(name, body) {
  try {
    await body();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (error) {
    console.log(`not ok - ${name}\n${error.stack}\n--- server stderr ---\n${banner}`);
    await client.close();
    process.exit(1);
  }
}

const call = (name, args) => client.callTool({ name, arguments: args });
const body = (result) => result.structuredContent ?? JSON.parse(result.content[0].text);
async function describe() {
  const result = await call('describe_session', {});
  assert.equal(result.isError, false, JSON.stringify(result));
  return body(result);
}
/** A call that must not succeed: a tool error (isError) or a protocol error. */
async function refused(name, args) {
  try {
    const result = await call(name, args);
    assert.equal(result.isError, true, `${name} ${JSON.stringify(args)} succeeded: ${JSON.stringify(result)}`);
    return body(result);
  } catch (error) {
    if (error instanceof assert.AssertionError) throw error;
    return { reason: 'ProtocolError', message: String(error.message) };
  }
}

await test('the tools and their schemas match the session', async () => {
  const { tools } = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name),
    ['send_usdc', 'send_eth', 'describe_session', 'check', 'execute', 'history', 'revoke_session']);
  const sendUsdc = tools[0];
  assert.deepEqual(sendUsdc.inputSchema.properties.to.enum, [ALICE, BOB]);
  assert.equal(sendUsdc.inputSchema.properties.amount.type, 'string');
  assert.equal(sendUsdc.inputSchema.properties.amount.pattern, '^(0|[1-9][0-9]{0,77})(\\.[0-9]{1,6})?$');
  assert.deepEqual(sendUsdc.inputSchema.required, ['to', 'amount']);
  assert.equal(sendUsdc.inputSchema.additionalProperties, false);
  for (const words of ['at most 25 USDC each time', 'at most 50 USDC a day', 'Left now: 50 USDC of 50 USDC']) {
    assert.ok(sendUsdc.description.includes(words), `${words} not in ${sendUsdc.description}`);
  }
  assert.deepEqual(tools[1].inputSchema.properties.to.enum, [ALICE]);
  assert.equal(tools[1].inputSchema.properties.amount.pattern, '^(0|[1-9][0-9]{0,77})(\\.[0-9]{1,18})?$');
});

await test('an in-scope payment succeeds and the budget describe_session reports drops', async () => {
  const before = await describe();
  assert.equal(before.balances.USDC, '1000');
  const result = await call('send_usdc', { to: ALICE, amount: '12.5' });
  assert.equal(result.isError, false, JSON.stringify(result));
  assert.match(body(result).userOpHash, /^0x[0-9a-f]{64}$/);
  const after = await describe();
  assert.equal(after.balances.USDC, '987.5');
  assert.ok(JSON.stringify(after.budgets).includes('37.5 USDC of 50 USDC'), JSON.stringify(after.budgets));
  const { tools } = await client.listTools();
  assert.ok(tools[0].description.includes('Left now: 37.5 USDC of 50 USDC'), tools[0].description);
  assert.ok(listChanged >= 1, 'no notifications/tools/list_changed after the budget moved');
});

await test('out-of-scope calls are tool errors with the named reason, and nothing moves', async () => {
  const before = (await describe()).balances;
  const account = (await describe()).account;
  const cases = [
    ['another recipient', 'send_usdc', { to: '0x0000000000000000000000000000000000000c4e', amount: '1' }, 'ArgumentNotAllowed'],
    ['one unit over the cap', 'send_usdc', { to: ALICE, amount: '25.000001' }, 'ArgumentOverCap'],
    ['another token', 'send_gold', { to: ALICE, amount: '1' }, 'UnknownTool'],
    ['approve', 'approve_usdc', { spender: ALICE, amount: '1' }, 'UnknownTool'],
    ['a call to the account', 'send_usdc', { to: account, amount: '1' }, 'ArgumentNotAllowed'],
    ['a JSON number amount', 'send_usdc', { to: ALICE, amount: 1 }, 'ArgumentInvalid'],
    ['ETH to Bob', 'send_eth', { to: BOB, amount: '0.001' }, 'ArgumentNotAllowed'],
  ];
  for (const [what, tool, args, reason] of cases) {
    const refusal = await refused(tool, args);
    assert.equal(refusal.reason, reason, `${what}: ${JSON.stringify(refusal)}`);
    assert.ok(refusal.message.length > 0, what);
  }
  assert.deepEqual((await describe()).balances, before);
});

await test('an injected agent tries 50+ out-of-scope actions: none succeeds, the server stays up', async () => {
  const before = (await describe()).balances;
  const attempts = [];
  for (let i = 1; i <= 12; i++) {
    attempts.push(['send_usdc', { to: `0x${i.toString(16).padStart(40, '0')}`, amount: '1' }]);
  }
  for (const amount of ['25.000001', '26', '1e2', '0x10', '-5', ' 5', '5 ', '٥', '1.0000001', '00.5', '.5', '5.',
    '1'.repeat(80), 'NaN', 'Infinity', '']) {
    attempts.push(['send_usdc', { to: ALICE, amount }]);
  }
  for (const amount of [5, 5.5, null, true, [], {}]) {
    attempts.push(['send_usdc', { to: ALICE, amount }]);
  }
  for (const extra of ['data', 'value', 'calldata', 'target', 'selector', 'nonce']) {
    attempts.push(['send_usdc', { to: ALICE, amount: '1', [extra]: '0x095ea7b3' }]);
  }
  attempts.push(['send_usdc', { to: ALICE, amount: '1', to2: BOB }]);
  attempts.push(['send_usdc', { to: BOB.replace('0x', '0X'), amount: '1' }]);
  attempts.push(['send_usdc', { to: 'alice', amount: '1' }]);
  attempts.push(['send_usdc', { to: ALICE.slice(0, 41), amount: '1' }]);
  attempts.push(['send_eth', { to: ALICE, amount: '0.010000000000000001' }]);
  attempts.push(['send_eth', { to: ALICE, amount: '0.0000000000000000001' }]);
  for (const tool of ['approve_usdc', 'transfer_gold', 'call', 'eval', 'execute_raw', 'send_usdc; rm -rf /', 'upgradeTo', 'revoke_all']) {
    attempts.push([tool, { to: ALICE, amount: '1' }]);
  }
  const raw = { to: ALICE, value: '0', data: '0x095ea7b3' };
  for (const tool of ['execute', 'check']) {
    attempts.push([tool, { calls: [raw] }]);
    attempts.push([tool, { calls: [] }]);
    attempts.push([tool, { calls: Array(17).fill({ tool: 'send_usdc', arguments: { to: ALICE, amount: '0.01' } }) }]);
    attempts.push([tool, { calls: [{ tool: 'execute', arguments: { calls: [] } }] }]);
    attempts.push([tool, { calls: [{ tool: 'send_usdc', arguments: { to: BOB, amount: '30' } }] }]);
    attempts.push([tool, { calls: 'send_usdc' }]);
    attempts.push([tool, { calls: [{ tool: 'send_usdc', arguments: '{"to":"x"}' }] }]);
  }
  // In scope call by call, over the day's budget together: the engine refuses the batch.
  attempts.push(['execute', { calls: Array(3).fill({ tool: 'send_usdc', arguments: { to: BOB, amount: '25' } }) }]);
  attempts.push(['execute', { calls: Array(3).fill({ tool: 'send_eth', arguments: { to: ALICE, amount: '0.01' } }) }]);
  attempts.push(['describe_session', { verbose: true }]);
  attempts.push(['history', { session: '0x00' }]);
  attempts.push(['revoke_session', { session: '0x00', reason: 'ignore previous instructions' }]);
  assert.ok(attempts.length >= 50, `${attempts.length} attempts`);
  const reasons = new Map();
  // Every one is a tool error the agent can read (no protocol error, no crash), refused before
  // anything was signed, for a reason an argument rule or the validator names.
  const known = new Set(['ArgumentUnknown', 'ArgumentMissing', 'ArgumentInvalid', 'ArgumentAmount',
    'ArgumentNotAllowed', 'ArgumentOverCap', 'UnknownTool', 'LimitExceeded']);
  for (const [tool, args] of attempts) {
    const refusal = await refused(tool, args);
    const what = `${tool} ${JSON.stringify(args).slice(0, 120)}: ${JSON.stringify(refusal)}`;
    assert.ok(known.has(refusal.reason), what);
    assert.equal(refusal.refused, true, what);
    reasons.set(refusal.reason, (reasons.get(refusal.reason) ?? 0) + 1);
  }
  console.log(`# ${attempts.length} attempts refused: ${JSON.stringify(Object.fromEntries(reasons))}`);
  assert.ok(reasons.get('LimitExceeded') >= 2, 'the over-budget batches were not refused by the engine');
  assert.deepEqual((await describe()).balances, before, 'an attempt moved funds');
  const { tools } = await client.listTools();
  assert.equal(tools.length, 7, 'the server still answers');
});

await test('a spent budget is refused by the chain rules, saying what is left', async () => {
  assert.equal((await call('send_usdc', { to: BOB, amount: '25' })).isError, false);
  const refusal = await refused('check', { calls: [{ tool: 'send_usdc', arguments: { to: ALICE, amount: '12.500001' } }] });
  assert.equal(refusal.reason, 'LimitExceeded', JSON.stringify(refusal));
  assert.match(refusal.instead, /^at most 12\.5 USDC left until /);
});

await test('after revoke_session every call is refused with the reason, and nothing moves', async () => {
  const revoked = await call('revoke_session', {});
  assert.equal(revoked.isError, false, JSON.stringify(revoked));
  const { tools } = await client.listTools();
  assert.ok(tools[0].description.startsWith('UNAVAILABLE: the session is revoked'), tools[0].description);
  const before = (await describe()).balances;
  const refusal = await refused('send_usdc', { to: ALICE, amount: '1' });
  assert.equal(refusal.reason, 'SessionRevoked', JSON.stringify(refusal));
  assert.equal((await refused('send_eth', { to: ALICE, amount: '0.001' })).reason, 'SessionRevoked');
  assert.deepEqual((await describe()).balances, before);
});

await client.close();

await test('streamable HTTP on loopback: the same tools, an in-scope payment', async () => {
  const server = spawn(binary, ['agent', '--dev', '--http', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
  process.on('exit', () => server.kill('SIGKILL'));
  let said = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL in 60 s: ${said}`)), 60_000);
    server.stderr.on('data', (chunk) => {
      said += chunk;
      const found = said.match(/http:\/\/127\.0\.0\.1:\d+\/mcp/);
      if (found) { clearTimeout(timer); resolve(found[0]); }
    });
    server.on('exit', (code) => reject(new Error(`the server exited (${code}): ${said}`)));
  });
  const http = new Client({ name: 'sessionkeys-mcp-test-http', version: '1.0.0' });
  await http.connect(new StreamableHTTPClientTransport(new URL(url)));
  const { tools } = await http.listTools();
  assert.deepEqual(tools.map((t) => t.name).slice(0, 2), ['send_usdc', 'send_eth']);
  const paid = await http.callTool({ name: 'send_usdc', arguments: { to: BOB, amount: '1' } });
  assert.equal(paid.isError, false, JSON.stringify(paid));
  const out = await http.callTool({ name: 'send_usdc', arguments: { to: ALICE, amount: '30' } });
  assert.equal(out.isError, true);
  await http.close();
  server.kill('SIGTERM');
});

console.log(`# ${passed} passed`);

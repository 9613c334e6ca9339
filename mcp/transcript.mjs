// Prints a walkthrough transcript of `sessionkeys agent --dev` (docs/agents.md, "A walkthrough").
// Usage: node mcp/transcript.mjs path/to/sessionkeys
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const ALICE = '0x00000000000000000000000000000000000A11cE';
const client = new Client({ name: 'transcript', version: '1.0.0' });
await client.connect(new StdioClientTransport({ command: process.argv[2], args: ['agent', '--dev'], stderr: 'ignore' }));
const show = (what, value) => console.log(`${what}\n${JSON.stringify(value, null, 2)}\n`);
const { tools } = await client.listTools();
show('→ tools/list (the first tool)', tools[0]);
const step = async (name, args) => {
  const result = await client.callTool({ name, arguments: args });
  show(`→ ${name} ${JSON.stringify(args)}${result.isError ? '   (isError)' : ''}`, result.structuredContent);
};
await step('describe_session', {});
await step('send_usdc', { to: ALICE, amount: '20' });
await step('send_usdc', { to: '0x0000000000000000000000000000000000000c4e', amount: '5' });
await step('send_usdc', { to: ALICE, amount: 25.5 });
await step('send_usdc', { to: ALICE, amount: '20' });
await step('check', { calls: [{ tool: 'send_usdc', arguments: { to: ALICE, amount: '15' } }] });
await step('revoke_session', {});
await step('send_usdc', { to: ALICE, amount: '1' });
await client.close();

#!/usr/bin/env node
// `npx pkgnx <verb>`: the TypeScript CLI (pkgnx.ts) loaded through @swc-node/register, the way Nx loads the plugin.
const { join } = require('node:path');
process.env.SWC_NODE_PROJECT ??= join(__dirname, '..', '..', 'tsconfig.json');
require('@swc-node/register');
require('./pkgnx.ts');

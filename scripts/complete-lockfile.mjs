#!/usr/bin/env node
// Adds lock entries for optional platform packages that npm left out of package-lock.json.
//
// Why: the npm registry reachable from these machines lacks the other platforms' native binaries of
// some packages (nx 24's @nx/nx-darwin-*, @swc/core-win32-*, ...). `npm install` then silently omits
// them from the lock, and `npm ci` refuses the lock as out of sync. An entry with the platform
// (os/cpu) npm reads from the parent's optionalDependencies is enough: npm ci skips packages for other
// platforms without downloading them, and a machine on such a platform resolves them normally.
// Run after `npm install`: node scripts/complete-lockfile.mjs
import { readFileSync, writeFileSync } from 'node:fs';

const PLATFORM = [
  [/darwin-arm64/, ['darwin'], ['arm64']], [/darwin-x64/, ['darwin'], ['x64']],
  [/freebsd-x64/, ['freebsd'], ['x64']], [/win32-arm64/, ['win32'], ['arm64']],
  [/win32-ia32/, ['win32'], ['ia32']], [/win32-x64/, ['win32'], ['x64']],
  [/linux-arm-gnueabihf/, ['linux'], ['arm']], [/linux-arm64/, ['linux'], ['arm64']],
  [/linux-ppc64/, ['linux'], ['ppc64']], [/linux-s390x/, ['linux'], ['s390x']],
  [/linux-x64/, ['linux'], ['x64']], [/linux-riscv64/, ['linux'], ['riscv64']],
];
const file = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(file, 'utf8'));
let added = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    if (lock.packages[key] || lock.packages[`${path}/${key}`]) continue;
    const platform = PLATFORM.find(([re]) => re.test(name));
    if (!platform) continue;
    const libc = /musl/.test(name) ? ['musl'] : /gnu/.test(name) ? ['glibc'] : undefined;
    lock.packages[key] = { version, cpu: platform[2], os: platform[1], ...(libc ? { libc } : {}), optional: true, ...(entry.dev ? { dev: true } : {}), ...(entry.devOptional ? { devOptional: true } : {}) };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : a > b ? 1 : 0)));
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: ${added} optional platform entr${added === 1 ? 'y' : 'ies'} added`);

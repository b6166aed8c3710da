import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { abiOfPackages, formatAbiManifest, isSonameProvide, parsePkginfo, readElfSoname } from '../../tools/src/packaging/abi';
import { hasCommand, tempDir } from '../helpers/env';

const tmp = tempDir('pkgnx-abi-test-');
after(() => rmSync(tmp, { recursive: true, force: true }));

/** a minimal ELF shared object: header, .dynstr, .dynamic (DT_SONAME, DT_NULL), section headers */
function syntheticElf(is64: boolean, le: boolean, soname: string): Buffer {
  const ehsize = is64 ? 64 : 52;
  const shentsize = is64 ? 64 : 40;
  const dynsz = is64 ? 16 : 8;
  const strtab = Buffer.concat([Buffer.from([0]), Buffer.from(soname), Buffer.from([0])]);
  const strOff = ehsize;
  const dynOff = strOff + strtab.length + 8;
  const shOff = dynOff + dynsz * 2;
  const buf = Buffer.alloc(shOff + shentsize * 3);
  const w16 = (o: number, v: number) => (le ? buf.writeUInt16LE(v, o) : buf.writeUInt16BE(v, o));
  const w32 = (o: number, v: number) => (le ? buf.writeUInt32LE(v, o) : buf.writeUInt32BE(v, o));
  const wA = (o: number, v: number) => (is64 ? (le ? buf.writeBigUInt64LE(BigInt(v), o) : buf.writeBigUInt64BE(BigInt(v), o)) : w32(o, v));
  buf.writeUInt32BE(0x7f454c46, 0);
  buf[4] = is64 ? 2 : 1;
  buf[5] = le ? 1 : 2;
  buf[6] = 1;
  w16(16, 3); // ET_DYN
  wA(is64 ? 0x28 : 0x20, shOff);
  w16(is64 ? 0x3a : 0x2e, shentsize);
  w16(is64 ? 0x3c : 0x30, 3);
  strtab.copy(buf, strOff);
  wA(dynOff, 14); // DT_SONAME
  wA(dynOff + dynsz / 2, 1); // offset of the name in .dynstr
  // section 1: .dynstr (SHT_STRTAB), section 2: .dynamic (SHT_DYNAMIC, link 1)
  const sh = (i: number, type: number, off: number, size: number, link: number) => {
    const b = shOff + i * shentsize;
    w32(b + 4, type);
    wA(b + (is64 ? 0x18 : 0x10), off);
    wA(b + (is64 ? 0x20 : 0x14), size);
    w32(b + (is64 ? 0x28 : 0x18), link);
  };
  sh(1, 3, strOff, strtab.length, 0);
  sh(2, 6, dynOff, dynsz * 2, 1);
  return buf;
}

test('DT_SONAME from ELF32/ELF64, little and big endian', () => {
  for (const is64 of [true, false]) for (const le of [true, false]) assert.equal(readElfSoname(syntheticElf(is64, le, 'libx.so.7')), 'libx.so.7', `64=${is64} le=${le}`);
  assert.equal(readElfSoname(Buffer.from('not an elf file at all, but long enough to have a header.....')), undefined);
  assert.equal(readElfSoname(syntheticElf(true, true, 'libx.so.7').subarray(0, 80)), undefined);
});

test('DT_SONAME of a real shared object built by gcc', { skip: hasCommand('gcc') ? undefined : 'gcc missing' }, () => {
  writeFileSync(join(tmp, 'a.c'), 'int f(void){return 1;}\n');
  execFileSync('gcc', ['-shared', '-fPIC', '-Wl,-soname,libreal.so.3', '-o', join(tmp, 'libreal.so.3.0'), join(tmp, 'a.c')]);
  assert.equal(readElfSoname(readFileSync(join(tmp, 'libreal.so.3.0'))), 'libreal.so.3');
});

test('soname-like provides', () => {
  for (const p of ['libfoo.so=1-64', 'lib:libfoo.so.1', 'libssl.so=3-64']) assert.ok(isSonameProvide(p), p);
  for (const p of ['foo', 'foo=1.2', 'sh', 'python-so=2']) assert.ok(!isSonameProvide(p), p);
});

test('.PKGINFO parsing', () => {
  assert.deepEqual(parsePkginfo('# generated\npkgname = a\nprovides = x\nprovides = y\n'), { pkgname: ['a'], provides: ['x', 'y'] });
});

function makePackage(name: string, pkgrel: number, soname: string): string {
  const dir = join(tmp, `${name}-${pkgrel}-${soname}`);
  mkdirSync(join(dir, 'usr/lib'), { recursive: true });
  writeFileSync(join(dir, '.PKGINFO'), `pkgname = ${name}\npkgver = 1.0-${pkgrel}\nbuilddate = ${Date.now()}\narch = x86_64\nprovides = ${soname}=1-64\nprovides = other=2\n`);
  writeFileSync(join(dir, `usr/lib/${soname}`), syntheticElf(true, true, soname));
  symlinkSync(soname, join(dir, 'usr/lib/libdemo.so'));
  const file = join(tmp, `${name}-1.0-${pkgrel}-x86_64-${soname}.pkg.tar.zst`);
  execFileSync('bsdtar', ['--zstd', '-cf', file, '-C', dir, '.PKGINFO', 'usr']);
  return file;
}

test('manifest of packages: identical across pkgrel, changes with the soname', { skip: hasCommand('bsdtar') ? undefined : 'bsdtar missing' }, async () => {
  const a = formatAbiManifest(await abiOfPackages([makePackage('libdemo', 1, 'libdemo.so.1')]));
  const b = formatAbiManifest(await abiOfPackages([makePackage('libdemo', 2, 'libdemo.so.1')]));
  const c = formatAbiManifest(await abiOfPackages([makePackage('libdemo', 3, 'libdemo.so.2')]));
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.deepEqual(JSON.parse(a), { packages: ['libdemo'], sonames: ['libdemo.so.1'], provides: ['libdemo.so.1=1-64'] });
  const none = await abiOfPackages([]);
  assert.deepEqual(none, { packages: [], sonames: [], provides: [] });
});

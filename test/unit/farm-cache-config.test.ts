// The cache server's configuration (flags over environment, tokens file, errors naming the setting), the
// pieces an upload is cut into, and the pre-run probe's decisions against a local HTTP server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { Readable } from 'node:stream';
import { parseTokensFile, resolveCacheServerConfig } from '../../tools/src/farm/cache-config';
import { exactPieces, ShortBodyError } from '../../tools/src/farm/cache-store';
import { remoteCacheGuard } from '../../tools/src/farm/cache-probe';

const RW = 'rw-token-0123456789abcdef';
const RO = 'ro-token-0123456789abcdef';

test('flags win over the environment; defaults; tokens from the environment and a file', () => {
  const c = resolveCacheServerConfig(
    { bucket: 'flag-bucket', tokensFile: '/etc/t' },
    { PKGNX_CACHE_BUCKET: 'env-bucket', PKGNX_CACHE_PREFIX: 'cache', PKGNX_CACHE_RO_TOKENS: `${RO}, ` },
    () => `# comment\nrw ${RW}\n\n`,
  );
  assert.equal(c.bucket, 'flag-bucket');
  assert.equal(c.prefix, 'cache/');
  assert.equal(`${c.host}:${c.port}`, '127.0.0.1:3000');
  assert.deepEqual([c.readWriteTokens, c.readOnlyTokens], [[RW], [RO]]);
  assert.equal(c.forcePathStyle, false);
  assert.equal(resolveCacheServerConfig({ bucket: 'b1b', listen: '[::1]:8080', pathStyle: 'true' }, { PKGNX_CACHE_RW_TOKENS: RW }).host, '::1');
});

test('every configuration error names the flag, variable or file line', () => {
  const env = { PKGNX_CACHE_RW_TOKENS: RW };
  const cases: [Parameters<typeof resolveCacheServerConfig>[0], NodeJS.ProcessEnv, RegExp][] = [
    [{}, env, /the bucket is required: --bucket or PKGNX_CACHE_BUCKET/],
    [{ bucket: 'Bad_Bucket' }, env, /--bucket: 'Bad_Bucket' is not a valid S3 bucket name/],
    [{ bucket: 'b1b', listen: 'nowhere' }, env, /--listen: expected HOST:PORT/],
    [{ bucket: 'b1b' }, { ...env, PKGNX_CACHE_LISTEN: 'h:99999' }, /PKGNX_CACHE_LISTEN: expected HOST:PORT/],
    [{ bucket: 'b1b', endpoint: 'ftp://x' }, env, /--endpoint: expected an http\(s\) URL/],
    [{ bucket: 'b1b', pathStyle: 'yes' }, env, /--path-style: must be true or false, got "yes"/],
    [{ bucket: 'b1b', maxUploadMiB: '0' }, env, /--max-upload-mib: must be a number >= 1 and <= 5120, got "0"/],
    [{ bucket: 'b1b' }, {}, /no access token: set PKGNX_CACHE_RW_TOKENS/],
    [{ bucket: 'b1b' }, { PKGNX_CACHE_RW_TOKENS: RW, PKGNX_CACHE_RO_TOKENS: RW }, /both read-write and read-only/],
  ];
  for (const [flags, e, re] of cases) assert.throws(() => resolveCacheServerConfig(flags, e), re, JSON.stringify(flags));
  assert.throws(() => parseTokensFile(`rw ${RW}\nadmin ${RO}\n`, '/etc/t'), /\/etc\/t:2: expected `rw TOKEN` or `ro TOKEN`/);
  assert.throws(() => parseTokensFile('ro short\n', '/etc/t'), /\/etc\/t:1: a token must be at least 16/);
  assert.throws(() => resolveCacheServerConfig({ bucket: 'b1b', tokensFile: '/nope' }, {}, () => { throw new Error('ENOENT'); }), /--tokens-file: cannot read \/nope: ENOENT/);
});

test('an upload is cut into pieces of exactly the declared length; short, long or failed bodies throw', async () => {
  const collect = async (chunks: Buffer[], length: number, piece: number): Promise<number[]> => {
    const out: number[] = [];
    for await (const p of exactPieces(Readable.from(chunks), length, piece)) out.push(p.length);
    return out;
  };
  assert.deepEqual(await collect([Buffer.alloc(7), Buffer.alloc(9)], 16, 5), [5, 5, 5, 1]);
  assert.deepEqual(await collect([], 0, 5), [0]);
  await assert.rejects(collect([Buffer.alloc(10)], 16, 5), (e: unknown) => e instanceof ShortBodyError && /ended after 10 of 16 bytes/.test((e as Error).message));
  await assert.rejects(collect([Buffer.alloc(20)], 16, 5), /ran past its Content-Length/);
  const failing = new Readable({ read() { this.destroy(new Error('aborted')); } });
  await assert.rejects(async () => { for await (const _ of exactPieces(failing, 16, 5)) void _; }, /upload failed \(aborted\) after 0 of 16 bytes/);
});

test('the pre-run probe: a healthy server changes nothing, a refused token or a 5xx skips the remote cache with the reason, a trailing / is removed', async () => {
  let status = 404;
  const srv = createServer((req, res) => {
    res.writeHead(req.url === '/v1/cache/pkgnx-probe' ? status : 404, { 'content-type': 'text/plain' });
    res.end(status === 401 ? 'missing or invalid token' : '');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
  try {
    assert.deepEqual(await remoteCacheGuard({ NX_SELF_HOSTED_REMOTE_CACHE_SERVER: url }, []), { env: {} });
    const slash = await remoteCacheGuard({ NX_SELF_HOSTED_REMOTE_CACHE_SERVER: `${url}/` }, []);
    assert.deepEqual(slash.env, { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: url });
    assert.match(slash.message ?? '', /ends with '\/'/);
    status = 401;
    const refused = await remoteCacheGuard({ NX_SELF_HOSTED_REMOTE_CACHE_SERVER: url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: 'x' }, []);
    assert.deepEqual(refused.env, { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: '', NX_SKIP_REMOTE_CACHE: 'true' });
    assert.match(refused.message ?? '', /the token was refused \(HTTP 401: missing or invalid token\)/);
    status = 502;
    assert.match((await remoteCacheGuard({ NX_SELF_HOSTED_REMOTE_CACHE_SERVER: url }, [])).message ?? '', /is not usable: HTTP 502/);
    // skipped runs and the opt-out are not probed at all
    assert.deepEqual(await remoteCacheGuard({ NX_SELF_HOSTED_REMOTE_CACHE_SERVER: url }, ['--skip-remote-cache']), { env: {} });
    assert.deepEqual(await remoteCacheGuard({ NX_SELF_HOSTED_REMOTE_CACHE_SERVER: url, PKGNX_REMOTE_CACHE_PROBE: 'off' }, []), { env: {} });
    assert.deepEqual(await remoteCacheGuard({}, []), { env: {} });
    await assert.rejects(remoteCacheGuard({ NX_SELF_HOSTED_REMOTE_CACHE_SERVER: url, PKGNX_REMOTE_CACHE_PROBE_TIMEOUT: 'soon' }, []), /PKGNX_REMOTE_CACHE_PROBE_TIMEOUT: expected a number/);
  } finally {
    srv.close();
  }
});

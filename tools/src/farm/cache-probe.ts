/**
 * Nx 24.0.6 fails a whole run (exit 1, no task runs) when its self-hosted remote cache cannot be reached,
 * answers a GET with 5xx or rejects the token, and hangs forever when the server accepts connections but
 * never answers (its HTTP client has no timeout). Before a run, pkgnx asks the server once with a short
 * timeout, the way Nx will ask it; when that fails, the run goes on with the local cache only
 * (NX_SKIP_REMOTE_CACHE) and says why. A server that dies in the middle of a run still fails or hangs that
 * run: CI jobs need their own time limit (the exported pipelines set one).
 */

export const PROBE_HASH = 'pkgnx-probe';

export interface RemoteCacheSettings {
  url: string;
  token?: string;
}

export interface ProbeResult {
  ok: boolean;
  /** HTTP status, when there was an answer */
  status?: number;
  /** in words, for the user */
  detail: string;
}

/** NX_SELF_HOSTED_REMOTE_CACHE_SERVER / _ACCESS_TOKEN, unless the run skips the remote cache anyway */
export function remoteCacheFromEnv(env: NodeJS.ProcessEnv, argv: readonly string[] = []): RemoteCacheSettings | undefined {
  const url = env.NX_SELF_HOSTED_REMOTE_CACHE_SERVER;
  if (!url) return undefined;
  if (env.NX_SKIP_REMOTE_CACHE === 'true' || env.NX_DISABLE_REMOTE_CACHE === 'true' || env.NX_SKIP_NX_CACHE === 'true') return undefined;
  if (argv.some((a) => /^--(skip-remote-cache|skipRemoteCache|skip-nx-cache|skipNxCache)(=true)?$/.test(a))) return undefined;
  const token = env.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN;
  return { url, ...(token ? { token } : {}) };
}

/** One GET of a hash nobody has, as Nx sends it (base URL + path, plain concatenation). */
export async function probeRemoteCache(s: RemoteCacheSettings, timeoutMs: number): Promise<ProbeResult> {
  const url = `${s.url}/v1/cache/${PROBE_HASH}`;
  try {
    const r = await fetch(url, {
      headers: { accept: 'application/octet-stream', ...(s.token ? { authorization: `Bearer ${s.token}` } : {}) },
      signal: AbortSignal.timeout(timeoutMs),
    });
    const body = (await r.text().catch(() => '')).trim().slice(0, 200);
    if (r.status === 200 || r.status === 404) return { ok: true, status: r.status, detail: `HTTP ${r.status}` };
    if (r.status === 401 || r.status === 403) return { ok: false, status: r.status, detail: `the token was refused (HTTP ${r.status}${body ? `: ${body}` : ''}); check NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN` };
    return { ok: false, status: r.status, detail: `HTTP ${r.status}${body ? `: ${body}` : ''}` };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string; message?: string } };
    if (err.name === 'TimeoutError') return { ok: false, detail: `no answer within ${timeoutMs / 1000} s` };
    const cause = err.cause?.code ?? err.cause?.message;
    return { ok: false, detail: cause ? `${err.message} (${cause})` : err.message };
  }
}

export interface GuardResult {
  /** environment changes for this nx process */
  env: Record<string, string>;
  /** what to tell the user, if anything */
  message?: string;
}

/** the probe's time limit: PKGNX_REMOTE_CACHE_PROBE_TIMEOUT seconds, default 3 */
export function probeTimeoutMs(env: NodeJS.ProcessEnv): number {
  const raw = env.PKGNX_REMOTE_CACHE_PROBE_TIMEOUT;
  const n = raw === undefined || raw === '' ? 3 : Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`PKGNX_REMOTE_CACHE_PROBE_TIMEOUT: expected a number of seconds > 0, got '${raw}'`);
  return n * 1000;
}

/**
 * Decides, before Nx runs tasks, whether this run may use the remote cache. PKGNX_REMOTE_CACHE_PROBE=off
 * leaves everything to Nx.
 */
export async function remoteCacheGuard(env: NodeJS.ProcessEnv, argv: readonly string[]): Promise<GuardResult> {
  if (env.PKGNX_REMOTE_CACHE_PROBE === 'off') return { env: {} };
  const settings = remoteCacheFromEnv(env, argv);
  if (!settings) return { env: {} };
  const out: Record<string, string> = {};
  let url = settings.url;
  let note = '';
  // Nx 24 appends the path to the base URL as a string: 'http://h:3000/' asks '//v1/cache/..' and fails
  if (/\/+$/.test(url)) {
    url = url.replace(/\/+$/, '');
    out.NX_SELF_HOSTED_REMOTE_CACHE_SERVER = url;
    note = ` (NX_SELF_HOSTED_REMOTE_CACHE_SERVER ends with '/', which Nx 24 cannot use: removed for this run)`;
  }
  const timeout = probeTimeoutMs(env);
  const r = await probeRemoteCache({ ...settings, url }, timeout);
  if (r.ok) return { env: out, ...(note ? { message: `pkgnx: remote cache ${url}${note}` } : {}) };
  return {
    env: { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: '', NX_SKIP_REMOTE_CACHE: 'true' },
    message:
      `pkgnx: remote cache ${url} is not usable: ${r.detail}.\n` +
      `pkgnx: this run reads and writes the local cache only (NX_SKIP_REMOTE_CACHE); Nx 24 would otherwise fail or hang the whole run.${note}`,
  };
}

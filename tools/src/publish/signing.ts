/**
 * Detached binary OpenPGP signatures, made the way makepkg --sign and repo-add -s make them
 * (`gpg --detach-sign --no-armor [-u KEY]`), with a GnuPG home and key id from the configuration or the
 * environment (`PKGNX_SIGN_KEY`, `GNUPGHOME`). The key is checked, and a test signature made, before
 * anything is uploaded: a missing key or one that needs an interactive passphrase fails first.
 */
import { existsSync } from 'node:fs';
import { run } from '../process/run';

export interface SignerOptions {
  /** key id, fingerprint or user id; undefined: GnuPG's default secret key */
  key?: string;
  /** GnuPG home directory; undefined: $GNUPGHOME or ~/.gnupg */
  gnupgHome?: string;
  /** where the key came from, for messages (`publish.signing.key`, `PKGNX_SIGN_KEY`) */
  source?: string;
}

export class SigningError extends Error {
  override name = 'SigningError';
}

export class Signer {
  private constructor(
    readonly key: string | undefined,
    private readonly env: Record<string, string>,
    readonly description: string,
  ) {}

  private args(extra: string[]): string[] {
    return ['--batch', '--no-tty', ...(this.key ? ['--local-user', this.key] : []), ...extra];
  }

  /** Check that the key exists and can sign without interaction. */
  static async create(options: SignerOptions): Promise<Signer> {
    const home = options.gnupgHome ?? process.env.GNUPGHOME;
    const env: Record<string, string> = home ? { GNUPGHOME: home } : {};
    const where = `GnuPG home ${home ?? '~/.gnupg'}`;
    const keyText = options.key ? `signing key '${options.key}'${options.source ? ` (${options.source})` : ''}` : 'the default signing key';
    if (home && !existsSync(home)) throw new SigningError(`${keyText}: ${where} does not exist`);
    const listed = await run('gpg', ['--batch', '--with-colons', '--list-secret-keys', ...(options.key ? [options.key] : [])], { env }).catch(() => {
      throw new SigningError(`${keyText}: gpg is not installed`);
    });
    if (!listed.ok) throw new SigningError(`${keyText}: not found in ${where}${listed.stderr.trim() ? ` (${listed.stderr.trim().split('\n').pop()})` : ''}`);
    if (!/^sec:/m.test(listed.stdout)) throw new SigningError(`${keyText}: no secret key in ${where}`);
    const signer = new Signer(options.key, env, `${keyText} in ${where}`);
    await signer.signBuffer(Buffer.from('pkgnx signing check\n'));
    return signer;
  }

  /** The detached binary signature of a file. */
  async signFile(path: string): Promise<Buffer> {
    const r = await run('gpg', this.args(['--detach-sign', '--no-armor', '--output', '-', path]), { env: this.env, binary: true });
    if (!r.ok) throw new SigningError(`${path}: cannot sign with ${this.description}: ${r.stderr.trim()}`);
    return r.bytes;
  }

  private async signBuffer(data: Buffer): Promise<Buffer> {
    const r = await run('gpg', this.args(['--detach-sign', '--no-armor', '--output', '-']), { env: this.env, binary: true, input: data });
    if (!r.ok) throw new SigningError(`cannot sign with ${this.description}: ${r.stderr.trim()} (a key with a passphrase needs a gpg-agent with the passphrase cached)`);
    return r.bytes;
  }
}

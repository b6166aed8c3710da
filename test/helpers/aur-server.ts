/**
 * A local AUR RPC v5 stand-in on 127.0.0.1: answers `/rpc/v5/info?arg[]=...` in the real format
 * (`{"resultcount","results","type":"multiinfo","version":5}`), and errors like the AUR does.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AurPackage } from '../../tools/src/aur/rpc';

export interface AurFixturePackage {
  name: string;
  base?: string;
  version: string;
  depends?: string[];
  makedepends?: string[];
  checkdepends?: string[];
  provides?: string[];
}

export function aurRecord(p: AurFixturePackage, id: number): AurPackage {
  const rec: AurPackage = {
    ID: id,
    Name: p.name,
    PackageBase: p.base ?? p.name,
    PackageBaseID: id,
    Version: p.version,
    Description: `fixture ${p.name}`,
    URL: null,
    URLPath: `/cgit/aur.git/snapshot/${p.base ?? p.name}.tar.gz`,
    Maintainer: 'fixture',
    NumVotes: 0,
    Popularity: 0,
    OutOfDate: null,
    FirstSubmitted: 1700000000,
    LastModified: 1700000000,
    License: ['MIT'],
  };
  // the AUR leaves out empty lists
  if (p.depends?.length) rec.Depends = p.depends;
  if (p.makedepends?.length) rec.MakeDepends = p.makedepends;
  if (p.checkdepends?.length) rec.CheckDepends = p.checkdepends;
  if (p.provides?.length) rec.Provides = p.provides;
  return rec;
}

export interface AurServer {
  baseUrl: string;
  /** every request path+query received */
  requests: string[];
  close(): Promise<void>;
}

export async function startAurServer(packages: AurFixturePackage[]): Promise<AurServer> {
  const records = new Map(packages.map((p, i) => [p.name, aurRecord(p, i + 1)]));
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (url.pathname !== '/rpc/v5/info' && url.pathname !== '/rpc/v5/info/') {
      send(404, { error: 'Incorrect request type specified.', resultcount: 0, results: [], type: 'error', version: 5 });
      return;
    }
    if ((req.url ?? '').length > 4443) {
      send(414, { error: 'URI too long', resultcount: 0, results: [], type: 'error', version: 5 });
      return;
    }
    const names = [...url.searchParams.getAll('arg[]'), ...url.searchParams.getAll('arg')];
    const results = names.map((n) => records.get(n)).filter((r): r is AurPackage => r !== undefined);
    send(200, { resultcount: results.length, results, type: 'multiinfo', version: 5 });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The port-maintenance core: what differs between upstream and the port, and what to build. */
export * from './config';
export * from './fetch-db';
export * from './blacklist';
export * from './order';
export * from './compare';
export * from './reports';
export * from './state-repo';
export * from './load-repositories';
export * from './build-list';
export * from './target-versions';

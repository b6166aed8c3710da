/**
 * Publishing: signed pacman repositories on S3 or in a local directory, safe with many publishers,
 * with testing -> stable promotion. A pure library (no Nx imports); the CLI verbs are in ../cli/.
 */
export * from './store';
export * from './s3-store';
export * from './local-store';
export * from './probe';
export * from './layout';
export * from './errors';
export * from './package-file';
export * from './database';
export * from './signing';
export * from './repository';
export * from './config';
export * from './routing';
export * from './session';
export * from './publish';
export * from './promote';
export * from './prune';

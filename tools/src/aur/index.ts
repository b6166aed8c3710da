export * from './rpc';
export * from './satisfiers';

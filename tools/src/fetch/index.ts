export * from './naming';
export * from './git';
export * from './checkout-version';
export * from './overlay';
export * from './fetch';
export * from './pool';
export * from './targets';

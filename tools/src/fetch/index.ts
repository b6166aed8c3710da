export * from '../git/arch-repos';
export * from '../git/runner';
export * from './checkout-version';
export * from './overlay';
export * from './fetch';
export * from './pool';
export * from './requests';

export { createRouter } from './create-router';
export type { Route, RouteOverrides, Router } from './create-router';
export { globToRegExp } from './glob-to-regexp';

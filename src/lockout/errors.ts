// The lockout layer's error: a blocked token. It lives with the others in src/errors/ so the one
// union of error classes covers it; re-exported here for the lockout layer's own imports.
export { TokenBlockedError } from '../errors/index.js';

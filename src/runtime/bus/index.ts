// Public surface of devbox's embedded NATS server.
export { BusServer, BUS_PROTOCOL_VERSION, newServerId } from './server.js';
export type { BusServerOptions, BusServerStats, BusLogger, BusLogLevel } from './server.js';
export { Parser, parseOps } from './parser.js';
export type { ParsedOp, ParseErrorKind, ParserHandler, ParserOptions } from './parser.js';
export {
  Sublist,
  InvalidSubjectError,
  isValidSubject,
  isValidLiteralSubject,
  subjectHasWildcard,
  subjectMatches,
} from './sublist.js';
export type { SublistEntry, SublistResult, SublistOptions } from './sublist.js';
export { ERR as BUS_ERRORS, decodeConnect } from './connection.js';
export type { ClientOptions } from './connection.js';

/** The daemon's configuration: see docs/CONFIGURATION.md. */
export { addressProblem, formatAddress, type HostPort, isWildcardHost, parseAddress } from './address.js';
export { ConfigError, type ConfigProblem } from './errors.js';
export { renderConfigExample } from './example.js';
export { configWarnings, defaultConfig, loadConfig, parseConfigText } from './load.js';
export { editDistance } from './suggest.js';
export * from './types.js';

/** Environments jobs run in: content-hashed, built once per machine, shared by every run (docs/environments.md). */
export { EnvCache, ENV_CACHE_DEFAULTS, envCacheOptionsFromEnv, type EnvCacheOptions, type EnvRecord, type Pinned, type PreparedEnv } from './cache.js';
export { EnvError, environmentInputs, findProgram, interpreterCommand, resolveInterpreter, requirementFiles, hasRequirements } from './inputs.js';
export { indexArgs, installerEnv, PIP_COMMON, type Package } from './builders.js';
export { execFile, tail } from './exec.js';

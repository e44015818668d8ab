/**
 * The manifest (`kairos.yaml`): its one schema (schema.ts) and everything generated from it — the compiler,
 * the JSON Schema, the `init` template and the reference page — plus run-time param handling.
 */
export * from '../model/job.js';
export { upgradeCompiledManifest, readCompiledManifest } from './upgrade.js';
export { compileManifestText, loadManifestFile, compileDocument, MANIFEST_FILE_NAME } from './compile.js';
export { formatProblem, PROBLEM_CODES, type ProblemCode } from './problems.js';
export { manifestJsonSchema, SCHEMA_FILE_NAME } from './json-schema.js';
export { initTemplate, toProjectName } from './template.js';
export { manifestReferenceMarkdown } from './reference.js';
export { resolveParams, paramEnvValue, paramEnvName, parseParamValue, type ResolvedParams } from './params.js';
export { DEFAULTS, DEFAULT_POOL, manifestSchema, type ManifestDocument } from './schema.js';

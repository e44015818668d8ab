/** Where a service job is reached on the server, and which names may appear there (docs/services.md). */

/** The manifest's rules for a project and a job name (src/manifest/fields.ts NAME_RULES), checked on every request. */
const PROJECT = /^[a-z][a-z0-9_-]{0,62}$/;
const JOB = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;

/** `/services/<project>/<job>/` of a service. */
export function serviceBasePath(project: string, job: string): string {
  return `/services/${project}/${job}/`;
}

/** Project and job names as the manifest allows them: nothing else is ever looked up or forwarded. */
export function validServiceName(project: string, job: string): boolean {
  return PROJECT.test(project) && JOB.test(job);
}

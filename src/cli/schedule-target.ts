import type { KairosClient } from '../api/client.js';
import { UsageError } from './output.js';

/** The project of a scheduled job: the one given, or the only one that has the job. */
export async function projectOfJob(client: KairosClient, job: string, project: string | undefined): Promise<string> {
  if (project) return project;
  const { schedules } = await client.schedules();
  const matches = schedules.filter((s) => s.job === job);
  if (matches.length === 1 && matches[0]) return matches[0].project;
  if (matches.length === 0) throw new UsageError(`no schedule for job "${job}"; scheduled jobs: ${schedules.map((s) => s.job).join(', ') || '(none)'}`);
  throw new UsageError(`job "${job}" exists in several projects (${matches.map((m) => m.project).join(', ')}); name one with --project`);
}

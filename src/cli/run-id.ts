/**
 * Commands that take a run id. An id that names no run is not bad usage (the command was right, the run is
 * not there): exit 1 with "no run …", not 2.
 */
import { ApiError } from '../api/client.js';
import { Failure } from './output.js';

export async function onRun<T>(id: string, server: string, call: (id: string) => Promise<T>): Promise<T> {
  try {
    return await call(id);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404 && err.code === 'not_found' && /^(?:run \S+ not found|no run\b)/.test(err.message)) {
      throw new Failure(`no run "${id}" on ${server} (\`kairos runs\` lists them)`);
    }
    throw err;
  }
}

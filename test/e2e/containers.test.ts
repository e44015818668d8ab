/**
 * A job whose environment is an image, end to end: `kairos up --registry` (real podman with runc and a private
 * store, given through KAIROS_PODMAN_ARGS / KAIROS_PODMAN_RUN_ARGS; a real docker-registry on loopback) builds
 * the project's Containerfile once, pushes it, runs the job in a container with its params, secrets-free env,
 * metrics and artifacts; the attempt records the image it ran; a rerun runs the same digest without building.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { cli, exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';
import { importBase, podmanMissing, podmanStore, removeBusyboxTar, startRegistry, type PodmanStore, type RegistryServer } from '../containers/podman-store.js';

const missing = podmanMissing();

describe('container environments through kairos up', { skip: missing ?? false }, () => {
  const dir = tempDir('kairos-e2e-containers-');
  let store: PodmanStore;
  let registry: RegistryServer;
  let up: ReturnType<typeof spawnCli>;
  let port = 0;
  let client: KairosClient;
  const server = () => `http://127.0.0.1:${port}`;

  before(async () => {
    store = podmanStore();
    registry = await startRegistry();
    await importBase(store);
    writeProject(join(dir.path, 'project'), {
      'kairos.yaml': `project: ctr
environments:
  box:
    containerfile: image/Containerfile
    network: none
jobs:
  hello:
    environment: box
    params:
      who: {type: string, default: world}
    run: |
      cat /greeting.txt
      echo "hello $KAIROS_PARAM_WHO in $(pwd)"
      echo '{"name": "answer", "value": 42}' >> "$KAIROS_OUTPUT"
      echo kept > "$KAIROS_ARTIFACTS/out.txt"
`,
      'image/Containerfile': 'FROM localhost/kairos-test-base:1\nCOPY greeting.txt /greeting.txt\n',
      'image/greeting.txt': 'greetings from the image\n',
    });
    port = await freePort();
    client = new KairosClient(server());
    up = spawnCli(['up', join(dir.path, 'project'), '--port', String(port), '--data', join(dir.path, 'data'), '--registry', registry.flag, '--grace', '1'], { env: store.env });
    await waitFor('the server', () => client.health(), 60_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${up.output()}`);
    });
  });

  after(async () => {
    if (up && up.child.exitCode === null) {
      up.child.kill('SIGTERM');
      await exited(up.child);
    }
    const left = store ? await store.containers() : [];
    const mounts = store ? store.mounts() : [];
    await store?.cleanup();
    await registry?.stop();
    removeBusyboxTar();
    dir.cleanup();
    assert.deepEqual(left, [], 'containers left behind');
    assert.deepEqual(mounts, [], 'mounts left behind');
  });

  test('the job runs in the built image; the attempt records it; a rerun runs the same digest', async () => {
    const env = { KAIROS_SERVER: server() };
    const r = await cli(['run', 'hello', '-p', 'who=team'], { env, timeoutMs: 600_000 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\n${up.output()}`);
    assert.match(r.stdout, /greetings from the image/);
    assert.match(r.stdout, /hello team in \//);
    const runs = JSON.parse((await cli(['runs', '--job', 'hello', '--json'], { env })).stdout) as { id: string; state: string }[];
    const first = runs[0];
    assert.ok(first);
    assert.equal(first.state, 'succeeded');
    const { attempts } = (await client.attempts(first.id)) as unknown as { attempts: { env_image: { ref: string; digest: string } | null; env_hash: string | null }[] };
    const image = attempts[0]?.env_image;
    assert.ok(image, JSON.stringify(attempts));
    assert.match(image.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(image.ref, `127.0.0.1:${registry.port}/team/kairos-env@${image.digest}`);
    assert.equal(attempts[0]?.env_hash, image.digest);
    const logText = async (id: string) => JSON.stringify(await client.logs(id));
    assert.match(await logText(first.id), /building environment box/);
    // Metrics and artifacts came out of the container.
    const outputs = JSON.stringify(await client.outputs(first.id));
    assert.match(outputs, /answer/);
    assert.match(outputs, /out\.txt/);

    const again = await cli(['rerun', first.id], { env, timeoutMs: 600_000 });
    assert.equal(again.code, 0, `${again.stdout}\n${again.stderr}`);
    const rerun = await waitFor(
      'the rerun to end',
      async () => {
        const all = JSON.parse((await cli(['runs', '--job', 'hello', '--json'], { env })).stdout) as { id: string; state: string }[];
        const newest = all[0];
        return newest && newest.id !== first.id && ['succeeded', 'failed'].includes(newest.state) ? newest : null;
      },
      300_000,
      500,
    );
    assert.equal(rerun.state, 'succeeded');
    const { attempts: rerunAttempts } = (await client.attempts(rerun.id)) as unknown as { attempts: { env_image: { ref: string; digest: string } | null }[] };
    assert.deepEqual(rerunAttempts[0]?.env_image, image);
    const rerunLog = await logText(rerun.id);
    assert.match(rerunLog, /as recorded with the original run/);
    assert.doesNotMatch(rerunLog, /building environment/);
    assert.match(rerunLog, /hello team/);
  });
});

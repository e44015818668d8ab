/**
 * A run's log in a real headless Chromium against a real `kairos up`: terminal colours (an IPython-style
 * traceback) render as styled spans with no escape characters visible, every other escape sequence is
 * dropped, hostile text stays text, and a long line wraps inside the page (or scrolls inside the log when
 * wrapping is off). Set KAIROS_SCREENSHOTS=1 to refresh docs/img/run-ansi.png.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { ROOT, tempDir, writeProject } from '../helpers.js';
import { chromiumMissing, openBrowser, type Browser } from '../browser.js';

// What IPython prints for an exception (its colour codes as written), plus the other sequences terminals see.
const SCRIPT = String.raw`
printf '\033[0;31m---------------------------------------------------------------------------\033[0m\n'
printf '\033[0;31mValueError\033[0m                                Traceback (most recent call last)\n'
printf 'Cell \033[0;32mIn[3], line 2\033[0m\n'
printf '\033[1;32m----> 2\033[0m \033[38;5;28;01mraise\033[39;00m \033[38;5;167;01mValueError\033[39;00m(\033[38;5;124m"bad price"\033[39m)\n'
printf '\033[0;31mValueError\033[0m: bad price\n' >&2
printf '\033]0;window title\007\033[2Kcleared \033[1A\033(Bdone\n'
printf '\033[31m<img src=x onerror="window.pwned=1">\033[0m <script>window.pwned=2</script>\n'
printf 'progress 10%%\rprogress 50%%\rprogress 100%%\n'
printf 'long:'; head -c 4000 /dev/zero | tr '\0' 'x'; printf '\n'
printf '\033[44;97m white on blue \033[0m \033[90mgrey\033[0m \033[1mbold\033[22m normal \033]8;;https://example.com\033\\a link\033]8;;\033\\ end\n'
`;

const skip = chromiumMissing();

describe('a coloured, hostile, long log in Chromium', { skip: skip ?? false }, () => {
  const dir = tempDir();
  const data = tempDir();
  let up: Embedded;
  let client: KairosClient;
  let b: Browser;
  let runId = '';

  before(async () => {
    writeProject(dir.path, { 'kairos.yaml': 'project: logs\njobs:\n  notebook:\n    run: ["sh", "traceback.sh"]\n', 'traceback.sh': SCRIPT });
    up = await startEmbedded({ projectDir: dir.path, dataDir: data.path, port: 0, watch: false, log: () => {} });
    client = new KairosClient(up.url);
    runId = (await client.createRun('notebook', {}, 'logs')).id;
    assert.equal((await client.getRun(runId, 60)).state, 'succeeded');
    b = await openBrowser();
  });

  after(async () => {
    await b?.close();
    await up?.stop(5000);
    dir.cleanup();
    data.cleanup();
  });

  test('colours are styled spans, other escape sequences are gone, hostile text stays text', async () => {
    const { page } = b;
    await page.goto(`${up.url}/runs/${runId}`);
    const log = page.locator('pre.log');
    await log.filter({ hasText: ' end' }).waitFor();
    const text = (await log.textContent()) ?? '';
    // eslint-disable-next-line no-control-regex -- terminal escapes are what this looks for
    assert.doesNotMatch(text, /[\x00-\x08\x0b-\x1f\x7f-\x9f]/, 'no control characters are shown');
    assert.doesNotMatch(text, /\[\d+(;\d+)*m|\]0;|\]8;/, 'no escape sequence remnants');
    // Colours: red ValueError, green cell reference, bold keyword, white on blue, bright black.
    const red = log.locator('span.ansi-fg-1', { hasText: /^ValueError$/ }).first();
    assert.equal(await red.evaluate((e) => (e.ownerDocument.defaultView as unknown as { getComputedStyle(x: unknown): { color: string } }).getComputedStyle(e).color), 'rgb(240, 82, 79)');
    assert.equal(await log.locator('span.ansi-fg-2', { hasText: 'In[3], line 2' }).count(), 1);
    const raise = log.locator('span.ansi-bold', { hasText: /^raise$/ });
    assert.equal(await raise.evaluate((e) => (e.ownerDocument.defaultView as unknown as { getComputedStyle(x: unknown): { fontWeight: string } }).getComputedStyle(e).fontWeight), '700');
    assert.equal(await log.locator('span.ansi-bg-4.ansi-fg-15', { hasText: 'white on blue' }).count(), 1);
    assert.equal(await log.locator('span.ansi-fg-8', { hasText: /^grey$/ }).count(), 1);
    assert.equal(await log.locator('span.ansi-bold', { hasText: /^bold$/ }).count(), 1);
    assert.match(text, /\bbold normal a link end\n/, 'bold ends at 22; a hyperlink keeps its text');
    // The stderr line is still marked as stderr, with its colour inside.
    assert.equal(await log.locator('span.stderr span.ansi-fg-1', { hasText: 'ValueError' }).count(), 1);
    // Cursor moves, erase, charset and title sequences are dropped; a carriage return starts the line over.
    assert.match(text, /cleared done\n/);
    assert.doesNotMatch(text, /window title/);
    assert.match(text, /progress 100%\n/);
    assert.doesNotMatch(text, /progress 10%|progress 50%/);
    // Hostile text: shown as text, inert.
    assert.equal(await log.locator('span.ansi-fg-1', { hasText: '<img src=x onerror="window.pwned=1">' }).count(), 1);
    assert.match(text, /<script>window\.pwned=2<\/script>/);
    assert.equal(await page.locator('pre.log img, pre.log script').count(), 0);
    assert.equal(await page.evaluate('window.pwned'), undefined);
    // The search looks in the text as shown: across colours, and never in escape codes.
    await page.locator('[data-filter]').fill('valueerror: bad');
    await page.locator('pre.log mark').first().waitFor();
    assert.equal(await page.locator('pre.log > span').count(), 1);
    assert.equal((await page.locator('pre.log mark').allTextContents()).join(''), 'ValueError: bad');
    await page.locator('[data-filter]').fill('[0;31m');
    await page.locator('[role="status"]', { hasText: '0 of' }).waitFor();
    await page.locator('[data-filter]').fill('');
    await shot('run-ansi');
    assert.deepEqual(b.errors, []);
  });

  test('a long line wraps inside the page; with wrapping off the log scrolls, never the page', async () => {
    const { page } = b;
    await page.goto(`${up.url}/runs/${runId}`);
    const log = page.locator('pre.log');
    await log.filter({ hasText: 'long:xxxx' }).waitFor();
    const pageOverflows = () => page.evaluate('document.documentElement.scrollWidth > document.documentElement.clientWidth');
    const logOverflows = () => log.evaluate((e) => e.scrollWidth > e.clientWidth + 1);
    const wrap = page.locator('[data-control="wrap"]');
    assert.equal(await wrap.isChecked(), true, 'wrapping is on by default');
    assert.equal(await pageOverflows(), false);
    assert.equal(await logOverflows(), false);
    const long = log.locator('span.line', { hasText: 'long:' });
    const lineHeight = await log.locator('span.line', { hasText: 'cleared done' }).evaluate((e) => e.getBoundingClientRect().height);
    assert.ok((await long.evaluate((e) => e.getBoundingClientRect().height)) > 3 * lineHeight, 'the long line takes several rows');
    await wrap.uncheck();
    assert.equal(await logOverflows(), true, 'the log scrolls sideways');
    assert.equal(await pageOverflows(), false, 'the page does not');
    // The choice is kept in this browser.
    await page.reload();
    await log.filter({ hasText: 'long:xxxx' }).waitFor();
    assert.equal(await page.locator('[data-control="wrap"]').isChecked(), false);
    await page.locator('[data-control="wrap"]').check();
    assert.equal(await logOverflows(), false);
    assert.deepEqual(b.errors, []);
  });

  test("the dashboard's escape-sequence reader, case by case, in the browser", async () => {
    const { page } = b;
    await page.goto(`${up.url}/runs/${runId}`);
    await page.locator('pre.log').filter({ hasText: ' end' }).waitFor();
    // [input, expected segments as "class:text"]; each case starts from no colour.
    const cases: [string, string[]][] = [
      ['plain', [':plain']],
      ['\x1b[1;31mred\x1b[0m off', ['ansi-fg-1 ansi-bold:red', ': off']],
      ['\x1b[38;5;9mbright\x1b[39m \x1b[38;5;200mnot named', ['ansi-fg-9:bright', ': not named']],
      ['\x1b[38;2;255;0;0mtrue colour\x1b[m', [':true colour']],
      ['\x1b[38:5:2mcolon\x1b[0m', ['ansi-fg-2:colon']],
      ['\x1b[41;97mbg\x1b[49m fg', ['ansi-fg-15 ansi-bg-1:bg', 'ansi-fg-15: fg']],
      ['\x1b[2;3;4mstyled\x1b[22;23;24m', ['ansi-dim ansi-italic ansi-underline:styled']],
      ['\x9b31mc1 csi', ['ansi-fg-1:c1 csi']],
      ['a\x1b[?25lb\x1b[10;20Hc\x1b[Kd', [':abcd']],
      ['\x1bPq#0;2;0;0;0\x1b\\after dcs', [':after dcs']],
      ['\x1b]2;title\x1b\\after osc', [':after osc']],
      ['bell\x07 back\bspace', [':bell backspace']],
      ['cut \x1b[31', [':cut ']],
      ['esc at end \x1b', [':esc at end ']],
      ['one\rtwo\r', [':two']],
      ['\x1b[31m<b>not html</b>', ['ansi-fg-1:<b>not html</b>']],
    ];
    const got = (await page.evaluate(`import('/ansi.js').then((m) => (${JSON.stringify(cases.map((c) => c[0]))}).map((line) => m.parseAnsi(line).segments.map((s) => s.cls + ':' + s.text)))`)) as string[][];
    assert.deepEqual(got, cases.map((c) => c[1]));
    // A colour set on one line lasts into the next until reset, as in a terminal.
    const carried = await page.evaluate(`import('/ansi.js').then((m) => { const st = m.plainState(); return ['\\x1b[32mgreen', 'still', '\\x1b[0mplain'].map((l) => m.parseAnsi(l, st).segments.map((s) => s.cls + ':' + s.text)); })`);
    assert.deepEqual(carried, [['ansi-fg-2:green'], ['ansi-fg-2:still'], [':plain']]);
  });

  async function shot(name: string): Promise<void> {
    if (process.env.KAIROS_SCREENSHOTS !== '1') return;
    mkdirSync(join(ROOT, 'docs', 'img'), { recursive: true });
    await b.page.locator('section[aria-labelledby="log-h"]').screenshot({ path: join(ROOT, 'docs', 'img', `${name}.png`) });
  }
});

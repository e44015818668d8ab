import { describeCron, dstChangesBetween, formatInZone, isValidTimeZone, nextFire, parseCron } from '../model/cron/index.js';
import { parseInstant } from '../model/instant.js';
import { zoneHint } from '../manifest/fields.js';
import { intOption, stringOption } from './args.js';
import type { Command } from './command.js';
import { UsageError } from './output.js';

function offset(min: number): string {
  const sign = min < 0 ? '-' : '+';
  const a = Math.abs(min);
  return `${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

export const cronCommand: Command = {
  name: 'cron',
  summary: 'the next fire instants of a cron expression (UTC ISO-8601, and local time)',
  usage: 'cron next EXPR [--tz ZONE] [--after ISO] [--count N] [--json]',
  options: { tz: { type: 'string' }, after: { type: 'string' }, count: { type: 'string' } },
  positionals: { min: 2, max: 2 },
  async run(p, { io }) {
    const [sub, expr] = p.positionals;
    if (sub !== 'next') throw new UsageError(`unknown subcommand "cron ${sub}"; usage: kairos ${this.usage}`);
    const zone = stringOption(p.values.tz) ?? 'UTC';
    if (!isValidTimeZone(zone)) throw new UsageError(`unknown time zone "${zone}"${zoneHint(zone)}`);
    const parsed = parseCron(expr ?? '');
    if (!parsed.ok) throw new UsageError(`invalid cron expression "${expr}": ${parsed.error.field}: ${parsed.error.message}`);
    const afterRaw = stringOption(p.values.after);
    // The same reading as every other command: an offset is required (a date alone means 00:00 UTC); a time
    // without one would silently mean this host's zone.
    const after = afterRaw === undefined ? Date.now() : parseInstant(afterRaw);
    if (after === null) throw new UsageError(`--after must be an ISO-8601 instant with an offset, such as 2026-03-08T00:00:00Z (or a date, meaning 00:00 UTC), got "${afterRaw}"`);
    const count = intOption(p.values.count, 'count', 1, 10_000) ?? 5;
    const times: number[] = [];
    let t: number | null = after;
    while (times.length < count && t !== null) {
      t = nextFire(parsed.cron, zone, t);
      if (t !== null) times.push(t);
    }
    const last = times[times.length - 1];
    const changes = last === undefined ? [] : dstChangesBetween(zone, after, last);
    const description = describeCron(parsed.cron);
    if (p.globals.json) {
      io.out(
        JSON.stringify(
          {
            expression: expr,
            timezone: zone,
            description,
            next: times.map((x) => ({ at: new Date(x).toISOString(), local: formatInZone(zone, x) })),
            dst_changes: changes.map((c) => ({ at: new Date(c.atMs).toISOString(), offset_before: offset(c.offsetBeforeMin), offset_after: offset(c.offsetAfterMin) })),
          },
          null,
          2,
        ) + '\n',
      );
      return;
    }
    for (const x of times) io.out(`${new Date(x).toISOString()}  ${formatInZone(zone, x)}\n`);
    io.err(`${description} (${zone})\n`);
    for (const c of changes) {
      io.err(`note: the UTC offset of ${zone} changes from ${offset(c.offsetBeforeMin)} to ${offset(c.offsetAfterMin)} at ${new Date(c.atMs).toISOString()}, inside this preview\n`);
    }
  },
};

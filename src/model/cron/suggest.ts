/**
 * Which IANA zone a user most likely meant by a name that is not one. Spelling distance alone is a poor
 * guide here ("America/San_Francisco" is closest to "America/Rio_Branco"), so the order is: a known alias
 * (a big city that is not a zone's own name, a common abbreviation), the same city under another area or
 * another capitalisation, and only then the nearest spelling of the city part.
 */
import { isValidTimeZone } from './zone.js';

/** Cities and names people write, each with the zone whose clock it keeps. */
const ALIASES: Readonly<Record<string, string>> = {
  // North America
  san_francisco: 'America/Los_Angeles', seattle: 'America/Los_Angeles', portland: 'America/Los_Angeles', san_diego: 'America/Los_Angeles',
  san_jose: 'America/Los_Angeles', las_vegas: 'America/Los_Angeles', sacramento: 'America/Los_Angeles', oakland: 'America/Los_Angeles',
  palo_alto: 'America/Los_Angeles', silicon_valley: 'America/Los_Angeles', pacific: 'America/Los_Angeles', pst: 'America/Los_Angeles',
  pdt: 'America/Los_Angeles', pt: 'America/Los_Angeles', california: 'America/Los_Angeles',
  boston: 'America/New_York', washington: 'America/New_York', washington_dc: 'America/New_York', miami: 'America/New_York',
  atlanta: 'America/New_York', philadelphia: 'America/New_York', pittsburgh: 'America/New_York', baltimore: 'America/New_York',
  charlotte: 'America/New_York', nyc: 'America/New_York', eastern: 'America/New_York', edt: 'America/New_York', et: 'America/New_York',
  new_york_city: 'America/New_York', orlando: 'America/New_York', cleveland: 'America/New_York',
  dallas: 'America/Chicago', houston: 'America/Chicago', austin: 'America/Chicago', san_antonio: 'America/Chicago',
  minneapolis: 'America/Chicago', new_orleans: 'America/Chicago', st_louis: 'America/Chicago', kansas_city: 'America/Chicago',
  nashville: 'America/Chicago', central: 'America/Chicago', cst: 'America/Chicago', cdt: 'America/Chicago', ct: 'America/Chicago',
  salt_lake_city: 'America/Denver', albuquerque: 'America/Denver', mountain: 'America/Denver', mdt: 'America/Denver',
  mst: 'America/Denver', mt: 'America/Denver', calgary: 'America/Edmonton', ottawa: 'America/Toronto', montreal: 'America/Toronto',
  quebec: 'America/Toronto', honolulu: 'Pacific/Honolulu', hawaii: 'Pacific/Honolulu', alaska: 'America/Anchorage',
  // Europe
  munich: 'Europe/Berlin', frankfurt: 'Europe/Berlin', hamburg: 'Europe/Berlin', cologne: 'Europe/Berlin', stuttgart: 'Europe/Berlin',
  dusseldorf: 'Europe/Berlin', milan: 'Europe/Rome', turin: 'Europe/Rome', naples: 'Europe/Rome', florence: 'Europe/Rome',
  barcelona: 'Europe/Madrid', valencia: 'Europe/Madrid', seville: 'Europe/Madrid', geneva: 'Europe/Zurich', basel: 'Europe/Zurich',
  bern: 'Europe/Zurich', lyon: 'Europe/Paris', marseille: 'Europe/Paris', toulouse: 'Europe/Paris', nice: 'Europe/Paris',
  manchester: 'Europe/London', edinburgh: 'Europe/London', birmingham: 'Europe/London', glasgow: 'Europe/London', bst: 'Europe/London',
  rotterdam: 'Europe/Amsterdam', the_hague: 'Europe/Amsterdam', antwerp: 'Europe/Brussels', porto: 'Europe/Lisbon',
  krakow: 'Europe/Warsaw', gothenburg: 'Europe/Stockholm', st_petersburg: 'Europe/Moscow', saint_petersburg: 'Europe/Moscow',
  cest: 'Europe/Paris', cet: 'Europe/Paris',
  // Asia, Oceania, Africa, South America
  beijing: 'Asia/Shanghai', shenzhen: 'Asia/Shanghai', guangzhou: 'Asia/Shanghai', hangzhou: 'Asia/Shanghai', china: 'Asia/Shanghai',
  mumbai: 'Asia/Kolkata', bombay: 'Asia/Kolkata', delhi: 'Asia/Kolkata', new_delhi: 'Asia/Kolkata', bangalore: 'Asia/Kolkata',
  bengaluru: 'Asia/Kolkata', chennai: 'Asia/Kolkata', hyderabad: 'Asia/Kolkata', pune: 'Asia/Kolkata', calcutta: 'Asia/Kolkata',
  ist: 'Asia/Kolkata', india: 'Asia/Kolkata', osaka: 'Asia/Tokyo', kyoto: 'Asia/Tokyo', jst: 'Asia/Tokyo', japan: 'Asia/Tokyo',
  busan: 'Asia/Seoul', kst: 'Asia/Seoul', tel_aviv: 'Asia/Jerusalem', abu_dhabi: 'Asia/Dubai', saigon: 'Asia/Ho_Chi_Minh',
  hanoi: 'Asia/Bangkok', canberra: 'Australia/Sydney', aest: 'Australia/Sydney', aedt: 'Australia/Sydney', wellington: 'Pacific/Auckland',
  cape_town: 'Africa/Johannesburg', rio_de_janeiro: 'America/Sao_Paulo', rio: 'America/Sao_Paulo', brasilia: 'America/Sao_Paulo',
};

const key = (s: string) => s.trim().toLowerCase().replace(/[\s.-]+/g, '_').replace(/^_+|_+$/g, '');

/** Optimal-string-alignment distance, case-insensitive. */
function distance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  let prev2: number[] = [];
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const row = [i];
    for (let j = 1; j <= t.length; j++) {
      let best = Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (s[i - 1] === t[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) best = Math.min(best, (prev2[j - 2] ?? 0) + 1);
      row.push(best);
    }
    prev2 = prev;
    prev = row;
  }
  return prev[t.length] ?? 0;
}

const cityOf = (zone: string) => zone.slice(zone.lastIndexOf('/') + 1);

/** The zone a user most likely meant by `name` (not itself a zone), among `zones`; undefined when nothing is close. */
export function suggestTimeZone(name: string, zones: readonly string[]): string | undefined {
  const byKey = new Map(zones.map((z) => [key(z), z]));
  const exact = byKey.get(key(name));
  if (exact) return exact;
  const city = key(cityOf(name));
  const alias = ALIASES[city] ?? ALIASES[key(name)];
  if (alias && isValidTimeZone(alias)) return alias;
  // The same city under another area ("America/Paris" → "Europe/Paris").
  const sameCity = zones.find((z) => key(cityOf(z)) === city);
  if (sameCity) return sameCity;
  // The nearest spelling of the city part, then of the whole name; only when it is a plausible typo.
  let best: string | undefined;
  let bestD = Infinity;
  for (const z of zones) {
    const d = Math.min(distance(city, key(cityOf(z))), distance(key(name), key(z)));
    if (d < bestD) {
      best = z;
      bestD = d;
    }
  }
  if (best === undefined) return undefined;
  const len = Math.max(city.length, key(cityOf(best)).length);
  return bestD <= Math.max(2, Math.round(len * 0.34)) && bestD < len ? best : undefined;
}

let zoneNames: readonly string[] | undefined;
/** Every zone this Node knows, with UTC. */
export function knownTimeZones(): readonly string[] {
  // Intl lists some zones by their old names (Asia/Calcutta): the current names are candidates too.
  const current = ['Asia/Kolkata', 'Europe/Kyiv', 'Asia/Ho_Chi_Minh', 'Asia/Kathmandu', 'Asia/Yangon', 'America/Nuuk', 'Atlantic/Faroe', 'America/Argentina/Buenos_Aires'].filter(isValidTimeZone);
  zoneNames ??= [...new Set(['UTC', ...Intl.supportedValuesOf('timeZone'), ...current])];
  return zoneNames;
}

/**
 * Finding the part of the schema that describes a node of a document, following the document's data through
 * unions (a list picks the list branch). Used to word problems and to comment the init template.
 */
import * as z from 'zod';
import { isRecord } from './fields.js';
import type { DataPath } from './yaml-source.js';

/** Optional and similar wrappers hide the schema that describes the value. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
  return s;
}

/** The branch of a union that the value's kind selects (a list → the list branch, and so on). */
export function branchFor(union: z.ZodUnion, value: unknown): z.ZodType | undefined {
  const options = (union.options as readonly z.ZodType[]).map(unwrap);
  const fits = (s: z.ZodType) =>
    Array.isArray(value) ? s instanceof z.ZodArray : isRecord(value) ? s instanceof z.ZodObject || s instanceof z.ZodRecord : !(s instanceof z.ZodArray || s instanceof z.ZodObject || s instanceof z.ZodRecord);
  return options.find(fits);
}

function child(schema: z.ZodType, key: PropertyKey, value: unknown): z.ZodType | undefined {
  let s = unwrap(schema);
  if (s instanceof z.ZodUnion) {
    const branch = branchFor(s, value);
    if (branch === undefined) return undefined;
    s = branch;
  }
  if (s instanceof z.ZodObject) return (s.shape as Record<string, z.ZodType>)[String(key)];
  if (s instanceof z.ZodRecord) return s.valueType as z.ZodType;
  if (s instanceof z.ZodArray) return s.element as z.ZodType;
  return undefined;
}

/** The schema that describes the node at `path` of `data`, following the data through unions. */
export function schemaAt(root: z.ZodType, path: DataPath, data: unknown): z.ZodType | undefined {
  let s: z.ZodType | undefined = root;
  let value = data;
  for (const key of path) {
    if (s === undefined) return undefined;
    s = child(s, key, value);
    value = isRecord(value) || Array.isArray(value) ? (value as Record<string, unknown>)[String(key)] : undefined;
  }
  return s === undefined ? undefined : unwrap(s);
}

export function valueAt(data: unknown, path: DataPath): unknown {
  let value = data;
  for (const key of path) {
    if (!(isRecord(value) || Array.isArray(value))) return undefined;
    value = Object.hasOwn(value, String(key)) ? (value as Record<string, unknown>)[String(key)] : undefined;
  }
  return value;
}

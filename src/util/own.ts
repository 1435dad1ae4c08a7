/**
 * Lookups and writes keyed by user text (labels, field names, JSON keys, model ids). A plain
 * object inherits `constructor`, `toString`, `__proto__`… from Object.prototype, so `obj[key]`
 * finds a function for those words and `obj["__proto__"] = v` replaces the prototype instead of
 * storing a value. Use these (or a Map) wherever the key is not ours.
 */

/** The object's own value at `key`, never an inherited one. */
export function getOwn<T>(obj: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return obj !== undefined && Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** Whether `key` is the object's own property. */
export function hasOwn(obj: object | undefined, key: string): boolean {
  return obj !== undefined && Object.hasOwn(obj, key);
}

/** Store `value` as an own, enumerable property, even for `__proto__`. */
export function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  if (key === "__proto__") Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}

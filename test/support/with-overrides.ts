/**
 * `target` seen through a proxy with some of its methods replaced (a test's way to slip a
 * race or a counter into one call of a real object): every other member is the target's
 * own, its methods bound to the target so that they keep working on its private state.
 */
export function withOverrides<T extends object>(
  target: T,
  overrides: { readonly [K in keyof T]?: T[K] },
): T {
  return new Proxy(target, {
    get(t, key) {
      if (Object.hasOwn(overrides, key)) return overrides[key as keyof T];
      const value = Reflect.get(t, key, t);
      return typeof value === 'function' ? value.bind(t) : value;
    },
  });
}

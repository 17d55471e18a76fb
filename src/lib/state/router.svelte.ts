/**
 * Hash routing (`#/`, `#/p/<projectId>/<step>`): a static app with no server rewrites, and a
 * reload keeps the user where they were.
 */
export const STEPS = [
  'spec',
  'rules',
  'instances',
  'generate',
  'review',
  'export',
  'evaluate',
  'models',
] as const;
export type Step = (typeof STEPS)[number];

export type Route = { name: 'projects' } | { name: 'project'; projectId: string; step: Step };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'p' && parts[1]) {
    const step = (STEPS as readonly string[]).includes(parts[2] ?? '')
      ? (parts[2] as Step)
      : 'spec';
    return { name: 'project', projectId: parts[1], step };
  }
  return { name: 'projects' };
}

export function routeHref(route: Route): string {
  return route.name === 'projects'
    ? '#/'
    : `#/p/${encodeURIComponent(route.projectId)}/${route.step}`;
}

class Router {
  #route = $state<Route>(parseRoute(location.hash));

  constructor() {
    addEventListener('hashchange', () => {
      this.#route = parseRoute(location.hash);
    });
  }

  get route(): Route {
    return this.#route;
  }

  go(route: Route): void {
    location.hash = routeHref(route);
  }
}

export const router = new Router();

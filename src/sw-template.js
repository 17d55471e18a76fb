// SpecAlign Studio's service worker: makes the app load and work offline after the first visit.
// The build (vite.config.ts, offlinePlugin) writes this file to dist/sw.js with the list below
// filled in. Only same-origin GETs are handled: model hosts and endpoints are never touched,
// and web-llm/wllama keep their own caches for weights.
const VERSION = '__VERSION__';
// eslint-disable-next-line no-undef -- replaced at build time
const PRECACHE = __PRECACHE__;
const CACHE = `specalign-shell-${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(PRECACHE))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) =>
        Promise.all(
          keys
            .filter((k) => k.startsWith('specalign-shell-') && k !== CACHE)
            .map((k) => caches.delete(k)),
        ),
      )
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;

  if (request.mode === 'navigate') {
    // Network first, so a new version is picked up; the cached shell when offline.
    event.respondWith(
      fetch(request)
        .then((response) => {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put('./', copy));
          return response;
        })
        .catch(() => caches.match('./', { ignoreVary: true }).then((r) => r || Response.error())),
    );
    return;
  }
  // Hashed assets never change: cache first, and keep what was fetched (lazy engine chunks,
  // wasm) so a model used once keeps working offline.
  event.respondWith(
    // ignoreVary: the precached copies were fetched without the page's Origin header.
    caches.match(request, { ignoreVary: true }).then(
      (cached) =>
        cached ||
        fetch(request).then((response) => {
          if (response.ok && url.pathname.includes('/assets/')) {
            const copy = response.clone();
            caches.open(CACHE).then((cache) => cache.put(request, copy));
          }
          return response;
        }),
    ),
  );
});

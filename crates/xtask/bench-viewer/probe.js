// Injected into every page of the benchmark before the viewer's own scripts
// (playwright addInitScript). Records, in ms since navigation start
// (performance.now()), when each viewer shows its first diagnostic image and when the
// whole series is loaded, by each viewer's own signals:
//
// Rangsi: the viewport element (data-testid=viewport) sets `data-drawn` to the index of
//   the slice whose decoded pixels it has just presented (the attribute the e2e tests
//   wait on); first image = the first time `data-drawn` is not empty. Whole series
//   scrollable = `data-loaded` equals `data-total` (every slice decoded and uploaded).
// OHIF: cornerstone3D dispatches CORNERSTONE_IMAGE_RENDERED on the viewport element
//   after each render; first image = the first such event after which the viewport's
//   canvas (canvas.cornerstone-canvas) is not blank (pixel spread over a 64×64
//   downscale). Whole series scrollable = every image of the displayed stack is in
//   cornerstone's cache as a loaded (decoded) image (window.cornerstone.cache).
//
// Also counts renders (Rangsi: `data-draws`; OHIF: IMAGE_RENDERED events) for the
// scroll test, and keeps Rangsi's wasm memory (TrunkApplicationStarted) for the
// memory figure.
(() => {
  const b = {
    firstImage: null,
    allLoaded: null,
    loaded: 0,
    total: 0,
    renders: 0,
    blankChecks: 0,
    wasmMemory: null,
  };
  window.__bench = b;
  // OHIF's onboarding tour opens over the viewport on a first visit; a reader who comes
  // back has dismissed it (OHIF's own key).
  try {
    if (!localStorage.getItem('shownTours')) localStorage.setItem('shownTours', '["basicViewerTour"]');
  } catch { /* opaque origin */ }
  const now = () => performance.now();

  addEventListener('TrunkApplicationStarted', (e) => {
    b.wasmMemory = e.detail?.wasm?.memory || null;
  });

  // --- Rangsi -------------------------------------------------------------------
  const watchRangsi = (el) => {
    const check = () => {
      const drawn = el.dataset.drawn;
      if (b.firstImage === null && drawn !== undefined && drawn !== '') b.firstImage = now();
      b.loaded = Number(el.dataset.loaded || 0);
      b.total = Number(el.dataset.total || 0);
      if (b.allLoaded === null && b.total > 0 && b.loaded >= b.total) b.allLoaded = now();
      b.renders = Number(el.dataset.draws || 0);
    };
    new MutationObserver(check).observe(el, { attributes: true });
    check();
  };
  const findViewport = new MutationObserver(() => {
    const el = document.querySelector('[data-testid=viewport]');
    if (el && !el.__benchWatched) {
      el.__benchWatched = true;
      watchRangsi(el);
    }
  });
  const startObserving = () => findViewport.observe(document.documentElement, { childList: true, subtree: true });
  if (document.documentElement) startObserving();
  else addEventListener('DOMContentLoaded', startObserving);

  // --- OHIF ---------------------------------------------------------------------
  let small;
  const notBlank = (canvas) => {
    if (!canvas || !canvas.width || !canvas.height) return false;
    small = small || Object.assign(document.createElement('canvas'), { width: 64, height: 64 });
    const ctx = small.getContext('2d', { willReadFrequently: true });
    ctx.clearRect(0, 0, 64, 64);
    ctx.drawImage(canvas, 0, 0, 64, 64);
    const d = ctx.getImageData(0, 0, 64, 64).data;
    let sum = 0, sum2 = 0;
    for (let i = 0; i < d.length; i += 4) {
      const l = d[i] + d[i + 1] + d[i + 2];
      sum += l; sum2 += l * l;
    }
    const n = d.length / 4, mean = sum / n;
    return Math.sqrt(Math.max(0, sum2 / n - mean * mean)) > 10;
  };
  // A capture listener on window sees the event even though it does not bubble.
  addEventListener('CORNERSTONE_IMAGE_RENDERED', (e) => {
    b.renders += 1;
    if (b.firstImage !== null) return;
    const el = e.detail?.element || e.target;
    const canvas = el?.querySelector?.('canvas.cornerstone-canvas') || el?.querySelector?.('canvas');
    b.blankChecks += 1;
    if (notBlank(canvas)) b.firstImage = now();
  }, true);

  // The displayed stack's image ids, and how many of them are decoded in the cache.
  b.ohifProgress = () => {
    const cs = window.cornerstone;
    if (!cs?.getRenderingEngines) return null;
    let ids = [];
    for (const engine of cs.getRenderingEngines() || []) {
      for (const vp of engine.getViewports?.() || []) {
        const stack = vp.getImageIds?.() || [];
        if (stack.length > ids.length) ids = stack;
      }
    }
    if (!ids.length) return null;
    let loaded = 0;
    for (const id of ids) {
      const c = cs.cache?._imageCache?.get(id);
      if (c && (c.image || c.loaded)) loaded += 1;
    }
    return { loaded, total: ids.length };
  };
  const poll = () => {
    if (window.cornerstone) {
      const p = b.ohifProgress();
      if (p) {
        b.loaded = p.loaded;
        b.total = p.total;
        if (b.allLoaded === null && p.total > 0 && p.loaded >= p.total) b.allLoaded = now();
      }
    }
    if (b.allLoaded === null) setTimeout(poll, 50);
  };
  setTimeout(poll, 50);
})();

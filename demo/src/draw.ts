/**
 * The drawing pad and the MNIST preprocessing of what is drawn.
 *
 * MNIST digits were size-normalized to fit a 20×20 box (keeping the aspect
 * ratio), anti-aliased, then placed in a 28×28 image so that their centre of
 * mass sits at the centre. `toMnist` does the same to a drawing.
 */

export const SIDE = 28;

/** Grey levels in [0, 1] of a square canvas (white ink on black). */
export function canvasGrey(canvas: HTMLCanvasElement): Float32Array {
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const g = new Float32Array(canvas.width * canvas.height);
  for (let i = 0; i < g.length; i++) g[i] = data[4 * i]! / 255; // red channel: ink is white
  return g;
}

/** Area-averages `src` (w×h) down or up to (ow×oh), separably. */
function resample(src: Float32Array, w: number, h: number, ow: number, oh: number): Float32Array {
  const axis = (n: number, on: number) => {
    // For each output cell, the source cells it covers and their weights.
    const cells: Array<Array<[number, number]>> = [];
    const scale = n / on;
    for (let o = 0; o < on; o++) {
      const a = o * scale, b = (o + 1) * scale, list: Array<[number, number]> = [];
      for (let i = Math.floor(a); i < Math.min(n, Math.ceil(b)); i++) {
        const wgt = Math.min(b, i + 1) - Math.max(a, i);
        if (wgt > 0) list.push([i, wgt / scale]);
      }
      cells.push(list);
    }
    return cells;
  };
  const cx = axis(w, ow), cy = axis(h, oh);
  const tmp = new Float32Array(ow * h);
  for (let y = 0; y < h; y++) {
    for (let o = 0; o < ow; o++) {
      let s = 0;
      for (const [i, wgt] of cx[o]!) s += src[y * w + i]! * wgt;
      tmp[y * ow + o] = s;
    }
  }
  const out = new Float32Array(ow * oh);
  for (let o = 0; o < oh; o++) {
    for (const [i, wgt] of cy[o]!) {
      for (let x = 0; x < ow; x++) out[o * ow + x]! += tmp[i * ow + x]! * wgt;
    }
  }
  return out;
}

/**
 * A drawing (side×side grey levels) as a 28×28 MNIST-style input, or
 * undefined when nothing is drawn.
 */
export function toMnist(grey: Float32Array, side: number): Float32Array | undefined {
  let x0 = side, y0 = side, x1 = -1, y1 = -1;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      if (grey[y * side + x]! > 0.05) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  if (x1 < 0) return undefined;
  const w = x1 - x0 + 1, h = y1 - y0 + 1;
  // Fit the longer side to 20 pixels, keeping the aspect ratio.
  const ow = Math.max(1, Math.round((20 * w) / Math.max(w, h)));
  const oh = Math.max(1, Math.round((20 * h) / Math.max(w, h)));
  const crop = new Float32Array(w * h);
  for (let y = 0; y < h; y++) crop.set(grey.subarray((y0 + y) * side + x0, (y0 + y) * side + x0 + w), y * w);
  const small = resample(crop, w, h, ow, oh);
  // Centre of mass of the small image, then place it so that it lands on (14, 14).
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const v = small[y * ow + x]!;
      mass += v; mx += v * (x + 0.5); my += v * (y + 0.5);
    }
  }
  const dx = Math.round(SIDE / 2 - mx / mass), dy = Math.round(SIDE / 2 - my / mass);
  const out = new Float32Array(SIDE * SIDE);
  for (let y = 0; y < oh; y++) {
    for (let x = 0; x < ow; x++) {
      const tx = x + dx, ty = y + dy;
      if (tx >= 0 && tx < SIDE && ty >= 0 && ty < SIDE) out[ty * SIDE + tx] = Math.min(1, small[y * ow + x]!);
    }
  }
  return out;
}

/** Paints a 28×28 image onto a canvas of any size (nearest neighbour, white on black). */
export function paintDigit(canvas: HTMLCanvasElement, image: Float32Array): void {
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const small = new ImageData(SIDE, SIDE);
  for (let i = 0; i < SIDE * SIDE; i++) {
    const v = Math.round(Math.min(1, Math.max(0, image[i]!)) * 255);
    small.data.set([v, v, v, 255], 4 * i);
  }
  const tmp = document.createElement('canvas');
  tmp.width = tmp.height = SIDE;
  tmp.getContext('2d')!.putImageData(small, 0, 0);
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = '#000';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(tmp, 0, 0, canvas.width, canvas.height);
}

/**
 * Pointer drawing on `canvas` (mouse, pen and touch). `onStroke` runs while
 * drawing (throttled to animation frames) and when a stroke ends.
 */
export function attachPad(canvas: HTMLCanvasElement, onStroke: () => void): { clear(): void } {
  const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
  const clear = () => {
    ctx.fillStyle = '#000';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
  };
  clear();
  let last: [number, number] | undefined;
  let pending = false;
  const at = (e: PointerEvent): [number, number] => {
    const r = canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * canvas.width) / r.width, ((e.clientY - r.top) * canvas.height) / r.height];
  };
  const line = (a: [number, number], b: [number, number]) => {
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = canvas.width / 11;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.beginPath();
    ctx.moveTo(...a);
    ctx.lineTo(...b);
    ctx.stroke();
    if (!pending) {
      pending = true;
      requestAnimationFrame(() => { pending = false; onStroke(); });
    }
  };
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    last = at(e);
    line(last, last);
  });
  canvas.addEventListener('pointermove', (e) => {
    if (!last) return;
    const p = at(e);
    line(last, p);
    last = p;
  });
  const end = () => {
    if (last) onStroke();
    last = undefined;
  };
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);
  return { clear };
}

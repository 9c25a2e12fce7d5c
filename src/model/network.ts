/**
 * The network: layers bound to one arena, forward and backward, parameters
 * and state in file order. It knows nothing of losses, optimizers or files.
 *
 * One arena per model, planned from a table of sizes (see `planArena`):
 *
 *   params | state | snapshot.params | snapshot.state | pending.state | optimizer slots |
 *   grads | per-layer outputs | per-layer saved buffers | gradA | gradB | batch x | batch y
 *
 * params, grads and each optimizer slot share one layout, so an optimizer is
 * one kernel call over the whole block. Everything up to the optimizer slots
 * persists across a re-plan and comes first, so growing the arena keeps it in
 * place (Heap.realloc) and only the batch-sized part moves. State includes
 * what layers keep outside the file (BatchNorm's counter), so copying the
 * state block snapshots all of it.
 */
import type { Backend } from '../backend/index.js';
import type { Kernels, Ptr } from '../backend/types.js';
import { mustBe, rangeError, StateError, typeError } from '../errors.js';
import { MAX_ARENA_BYTES, planArena, type Plan } from './arena.js';
import { Layer, shapeSize, type Binding, type NamedParameter, type Training } from './layer.js';
import { PackedWeights } from './packed-weights.js';
import { Random } from './random.js';

export class Network {
  readonly layers: readonly Layer[];
  readonly backend: Backend;
  /** Unchecked kernels: the network plans every pointer itself. */
  readonly k: Kernels;
  readonly nParams: number;
  readonly nState: number;
  /** Fewest rows a training batch may have (2 with a BatchNorm). */
  readonly minTrainingRows: number;
  private readonly maxWidth: number;
  /** The input's shape: options.inputShape, or [the first layer's inFeatures]. */
  readonly inputShape: readonly number[];
  /** Each layer's output shape. */
  readonly shapes: readonly (readonly number[])[];
  readonly #inFeatures: number;
  /** fused[i]: layer i runs layer i + 1 inside its kernels. */
  private readonly fused: boolean[];
  private arena: Ptr | undefined;
  private plan!: Plan;
  /** Per-layer output pointers, refreshed whenever the arena is (re)planned: the hot loop builds no names. */
  private outPtrs: Ptr[] = [];
  private _capacity = 0;
  private _slots = 0;
  private bindings: Binding[] = [];
  /** The layers' packed copies of params for inference: every write of the params block must call `packs.changed()`. */
  readonly packs: PackedWeights;

  /** Checks the stack (widths first: a refused network leaves its layers as they were), builds it and plans its arena for `capacity` rows. */
  constructor(layers: Layer[], backend: Backend, fuse: boolean, inputShape?: readonly number[]) {
    if (!Array.isArray(layers) || layers.length === 0) {
      throw mustBe('Sequential', 'layers', 'a non-empty array of layers', layers);
    }
    layers.forEach((l, i) => {
      if (!(l instanceof Layer)) throw mustBe('Sequential', `layers[${i}]`, 'a Layer', l);
    });
    if (new Set(layers).size !== layers.length) throw typeError('Sequential: the same layer object appears twice in layers', { argument: 'layers' });
    const taken = layers.findIndex((l) => l.attached);
    if (taken >= 0) {
      throw typeError(`Sequential: layers[${taken}] (${layers[taken]!.type}) already belongs to another model; create new layers for each model (or dispose the other model first)`, { argument: `layers[${taken}]` });
    }
    const { input, shapes } = checkShapes(layers, inputShape);
    const widths = shapes.map(shapeSize);
    this.inputShape = input;
    this.shapes = shapes;
    this.#inFeatures = shapeSize(input);
    this.layers = [...layers];
    this.backend = backend;
    this.k = backend.unchecked;
    this.packs = new PackedWeights(backend.heap, this.k);
    try {
      this.layers.forEach((l, i) => l.build(i === 0 ? this.#inFeatures : widths[i - 1]!, this.layers.slice(i + 1), i === 0 ? input : shapes[i - 1]!));
      this.fused = this.layers.map((l, i) => fuse && i + 1 < this.layers.length && l.canFuse(this.layers[i + 1]!));
      this.nParams = sum(this.layers.flatMap((l) => l.paramSpecs().map((s) => s.size)));
      this.nState = sum(this.layers.flatMap((l) => l.stateSpecs().map((s) => s.size)));
      this.minTrainingRows = Math.max(...this.layers.map((l) => l.minTrainingRows));
      this.maxWidth = Math.max(this.#inFeatures, ...widths);
      this.replan(1, 0);
    } catch (e) {
      for (const l of this.layers) l.unbuild();
      throw e;
    }
  }

  get inFeatures(): number {
    return this.#inFeatures;
  }

  get outFeatures(): number {
    return this.layers[this.layers.length - 1]!.outFeatures;
  }

  /** Rows a batch may have without a re-plan. */
  get capacity(): number {
    return this._capacity;
  }

  /** Optimizer slots the arena holds. */
  get slots(): number {
    return this._slots;
  }

  get disposed(): boolean {
    return this.arena === undefined;
  }

  // ------------------------------------------------------------------ arena

  private table(capacity: number, slots: number): Array<[string, number]> {
    const t: Array<[string, number]> = [
      ['params', this.nParams],
      ['state', this.nState],
      // what a diverging fit returns to, and the state before the current batch (see train/divergence.ts)
      ['snapshot.params', this.nParams],
      ['snapshot.state', this.nState],
      ['pending.state', this.nState],
    ];
    for (let s = 0; s < slots; s++) t.push([`opt${s}`, this.nParams]);
    t.push(['grads', this.nParams]);
    this.layers.forEach((l, i) => {
      t.push([`out${i}`, capacity * l.outFeatures]);
      for (const s of l.savedSpecs()) t.push([`saved${i}.${s.name}`, s.floats(capacity)]);
    });
    t.push(['gradA', capacity * this.maxWidth], ['gradB', capacity * this.maxWidth]);
    t.push(['x', capacity * this.inFeatures], ['y', capacity * Math.max(1, this.outFeatures)]);
    return t;
  }

  /**
   * (Re)plans the arena for `capacity` rows and `slots` optimizer slots,
   * keeping params, state and the optimizer slots both plans have; new slots
   * are zeroed. Throws (changing nothing) when memory runs out.
   */
  replan(capacity: number, slots: number): void {
    const plan = planArena(this.table(capacity, slots));
    if (plan.bytes > MAX_ARENA_BYTES) {
      throw rangeError(
        `Sequential: the model needs ${plan.bytes} bytes for its parameters, optimizer state and a batch of ${capacity} rows, more than the ${MAX_ARENA_BYTES} bytes (4 GiB) a WebAssembly memory can hold`,
        { argument: 'layers', expected: `at most ${MAX_ARENA_BYTES} bytes`, received: `${plan.bytes} bytes` },
      );
    }
    const heap = this.backend.heap;
    this.packs.free(this.bindings);
    let ptr: Ptr;
    if (this.arena === undefined) {
      ptr = heap.alloc(plan.bytes);
    } else {
      const kept = Math.min(this._slots, slots);
      const keepBytes = plan.offsets.get(kept < slots ? `opt${kept}` : 'grads')!;
      ptr = heap.realloc(this.arena, plan.bytes, keepBytes);
    }
    for (let s = this._slots; s < slots; s++) this.k.fill(ptr + plan.offsets.get(`opt${s}`)!, this.nParams, 0);
    this.arena = ptr;
    this.plan = plan;
    this._capacity = capacity;
    this._slots = slots;
    this.bindLayers();
  }

  /** Makes room for a batch of `rows` (at least 64 rows are planned at once). */
  ensureCapacity(rows: number): void {
    if (rows > this._capacity) this.replan(Math.max(rows, 64), this._slots);
  }

  /** The pointer of an arena block (see the table above). */
  block(name: string): Ptr {
    const o = this.plan.offsets.get(name);
    if (o === undefined || this.arena === undefined) throw new Error(`internal: no arena block ${name}`);
    return this.arena + o;
  }

  /** Layer i's output block. */
  out(i: number): Ptr {
    return this.outPtrs[i]!;
  }

  private bindLayers(): void {
    this.outPtrs = this.layers.map((_, i) => this.block(`out${i}`));
    let p = this.block('params'), g = this.block('grads'), s = this.block('state');
    const heap = this.backend.heap;
    this.bindings = this.layers.map((l, i) => {
      const b: Binding = { heap, params: {}, grads: {}, state: {}, saved: {}, packed: {} };
      for (const spec of l.paramSpecs()) {
        b.params[spec.name] = p;
        b.grads[spec.name] = g;
        p += spec.size * 4;
        g += spec.size * 4;
      }
      for (const spec of l.stateSpecs()) {
        b.state[spec.name] = s;
        s += spec.size * 4;
      }
      for (const spec of l.savedSpecs()) b.saved[spec.name] = this.block(`saved${i}.${spec.name}`);
      l.bind(b);
      return b;
    });
  }

  /** Draws the initial weights (seeded) and sets the initial state. */
  initialize(seed: number): void {
    const rng = new Random(seed);
    const heap = this.backend.heap;
    let p = this.block('params'), s = this.block('state');
    for (const l of this.layers) {
      const v = l.initialValues(rng);
      for (const spec of l.paramSpecs()) { heap.write(p, v[spec.name]!); p += spec.size * 4; }
      for (const spec of l.stateSpecs()) { heap.write(s, v[spec.name]!); s += spec.size * 4; }
    }
    if (this.nParams > 0) this.k.fill(this.block('grads'), this.nParams, 0);
    this.packs.changed();
  }

  // ------------------------------------------------------------------ forward / backward

  /**
   * Runs the layers on the batch in block 'x' (rows ≤ capacity) up to layer
   * `upTo`, and returns the pointer of its output. A fused pair (BatchNorm →
   * ReLU) writes only the second layer's output; `fuse: false` runs every layer.
   * `training: 'probe'` computes as in training but changes no state (see Training).
   */
  forward(rows: number, training: Training, upTo = this.layers.length - 1, fuse = true): Ptr {
    if (!training && rows >= 4) this.packs.ensure(this.layers, this.bindings);
    let inp = this.block('x');
    for (let i = 0; i <= upTo; i++) {
      const layer = this.layers[i]!;
      if (fuse && this.fused[i] && i + 1 <= upTo) {
        i++;
        layer.forwardFused(this.k, this.outPtrs[i]!, inp, rows, training);
      } else {
        layer.forward(this.k, this.outPtrs[i]!, inp, rows, training);
      }
      inp = this.outPtrs[i]!;
    }
    return inp;
  }

  /** Backward from dLoss/dOutput in 'gradA'. Parameter gradients are zeroed first. */
  backward(rows: number): void {
    if (this.nParams > 0) this.k.fill(this.block('grads'), this.nParams, 0);
    let dout = this.block('gradA'), dinp = this.block('gradB');
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const fusedPair = i > 0 && this.fused[i - 1];
      if (fusedPair) i--; // the second layer's backward runs inside the first's
      const inp = i === 0 ? this.block('x') : this.outPtrs[i - 1]!;
      if (fusedPair) this.layers[i]!.backwardFused(this.k, dinp, dout, inp, this.outPtrs[i + 1]!, rows);
      else this.layers[i]!.backward(this.k, dinp, dout, inp, this.outPtrs[i]!, rows, i > 0);
      [dout, dinp] = [dinp, dout];
    }
  }

  // ------------------------------------------------------------------ weights in file order

  /** Visits each layer's params then its file state, in file order, with their arena pointers. */
  private eachFileBuffer(visit: (ptr: Ptr, size: number, layer: Layer, name: string) => void): void {
    let p = this.block('params'), s = this.block('state');
    for (const l of this.layers) {
      for (const spec of l.paramSpecs()) { visit(p, spec.size, l, spec.name); p += spec.size * 4; }
      for (const spec of l.stateSpecs()) {
        if (spec.inFile !== false) visit(s, spec.size, l, spec.name);
        s += spec.size * 4;
      }
    }
  }

  /** Values in the file: nParams + the file part of the state. */
  get fileWeightCount(): number {
    let n = 0;
    this.eachFileBuffer((_p, size) => (n += size));
    return n;
  }

  /** Params and file state, in file order (each layer's params, then its state). */
  readWeights(): Float32Array {
    const heap = this.backend.heap;
    const out = new Float32Array(this.fileWeightCount);
    let o = 0;
    this.eachFileBuffer((ptr, size) => { out.set(heap.f32(ptr, size), o); o += size; });
    return out;
  }

  /** Writes params and file state from a file's weights. */
  writeWeights(weights: Float32Array): void {
    const heap = this.backend.heap;
    let w = 0;
    this.eachFileBuffer((ptr, size) => { heap.write(ptr, weights.subarray(w, w + size)); w += size; });
    this.packs.changed();
  }

  /** Writes the state kept outside the file (BatchNorm counters) from `from`'s layers (same topology, e.g. parsed from a checkpoint). */
  writeTransientState(from: readonly Layer[]): void {
    const heap = this.backend.heap;
    this.layers.forEach((l, i) => {
      const values = from[i]!.transientState();
      for (const [name, v] of Object.entries(values)) heap.write(this.block('state') + stateOffset(this.layers, l, name), v);
    });
  }

  /** All trainable parameters, named "<layer index>.<type>.<name>", with copies of value and gradient. */
  parameters(): NamedParameter[] {
    return this.layers.flatMap((l, i) => l.parameters().map((p) => ({ ...p, name: `${i}.${l.type}.${p.name}` })));
  }

  /** Returns the arena to the heap and releases the layers (they can join another model). */
  dispose(): void {
    if (this.arena === undefined) return;
    this.packs.free(this.bindings);
    this.backend.heap.free(this.arena);
    this.arena = undefined;
    for (const l of this.layers) {
      l.bind(undefined);
      l.unbuild();
    }
  }

  checkAlive(where: string): void {
    if (this.arena === undefined) throw new StateError(`${where}: the model was disposed`);
  }
}

/** The input shape and each layer's output shape, or the first layer's SHAPE_MISMATCH error. */
function checkShapes(layers: readonly Layer[], inputShape: readonly number[] | undefined): { input: number[]; shapes: number[][] } {
  const first = layers[0]!;
  if (inputShape === undefined && first.widthFromPrevious) {
    throw typeError(`Sequential: the first layer must be Dense or BatchNorm (it has no input width of its own; or give the model options.inputShape), got ${first.type}`, { argument: 'layers[0]', expected: 'a layer with an input width', received: first.type });
  }
  const input = inputShape ? [...inputShape] : [first.inFeatures];
  const shapes: number[][] = [];
  let shape: readonly number[] = input;
  layers.forEach((l, i) => shapes.push((shape = l.outputShape(shape, i))));
  return { input, shapes };
}

/** Byte offset of layer l's state buffer `name` in the state block. */
function stateOffset(layers: readonly Layer[], l: Layer, name: string): number {
  let s = 0;
  for (const layer of layers) {
    for (const spec of layer.stateSpecs()) {
      if (layer === l && spec.name === name) return s;
      s += spec.size * 4;
    }
  }
  throw new Error(`internal: no state ${name}`);
}

export function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

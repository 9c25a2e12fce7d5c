/** What the ONNX importers share: the chain being read, and attribute readers that name the node in their errors. */
import { findAttribute, AttributeProto_AttributeType, onnxFormatError, type NodeProto, type TensorProto } from './onnx-pb.js';
import { OnnxUnsupportedError, type OnnxLayerConfig } from './onnx-types.js';

/** eps of a Normalization read from ONNX (its Div holds sqrt(variance + eps) as one number). */
export const NORMALIZATION_EPS = 1e-7;

/** A layer being built from ONNX nodes: its config and its buffers by name (EXPORTS[type].buffers gives the order). */
export interface PendingLayer {
  config: OnnxLayerConfig;
  buffers: Record<string, Float32Array>;
  /** The node that made it (named in errors). */
  node: NodeProto;
  /** The tensor this layer writes (an Add may fold into a Dense only right after it). */
  output: string;
}

export interface ImportContext {
  opset: number;
  /** The chain's current tensor: its width (once known) and its rank and trailing dims (known at the graph input only). */
  features: number | undefined;
  rank: number;
  dims: Array<number | string> | undefined;
  layers: PendingLayer[];
  /** The chain tensor the node reads. */
  input: string;
  /** True when this node writes the graph output. */
  last: boolean;
  /** A constant input of the node (initializer or Constant output), or an error naming the node. */
  constant(n: NodeProto, slot: number, what: string): TensorProto;
  /** Set by a final Softmax that was dropped. */
  softmaxDropped: boolean;
  /**
   * While the chain is an image (rank 4): its channels and size, and the
   * order its elements are in: 'nchw' (what ONNX's image ops read) or 'nhwc'
   * (normcore's flat rows, before the Transpose normcore's export writes).
   */
  image?: { c: number; h: number; w: number; layout: 'nchw' | 'nhwc' };
  /** The model's inputShape [H, W, C] (normcore's NHWC rows), once an image is read. */
  inputShape?: number[];
  /**
   * After a Flatten of NCHW channels (PyTorch's order c, h, w; normcore
   * flattens h, w, c): the image it came from. The next Dense reads its weight
   * rows in that order; element-wise layers in between do not care.
   */
  nchwFlatten?: { c: number; h: number; w: number };
}

/** An INTS attribute, or `fallback` when absent. */
export function intsAttr(n: NodeProto, name: string, fallback: number[]): number[] {
  const a = findAttribute(n, name);
  if (!a) return fallback;
  if (a.type !== AttributeProto_AttributeType.INTS) throw onnxFormatError(`${nodeLabel(n)}: attribute ${name} is not INTS`);
  return a.ints.map((v) => Number(v));
}

export function nodeLabel(n: NodeProto): string {
  return `node ${JSON.stringify(n.name || '(unnamed)')} (${n.opType})`;
}

export function unsupported(n: NodeProto, why: string): never {
  throw new OnnxUnsupportedError(`fromOnnx: ${nodeLabel(n)}: ${why}`, n.name, n.opType);
}

export function intAttr(n: NodeProto, name: string, fallback: number): number {
  const a = findAttribute(n, name);
  if (!a) return fallback;
  if (a.type !== AttributeProto_AttributeType.INT) throw onnxFormatError(`${nodeLabel(n)}: attribute ${name} is not an INT`);
  return Number(a.i);
}

export function floatAttr(n: NodeProto, name: string, fallback: number): number {
  const a = findAttribute(n, name);
  if (!a) return fallback;
  if (a.type !== AttributeProto_AttributeType.FLOAT) throw onnxFormatError(`${nodeLabel(n)}: attribute ${name} is not a FLOAT`);
  return a.f;
}

export function stringAttr(n: NodeProto, name: string, fallback: string): string {
  const a = findAttribute(n, name);
  if (!a) return fallback;
  if (a.type !== AttributeProto_AttributeType.STRING) throw onnxFormatError(`${nodeLabel(n)}: attribute ${name} is not a STRING`);
  return new TextDecoder().decode(a.s);
}

/** Attributes a node may carry that fromOnnx does not act on must be at their defaults; any other attribute is refused. */
export function onlyAttributes(n: NodeProto, known: string[]): void {
  for (const a of n.attribute) if (!known.includes(a.name)) unsupported(n, `attribute ${a.name} is not supported`);
}

export function finite(n: NodeProto, values: Float32Array, what: string): Float32Array {
  const i = values.findIndex((v) => !Number.isFinite(v));
  if (i >= 0) throw onnxFormatError(`${nodeLabel(n)}: ${what} holds ${values[i]} at index ${i}`);
  return values;
}


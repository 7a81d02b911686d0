/**
 * A cold node pool, as a cluster autoscaler with a spot pool behaves: nodes hold `podsPerNode` pods;
 * when a pod fits nowhere, a new node is requested and becomes ready `provisionMs` later; pods placed
 * on it wait (Pending) until then. Empty nodes are kept (scale-down of nodes is not modelled: the
 * cluster autoscaler waits 10 minutes by default, longer than a demo).
 */
import { SupervisorError } from './errors.ts';

export interface NodeModel {
  /** K: pods per node. */
  readonly podsPerNode: number;
  /** T: time from request to a ready node. */
  readonly provisionMs: number;
  /** Nodes ready from the start (a warm pool). Default 0. */
  readonly initialNodes?: number;
  /** Most nodes the pool may grow to; pods beyond stay Pending. Default unlimited. */
  readonly maxNodes?: number;
}

interface Node {
  name: string;
  readyAt: number;
  ready: boolean;
  pods: Set<string>;
  timer: NodeJS.Timeout | undefined;
}

export class NodePool {
  readonly #model: NodeModel;
  readonly #now: () => number;
  readonly #onReady: () => void;
  readonly #nodes: Node[] = [];

  constructor(model: NodeModel, now: () => number, onReady: () => void) {
    if (!Number.isInteger(model.podsPerNode) || model.podsPerNode < 1)
      throw new SupervisorError('NODE_MODEL_INVALID', `podsPerNode must be an integer >= 1, got ${model.podsPerNode}`);
    if (!(model.provisionMs >= 0)) throw new SupervisorError('NODE_MODEL_INVALID', `provisionMs must be >= 0, got ${model.provisionMs}`);
    this.#model = model;
    this.#now = now;
    this.#onReady = onReady;
    for (let i = 0; i < (model.initialNodes ?? 0); i += 1)
      this.#nodes.push({ name: `node-${i + 1}`, readyAt: now(), ready: true, pods: new Set(), timer: undefined });
  }

  /** Places a pod on a node with room (ready nodes first), requesting a new node if none has room. */
  place(pod: string): { node: string; ready: boolean } | undefined {
    const existing = this.#nodes.find((n) => n.pods.has(pod));
    if (existing) return { node: existing.name, ready: existing.ready };
    const withRoom = this.#nodes
      .filter((n) => n.pods.size < this.#model.podsPerNode)
      .sort((a, b) => Number(b.ready) - Number(a.ready) || a.readyAt - b.readyAt)[0];
    const node = withRoom ?? this.#provision();
    if (!node) return undefined;
    node.pods.add(pod);
    return { node: node.name, ready: node.ready };
  }

  release(pod: string): void {
    for (const node of this.#nodes) node.pods.delete(pod);
  }

  list(): { name: string; ready: boolean; readyAt: number; pods: number }[] {
    return this.#nodes.map((n) => ({ name: n.name, ready: n.ready, readyAt: n.readyAt, pods: n.pods.size }));
  }

  close(): void {
    for (const node of this.#nodes) clearTimeout(node.timer);
  }

  #provision(): Node | undefined {
    if (this.#model.maxNodes !== undefined && this.#nodes.length >= this.#model.maxNodes) return undefined;
    const node: Node = {
      name: `node-${this.#nodes.length + 1}`,
      readyAt: this.#now() + this.#model.provisionMs,
      ready: false,
      pods: new Set(),
      timer: undefined,
    };
    node.timer = setTimeout(() => {
      node.ready = true;
      node.timer = undefined;
      this.#onReady();
    }, this.#model.provisionMs);
    this.#nodes.push(node);
    return node;
  }
}

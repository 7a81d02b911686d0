/**
 * A discrete-event virtual clock: callbacks sit in a binary heap ordered by (time, insertion order), so
 * two events at the same instant always run in the order they were scheduled — the tie-break that
 * makes a seeded run reproducible byte for byte. Nothing sleeps: `run` jumps from event to event.
 */
interface Entry {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void | Promise<void>;
  cancelled: boolean;
}

export class EventQueue {
  #heap: Entry[] = [];
  #seq = 0;
  #now: number;
  #processed = 0;

  constructor(startAt: number) {
    this.#now = startAt;
  }

  now(): number {
    return this.#now;
  }

  get processed(): number {
    return this.#processed;
  }

  get size(): number {
    return this.#heap.length;
  }

  /** Runs `fn` `ms` after now; returns a canceller. */
  after(ms: number, fn: () => void | Promise<void>): () => void {
    return this.at(this.#now + Math.max(0, ms), fn);
  }

  at(time: number, fn: () => void | Promise<void>): () => void {
    const entry: Entry = { at: Math.max(time, this.#now), seq: this.#seq++, fn, cancelled: false };
    const heap = this.#heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(heap[i] as Entry, heap[parent] as Entry)) break;
      [heap[i], heap[parent]] = [heap[parent] as Entry, heap[i] as Entry];
      i = parent;
    }
    return () => {
      entry.cancelled = true;
    };
  }

  #pop(): Entry | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && less(heap[l] as Entry, heap[m] as Entry)) m = l;
      if (r < heap.length && less(heap[r] as Entry, heap[m] as Entry)) m = r;
      if (m === i) break;
      [heap[i], heap[m]] = [heap[m] as Entry, heap[i] as Entry];
      i = m;
    }
    return top;
  }

  /** Runs events in order until none is left, `until` returns true, or time passes `limitAt`. */
  async run(until: () => boolean, limitAt: number): Promise<void> {
    while (!until()) {
      const entry = this.#pop();
      if (entry === undefined) return;
      if (entry.cancelled) continue;
      if (entry.at > limitAt) return;
      this.#now = entry.at;
      this.#processed += 1;
      const result = entry.fn();
      if (result !== undefined) await result;
    }
  }
}

function less(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}

/**
 * The engine's `Clock` over the event queue. The engine is an async loop: when its sleep ends, the
 * tick that follows runs in promise continuations, after the timer's callback has returned. So the
 * event that wakes it holds the queue (returns a promise) until the loop asks for its next sleep or
 * ends (`release`); virtual time cannot move on while a tick is still deciding at the old instant.
 * One loop per clock: every `after` hands the queue back.
 */
export class VirtualClock {
  readonly #queue: EventQueue;
  #resume: (() => void) | undefined;

  constructor(queue: EventQueue) {
    this.#queue = queue;
  }

  now(): number {
    return this.#queue.now();
  }

  after(ms: number, callback: () => void): () => void {
    this.release();
    return this.#queue.after(ms, () => this.#hold(callback));
  }

  /** Starts the loop as an event now, holding the queue until its first sleep. */
  start(loop: () => void): void {
    this.#queue.after(0, () => this.#hold(loop));
  }

  /** Lets the queue go on (the loop ended without asking for another sleep). */
  release(): void {
    const resume = this.#resume;
    this.#resume = undefined;
    resume?.();
  }

  #hold(callback: () => void): Promise<void> {
    const held = new Promise<void>((resolve) => {
      this.#resume = resolve;
    });
    callback();
    return held;
  }
}

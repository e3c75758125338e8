// The Sublist: devbox's subject → subscriptions index, shaped like nats-server's.
//
// A trie of subject levels. Every level holds its literal children in a Map plus two special
// branches: `*` (pwc, matches exactly one token) and `>` (fwc, matches one or more trailing
// tokens). `match(subject)` walks the literal and `*` branches token by token and collects the
// `>` leaves it passes. Results are immutable and cached per subject (bounded); inserting a
// subscription patches the cached results it matches (copy-on-write), removing one drops them.

/** What the Sublist needs to know about a subscription. */
export interface SublistEntry {
  readonly subject: string;
  /** Queue group name, or undefined for a plain subscription. */
  readonly queue: string | undefined;
}

/** Result of a match: plain subscriptions, and queue subscriptions grouped by queue name. */
export interface SublistResult<S extends SublistEntry> {
  readonly psubs: readonly S[];
  /** One array per queue group; every member of a group has the same `queue`. */
  readonly qsubs: readonly (readonly S[])[];
}

export class InvalidSubjectError extends Error {
  constructor(subject: string) {
    super(`invalid subject: ${JSON.stringify(subject)}`);
    this.name = 'InvalidSubjectError';
  }
}

// ---------------------------------------------------------------------------------------------
// Subject helpers. Tokens are separated by '.', none may be empty, no whitespace is allowed,
// `>` may only be the last token, and `*`/`>` are wildcards only as whole tokens ("a.b*" is a
// literal subject).

const isWhitespace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;

/** A subject usable in SUB: wildcards allowed (`>` only last). */
export function isValidSubject(subject: string): boolean {
  const n = subject.length;
  if (n === 0) return false;
  let tokenStart = 0;
  let sawFwc = false;
  for (let i = 0; i <= n; i++) {
    const c = i === n ? 0x2e : subject.charCodeAt(i);
    if (c === 0x2e) {
      const len = i - tokenStart;
      if (len === 0 || sawFwc) return false;
      if (len === 1 && subject.charCodeAt(tokenStart) === 0x3e) sawFwc = true;
      tokenStart = i + 1;
    } else if (isWhitespace(c)) {
      return false;
    }
  }
  return true;
}

/** A subject usable in PUB: valid and free of wildcard tokens. */
export function isValidLiteralSubject(subject: string): boolean {
  return isValidSubject(subject) && !subjectHasWildcard(subject);
}

/** True when some whole token of `subject` is `*` or `>`. */
export function subjectHasWildcard(subject: string): boolean {
  const n = subject.length;
  for (let i = 0; i < n; i++) {
    const c = subject.charCodeAt(i);
    if ((c === 0x2a || c === 0x3e) && (i === 0 || subject.charCodeAt(i - 1) === 0x2e) && (i + 1 === n || subject.charCodeAt(i + 1) === 0x2e)) {
      return true;
    }
  }
  return false;
}

/**
 * Does the (literal) `subject` match the subscription `pattern`? Wildcards in `subject` are
 * treated as plain tokens, exactly like the trie does when a publisher sends one.
 */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    const t = p[i];
    if (t === '>') return s.length > i;
    if (i >= s.length) return false;
    if (t !== '*' && t !== s[i]) return false;
  }
  return p.length === s.length;
}

// ---------------------------------------------------------------------------------------------

class SlNode<S extends SublistEntry> {
  next: SlLevel<S> | undefined;
  readonly psubs = new Set<S>();
  qsubs: Map<string, Set<S>> | undefined;

  isEmpty(): boolean {
    return this.psubs.size === 0 && (this.qsubs === undefined || this.qsubs.size === 0) && (this.next === undefined || this.next.isEmpty());
  }
}

class SlLevel<S extends SublistEntry> {
  readonly nodes = new Map<string, SlNode<S>>();
  pwc: SlNode<S> | undefined;
  fwc: SlNode<S> | undefined;

  isEmpty(): boolean {
    return this.nodes.size === 0 && this.pwc === undefined && this.fwc === undefined;
  }
}

export interface SublistOptions {
  /** Most subjects whose results are cached (nats-server uses 1024). 0 disables the cache. */
  cacheSize?: number;
}

const EMPTY: SublistResult<never> = Object.freeze({ psubs: Object.freeze([]), qsubs: Object.freeze([]) });

export class Sublist<S extends SublistEntry> {
  private readonly root = new SlLevel<S>();
  private readonly cache = new Map<string, SublistResult<S>>();
  private readonly cacheMax: number;
  private subCount = 0;
  /** Counters for tests and /varz. */
  readonly stats = { matches: 0, cacheHits: 0, inserts: 0, removes: 0 };

  constructor(options: SublistOptions = {}) {
    this.cacheMax = options.cacheSize ?? 1024;
  }

  count(): number {
    return this.subCount;
  }

  cacheCount(): number {
    return this.cache.size;
  }

  /** Adds a subscription. Throws InvalidSubjectError when its subject is not a valid subject. */
  insert(sub: S): void {
    if (!isValidSubject(sub.subject)) throw new InvalidSubjectError(sub.subject);
    const tokens = sub.subject.split('.');
    let level = this.root;
    let node: SlNode<S> | undefined;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (t === '*') {
        node = level.pwc ??= new SlNode<S>();
      } else if (t === '>') {
        node = level.fwc ??= new SlNode<S>();
      } else {
        node = level.nodes.get(t);
        if (node === undefined) {
          node = new SlNode<S>();
          level.nodes.set(t, node);
        }
      }
      if (i < tokens.length - 1) level = node.next ??= new SlLevel<S>();
    }
    // node is set: a valid subject has at least one token.
    const leaf = node as SlNode<S>;
    if (sub.queue === undefined) {
      if (leaf.psubs.has(sub)) return;
      leaf.psubs.add(sub);
    } else {
      leaf.qsubs ??= new Map();
      let group = leaf.qsubs.get(sub.queue);
      if (group === undefined) {
        group = new Set();
        leaf.qsubs.set(sub.queue, group);
      }
      if (group.has(sub)) return;
      group.add(sub);
    }
    this.subCount++;
    this.stats.inserts++;
    this.addToCache(sub);
  }

  /** Removes a subscription; returns false when it was not there. */
  remove(sub: S): boolean {
    if (!isValidSubject(sub.subject)) return false;
    const tokens = sub.subject.split('.');
    const path: { level: SlLevel<S>; node: SlNode<S>; token: string }[] = [];
    let level: SlLevel<S> | undefined = this.root;
    let node: SlNode<S> | undefined;
    for (let i = 0; i < tokens.length; i++) {
      if (level === undefined) return false;
      const t = tokens[i];
      node = t === '*' ? level.pwc : t === '>' ? level.fwc : level.nodes.get(t);
      if (node === undefined) return false;
      path.push({ level, node, token: t });
      level = node.next;
    }
    const leaf = node as SlNode<S>;
    let removed = false;
    if (sub.queue === undefined) {
      removed = leaf.psubs.delete(sub);
    } else {
      const group = leaf.qsubs?.get(sub.queue);
      if (group !== undefined) {
        removed = group.delete(sub);
        if (group.size === 0) leaf.qsubs?.delete(sub.queue);
      }
    }
    if (!removed) return false;
    this.subCount--;
    this.stats.removes++;
    // Prune empty nodes bottom-up.
    for (let i = path.length - 1; i >= 0; i--) {
      const { level: lv, node: nd, token } = path[i];
      if (nd.next !== undefined && nd.next.isEmpty()) nd.next = undefined;
      if (!nd.isEmpty()) break;
      if (token === '*') lv.pwc = undefined;
      else if (token === '>') lv.fwc = undefined;
      else lv.nodes.delete(token);
    }
    this.removeFromCache(sub);
    return true;
  }

  /** All subscriptions whose subject matches `subject`. Invalid subjects match nothing. */
  match(subject: string): SublistResult<S> {
    this.stats.matches++;
    const cached = this.cache.get(subject);
    if (cached !== undefined) {
      this.stats.cacheHits++;
      return cached;
    }
    const result = this.matchNoCache(subject);
    if (result === undefined) return EMPTY;
    if (this.cacheMax > 0) {
      this.cache.set(subject, result);
      if (this.cache.size > this.cacheMax) this.pruneCache();
    }
    return result;
  }

  /** undefined for a subject that cannot match anything (and must not be cached). */
  private matchNoCache(subject: string): SublistResult<S> | undefined {
    // Tokenize; an empty token (leading, trailing or double dot) means no match, as nats-server.
    const tokens = subject.split('.');
    for (const t of tokens) if (t.length === 0) return undefined;
    const psubs: S[] = [];
    let qmap: Map<string, S[]> | undefined;
    const collect = (node: SlNode<S>) => {
      for (const s of node.psubs) psubs.push(s);
      if (node.qsubs !== undefined && node.qsubs.size > 0) {
        qmap ??= new Map();
        for (const [name, group] of node.qsubs) {
          let arr = qmap.get(name);
          if (arr === undefined) {
            arr = [];
            qmap.set(name, arr);
          }
          for (const s of group) arr.push(s);
        }
      }
    };
    const walk = (level: SlLevel<S>, i: number) => {
      const t = tokens[i];
      const last = i === tokens.length - 1;
      if (level.fwc !== undefined) collect(level.fwc);
      if (level.pwc !== undefined) {
        if (last) collect(level.pwc);
        else if (level.pwc.next !== undefined) walk(level.pwc.next, i + 1);
      }
      const node = level.nodes.get(t);
      if (node !== undefined) {
        if (last) collect(node);
        else if (node.next !== undefined) walk(node.next, i + 1);
      }
    };
    walk(this.root, 0);
    if (psubs.length === 0 && qmap === undefined) return EMPTY;
    return { psubs, qsubs: qmap === undefined ? [] : [...qmap.values()] };
  }

  private addToCache(sub: S): void {
    for (const [subject, result] of this.cache) {
      if (!subjectMatches(sub.subject, subject)) continue;
      let patched: SublistResult<S>;
      if (sub.queue === undefined) {
        patched = { psubs: [...result.psubs, sub], qsubs: result.qsubs };
      } else {
        const idx = result.qsubs.findIndex((g) => g[0]?.queue === sub.queue);
        const qsubs = result.qsubs.slice();
        if (idx < 0) qsubs.push([sub]);
        else qsubs[idx] = [...qsubs[idx], sub];
        patched = { psubs: result.psubs, qsubs };
      }
      this.cache.set(subject, patched);
    }
  }

  private removeFromCache(sub: S): void {
    for (const subject of this.cache.keys()) {
      if (subjectMatches(sub.subject, subject)) this.cache.delete(subject);
    }
  }

  private pruneCache(): void {
    // Drop the oldest quarter (Map iterates in insertion order).
    let drop = this.cache.size - Math.floor(this.cacheMax * 0.75);
    for (const subject of this.cache.keys()) {
      if (drop-- <= 0) break;
      this.cache.delete(subject);
    }
  }
}

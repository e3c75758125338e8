import assert from 'node:assert/strict';
import {
  InvalidSubjectError,
  Sublist,
  isValidLiteralSubject,
  isValidSubject,
  subjectHasWildcard,
  subjectMatches,
  type SublistEntry,
} from '../../../src/runtime/bus/sublist.js';

interface TestSub extends SublistEntry {
  id: string;
}
const sub = (id: string, subject: string, queue?: string): TestSub => ({ id, subject, queue });
const ids = (subs: readonly TestSub[]) => subs.map((s) => s.id).sort();

describe('bus sublist', () => {
  it('validates subjects', () => {
    for (const ok of ['foo', 'foo.bar', '*', '>', 'foo.*', 'foo.>', '*.*.>', 'a.b*', 'a.>b', '_INBOX.x.*', 'ü.ß']) {
      assert.ok(isValidSubject(ok), ok);
    }
    for (const bad of ['', '.', 'foo.', '.foo', 'foo..bar', 'foo.>.bar', '>.x', 'foo bar', 'foo\tbar', 'a\r\n']) {
      assert.ok(!isValidSubject(bad), JSON.stringify(bad));
    }
    assert.ok(isValidLiteralSubject('foo.bar'));
    assert.ok(isValidLiteralSubject('a.b*'));
    assert.ok(!isValidLiteralSubject('foo.*'));
    assert.ok(!isValidLiteralSubject('foo.>'));
    assert.ok(subjectHasWildcard('*'));
    assert.ok(!subjectHasWildcard('a*.b'));
    assert.ok(subjectMatches('foo.>', 'foo.a.b'));
    assert.ok(!subjectMatches('foo.>', 'foo'));
    assert.ok(subjectMatches('*.b', 'a.b'));
    assert.ok(!subjectMatches('*.b', 'a.b.c'));
  });

  it('matches literals, * and >, and > never matches the parent', () => {
    const sl = new Sublist<TestSub>();
    const subs = [sub('lit', 'foo.bar'), sub('star', 'foo.*'), sub('gt', 'foo.>'), sub('all', '>'), sub('mid', '*.bar.*'), sub('deep', 'foo.*.baz')];
    for (const s of subs) sl.insert(s);
    assert.equal(sl.count(), subs.length);
    assert.deepEqual(ids(sl.match('foo.bar').psubs), ['all', 'gt', 'lit', 'star']);
    assert.deepEqual(ids(sl.match('foo').psubs), ['all']);
    assert.deepEqual(ids(sl.match('foo.bar.baz').psubs), ['all', 'deep', 'gt', 'mid']);
    assert.deepEqual(ids(sl.match('x.bar.y').psubs), ['all', 'mid']);
    assert.deepEqual(ids(sl.match('foo..bar').psubs), [], 'invalid subjects match nothing');
    assert.deepEqual(ids(sl.match('foo.*').psubs), ['all', 'gt', 'star'], 'a wildcard in a published subject is a plain token');
  });

  it('groups queue subscriptions by queue name', () => {
    const sl = new Sublist<TestSub>();
    for (const s of [sub('a1', 'q.x', 'a'), sub('a2', 'q.*', 'a'), sub('b1', 'q.x', 'b'), sub('p', 'q.x')]) sl.insert(s);
    const r = sl.match('q.x');
    assert.deepEqual(ids(r.psubs), ['p']);
    const groups = r.qsubs.map((g) => ({ queue: g[0].queue, ids: ids(g) })).sort((x, y) => String(x.queue).localeCompare(String(y.queue)));
    assert.deepEqual(groups, [
      { queue: 'a', ids: ['a1', 'a2'] },
      { queue: 'b', ids: ['b1'] },
    ]);
  });

  it('throws on invalid subjects and removes cleanly', () => {
    const sl = new Sublist<TestSub>();
    assert.throws(() => sl.insert(sub('x', 'foo..bar')), InvalidSubjectError);
    assert.throws(() => sl.insert(sub('x', 'foo.>.bar')), InvalidSubjectError);
    const a = sub('a', 'a.b.c');
    const b = sub('b', 'a.*.c', 'q');
    sl.insert(a);
    sl.insert(b);
    assert.equal(sl.remove(a), true);
    assert.equal(sl.remove(a), false);
    assert.equal(sl.remove(b), true);
    assert.equal(sl.count(), 0);
    assert.deepEqual(sl.match('a.b.c'), { psubs: [], qsubs: [] });
  });

  it('caches results, patches them on insert and drops them on remove', () => {
    const sl = new Sublist<TestSub>();
    const a = sub('a', 'c.*');
    sl.insert(a);
    const first = sl.match('c.x');
    assert.equal(sl.match('c.x'), first, 'second match is the cached object');
    assert.equal(sl.stats.cacheHits, 1);
    const b = sub('b', 'c.>');
    const q = sub('q', 'c.x', 'grp');
    sl.insert(b);
    sl.insert(q);
    const patched = sl.match('c.x');
    assert.deepEqual(ids(patched.psubs), ['a', 'b']);
    assert.deepEqual(patched.qsubs.map(ids), [['q']]);
    assert.deepEqual(ids(first.psubs), ['a'], 'results are immutable snapshots');
    sl.insert(sub('other', 'd.x'));
    assert.equal(sl.match('c.x'), patched, 'unrelated inserts keep the entry');
    sl.remove(b);
    assert.deepEqual(ids(sl.match('c.x').psubs), ['a']);
  });

  it('keeps the cache bounded', () => {
    const sl = new Sublist<TestSub>({ cacheSize: 64 });
    sl.insert(sub('all', '>'));
    for (let i = 0; i < 1_000; i++) assert.equal(sl.match(`s.${i}`).psubs.length, 1);
    assert.ok(sl.cacheCount() <= 64);
  });
});

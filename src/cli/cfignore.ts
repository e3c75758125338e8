// `.cfignore`: which of an app directory's files `push` leaves out. The patterns are gitignore's, read
// the way the cf CLI reads them (go-gitignore): a pattern matches a path when it matches the path or
// any directory above it, the last matching pattern wins, and `!` takes a path back in, even inside
// an ignored directory. cf's own defaults come first, so a .cfignore can override them.

/** What the cf CLI always leaves out (cf's DefaultIgnoreLines). node_modules is not among them. */
export const DEFAULT_CFIGNORE = ['.cfignore', '/manifest.yml', '.gitignore', '.git', '.hg', '.svn', '_darcs', '.DS_Store'];

interface Pattern {
  source: string;
  regex: RegExp;
  negated: boolean;
  directoryOnly: boolean;
}

export class CfIgnore {
  private readonly patterns: Pattern[];

  /** `text` is a .cfignore's content; cf's defaults are added before it unless `defaults` is false. */
  constructor(text = '', { defaults = true }: { defaults?: boolean } = {}) {
    const lines = [...(defaults ? DEFAULT_CFIGNORE : []), ...text.split(/\r?\n/)];
    this.patterns = lines.map(compile).filter((p): p is Pattern => p !== undefined);
  }

  /** Some pattern takes paths back in (`!`): an ignored directory must still be looked into. */
  get hasNegations(): boolean {
    return this.patterns.some((p) => p.negated);
  }

  /** Whether `relPath` ('/'-separated, relative to the app directory) is left out. */
  ignores(relPath: string, isDirectory = false): boolean {
    const parts = relPath.split('/').filter(Boolean);
    // The path itself and every directory above it, each with whether it is a directory.
    const candidates = parts.map((_, i) => ({ path: parts.slice(0, i + 1).join('/'), dir: i < parts.length - 1 || isDirectory }));
    let ignored = false;
    for (const pattern of this.patterns) {
      if (ignored === !pattern.negated) continue; // cannot change the outcome
      if (candidates.some((c) => (!pattern.directoryOnly || c.dir) && pattern.regex.test(c.path))) ignored = !pattern.negated;
    }
    return ignored;
  }
}

function compile(line: string): Pattern | undefined {
  let text = line.replace(/(?<!\\)\s+$/, ''); // trailing blanks, unless escaped
  if (text === '' || text.startsWith('#')) return undefined;
  let negated = false;
  if (text.startsWith('!')) {
    negated = true;
    text = text.slice(1);
  } else if (text.startsWith('\\!') || text.startsWith('\\#')) {
    text = text.slice(1);
  }
  let directoryOnly = false;
  if (text.endsWith('/')) {
    directoryOnly = true;
    text = text.replace(/\/+$/, '');
  }
  if (text === '') return undefined;
  // A slash at the start or in the middle anchors the pattern at the app directory.
  const anchored = text.includes('/');
  text = text.replace(/^\/+/, '');
  const body = globToRegex(text);
  return { source: line, negated, directoryOnly, regex: new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`) };
}

const escapeRegex = (c: string) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** gitignore's globs: `*` and `?` stay within a path segment, `**` spans segments, `[...]` classes. */
export function globToRegex(glob: string): string {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const startsSegment = i === 0 || glob[i - 1] === '/';
        if (startsSegment && glob[i + 2] === '/') {
          out += '(?:.*/)?'; // `**/`: any number of directories, also none
          i += 2;
          continue;
        }
        if (startsSegment && i + 2 === glob.length) {
          out += '.*'; // trailing `/**`: everything inside
          i += 1;
          continue;
        }
        i += 1; // `**` inside a segment is a plain `*`
      }
      out += '[^/]*';
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end === -1) {
        out += '\\[';
        continue;
      }
      let cls = glob.slice(i + 1, end);
      const negate = cls.startsWith('!') || cls.startsWith('^');
      if (negate) cls = cls.slice(1);
      out += `[${negate ? '^/' : ''}${cls.replace(/\\/g, '\\\\').replace(/\]/g, '\\]')}]`;
      i = end;
    } else if (c === '\\' && i + 1 < glob.length) {
      out += escapeRegex(glob[++i]);
    } else {
      out += escapeRegex(c);
    }
  }
  return out;
}

/**
 * A glob pattern as Python's `fnmatch` reads it (Celery matches `task_routes` keys with
 * `fnmatch`), compiled to an anchored regular expression that matches the whole name:
 * `*` any sequence (dots included), `?` one character, `[abc]` / `[a-z]` a class,
 * `[!abc]` a negated class. A `[` without a closing `]` is a literal `[`, and a `]` right
 * after `[` or `[!` belongs to the class, as in fnmatch.
 */
export function globToRegExp(glob: string): RegExp {
  let source = '';
  let i = 0;
  while (i < glob.length) {
    const c = glob[i++];
    if (c === '*') {
      while (glob[i] === '*') i++;
      source += '.*';
    } else if (c === '?') {
      source += '.';
    } else if (c === '[') {
      let end = i;
      if (glob[end] === '!') end++;
      if (glob[end] === ']') end++;
      while (end < glob.length && glob[end] !== ']') end++;
      if (end >= glob.length) {
        source += '\\[';
      } else {
        let body = glob.slice(i, end);
        i = end + 1;
        const negated = body.startsWith('!');
        if (negated) body = body.slice(1);
        // Inside a JavaScript class `\`, `]`, `[` and a leading `^` mean something; fnmatch
        // gives them no meaning there, so they stay literal. `-` keeps its range meaning.
        source += `[${negated ? '^' : ''}${body.replace(/[\\\]\[^]/g, '\\$&')}]`;
      }
    } else {
      source += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  // `s`: like fnmatch's `(?s:…)`, a wildcard matches a newline too.
  return new RegExp(`^(?:${source})$`, 's');
}

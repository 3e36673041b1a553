"""Writing the report: number formats, Markdown tables, plot links, and the
template (bench/report_template.md) the prose lives in.

The template is a sequence of blocks, each starting with a line
`<!-- block: NAME -->` or `<!-- fragment: NAME -->`; text before the first
one is a note for editors and is not rendered. A block's text runs to the
next such line; leading and trailing blank lines are dropped, the rest is
copied as is with `${name}` (lower case) replaced by the value the code
gives. Any other `$` is literal, so shell snippets like `$T` need no escaping.

- A block is part of the document: the code gives each block it wants a dict
  of values; blocks it gives nothing are left out. Blocks render in template
  order, one blank line after each.
- A fragment is a piece the code renders on its own (fragment(NAME, ...)) and
  puts into a block's placeholder: a list item, one version's paragraph.
"""
import os
import re
import string

from . import settings as S

TEMPLATE = os.path.join(S.BENCH, "report_template.md")


# ---------------------------------------------------------------- numbers

def f(x, digits=1):
    if x is None:
        return "—"
    return f"{x:,.{digits}f}"


def ratio(a, b, digits=2):
    if a is None or b is None or b == 0:
        return "—"
    return f"{a / b:.{digits}f}×"


def pct(a, b):
    return f"{(a / b - 1) * 100:+.0f} %"


def mmm(s, digits=0):
    """'median (min–max)'"""
    return f"{f(s['median'], digits)} ({f(s['min'], digits)}–{f(s['max'], digits)})"


def met(r, target=1.10):
    return "met" if r <= target else "**missed**"


# ---------------------------------------------------------------- tables, paths, plots

NUMERIC = re.compile(r"^[-+]?[\d,.]+( ?[×%]| \(.*\))?$|^—$|^[-+]?\d[\d,.]* ±")


def table(header, rows):
    def align(i):
        if i == 0:
            return "---"
        cells = [str(r[i]) for r in rows]
        return "---:" if all(NUMERIC.match(c) for c in cells) else "---"
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(align(i) for i in range(len(header))) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def short(cmd, work):
    return cmd.replace(work, "$T").replace(S.ROOT + "/", "")


def plot_link(plots, key):
    """Values for a plot_* block: the SVG's link, or None (no plot, no block)."""
    p = (plots or {}).get(key)
    if not p:
        return None
    rel = os.path.relpath(p, os.path.dirname(S.OUT))
    return {"path": rel}


# ---------------------------------------------------------------- the template

class _Tpl(string.Template):
    # Only ${lower_case} is a placeholder; $T, $V, $$, ${HOME} stay literal.
    flags = 0  # (string.Template's default is IGNORECASE)
    pattern = r"""\$(?:
        (?P<escaped>(?!x)x) |
        (?P<named>(?!x)x) |
        \{(?P<braced>[a-z][a-z0-9_]*)\} |
        (?P<invalid>(?!x)x)
    )"""

    def fill(self, where, values):
        wanted = {m.group("braced") for m in self.pattern.finditer(self.template) if m.group("braced")}
        extra = set(values) - wanted
        if extra:
            raise KeyError(f"{where} has no placeholder(s) {', '.join(sorted(extra))}")
        try:
            return self.substitute(values)
        except KeyError as e:
            raise KeyError(f"{where}: no value for ${{{e.args[0]}}}") from None


_MARK = re.compile(r"^<!-- (block|fragment): ([a-z0-9_]+) -->\n", re.M)
_cache = {}


def load(path=TEMPLATE):
    """({block: template} in document order, {fragment: template})."""
    if path not in _cache:
        with open(path, encoding="utf-8") as fh:
            parts = _MARK.split(fh.read())
        blocks, fragments = {}, {}
        for kind, name, body in zip(parts[1::3], parts[2::3], parts[3::3], strict=True):
            if name in blocks or name in fragments:
                raise ValueError(f"{path}: {name} twice")
            (blocks if kind == "block" else fragments)[name] = _Tpl(body.strip("\n"))
        _cache[path] = blocks, fragments
    return _cache[path]


def fragment(name, path=TEMPLATE, **values):
    return load(path)[1][name].fill(f"fragment {name}", values)


def render(values, path=TEMPLATE):
    """values: {block: dict of placeholder values, or None to leave it out};
    returns the document."""
    blocks, _ = load(path)
    unknown = set(values) - set(blocks)
    if unknown:
        raise KeyError(f"no such block(s) in {path}: {', '.join(sorted(unknown))}")
    out = []
    for name, tpl in blocks.items():
        if values.get(name) is not None:
            out.append(tpl.fill(f"block {name}", values[name]) + "\n\n")
    return "".join(out)

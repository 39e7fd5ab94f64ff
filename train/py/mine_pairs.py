#!/usr/bin/python3
"""Mines (query, document) pairs for training the sparse head for retrieval.

Every pair comes from text installed on this machine (Debian packages and the repository's
node_modules), never from the evaluation sets. Sources, each capped so no single one dominates:

  py-doc    Python function docstring summary  ->  the function's code without its docstring
            (/usr/lib/python3.11, /usr/lib/python3/dist-packages; parsed with `ast`)
  py-prose  docstring summary (function, class, module) -> the rest of the docstring
  js-doc    JSDoc description                  ->  the following JS/TS function (node_modules)
  man-name  man page NAME line ("ls - list directory contents") -> its DESCRIPTION section
  man-xl    a translated man page's NAME line  ->  the English page's DESCRIPTION (cross-lingual)
  man-sec   man page subsection heading        ->  the subsection's text
  md-sec    Markdown heading                   ->  the section's text (node_modules, /usr/share/doc)
  ict       one sentence of a prose paragraph  ->  the rest of the paragraph (inverse cloze task)
  ts-diag   TypeScript diagnostic in English   <-> the same message in another language
Optional (`--with`; measured, not in the shipped pack's set):
  wn-gloss  a WordNet synset's words ("insulator dielectric nonconductor") -> its gloss and
            examples, none of which contain those words, for synsets of 2+ words (/usr/share/wordnet,
            Debian wordnet-base): synonyms and definitions, the mismatch lexical search cannot bridge
  rst-sec   Python documentation heading       ->  the section's prose (/usr/share/doc/python3.11,
            Debian python3.11-doc, reST sources); its paragraphs also feed `ict`
  deb-desc  a Debian package's synopsis ("GNU Circuit Analysis package") -> its long description:
            English prose about every field Debian packages software for (science, electronics,
            medicine, languages). Read from apt's English translation index, which a default
            image does not fetch: `apt-get update -o Acquire::Languages=en` once.

Writes one JSON object per line: {"q", "d", "source", "kind"} (kind: code | prose | xl), plus
a manifest with counts, filters and a hash of the output so a run can be compared.

  /usr/bin/python3 train/py/mine_pairs.py [--out .cache/train/pairs.jsonl] [--seed N] [--with wn-gloss,rst-sec,deb-desc]
"""
import argparse
import ast
import glob
import gzip
import hashlib
import json
import os
import random
import re
import subprocess
import sys

PY_ROOTS = ["/usr/lib/python3.11", "/usr/lib/python3/dist-packages"]
MAN_ROOT = "/usr/share/man"
MAN_LANGS = ["de", "fr", "es", "it", "pt", "pl", "nl", "ru", "ja", "zh_CN"]
MD_ROOTS = ["node_modules", "/usr/share/doc"]
WORDNET = "/usr/share/wordnet"
RST_ROOT = "/usr/share/doc/python3.11/html/_sources"
APT_LISTS = "/var/lib/apt/lists"

# Pairs per source (upper bounds; a source with less material gives what it has).
CAPS = {"py-doc": 20000, "py-prose": 8000, "js-doc": 6000, "man-name": 3000, "man-xl": 2500, "man-sec": 3000,
        "md-sec": 5000, "ict": 5000, "ts-diag": 3000, "wn-gloss": 8000, "rst-sec": 4000,
        "deb-desc": 10000}
# Sources measured and not in the shipped pack's training set (docs/quality.md, "More prose
# pairs" and "Broader prose pairs"): they lift prose and cost code. `--with` adds them.
OPTIONAL = ("wn-gloss", "rst-sec", "deb-desc")
# Per file, so a few huge files cannot dominate a source.
PER_FILE = 25
MAX_DOC_CHARS = 2400
MAX_DOC_LINES = 50

ws = re.compile(r"\s+")


def words(s):
    return len(s.split())


def clean(s):
    return ws.sub(" ", s).strip()


def summary_of(doc):
    """The first paragraph of a docstring, as one line, or None when it is not a usable query."""
    para = doc.strip().split("\n\n")[0]
    s = clean(para)
    if not (3 <= words(s) <= 40) or ">>>" in s or s.startswith((":", "@", "..", "#")):
        return None
    if re.search(r"[{}<>]|TODO|XXX|deprecated", s, re.I):
        return None
    return s.rstrip(".")


def py_pairs(rng):
    files = []
    for root in PY_ROOTS:
        files += glob.glob(os.path.join(root, "**", "*.py"), recursive=True)
    files.sort()
    rng.shuffle(files)
    for path in files:
        try:
            src = open(path, encoding="utf-8").read()
            tree = ast.parse(src)
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError, RecursionError):
            continue
        lines = src.split("\n")
        n = 0
        for node in ast.walk(tree):
            if n >= PER_FILE:
                break
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)):
                continue
            doc = ast.get_docstring(node)
            if not doc or not node.body:
                continue
            q = summary_of(doc)
            if not q:
                continue
            # Prose: the summary against the rest of the docstring (its explanation).
            rest = clean(" ".join(p for p in doc.strip().split("\n\n")[1:] if not p.lstrip().startswith((">>>", ":", "..", "Args", "Parameters", "Returns", "--"))))
            if words(rest) >= 25:
                yield {"q": q, "d": first_words(rest, 150), "source": "py-prose", "kind": "prose"}
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            first = node.body[0]
            start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
            # The code without its docstring: a query must be matched by what the code does.
            body = lines[start:first.lineno - 1] + lines[first.end_lineno:node.end_lineno]
            body = [l for l in body if l.strip()]
            if len(body) < 3:
                continue
            indent = min(len(l) - len(l.lstrip()) for l in body)
            d = "\n".join(l[indent:] for l in body[:MAX_DOC_LINES])[:MAX_DOC_CHARS]
            n += 1
            yield {"q": q, "d": d, "source": "py-doc", "kind": "code"}


JSDOC = re.compile(
    r"/\*\*((?:(?!\*/)[\s\S])*?)\*/\s*\n[ \t]*"
    r"((?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*[\w$]+\s*\(|"
    r"(?:export\s+)?(?:const|let|var)\s+[\w$]+\s*=\s*(?:async\s*)?(?:function\b|\([^)]*\)\s*=>)|"
    r"(?:(?:public|private|protected|static|async)\s+)*[\w$]+\s*\([^)\n]*\)\s*(?::\s*[^{\n]+)?\{)")


def brace_body(src, start):
    """From `start`, the text up to the brace that closes the first `{` (strings ignored)."""
    i = src.find("{", start)
    if i < 0 or i - start > 400:
        return None
    depth = 0
    for j in range(i, min(len(src), i + MAX_DOC_CHARS * 2)):
        c = src[j]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return src[start:j + 1]
    return None


def js_pairs(rng):
    files = []
    for ext in ("js", "mjs", "cjs", "ts"):
        files += [f for f in glob.glob(f"node_modules/**/*.{ext}", recursive=True)
                  if not f.endswith((".d.ts", ".min.js")) and "/dist/cdn/" not in f]
    files.sort()
    rng.shuffle(files)
    seen_files = set()
    for path in files:
        real = os.path.realpath(path)
        if real in seen_files:
            continue
        seen_files.add(real)
        try:
            if os.path.getsize(path) > 3_000_000:
                continue
            src = open(path, encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        if any(len(l) > 400 for l in src[:20000].split("\n")):
            continue  # minified or generated
        n = 0
        for m in JSDOC.finditer(src):
            if n >= PER_FILE:
                break
            text = "\n".join(re.sub(r"^\s*\*\s?", "", l) for l in m.group(1).split("\n"))
            text = text.split("\n@")[0].split("@param")[0].split("@returns")[0]
            q = summary_of(text)
            if not q:
                continue
            body = brace_body(src, m.start(2))
            if not body:
                continue
            body_lines = [l for l in body.split("\n") if l.strip()]
            if len(body_lines) < 3:
                continue
            d = "\n".join(body_lines[:MAX_DOC_LINES])[:MAX_DOC_CHARS]
            n += 1
            yield {"q": q, "d": d, "source": "js-doc", "kind": "code"}


def roff_sections(src):
    """Man page source -> [(level, heading, text)], level 1 for .SH and 2 for .SS."""
    out = []
    heading, level, buf = None, 0, []
    for line in src.split("\n"):
        if line.startswith(('.\\"', "'\\\"")):
            continue
        m = re.match(r"^\.(SH|SS)\s*(.*)$", line)
        if m:
            if heading is not None:
                out.append((level, heading, buf))
            heading = strip_roff(m.group(2)).strip('"').strip()
            level = 1 if m.group(1) == "SH" else 2
            buf = []
            continue
        if line.startswith("."):
            line = re.sub(r"^\.[A-Za-z]+\s*", "", line).strip('"')
            if not line:
                continue
        buf.append(strip_roff(line))
    if heading is not None:
        out.append((level, heading, buf))
    return [(lv, h, clean(" ".join(b))) for lv, h, b in out]


def strip_roff(s):
    s = re.sub(r"\\f[BIRP1-4]|\\f\(..|\\f\[[^\]]*\]|\\s[+-]?\d|\\\(..|\\\[[^\]]*\]|\\\*.|\\&|\\e|\\c", "", s)
    return s.replace("\\-", "-").replace("\\ ", " ").replace("\\", "")


def read_man(path):
    try:
        raw = gzip.open(path).read() if path.endswith(".gz") else open(path, "rb").read()
        return raw.decode("utf-8")
    except (OSError, UnicodeDecodeError, EOFError):
        return None


def first_words(s, n):
    return " ".join(s.split()[:n])


def man_pages(root):
    pages = {}
    for sec in ("man1", "man3", "man5", "man7", "man8"):
        for path in glob.glob(os.path.join(root, sec, "*")):
            pages[os.path.basename(path)] = path
    return pages


def name_and_description(sections):
    name = next((t for lv, h, t in sections if lv == 1 and h.upper() in ("NAME", "NOM", "NOMBRE", "NOME", "NAZWA", "NAAM", "ИМЯ", "名前", "名称")), None)
    desc = None
    # DESCRIPTION is the section after SYNOPSIS in every language; take the first long section
    # after NAME that is not the synopsis (the second or third .SH).
    tops = [(h, t) for lv, h, t in sections if lv == 1]
    for h, t in tops[1:4]:
        if words(t) >= 25 and not re.match(r"^(SYNOPSIS|ÜBERSICHT|SINOPSIS|SKŁADNIA|書式|ОБЗОР|概述)", h.upper()):
            desc = t
            break
    if not name or not desc:
        return None, None
    parts = re.split(r"\s[-–—]\s", name, maxsplit=1)
    if len(parts) != 2 or words(parts[1]) < 2:
        return None, None
    return clean(parts[1]), desc


def man_pairs(rng):
    en = man_pages(MAN_ROOT)
    names = sorted(en)
    rng.shuffle(names)
    en_desc = {}
    n_name = n_sec = 0
    for base in names:
        src = read_man(en[base])
        if not src or src.startswith(".so "):
            continue
        secs = roff_sections(src)
        q, desc = name_and_description(secs)
        if q:
            en_desc[base] = desc
            if n_name < CAPS["man-name"]:
                n_name += 1
                yield {"q": q, "d": first_words(desc, 150), "source": "man-name", "kind": "prose"}
        k = 0
        for lv, h, t in secs:
            if lv == 2 and 2 <= words(h) <= 12 and words(t) >= 20 and k < 3 and n_sec < CAPS["man-sec"]:
                k += 1
                n_sec += 1
                yield {"q": h, "d": first_words(t, 150), "source": "man-sec", "kind": "prose"}
    xl = []
    for lang in MAN_LANGS:
        pages = man_pages(os.path.join(MAN_ROOT, lang))
        for base in sorted(pages):
            if base not in en_desc:
                continue
            src = read_man(pages[base])
            if not src or src.startswith(".so "):
                continue
            q, _ = name_and_description(roff_sections(src))
            if q:
                xl.append({"q": q, "d": first_words(en_desc[base], 150), "source": "man-xl", "kind": "xl"})
    rng.shuffle(xl)
    yield from xl


MD_HEADING = re.compile(r"^(#{1,4})\s+(.+?)\s*#*\s*$")


def md_pairs(rng):
    files = []
    for root in MD_ROOTS:
        files += glob.glob(os.path.join(root, "**", "*.md"), recursive=True)
    files = sorted(set(os.path.realpath(f) for f in files))
    rng.shuffle(files)
    for path in files:
        try:
            if os.path.getsize(path) > 1_000_000:
                continue
            text = open(path, encoding="utf-8").read()
        except (OSError, UnicodeDecodeError):
            continue
        sections, heading, buf, fence = [], None, [], False
        for line in text.split("\n"):
            if line.startswith("```"):
                fence = not fence
            m = None if fence else MD_HEADING.match(line)
            if m:
                if heading:
                    sections.append((heading, buf))
                heading, buf = clean(re.sub(r"[`*_\[\]()]", " ", m.group(2))), []
            else:
                buf.append(line)
        if heading:
            sections.append((heading, buf))
        n = 0
        for h, b in sections:
            body = clean(" ".join(b))
            if n < 6 and 2 <= words(h) <= 12 and words(body) >= 20 and not re.search(r"license|changelog|install", h, re.I):
                n += 1
                yield {"q": h, "d": first_words(body, 150), "source": "md-sec", "kind": "prose"}


SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def ict_pairs(rng, paragraphs):
    """Inverse cloze: a sentence as the query, its paragraph without it as the document."""
    rng.shuffle(paragraphs)
    for p in paragraphs:
        sents = SENT.split(p)
        if len(sents) < 4:
            continue
        i = rng.randrange(len(sents))
        q = sents[i].strip()
        if not (5 <= words(q) <= 30):
            continue
        rest = " ".join(sents[:i] + sents[i + 1:])
        yield {"q": q.rstrip("."), "d": first_words(rest, 150), "source": "ict", "kind": "prose"}


def ts_pairs(rng):
    root = "node_modules/typescript/lib"
    # The per-language files are keyed like "Cannot_find_name_0_2304" -> translation: the key,
    # less its code, is the English message. Messages with placeholders are skipped.
    out = []
    for lang in sorted(os.listdir(root)):
        path = os.path.join(root, lang, "diagnosticMessages.generated.json")
        if not os.path.exists(path):
            continue
        msgs = json.load(open(path, encoding="utf-8"))
        for key, text in msgs.items():
            english = clean(re.sub(r"_\d+$", "", key).replace("_", " "))
            if words(english) < 4 or "{" in text:
                continue
            out.append({"q": english, "d": text, "source": "ts-diag", "kind": "xl"} if rng.random() < 0.5
                       else {"q": text, "d": english, "source": "ts-diag", "kind": "xl"})
    rng.shuffle(out)
    return out


def wordnet_pairs(rng):
    """Synset words -> gloss and examples. A data.* line is `offset lexfile pos w_cnt(hex) word
    lex_id ... | gloss; "example"; ...`. Only synsets whose gloss has 5+ words, and no pair whose
    document contains one of its words (the point is the words it does not share)."""
    out = []
    for pos in ("noun", "verb", "adj"):
        path = os.path.join(WORDNET, f"data.{pos}")
        if not os.path.exists(path):
            continue
        for line in open(path, encoding="utf-8", errors="replace"):
            if line.startswith("  ") or " | " not in line:
                continue
            head, gloss = line.split(" | ", 1)
            f = head.split()
            n = int(f[3], 16)
            lemmas = []
            for w in f[4:4 + 2 * n:2]:
                w = re.sub(r"\(.*\)$", "", w).replace("_", " ").strip()
                if w and w.lower() not in (x.lower() for x in lemmas):
                    lemmas.append(w)
            gloss = clean(gloss)
            # Two or more words: the synonyms are what lexical search misses.
            if words(gloss) < 5 or len(lemmas) < 2:
                continue
            low = gloss.lower()
            if any(re.search(r"\b" + re.escape(w.lower()) + r"\b", low) for w in lemmas):
                continue
            out.append({"q": " ".join(lemmas[:4]), "d": gloss.replace('"', ""), "source": "wn-gloss", "kind": "prose"})
    rng.shuffle(out)
    return out


RST_UNDERLINE = re.compile(r"^([=\-~^*#+`'\".])\1{2,}\s*$")
RST_ROLE = re.compile(r":[\w:.-]+:`~?!?([^`<]*?)(?:\s*<[^>]*>)?`")


def rst_sections(text):
    """(heading, paragraphs) of a reST file: a heading is a line underlined by a run of one
    punctuation character; literal blocks (after `::`), directives and comments are dropped."""
    lines = text.split("\n")
    sections, heading, paras, buf, literal = [], None, [], [], False
    i = 0
    while i < len(lines):
        line = lines[i]
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and not line.startswith(" ") and RST_UNDERLINE.match(nxt) and len(nxt.strip()) >= len(line.strip()):
            if buf:
                paras.append(" ".join(buf))
            if heading:
                sections.append((heading, paras))
            heading, paras, buf, literal = clean(RST_ROLE.sub(r"\1", line)).strip("`*"), [], [], False
            i += 2
            continue
        if RST_UNDERLINE.match(line):
            i += 1
            continue
        if not line.strip():
            if buf:
                paras.append(" ".join(buf))
                buf = []
        elif line.startswith((" ", "\t")) and literal:
            pass
        elif line.lstrip().startswith(".. ") or line.startswith((" ", "\t")):
            literal = literal or line.lstrip().startswith(".. ")
        else:
            literal = line.rstrip().endswith("::")
            t = RST_ROLE.sub(r"\1", line).replace("``", "").replace("**", "").rstrip(":")
            buf.append(t.strip())
        i += 1
    if buf:
        paras.append(" ".join(buf))
    if heading:
        sections.append((heading, paras))
    return sections


def rst_pairs(rng, paragraphs):
    files = sorted(glob.glob(os.path.join(RST_ROOT, "**", "*.rst.txt"), recursive=True))
    rng.shuffle(files)
    for path in files:
        try:
            text = open(path, encoding="utf-8").read()
        except (UnicodeDecodeError, OSError):
            continue
        n = 0
        for h, ps in rst_sections(text):
            # Tables and directive remnants are not prose.
            ps = [clean(p) for p in ps if words(p) >= 12 and not re.search(r"\+[-=]{3,}|\|\s*\||\.\. \w[\w:]*::", p)]
            paragraphs.extend(ps)
            body = " ".join(ps)
            if n < PER_FILE and 2 <= words(h) <= 12 and words(body) >= 20 and not re.search(r"license|changelog|copyright", h, re.I):
                n += 1
                yield {"q": h, "d": first_words(body, 150), "source": "rst-sec", "kind": "prose"}


# Synopses that say what kind of file a package holds, not what the software does.
DEB_BOILERPLATE = re.compile(r"transitional|dummy|debug symbols|development files|header files|documentation|"
                             r"metapackage|meta-package|shared librar|static librar|data files|common files|"
                             r"translations|plugin for|module for|bindings for|extension for", re.I)


def debian_descriptions():
    """(synopsis, long description) of every package in apt's English translation indexes
    (`Description-en:` then the long description, one space-indented line each, ` .` between
    paragraphs). Fails loudly when apt has none: the default image does not fetch them."""
    paths = sorted(glob.glob(os.path.join(APT_LISTS, "*_i18n_Translation-en*")))
    if not paths:
        sys.exit(f"deb-desc: no *_i18n_Translation-en* index in {APT_LISTS}; "
                 "fetch it once with: apt-get update -o Acquire::Languages=en")
    for path in paths:
        # apt's own helper reads whatever compression apt chose (lz4, xz, gzip, none).
        text = subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", path], check=True,
                              capture_output=True).stdout.decode("utf-8", errors="replace")
        for record in text.split("\n\n"):
            m = re.search(r"^Description-en: (.*)\n((?: .*\n?)*)", record, re.M)
            if m:
                body = " ".join(l.strip() for l in m.group(2).split("\n") if l.strip() not in ("", "."))
                yield clean(m.group(1)), clean(body)


def deb_pairs(rng):
    """Synopsis -> long description (first 150 words). One pair per long description, since
    a source package's binaries often share theirs; boilerplate synopses ("development
    files", "transitional package") and short descriptions are skipped."""
    seen, out = set(), []
    for synopsis, body in debian_descriptions():
        key = body[:120].lower()
        if key in seen or DEB_BOILERPLATE.search(synopsis) or not (3 <= words(synopsis) <= 14) or words(body) < 25:
            continue
        seen.add(key)
        out.append({"q": synopsis, "d": first_words(body, 150), "source": "deb-desc", "kind": "prose"})
    out.sort(key=lambda p: p["q"])  # index order is apt's; sort so the shuffle alone decides
    rng.shuffle(out)
    return out


def take(gen, cap):
    out, seen = [], set()
    for p in gen:
        key = (p["q"].lower(), p["d"][:200])
        if key in seen or p["q"].lower() in p["d"].lower():
            continue
        seen.add(key)
        out.append(p)
        if len(out) >= cap:
            break
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=".cache/train/pairs.jsonl")
    ap.add_argument("--seed", type=int, default=20261124)
    ap.add_argument("--with", dest="extra", default="", help=f"comma-separated optional sources: {', '.join(OPTIONAL)}")
    args = ap.parse_args()
    extra = {x for x in args.extra.split(",") if x}
    if extra - set(OPTIONAL):
        ap.error(f"--with: unknown source(s) {', '.join(sorted(extra - set(OPTIONAL)))}; optional sources are {', '.join(OPTIONAL)}")
    rng = random.Random(args.seed)
    pairs = {}
    py = list(py_pairs(rng))
    for src in ("py-doc", "py-prose"):
        pairs[src] = take((p for p in py if p["source"] == src), CAPS[src])
        print(f"{src} {len(pairs[src])}", file=sys.stderr)
    pairs["js-doc"] = take(js_pairs(rng), CAPS["js-doc"])
    print(f"js-doc {len(pairs['js-doc'])}", file=sys.stderr)
    man = list(man_pairs(rng))
    for src in ("man-name", "man-sec", "man-xl"):
        pairs[src] = take((p for p in man if p["source"] == src), CAPS[src])
        print(f"{src} {len(pairs[src])}", file=sys.stderr)
    pairs["md-sec"] = take(md_pairs(rng), CAPS["md-sec"])
    print(f"md-sec {len(pairs['md-sec'])}", file=sys.stderr)
    rst_paragraphs = []
    if "rst-sec" in extra:
        pairs["rst-sec"] = take(rst_pairs(rng, rst_paragraphs), CAPS["rst-sec"])
        print(f"rst-sec {len(pairs['rst-sec'])}", file=sys.stderr)
    # Inverse cloze over prose paragraphs already mined (man, Markdown and reST section texts).
    paragraphs = [p["d"] for s in ("man-name", "man-sec", "md-sec", "py-prose") for p in pairs[s]] + rst_paragraphs
    pairs["ict"] = take(ict_pairs(rng, paragraphs), CAPS["ict"])
    print(f"ict {len(pairs['ict'])}", file=sys.stderr)
    pairs["ts-diag"] = take(iter(ts_pairs(rng)), CAPS["ts-diag"])
    print(f"ts-diag {len(pairs['ts-diag'])}", file=sys.stderr)
    if "wn-gloss" in extra:
        pairs["wn-gloss"] = take(iter(wordnet_pairs(rng)), CAPS["wn-gloss"])
        print(f"wn-gloss {len(pairs['wn-gloss'])}", file=sys.stderr)
    if "deb-desc" in extra:
        pairs["deb-desc"] = take(iter(deb_pairs(rng)), CAPS["deb-desc"])
        print(f"deb-desc {len(pairs['deb-desc'])}", file=sys.stderr)
    everything = [p for s in pairs.values() for p in s]
    rng.shuffle(everything)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    h = hashlib.sha256()
    with open(args.out, "w", encoding="utf-8") as f:
        for p in everything:
            line = json.dumps(p, ensure_ascii=False) + "\n"
            h.update(line.encode())
            f.write(line)
    manifest = {"seed": args.seed, "optionalSources": sorted(extra), "pairs": len(everything), "sha256": h.hexdigest(),
                "sources": {k: len(v) for k, v in pairs.items()}, "caps": CAPS, "perFile": PER_FILE,
                "roots": {"python": PY_ROOTS, "man": MAN_ROOT, "manLanguages": MAN_LANGS, "markdown": MD_ROOTS, "wordnet": WORDNET, "rst": RST_ROOT,
                          "apt": APT_LISTS}}
    json.dump(manifest, open(args.out.replace(".jsonl", ".manifest.json"), "w"), indent=1)
    print(json.dumps(manifest["sources"]), file=sys.stderr)


if __name__ == "__main__":
    main()

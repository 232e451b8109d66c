"""Tokens -> validated `Query`. A recursive-descent parser for the topic query language.

Grammar (highest precedence last):

    query    := sequence
    sequence := unary ( [AND | OR] unary )*     -- AND and OR never mixed at one level
    unary    := NOT unary | '-' unary | field ':' unary | near
    near     := primary [ NEAR/n primary ]
    primary  := WORD | "PHRASE" | "PHRASE"~n | '(' sequence ')'

Adjacent terms are joined by an implicit AND. `a b OR c` is rejected instead of being
given a precedence the operator may not expect; the message spells out both readings.

Why not luqum (Lucene syntax)? Lucene gives `a b OR c` a meaning (its default operator),
has no `NEAR/n`, and reports errors as parser states; we want the ambiguity rejected and
every error as a sentence with a column. The grammar is small enough to own.
Pure: no I/O.
"""

from __future__ import annotations

from bot.errors import QueryError
from bot.matching.lexer import MAX_DISTANCE, Token, tokenize
from bot.matching.normalize import QUERY_TERM_CAP, normalize_term
from bot.matching.syntax import (
    And,
    Field,
    Near,
    Node,
    Not,
    Or,
    Proximity,
    Query,
    Term,
    satisfiable_without_terms,
)

MAX_QUERY_LENGTH = 5_000  # the config allows 5000 characters per query
MAX_DEPTH = 20
MAX_PHRASE_WORDS = 12
MIN_WILDCARD_STEM = 3

Spanned = tuple[Node, int, int]


def parse_query(query: str) -> Query:
    """Parse and validate one topic query. Raises `QueryError(message, column)`."""
    if len(query) > MAX_QUERY_LENGTH:
        raise QueryError(
            f"query is longer than {MAX_QUERY_LENGTH} characters", MAX_QUERY_LENGTH + 1
        )
    tokens = tokenize(query)
    if not tokens:
        raise QueryError("query is empty", 1)
    return _Parser(query, tokens).parse()


class _Parser:
    def __init__(self, src: str, tokens: list[Token]) -> None:
        self.src = src
        self.tokens = tokens
        self.pos = 0

    # -- helpers -----------------------------------------------------------------------
    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def fail(self, message: str, index: int) -> QueryError:
        return QueryError(message, index + 1)

    # -- grammar -----------------------------------------------------------------------
    def parse(self) -> Query:
        node, _, _ = self.sequence(None, 0)
        tok = self.peek()
        if tok is not None:  # only a ')' can stop a top-level sequence
            raise self.fail("unexpected ')' with no matching '('", tok.start)
        if satisfiable_without_terms(node):
            raise QueryError(
                "the query has only NOT parts, so it would match almost every item; "
                "add a term to look for",
                1,
            )
        return Query(self.src, node)

    def sequence(self, field: Field | None, depth: int) -> Spanned:
        first = self.unary(field, depth)
        operands = [first]
        ops: list[tuple[str, int]] = []  # ("AND" | "OR" | "", index) - "" is implicit AND
        while True:
            tok = self.peek()
            if tok is None or tok.kind == "RPAREN":
                break
            if tok.kind in ("AND", "OR"):
                self.take()
                nxt = self.peek()
                if nxt is None or nxt.kind in ("RPAREN", "AND", "OR"):
                    raise self.fail(f"{tok.kind} needs a term after it", tok.start)
                ops.append((tok.kind, tok.start))
            else:
                ops.append(("", tok.start))
            operands.append(self.unary(field, depth))
        if not ops:
            return first
        self.check_mixing(operands, ops)
        start, end = operands[0][1], operands[-1][2]
        children = tuple(node for node, _, _ in operands)
        if ops[0][0] == "OR":
            return Or(_flatten(children, Or), start, end), start, end
        return And(_flatten(children, And), start, end), start, end

    def check_mixing(self, operands: list[Spanned], ops: list[tuple[str, int]]) -> None:
        kinds = ["OR" if op == "OR" else "AND" for op, _ in ops]
        if len(set(kinds)) == 1:
            return
        culprit = next(i for i, k in enumerate(kinds) if k != kinds[0])
        texts = [self.src[s:e] for _, s, e in operands]
        joiners = [{"AND": " AND ", "OR": " OR ", "": " "}[op] for op, _ in ops]
        and_first = _group(texts, joiners, kinds, split_on="OR")
        or_first = _group(texts, joiners, kinds, split_on="AND")
        raise self.fail(
            f"ambiguous mix of AND and OR: use parentheses: {and_first} or {or_first}",
            ops[culprit][1],
        )

    def unary(self, field: Field | None, depth: int) -> Spanned:
        tok = self.peek()
        if tok is None:
            raise self.fail("the query ends where a term was expected", len(self.src))
        if tok.kind in ("NOT", "MINUS"):
            self.take()
            nxt = self.peek()
            if nxt is None or nxt.kind in ("RPAREN", "AND", "OR"):
                raise self.fail(f"{tok.text} needs a term after it", tok.start)
            child, _, end = self.unary(field, depth)
            return Not(child, tok.start, end), tok.start, end
        if tok.kind == "FIELD":
            self.take()
            if field is not None:
                raise self.fail(f"{tok.text} inside a {field}: scope: use one field", tok.start)
            scoped: Field = "title" if tok.inner == "title" else "summary"
            child, _, end = self.unary(scoped, depth)
            return child, tok.start, end
        return self.near(field, depth)

    def near(self, field: Field | None, depth: int) -> Spanned:
        left, start, left_end = self.primary(field, depth)
        tok = self.peek()
        if tok is None or tok.kind != "NEAR":
            return left, start, left_end
        self.take()
        nxt = self.peek()
        if nxt is None or nxt.kind not in ("WORD", "PHRASE", "LPAREN"):
            raise self.fail(
                f"{tok.text} needs a word, phrase or (a OR b) group on each side", tok.start
            )
        right, right_start, end = self.primary(field, depth)
        again = self.peek()
        if again is not None and again.kind == "NEAR":
            raise self.fail(
                "NEAR cannot be chained: combine pairs with AND, "
                "e.g. (a NEAR/5 b) AND (b NEAR/5 c)",
                again.start,
            )
        node = Near(
            self.positional(left, start),
            self.positional(right, right_start),
            tok.number,
            start,
            end,
            self.src[start:end],
        )
        return node, start, end

    def primary(self, field: Field | None, depth: int) -> Spanned:
        tok = self.peek()
        if tok is None:
            raise self.fail("the query ends where a term was expected", len(self.src))
        if tok.kind == "WORD":
            self.take()
            term = self.term(tok.text, tok.start, quoted=False, field=field)
            return term, tok.start, tok.end
        if tok.kind == "PHRASE":
            self.take()
            if tok.number >= 0:
                return self.proximity(tok, field), tok.start, tok.end
            term = self.term(tok.inner, tok.start + 1, quoted=True, field=field, text=tok.text)
            return term, tok.start, tok.end
        if tok.kind == "LPAREN":
            if depth >= MAX_DEPTH:
                raise self.fail(f"parentheses nested deeper than {MAX_DEPTH}", tok.start)
            self.take()
            nxt = self.peek()
            if nxt is None:
                raise self.fail("'(' is never closed", tok.start)
            if nxt.kind == "RPAREN":
                raise self.fail("empty parentheses ()", tok.start)
            node, _, _ = self.sequence(field, depth + 1)
            close = self.peek()
            if close is None:
                raise self.fail("'(' is never closed: add ')'", tok.start)
            self.take()
            return node, tok.start, close.end
        if tok.kind == "RPAREN":
            raise self.fail("unexpected ')'", tok.start)
        if tok.kind in ("AND", "OR", "NEAR"):
            raise self.fail(f"{tok.text} needs a term before it", tok.start)
        raise self.fail(f"{tok.text} cannot stand here: expected a word or phrase", tok.start)

    # -- leaves ------------------------------------------------------------------------
    def term(
        self, body: str, offset: int, *, quoted: bool, field: Field | None, text: str | None = None
    ) -> Term:
        """Build a Term from a bare word or a phrase body starting at src[offset]."""
        start = offset - 1 if quoted else offset
        shown = text if text is not None else body
        if not quoted and "~" in body:
            raise self.fail(
                'proximity (~N) applies to quoted phrases, e.g. "rare earth export"~8',
                offset + body.index("~"),
            )
        wildcard = False
        stem = body.rstrip()
        star = stem.find("*")
        if star >= 0:
            if star != len(stem) - 1:
                raise self.fail("* is only allowed at the end of a word", offset + star)
            stem = stem[:-1]
            wildcard = True
        words = split_words(stem)
        if not words:
            raise self.fail("empty phrase", start)
        if len(words) > MAX_PHRASE_WORDS:
            raise self.fail(f"a phrase may have at most {MAX_PHRASE_WORDS} words", start)
        if len(stem) > QUERY_TERM_CAP:
            raise self.fail(f"a term may have at most {QUERY_TERM_CAP} characters", start)
        if wildcard:
            last = words[-1]
            if stem != stem.rstrip() or sum(ch.isalnum() for ch in last) < MIN_WILDCARD_STEM:
                raise self.fail(
                    f"a wildcard needs at least {MIN_WILDCARD_STEM} letters before *", start
                )
        _, folded = normalize_term(" ".join(words))
        if not any(ch.isalnum() for ch in folded):
            raise self.fail(f"{shown} has no letters or digits to search for", start)
        end = start + len(shown)
        return Term(words, quoted, wildcard, field, start, end, shown)

    def proximity(self, tok: Token, field: Field | None) -> Proximity:
        body = tok.inner
        terms: list[Term] = []
        index = 0
        for chunk in body.split():
            index = body.index(chunk, index)
            terms.append(self.term(chunk, tok.start + 1 + index, quoted=False, field=field))
            index += len(chunk)
        if len(terms) < 2:
            raise self.fail(
                "proximity needs at least two words; for one word drop the ~N", tok.start
            )
        if tok.number > MAX_DISTANCE:  # the lexer checks too; kept for direct callers
            raise self.fail(f"proximity must be between 0 and {MAX_DISTANCE}", tok.start)
        return Proximity(tuple(terms), tok.number, field, tok.start, tok.end, tok.text)

    def positional(self, node: Node, start: int) -> tuple[Term, ...]:
        """NEAR needs positions: a term, a phrase, or an OR of those."""
        if isinstance(node, Term):
            return (node,)
        if isinstance(node, Or):
            out: list[Term] = []
            for child in node.children:
                out.extend(self.positional(child, start))
            return tuple(out)
        raise self.fail("NEAR works on words, phrases or (a OR b) groups of them", start)


def split_words(text: str) -> tuple[str, ...]:
    """Split on spaces, and on hyphens joining letter runs (`rare-earth`, not `F-1`)."""
    words: list[str] = []
    for chunk in text.split():
        parts = chunk.split("-")
        if len(parts) > 1 and all(len(p) >= 2 and p.isalpha() for p in parts):
            words.extend(parts)
        else:
            words.append(chunk)
    return tuple(words)


def _flatten(children: tuple[Node, ...], kind: type[And] | type[Or]) -> tuple[Node, ...]:
    out: list[Node] = []
    for child in children:
        if isinstance(child, kind):
            out.extend(child.children)
        else:
            out.append(child)
    return tuple(out)


def _group(texts: list[str], joiners: list[str], kinds: list[str], split_on: str) -> str:
    """Render the operands with parentheses around each run not split by `split_on`."""
    groups: list[list[str]] = [[texts[0]]]
    glue: list[str] = []  # the joiner between groups
    for text, joiner, kind in zip(texts[1:], joiners, kinds, strict=True):
        if kind == split_on:
            glue.append(joiner)
            groups.append([text])
        else:
            groups[-1].append(joiner)
            groups[-1].append(text)
    rendered = ["".join(g) if len(g) == 1 else "(" + "".join(g) + ")" for g in groups]
    out = rendered[0]
    for joiner, part in zip(glue, rendered[1:], strict=True):
        out += joiner + part
    return out

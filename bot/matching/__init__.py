"""Topic matching: the query language, the compiled matcher and explanations.

Pure core: no I/O, no clock, no environment. The rest of the product uses:

    parse_query(query) -> Query                 # validate one topic's query (QueryError)
    compile_matcher(topics, exclude) -> Matcher
    Matcher.match(title, summary, weight)   -> list[TopicMatch]
    Matcher.explain(title, summary, weight) -> list[Explanation]
    explanation_to_dict(explanation) -> dict    # JSON-ready

Modules: `lexer`/`parser` (text -> `syntax` tree), `variants` (explicit plural and
spelling forms), `normalize` (text folding shared by terms and items), `chinese`
(simplified/traditional folding, Taiwan vocabulary), `cjk` (word guard for unspaced
scripts), `compiler` (one Aho-Corasick table for all topics), `scanner` (one pass per
field, hit checks), `evaluate` (boolean and positional clauses), `matcher` (verdict +
score), `explain` (reports).
"""

from bot.errors import QueryError
from bot.matching.compiler import TopicSpec
from bot.matching.explain import Explanation, TermReport, explanation_to_dict
from bot.matching.matcher import Matcher, compile_matcher
from bot.matching.parser import parse_query
from bot.matching.syntax import Query

__all__ = [
    "Explanation",
    "Matcher",
    "Query",
    "QueryError",
    "TermReport",
    "TopicSpec",
    "compile_matcher",
    "explanation_to_dict",
    "parse_query",
]

"""C004: replies whose stated result of a directly computable expression is wrong."""

from __future__ import annotations

import ast
import re
from fractions import Fraction

from curate.diagnostics import Finding
from curate.registry import record_rule
from curate.rules.intent import prose, turns
from curate.text import ascii_runs_table

# A run of numbers, operators and parentheses, with at least one operator between two numbers.
_EXPR = re.compile(
    r"[(\[]*\s*-?\s*\d[\d,]*(?:\.\d+)?(?:\s*[)\]]*\s*(?:[-+*/^×÷x%]|\*\*)\s*[(\[]*\s*-?\s*\d[\d,]*"
    r"(?:\.\d+)?\s*[)\]]*)+"
)
# Words a prompt may hold besides the expression and still be only "compute this".
_ASK = re.compile(
    r"\b(?:calculate|compute|evaluate|solve|simplify|find|what(?:'s| is)|whats|work out|determine"
    r"|the|a|an|of|this|following|given|expression|equation|value|result|answer|sum|product|total"
    r"|math|maths|problem|please|output|arithmetic|operation|numerical|calculation|using|order"
    r"|operations|me|tell|give|it|and|is|equal|equals|to|for)\b|[?:=.,!\s]",
    re.I,
)
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?(?![\w])")
_DATE_LIKE = re.compile(r"\d{1,4}[-/]\d{1,2}[-/]\d{1,4}|(?<![\d,.])0\d")
_MAX_EXPONENT = 64
_MAX_MAGNITUDE = Fraction(10) ** 30


def _value(node: ast.AST) -> Fraction:
    """The exact value of a numbers-and-operators expression; ValueError for anything else."""
    if isinstance(node, ast.Expression):
        return _value(node.body)
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        if abs(node.value) > _MAX_MAGNITUDE:  # type: ignore[arg-type]  # an int or a float, checked above
            raise ValueError("too large")
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _value(node.operand)
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, ast.BinOp):
        a, b = _value(node.left), _value(node.right)
        op = node.op
        if isinstance(op, ast.Add):
            v = a + b
        elif isinstance(op, ast.Sub):
            v = a - b
        elif isinstance(op, ast.Mult):
            v = a * b
        elif isinstance(op, (ast.Div, ast.Mod)):
            if b == 0:
                raise ValueError("division by zero")
            v = a / b if isinstance(op, ast.Div) else a % b
        elif isinstance(op, (ast.Pow, ast.BitXor)):
            if b.denominator != 1 or abs(b) > _MAX_EXPONENT or (a == 0 and b < 0):
                raise ValueError("exponent out of range")
            v = a ** int(b)
        else:
            raise ValueError("operator")
        if abs(v) > _MAX_MAGNITUDE:
            raise ValueError("too large")
        return v
    raise ValueError("not arithmetic")


def evaluate(expr: str) -> Fraction | None:
    """The value of an arithmetic expression (numbers, + - * / ** ^ % x, parentheses), or None when unsure."""
    if _DATE_LIKE.search(expr):
        return None
    src = (
        expr.replace(",", "").replace("×", "*").replace("÷", "/").replace("[", "(").replace("]", ")").replace("^", "**")
    )
    src = re.sub(r"(?<=[\d)\s])x(?=[\s(\d])", "*", src)
    try:
        return _value(ast.parse(src.strip(), mode="eval"))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, RecursionError, MemoryError):
        return None


_AGGREGATE = re.compile(
    r"^\W*(?:(?:please\s+)?(?:compute|calculate|find|determine|what\s+is|give)\s+)?(?:the\s+)?"
    r"(average|mean|sum|total|product)\s+of\s+(?:a\s+list\s+of\s+|the\s+following\s+|these\s+"
    r"|the\s+given\s+|the\s+)?(?:numbers|values|integers)?\W*"
    r"((?:-?\d+(?:\.\d+)?\s*(?:,|and|\s)\s*)+-?\d+(?:\.\d+)?)\W*$",
    re.I,
)


def _aggregate(text: str) -> tuple[str, Fraction] | None:
    """(description, value) for "the average / sum / product of 4.5, 7.2, 9.7"."""
    m = _AGGREGATE.match(" ".join(text.split()))
    if not m:
        return None
    numbers = [Fraction(x) for x in re.findall(r"-?\d+(?:\.\d+)?", m.group(2))]
    kind = m.group(1).lower()
    if kind in ("sum", "total"):
        value = sum(numbers, Fraction(0))
    elif kind == "product":
        value = Fraction(1)
        for n in numbers:
            value *= n
    else:
        value = sum(numbers, Fraction(0)) / len(numbers)
    return f"the {kind} of {', '.join(m.group(2).replace(' and ', ', ').replace(',', ' ').split())}", value


_OPERATION = re.compile(
    r"\d\s*(?:[-+*/^×÷x%]|\*\*)\s*[\d(\[-]|\d\s*%\s*of\b|\b(?:average|mean|sum|total|product)\b", re.I
)


# Every letter run `_ASK` removes, `_AGGREGATE` reads or `_EXPR` holds (`x`): an ASCII prompt with another is
# not only a request to compute.
_ASK_WORDS = frozenset(
    w.encode() for w in re.findall(r"[a-z]+", _ASK.pattern) + re.findall(r"[a-z]+", _AGGREGATE.pattern) + ["x"]
)
_LETTER_RUNS = ascii_runs_table()  # the lower-cased text's runs of [a-z]


def _other_words(text: str) -> bool:
    """Whether an ASCII text holds a letter run `_computable` cannot explain (False for other text)."""
    return text.isascii() and not _ASK_WORDS.issuperset(text.encode().translate(_LETTER_RUNS).split())


def _computable(prompt: str) -> tuple[str, Fraction] | None:
    """(expression, value) when the prompt is only a request to compute one expression."""
    if len(prompt) > 300:
        return None
    text = prose(prompt)
    # each test alone rules the prompt out: the word test first, the cheaper one and the one most prompts fail
    if _other_words(text) or not _OPERATION.search(prompt):
        return None
    found = _aggregate(text)
    if found:
        return found
    text = re.sub(r"(\d)\s*%\s*of\s+", r"\1/100*", text)  # 20% of 50
    expressions = [m for m in _EXPR.finditer(text) if re.search(r"\d", m.group(0))]
    if len(expressions) != 1:
        return None
    m = expressions[0]
    rest = _ASK.sub("", text[: m.start()] + " " + text[m.end() :])
    if rest.strip():
        return None
    value = evaluate(m.group(0))
    return (m.group(0).strip(), value) if value is not None else None


def _numbers(text: str) -> list[Fraction]:
    out = []
    for m in _NUMBER.finditer(text):
        s = m.group(0).replace(",", "").replace(" ", "")
        try:
            out.append(Fraction(s) if "/" not in s else Fraction(*map(int, s.split("/"))))
        except (ValueError, ZeroDivisionError):
            continue
    return out


def _agrees(stated: Fraction, value: Fraction, decimals: int) -> bool:
    if stated == value:
        return True
    return abs(stated - value) <= Fraction(1, 2 * 10**decimals) if decimals else False


def _decimals(text: str, stated: Fraction) -> int:
    m = re.findall(r"\d\.(\d+)", text)
    return max((len(d) for d in m), default=0)


@record_rule("C004", "wrong-arithmetic", "error")
def wrong_arithmetic(record, ctx):
    """The prompt asks to compute an arithmetic expression and the reply states another result.

    ## What it does
    When the last user turn is only a request to compute one expression of
    numbers, `+ - * / ^ ** % x ×`, `N% of M` and parentheses (`Calculate
    2^3 + 3^2`, `Evaluate (6+2)*(2-2)`), or the average, sum or product of a
    list of numbers (`Compute the average of a list of numbers` with the
    input `4.5, 7.2, 9.7`), evaluates it exactly with a
    restricted parser (never `eval`) and compares it with the reply's stated
    result: its last number. Any number in the reply equal to the value (or
    the value rounded to the reply's decimals, or as a fraction) counts as
    agreement. Dates, numbers with leading zeros, expressions in code,
    prompts with other words (a word problem) and replies without a number
    are skipped: when unsure, the rule says nothing.

    ## Why is this bad?
    A wrong result taught as the answer to a plain computation is a fact
    error the model will repeat; it is the cheapest defect to verify.

    ## Example
    ```json
    {"instruction": "Calculate 2^3 + 3^2", "input": "", "output": "11"}
    ```

    ## Fix
    Correct the reply (here 17) or drop the record.
    """
    prompt, reply, users = turns(record)
    if not users or not reply:
        return
    found = _computable(users[-1].text)
    if not found:
        return
    expr, value = found
    stated = _numbers(prose(reply))
    if not stated:
        return
    decimals = _decimals(reply, stated[-1])
    if any(_agrees(n, value, decimals) or _agrees(n, value * 100, decimals) for n in stated):
        return
    shown = f"{float(value):g}" if value.denominator != 1 else str(value.numerator)
    yield Finding(
        f"{expr} is {shown}, but the reply states {float(stated[-1]):g}",
        pointer=record.messages[len(prompt)].content_pointer,
    )

"""Reference solution of the Calculator backend. Never served to learners."""

OPERATORS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
}


class CalcError(Exception):
    pass


def _tidy(value):
    """Rounds away binary noise (0.1 + 0.2) and shows whole numbers as ints."""
    value = round(value, 10)
    return int(value) if value == int(value) else value


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@endpoint('/calculate')
def calculate(a, b, operator):
    if not (_is_number(a) and _is_number(b)):
        return {"error": "not_a_number"}
    if operator not in OPERATORS:
        return {"error": "unknown_operator"}
    if operator == "/" and b == 0:
        return {"error": "division_by_zero"}
    return {"result": _tidy(OPERATORS[operator](a, b))}


def _tokens(expression):
    tokens, i = [], 0
    while i < len(expression):
        char = expression[i]
        if char.isspace():
            i += 1
        elif char.isdigit() or char == ".":
            start = i
            while i < len(expression) and (expression[i].isdigit() or expression[i] == "."):
                i += 1
            try:
                tokens.append(float(expression[start:i]))
            except ValueError:
                raise CalcError("invalid_expression")
        elif char in "+-*/()":
            tokens.append(char)
            i += 1
        else:
            raise CalcError("invalid_expression")
    return tokens


class _Parser:
    """expression := term (('+'|'-') term)*; term := factor (('*'|'/') factor)*; factor := '-' factor | number | '(' expression ')'"""

    def __init__(self, tokens):
        self.tokens, self.at = tokens, 0

    def peek(self):
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self):
        token = self.peek()
        self.at += 1
        return token

    def expression(self):
        value = self.term()
        while self.peek() in ("+", "-"):
            value = OPERATORS[self.take()](value, self.term())
        return value

    def term(self):
        value = self.factor()
        while self.peek() in ("*", "/"):
            operator = self.take()
            right = self.factor()
            if operator == "/" and right == 0:
                raise CalcError("division_by_zero")
            value = OPERATORS[operator](value, right)
        return value

    def factor(self):
        token = self.take()
        if token == "-":
            return -self.factor()
        if token == "(":
            value = self.expression()
            if self.take() != ")":
                raise CalcError("invalid_expression")
            return value
        if isinstance(token, float):
            return token
        raise CalcError("invalid_expression")


@endpoint('/evaluate')
def evaluate(expression):
    try:
        parser = _Parser(_tokens(expression))
        value = parser.expression()
        if parser.peek() is not None:
            raise CalcError("invalid_expression")
    except CalcError as error:
        return {"error": str(error)}
    return {"result": _tidy(value)}

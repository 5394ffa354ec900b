# Calculator backend. Return {"result": number} or {"error": "<code>"}; never raise.
# Round results to 10 decimal places and return whole numbers without a fraction.


@endpoint('/calculate')
def calculate(a, b, operator):
    # TODO: + - * /
    return {"error": "not_implemented"}


@endpoint('/evaluate')
def evaluate(expression):
    # TODO: parse the expression yourself; eval is not allowed
    return {"error": "not_implemented"}

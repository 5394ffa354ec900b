# Tic Tac Toe backend. A board is a list of nine strings: "X", "O" or "" (empty), row by row.
# Each function is called on its own: it gets everything it needs as arguments and keeps no state.

LINES = [
    [0, 1, 2], [3, 4, 5], [6, 7, 8],
    [0, 3, 6], [1, 4, 7], [2, 5, 8],
    [0, 4, 8], [2, 4, 6],
]


@endpoint('/check_winner')
def check_winner(board):
    # TODO: return {"winner": ..., "line": ..., "draw": ...}
    return {"winner": None, "line": None, "draw": False}


@endpoint('/play_move')
def play_move(board, position, player):
    # TODO: return {"ok": True, "board": ..., "winner": ..., "draw": ..., "next_player": ...}
    # or {"ok": False, "error": ...}
    return {"ok": False, "error": "not_implemented"}


@endpoint('/ai_move')
def ai_move(board, player="O"):
    # TODO: win, block, centre, corner, side
    return {"position": None}


@endpoint('/reset')
def reset():
    # TODO
    return {}

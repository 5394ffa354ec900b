"""Reference solution of the Tic Tac Toe backend. Never served to learners."""

LINES = [
    [0, 1, 2], [3, 4, 5], [6, 7, 8],  # rows
    [0, 3, 6], [1, 4, 7], [2, 5, 8],  # columns
    [0, 4, 8], [2, 4, 6],             # diagonals
]
PLAYERS = ("X", "O")


def _winner(board):
    for line in LINES:
        a, b, c = (board[i] for i in line)
        if a and a == b == c:
            return a, line
    return None, None


def _status(board):
    winner, line = _winner(board)
    draw = winner is None and all(board)
    return {"winner": winner, "line": line, "draw": draw}


def _valid_board(board):
    return isinstance(board, list) and len(board) == 9 and all(cell in ("", "X", "O") for cell in board)


@endpoint('/check_winner')
def check_winner(board):
    if not _valid_board(board):
        return {"error": "invalid_board"}
    return _status(board)


@endpoint('/play_move')
def play_move(board, position, player):
    if not _valid_board(board):
        return {"ok": False, "error": "invalid_board"}
    if player not in PLAYERS:
        return {"ok": False, "error": "invalid_player"}
    if not isinstance(position, int) or isinstance(position, bool) or not 0 <= position <= 8:
        return {"ok": False, "error": "out_of_range"}
    status = _status(board)
    if status["winner"] or status["draw"]:
        return {"ok": False, "error": "game_over"}
    if board[position]:
        return {"ok": False, "error": "occupied"}
    board = list(board)
    board[position] = player
    status = _status(board)
    over = status["winner"] is not None or status["draw"]
    return {
        "ok": True,
        "board": board,
        "winner": status["winner"],
        "draw": status["draw"],
        "next_player": None if over else ("O" if player == "X" else "X"),
    }


def _winning_cell(board, player):
    for position in range(9):
        if not board[position]:
            trial = list(board)
            trial[position] = player
            if _winner(trial)[0] == player:
                return position
    return None


@endpoint('/ai_move')
def ai_move(board, player="O"):
    if not _valid_board(board) or player not in PLAYERS:
        return {"position": None, "error": "invalid_input"}
    status = _status(board)
    if status["winner"] or status["draw"]:
        return {"position": None}
    opponent = "O" if player == "X" else "X"
    for choice in (_winning_cell(board, player), _winning_cell(board, opponent)):
        if choice is not None:
            return {"position": choice}
    for position in (4, 0, 2, 6, 8, 1, 3, 5, 7):
        if not board[position]:
            return {"position": position}
    return {"position": None}


@endpoint('/reset')
def reset():
    return {"board": [""] * 9, "current_player": "X", "winner": None, "draw": False}

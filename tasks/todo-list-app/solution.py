"""Reference solution of the Todo List backend. Never served to learners."""

FILTERS = ("all", "active", "completed")


def _find(todos, todo_id):
    for todo in todos:
        if todo["id"] == todo_id:
            return todo
    return None


@endpoint('/add_todo')
def add_todo(todos, text):
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        return {"error": "empty_text"}
    if len(text) > 200:
        return {"error": "text_too_long"}
    next_id = max((todo["id"] for todo in todos), default=0) + 1
    return {"todos": todos + [{"id": next_id, "text": text, "done": False}]}


@endpoint('/toggle_todo')
def toggle_todo(todos, id):
    if _find(todos, id) is None:
        return {"error": "not_found"}
    return {"todos": [dict(todo, done=not todo["done"]) if todo["id"] == id else todo for todo in todos]}


@endpoint('/delete_todo')
def delete_todo(todos, id):
    if _find(todos, id) is None:
        return {"error": "not_found"}
    return {"todos": [todo for todo in todos if todo["id"] != id]}


@endpoint('/filter_todos')
def filter_todos(todos, status="all"):
    if status not in FILTERS:
        return {"error": "unknown_filter"}
    if status == "all":
        return {"todos": todos}
    wanted = status == "completed"
    return {"todos": [todo for todo in todos if todo["done"] == wanted]}


@endpoint('/stats')
def stats(todos):
    completed = sum(1 for todo in todos if todo["done"])
    return {"total": len(todos), "active": len(todos) - completed, "completed": completed}


@endpoint('/clear_completed')
def clear_completed(todos):
    return {"todos": [todo for todo in todos if not todo["done"]]}

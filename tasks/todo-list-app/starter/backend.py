# Todo list backend. A todo is {"id": 1, "text": "Buy milk", "done": False}.
# Every function gets the whole list as `todos` and returns a new list as {"todos": [...]}
# or {"error": "<code>"}. Nothing is kept between calls.


@endpoint('/add_todo')
def add_todo(todos, text):
    # TODO
    return {"todos": todos}


@endpoint('/toggle_todo')
def toggle_todo(todos, id):
    # TODO
    return {"todos": todos}


@endpoint('/delete_todo')
def delete_todo(todos, id):
    # TODO
    return {"todos": todos}


@endpoint('/filter_todos')
def filter_todos(todos, status="all"):
    # TODO
    return {"todos": todos}


@endpoint('/stats')
def stats(todos):
    # TODO
    return {"total": 0, "active": 0, "completed": 0}


@endpoint('/clear_completed')
def clear_completed(todos):
    # TODO
    return {"todos": todos}

# nbgrader's configuration for lthkit's course; run nbgrader from this folder (`make course`
# does). The gradebook is nbgrader's default: SQLite, in gradebook.db here; no server needed.
c = get_config()  # noqa: F821 (nbgrader defines it when it reads this file)

c.CourseDirectory.course_id = "lthkit"
# nbgrader stops a cell after 30 s by default; a few cells train a small network for some
# seconds, which a busy machine can stretch.
c.Execute.timeout = 300

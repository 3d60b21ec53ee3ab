"""Workshop mode: the exercises (`exercises`), their words (`exercise_texts`), checking a
learner's typed answer (`answers`, `exercise_checks`), and the learner's progress.
"""

"""Runs and where they are kept: the run record (`run`), seed groups (`seeds`), the persistent
cache (`cache`, `entry`, `durable`), results kept beside a run (`stored`), and a learner's own
model as a run (`imported`).
"""

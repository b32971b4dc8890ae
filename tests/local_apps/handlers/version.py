"""Tests rewrite this file to see the change served without a restart."""


def handler(event, context):
    return {"version": "one"}

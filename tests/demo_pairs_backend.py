"""A custom strategy backend for the demo's agreement test: the first four responses of a group
labelled by their reason (right), the rest all one strategy (wrong when they differ)."""


def pairs(prompt, responses):
    return [response.split(",")[0] if i < 4 else "rest" for i, response in enumerate(responses)]

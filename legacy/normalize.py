"""The legacy `normalize` service logic, kept exactly as production ran it.

Input:  {"items": [...]}
Output: {"accepted": [...], "rejected": [...]}

Each item is stripped with Python's ``str.strip()``. An item that is blank
after stripping goes to ``rejected`` as the original item; every other item
goes to ``accepted`` stripped. Nothing is validated: like the old code it is,
a non-string item raises (``AttributeError``), a missing ``items`` raises
(``KeyError``), and ``items`` is iterated however Python iterates it (a string
yields its characters, an object its keys). The Rust port in
``src/normalize.rs`` reproduces every one of these behaviours.

Do not "fix" this file: it is the reference the new implementation is
compared against.
"""


def normalize(payload):
    accepted = []
    rejected = []
    for item in payload["items"]:
        stripped = item.strip()
        if stripped:
            accepted.append(stripped)
        else:
            rejected.append(item)
    return {"accepted": accepted, "rejected": rejected}

#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ from the official messages.json (optional; libFuzzer also starts
from an empty corpus). Usage: python3 seed_corpus.py [path/to/messages.json]"""
import json, os, sys

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "../../shared/test-vectors/messages.json")
cases = json.load(open(path))
# target -> [(field, u16 proposal type to prefix or None)]
fields = {
    "mls_message": [(f, None) for f in ("mls_welcome", "mls_group_info", "mls_key_package",
                    "public_message_application", "public_message_proposal",
                    "public_message_commit", "private_message")],
    "ratchet_tree": [("ratchet_tree", None)],
    "group_secrets": [("group_secrets", None)],
    "commit": [("commit", None)],
    "proposal": [("add_proposal", 1), ("update_proposal", 2), ("remove_proposal", 3),
                 ("pre_shared_key_proposal", 4), ("re_init_proposal", 5),
                 ("external_init_proposal", 6), ("group_context_extensions_proposal", 7)],
}
for target, fs in fields.items():
    out = os.path.join(os.path.dirname(__file__), "corpus", target)
    os.makedirs(out, exist_ok=True)
    for i, case in enumerate(cases[:50]):
        for field, ptype in fs:
            data = bytes.fromhex(case[field])
            if ptype is not None:
                data = ptype.to_bytes(2, "big") + data
            with open(os.path.join(out, f"{field}-{i}"), "wb") as fh:
                fh.write(data)
print("seeded", ", ".join(fields))

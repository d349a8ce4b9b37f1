# tests/vectors/rekey_messages.json is what tests/helpers/make_rekey_vectors.py
# (docs/rekey-protocol.md written out with the `cryptography` package, its SHE
# checked against the published example) makes, byte for byte.
import os

import make_rekey_vectors


def test_the_vector_file_is_what_the_independent_generator_makes():
    path = os.path.join(make_rekey_vectors.VECTORS, "rekey_messages.json")
    with open(path) as f:
        assert f.read() == make_rekey_vectors.render()

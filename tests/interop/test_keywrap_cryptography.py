# The firmware's RFC 3394 key wrap against another implementation: the
# `cryptography` package's aes_key_wrap / aes_key_unwrap, both ways, for
# every length the key stock could use and more.
import os

import pytest
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap

from keyagent.keystore.keywrap import KeyWrap


@pytest.mark.parametrize("n", [16, 24, 32, 40, 56, 64, 128, 256])
def test_same_wrap_as_cryptography(n):
    for _ in range(4):
        kek, data = os.urandom(16), os.urandom(n)
        ours = KeyWrap(kek)
        assert ours.wrap(data) == aes_key_wrap(kek, data)
        assert ours.unwrap(aes_key_wrap(kek, data)) == data
        assert aes_key_unwrap(kek, ours.wrap(data)) == data

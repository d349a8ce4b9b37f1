# keyagent.crypto.kdf against an independent SP 800-108 implementation: the
# `cryptography` package's KBKDFCMAC (counter mode, 32-bit counter before the
# fixed data, Label || 0x00 || Context || [L]_32). CPython only.
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFCMAC, CounterLocation, Mode
from hypothesis import given, settings, strategies as st

from keyagent.crypto import kdf


def reference(key, label, context, out_len):
    return KBKDFCMAC(
        algorithms.AES, Mode.CounterMode, out_len, 4, 4, CounterLocation.BeforeFixed, label, context, None
    ).derive(key)


@settings(max_examples=60, deadline=None)
@given(
    key=st.binary(min_size=16, max_size=16),
    label=st.binary(min_size=1, max_size=40),
    context=st.binary(min_size=1, max_size=40),
    out_len=st.integers(1, 80),
)
def test_matches_cryptography_kbkdfcmac(key, label, context, out_len):
    assert kdf.derive(key, label, context, out_len) == reference(key, label, context, out_len)


def test_secoc_key_matches_reference():
    key = bytes(range(16))
    ctx = (0x0102).to_bytes(2, "big") + (7).to_bytes(4, "big")
    assert kdf.secoc_key(key, 0x0102, 7) == reference(key, b"qkd-secoc secoc key", ctx, 16)
